"""Forms of the report pages: they shape input; ``scope.report_filter_from`` and the services
decide what is valid."""

from django import forms
from django.utils.translation import gettext_lazy as _

from core.textclean import VisibleTextFormMixin
from outlets.regions import PROVINCE_CHOICES

from .models import ExportJob
from .periods import DAY, MONTH, WEEK, PeriodError
from .scope import DEALER, OUTLET, PROVINCE, ReportFilter, ReportScope, report_filter_from

GROUPING_CHOICES = [(PROVINCE, _("Province")), (DEALER, _("Dealer")), (OUTLET, _("Outlet"))]
BUCKET_CHOICES = [("", _("Automatic")), (DAY, _("Day")), (WEEK, _("Week")), (MONTH, _("Month"))]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class ReportFilterForm(VisibleTextFormMixin, forms.Form):
    """The period and filters of the dashboard (GET) and of an export request."""

    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())
    grouping = forms.ChoiceField(
        label=_("Group by"), choices=GROUPING_CHOICES, required=False, initial=PROVINCE
    )
    bucket = forms.ChoiceField(label=_("Trend per"), choices=BUCKET_CHOICES, required=False)
    province = forms.ChoiceField(
        label=_("Province"),
        choices=[("", _("All provinces"))] + [(c, f"{n} ({c})") for c, n in PROVINCE_CHOICES],
        required=False,
    )
    dealer = forms.CharField(label=_("Dealer code"), max_length=20, required=False)
    outlet = forms.CharField(label=_("ROID"), max_length=20, required=False)

    def __init__(self, *args, dealer_fixed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if dealer_fixed:  # a dealer admin sees its own outlets only: no dealer to choose
            del self.fields["dealer"]


class ExportRequestForm(ReportFilterForm):
    kind = forms.ChoiceField(label=_("What"), choices=ExportJob.Kind.choices)
    format = forms.ChoiceField(label=_("Format"), choices=ExportJob.Format.choices, initial="csv")
    unmasked = forms.BooleanField(
        label=_("Full ID numbers and personal data (audited)"), required=False
    )

    def __init__(self, *args, may_unmask: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["date_from"].required = True
        self.fields["date_to"].required = True
        del self.fields["bucket"]
        if not may_unmask:
            del self.fields["unmasked"]
        self.order_fields(["kind", "format", "date_from", "date_to"])


class VerifyForm(VisibleTextFormMixin, forms.Form):
    sha256 = forms.CharField(
        label=_("SHA-256 of the file"),
        required=False,
        max_length=200,
        help_text=_("64 hexadecimal characters, e.g. from: sha256sum file.csv"),
    )
    file = forms.FileField(
        label=_("…or the file itself"),
        required=False,
        help_text=_("It is hashed on the server and not kept."),
    )

    def clean(self):
        data = super().clean()
        if not data.get("sha256") and not data.get("file"):
            raise forms.ValidationError(_("Paste a SHA-256 or choose a file."))
        return data


def filter_from_query(query, scope: ReportScope) -> tuple[ReportFilter, ReportFilterForm]:
    """The report filter of a query string and its form: a bad value is shown at its field and
    the default (the last 30 days) used instead. Every page with the report's filter reads it
    here (the reports dashboard and row pages, the risk signals)."""
    from django.utils import timezone

    dealer_fixed = scope.dealer_id is not None
    form = ReportFilterForm(query or None, dealer_fixed=dealer_fixed)
    today = timezone.localdate()
    try:
        flt = report_filter_from(query, today=today)
    except PeriodError as exc:
        form.is_valid()
        for name, message in exc.errors.items():
            if name in form.fields:
                form.add_error(name, message)
        flt = report_filter_from({}, today=today)
    if not query:
        form = ReportFilterForm(
            initial={"date_from": flt.period.date_from, "date_to": flt.period.date_to},
            dealer_fixed=dealer_fixed,
        )
    return flt, form
