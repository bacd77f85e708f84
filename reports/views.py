"""Report pages: the dashboard, the rows behind each figure, exports, and "verify a file".

Thin: parse, scope (outlet staff get a 403, another user's export a 404), read the figures or
call one service, respond. Charts are inline SVG; a running export's line is read again by
``static/js/app.js`` (``data-live``), or the page refreshes itself whole without a script.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from compliance.models import Discrepancy, DiscrepancyKind
from core import vocabulary
from core.pagination import CappedCountPaginator as Paginator
from subscribers.models import IdType, Registration

from . import hooks, services
from .dashboard import charts, rows_link
from .figures import GROUP_LABELS, report_figures
from .forms import ExportRequestForm, ReportFilterForm, VerifyForm, filter_from_query
from .models import ExportJob, RowFlag
from .periods import PeriodError, parse_period
from .rows import discrepancy_rows, province_name, registration_rows
from .scope import ReportFilter, ReportScope, may_export_unmasked, report_filter_from
from .selectors import (
    export_job_get_for_user,
    export_jobs_for_user,
    exports_with_sha256,
    normalise_sha256,
)
from .summary import definition_outdated, summary_state
from .tasks import request_refresh

PAGE_SIZE = 50
GROUP_ROWS_SHOWN = 50

FLAGS = tuple(RowFlag.values)
# The row filters named in words: parameter -> (its name, its vocabulary).
ROW_FILTERS = {
    "id_type": (gettext_lazy("ID type"), "id_type"),
    "status": (gettext_lazy("Status"), "registration_status"),
    "flag": (gettext_lazy("Flag"), "report_flag"),
    "kind": (gettext_lazy("Kind"), "discrepancy_kind"),
}


def _filters_in_words(extra: dict, *, status_vocabulary: str = "registration_status") -> list:
    """The row filters in force as (name, label) pairs, for the line above the table."""
    words = []
    for key, value in extra.items():
        if not value:
            continue
        name, vocab = ROW_FILTERS[key]
        if key == "status":
            vocab = status_vocabulary
        words.append((name, vocabulary.label(vocab, value)))
    return words


def _private(response):
    patch_cache_control(response, private=True, no_store=True)
    return response


def _scope(request) -> ReportScope:
    return ReportScope.for_user(request.user)  # PermissionDenied → 403 for outlet staff


def _filter(request, scope: ReportScope) -> tuple[ReportFilter, ReportFilterForm]:
    return filter_from_query(request.GET, scope)


def _staleness(state) -> tuple[bool, bool]:
    """(stale, never refreshed): stale after three missed scheduled refreshes, or when the
    tables were built under another definition of the figures (a deploy changed what they
    count)."""
    if state is None or state.refreshed_at is None:
        return True, True
    limit = timedelta(seconds=3 * settings.REPORTS_REFRESH_SECONDS)
    return timezone.now() - state.refreshed_at > limit or definition_outdated(state), False


@login_required
def dashboard(request):
    """Figures for a period, grouping and filters: key figures, trend, breakdown by province
    (or dealer, or outlet), top outlets by violation rate, the discrepancy mix."""
    scope = _scope(request)
    flt, form = _filter(request, scope)
    stale, never = _staleness(summary_state())
    if stale:
        # The beat schedule keeps the tables fresh; if it has stopped, ask for a refresh.
        # (First use on a new database: eager Celery in tests runs it right here.)
        request_refresh()
    figures = report_figures(flt, scope)
    context = {
        "form": form,
        "figures": figures,
        "flt": flt,
        "charts": charts(figures),
        "groups": figures.groups[:GROUP_ROWS_SHOWN],
        "more_groups": max(len(figures.groups) - GROUP_ROWS_SHOWN, 0),
        "stale": stale and not never,
        "refresh_minutes": max(settings.REPORTS_REFRESH_SECONDS // 60, 1),
        "group_label": str(GROUP_LABELS[flt.grouping]).lower(),
        "query": flt.query_string(),
        # Sections the layers above add (``hooks.register_dashboard_section``).
        "sections": hooks.dashboard_sections(flt, scope),
        "links": {
            "registrations": rows_link("registrations", flt),
            "blocked": rows_link("registrations", flt, status=Registration.Status.BLOCKED),
            "flagged": rows_link("registrations", flt, status=Registration.Status.FLAGGED),
            "with_discrepancy": rows_link("registrations", flt, flag="discrepancy"),
            "over_cap": rows_link("registrations", flt, flag="over_cap"),
            "repeated": rows_link("registrations", flt, flag="repeated"),
            "discrepancies": rows_link("discrepancies", flt),
            "open_discrepancies": rows_link("discrepancies", flt, status="open"),
        },
    }
    return _private(render(request, "reports/dashboard.html", context))


@login_required
@require_POST
def refresh(request):
    _scope(request)
    if request_refresh():
        messages.success(request, _("The figures are being refreshed; reload in a moment."))
    else:
        messages.info(request, _("A refresh is already on its way."))
    query = request.POST.get("query", "")
    return redirect(f"{reverse('reports:dashboard')}?{query}" if query else "reports:dashboard")


# --- the rows behind a figure -------------------------------------------------------------------


def _choice(request, name: str, allowed) -> str:
    value = request.GET.get(name, "")
    return value if value in allowed else ""


@login_required
def registration_rows_view(request):
    """The registrations behind a figure (masked: no names, ID numbers masked); each opens
    the registration's page, where viewing is audited as everywhere else."""
    scope = _scope(request)
    flt, _form = _filter(request, scope)
    extra = {
        "id_type": _choice(request, "id_type", IdType.values),
        "status": _choice(request, "status", Registration.Status.values),
        "flag": _choice(request, "flag", FLAGS),
    }
    qs = registration_rows(flt, scope, **extra).select_related("outlet")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return _private(
        render(
            request,
            "reports/rows_registrations.html",
            {
                "page": page,
                "flt": flt,
                "filters": _filters_in_words(extra),
                "query": flt.query_string(),
                "province_name": province_name(flt.province) if flt.province else "",
            },
        )
    )


@login_required
def discrepancy_rows_view(request):
    """The discrepancies behind a figure; each opens the discrepancy's page."""
    scope = _scope(request)
    flt, _form = _filter(request, scope)
    extra = {
        "kind": _choice(request, "kind", DiscrepancyKind.values),
        "status": _choice(request, "status", Discrepancy.Status.values),
    }
    qs = discrepancy_rows(flt, scope, **extra).select_related("outlet", "registration")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return _private(
        render(
            request,
            "reports/rows_discrepancies.html",
            {
                "page": page,
                "flt": flt,
                "filters": _filters_in_words(extra, status_vocabulary="discrepancy_status"),
                "query": flt.query_string(),
                "province_name": province_name(flt.province) if flt.province else "",
            },
        )
    )


# --- exports ------------------------------------------------------------------------------------


@login_required
def exports(request):
    """GET: the user's exports and a form to ask for one (pre-filled from the dashboard's
    query string). POST: ask for one, then follow it on its page."""
    scope = _scope(request)
    may_unmask = may_export_unmasked(request.user)
    dealer_fixed = scope.dealer_id is not None
    if request.method == "POST":
        form = ExportRequestForm(request.POST, may_unmask=may_unmask, dealer_fixed=dealer_fixed)
        if form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if k not in ("kind", "format")}
            try:
                job = services.export_job_create(
                    user=request.user,
                    kind=form.cleaned_data["kind"],
                    format=form.cleaned_data["format"],
                    masked=not data.pop("unmasked", False),
                    data=data,
                    trigger=ExportJob.Trigger.WEB,
                    language=getattr(request, "LANGUAGE_CODE", ""),
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                return redirect("reports:export", pk=job.pk)
    else:
        initial = {"kind": request.GET.get("kind", ExportJob.Kind.REGISTRATIONS)}
        try:
            flt = report_filter_from(request.GET, today=timezone.localdate())
            initial.update(flt.as_params())
        except PeriodError:
            period = parse_period(None, None, today=timezone.localdate())
            initial.update(date_from=period.date_from, date_to=period.date_to)
        if request.GET.get("format") in ExportJob.Format.values:
            initial["format"] = request.GET["format"]
        form = ExportRequestForm(initial=initial, may_unmask=may_unmask, dealer_fixed=dealer_fixed)
    jobs = list(export_jobs_for_user(user=request.user)[:30])
    return _private(
        render(
            request,
            "reports/exports.html",
            {"form": form, "jobs": jobs, "refresh": any(job.is_active for job in jobs)},
        )
    )


@login_required
def export_detail(request, pk: int):
    job = export_job_get_for_user(user=request.user, pk=pk)
    return _private(
        render(
            request,
            "reports/export_detail.html",
            {"job": job, "about": services.about(job), "refresh": job.is_active},
        )
    )


@login_required
def export_download(request, pk: int):
    job = export_job_get_for_user(user=request.user, pk=pk)
    try:
        handle = services.export_job_open(user=request.user, job=job)
    except FileNotFoundError as exc:
        raise Http404(_("This export has no file (not ready, or deleted).")) from exc
    response = FileResponse(
        handle, as_attachment=True, filename=job.file_name, content_type=job.content_type
    )
    return _private(response)


# --- verify a file ------------------------------------------------------------------------------


def _hash_upload(upload) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    return digest.hexdigest()


@login_required
def verify(request):
    """Which export is this file? Paste its SHA-256 or upload it: the portal answers with the
    export's parameters, when it was made and by whom — or that no export has that hash."""
    _scope(request)
    checked, matches, form = "", [], VerifyForm()
    if request.method == "POST":
        form = VerifyForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data.get("file")
            checked = (
                _hash_upload(upload) if upload else normalise_sha256(form.cleaned_data["sha256"])
            )
            if not checked:
                form.add_error("sha256", _("A SHA-256 is 64 hexadecimal characters."))
            else:
                matches = [
                    (job, services.about(job))
                    for job in exports_with_sha256(user=request.user, sha256=checked)
                ]
    return _private(
        render(
            request,
            "reports/verify.html",
            {"form": form, "checked": checked, "matches": matches},
        )
    )
