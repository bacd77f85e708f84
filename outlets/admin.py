"""The operator's Django admin for dealers, outlets, ROIDs, stock, agreements and training.

Writes that carry rules (approving an application, an outlet's status, stock moves) go through
the same services as the pages and the API — admin actions with a reason page — so the admin
can neither bypass them nor skip their audit rows; those fields are read-only here.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from core import pii
from core.masking import mask_id_number
from core.textclean import VisibleTextFormMixin
from identity import idrules
from identity.messages import id_rule_message

from . import services
from .models import (
    AgreementRange,
    Attendance,
    Dealer,
    DealerAdmin,
    Notice,
    Outlet,
    OutletApplication,
    OutletStaff,
    ResponsibleParty,
    RoidSequence,
    StarterPack,
    StockAllocation,
    StockMove,
    TrainingSession,
    TransferAgreement,
)


class ReasonForm(VisibleTextFormMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, widget=forms.Textarea)


def _with_reason(modeladmin, request, queryset, *, title: str, apply) -> TemplateResponse | None:
    """An admin action that asks for a reason first, then applies ``apply(obj, reason)`` to
    each selected object, reporting each refusal."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        done = 0
        for obj in queryset:
            try:
                apply(obj, form.cleaned_data["reason"])
                done += 1
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(getattr(exc, "messages", [str(exc)]))
                modeladmin.message_user(request, f"{obj}: {text}", messages.ERROR)
        if done:
            modeladmin.message_user(request, _("%(n)d done.") % {"n": done}, messages.SUCCESS)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "objects": queryset,
        "form": form,
        "action": request.POST.get("action"),
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "outlets/admin_reason.html", context)


class OutletInline(admin.TabularInline):
    model = Outlet
    fields = ("roid", "name", "region", "province", "status")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Dealer)
class DealerModelAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "is_active", "created_at")
    search_fields = ("code", "name")
    inlines = [OutletInline]


class StaffInline(admin.TabularInline):
    model = OutletStaff
    fields = ("user", "is_active", "joined_at", "removed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # staff are invited (their own ID goes on record): outlets pages / API


class PersonIdsForm(VisibleTextFormMixin, forms.ModelForm):
    """A person's NIK and KK, write-only: what is typed is checked, then kept encrypted, as a
    keyed digest and masked — never shown back (the end-user-only rule needs them,
    docs/rules.md). ``prefix_ids``: the model's column prefix ("owner_" for an outlet)."""

    prefix_ids = ""
    new_id_number = forms.CharField(
        label=_("NIK"),
        max_length=40,
        required=False,
        help_text=_("Write-only: leave empty to keep the NIK on record."),
    )
    new_kk_number = forms.CharField(
        label=_("Family card (KK) number"),
        max_length=40,
        required=False,
        help_text=_("Write-only: leave empty to keep the KK on record."),
    )

    def clean_new_id_number(self) -> str:
        value = self.cleaned_data.get("new_id_number", "").strip()
        try:
            return idrules.validate_nik(value, birth_date=None, sex=None) if value else ""
        except idrules.IdRuleError as exc:
            raise ValidationError(id_rule_message(exc)) from exc

    def clean_new_kk_number(self) -> str:
        value = self.cleaned_data.get("new_kk_number", "").strip()
        try:
            return idrules.validate_kk(value) if value else ""
        except idrules.IdRuleError as exc:
            raise ValidationError(id_rule_message(exc)) from exc

    def save(self, commit=True):
        obj = super().save(commit=False)
        prefix = self.prefix_ids
        for kind in ("id", "kk"):
            number = self.cleaned_data.get(f"new_{kind}_number")
            if not number:
                continue
            setattr(obj, f"{prefix}{kind}_number_encrypted", pii.encrypt(number))
            setattr(obj, f"{prefix}{kind}_number_digest", pii.digest(number))
            masked = f"{prefix}{kind}_number_masked"
            if hasattr(obj, masked):
                setattr(obj, masked, mask_id_number(number))
        if commit:
            obj.save()
        return obj


class OutletAdminForm(PersonIdsForm):
    prefix_ids = "owner_"

    class Meta:
        model = Outlet
        fields = (
            "dealer", "roid", "name", "owner_name", "address", "region", "province", "kind",
            "operator_authorised_from", "operator_authorisation_ref",
        )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "roid" in self.fields:
            self.fields["roid"].required = False
            self.fields["roid"].help_text = _("Leave empty to issue the next ROID.")
        if "kind" in self.fields:
            self.fields["kind"].required = False  # a retail outlet unless said otherwise
        self.fields["new_id_number"].label = _("Owner's NIK")
        self.fields["new_kk_number"].label = _("Owner's family card (KK) number")

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or Outlet.Kind.RETAIL


class DealerAdminForm(PersonIdsForm):
    class Meta:
        model = DealerAdmin
        fields = ("user", "dealer")


@admin.register(Outlet)
class OutletModelAdmin(admin.ModelAdmin):
    form = OutletAdminForm
    list_display = ("roid", "name", "dealer", "kind", "region", "province", "status")
    list_filter = ("status", "kind", "province", "dealer")
    search_fields = ("roid", "name", "region")
    list_select_related = ("dealer",)
    inlines = [StaffInline]
    actions = ["suspend", "reinstate", "revoke"]

    def get_readonly_fields(self, request, obj=None):
        # A ROID is for good; a status changes only through the actions (reason + audit).
        shown = ("owner_id_number_masked", "owner_kk_number_masked")
        if obj:
            return ("roid", "status", "status_reason", *shown)
        return ("status", "status_reason", *shown)

    def has_delete_permission(self, request, obj=None):
        return False  # a revoked outlet keeps its row, so its ROID is never issued again

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if not change and not obj.roid:
                obj.roid = services.roid_issue(province=obj.province)
            super().save_model(request, obj, form, change)

    def _status_action(self, request, queryset, service, title):
        return _with_reason(
            self,
            request,
            queryset,
            title=title,
            apply=lambda outlet, reason: service(actor=request.user, outlet=outlet, reason=reason),
        )

    @admin.action(description=_("Suspend the selected outlets"))
    def suspend(self, request, queryset):
        return self._status_action(request, queryset, services.outlet_suspend, _("Suspend"))

    @admin.action(description=_("Reinstate the selected outlets"))
    def reinstate(self, request, queryset):
        return self._status_action(request, queryset, services.outlet_reinstate, _("Reinstate"))

    @admin.action(description=_("Revoke the selected outlets (final)"))
    def revoke(self, request, queryset):
        return self._status_action(request, queryset, services.outlet_revoke, _("Revoke"))


@admin.register(OutletApplication)
class OutletApplicationModelAdmin(admin.ModelAdmin):
    list_display = ("name", "dealer", "region", "province", "status", "submitted_at", "outlet")
    list_filter = ("status", "province", "dealer")
    search_fields = ("name", "owner_name", "region")
    list_select_related = ("dealer", "outlet")
    actions = ["approve", "reject"]
    readonly_fields = (
        "status",
        "submitted_by",
        "submitted_at",
        "decided_by",
        "decided_at",
        "decision_reason",
        "outlet",
    )

    def has_add_permission(self, request):
        return False  # dealers apply through their pages or the API

    @admin.action(description=_("Approve the selected applications (issue ROIDs)"))
    def approve(self, request, queryset):
        done = 0
        for application in queryset:
            try:
                outlet = services.outlet_application_approve(
                    actor=request.user, application=application
                )
                done += 1
                self.message_user(request, f"{application.name}: {outlet.roid}", messages.SUCCESS)
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(getattr(exc, "messages", [str(exc)]))
                self.message_user(request, f"{application}: {text}", messages.ERROR)

    @admin.action(description=_("Reject the selected applications"))
    def reject(self, request, queryset):
        return _with_reason(
            self,
            request,
            queryset,
            title=_("Reject"),
            apply=lambda application, reason: services.outlet_application_reject(
                actor=request.user, application=application, reason=reason
            ),
        )


@admin.register(OutletStaff)
class OutletStaffModelAdmin(admin.ModelAdmin):
    list_display = ("user", "outlet", "is_active", "joined_at", "removed_at")
    list_filter = ("is_active",)
    search_fields = ("user__username", "outlet__roid")
    raw_id_fields = ("user", "outlet")
    # The staff member's own ID is protected like any ID number: never shown here.
    exclude = ("id_number_encrypted", "id_number_digest", "kk_number_encrypted", "kk_number_digest")
    readonly_fields = ("is_active", "removed_at")
    actions = ["remove"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Remove the selected clerks (they can no longer log in)"))
    def remove(self, request, queryset):
        return _with_reason(
            self,
            request,
            queryset.select_related("outlet", "user"),
            title=_("Remove"),
            apply=lambda membership, reason: services.outlet_staff_remove(
                actor=request.user, membership=membership, reason=reason
            ),
        )


@admin.register(DealerAdmin)
class DealerAdminModelAdmin(admin.ModelAdmin):
    form = DealerAdminForm
    list_display = ("user", "dealer", "id_number_masked")
    raw_id_fields = ("user",)
    readonly_fields = ("id_number_masked",)


@admin.register(StarterPack)
class StarterPackModelAdmin(admin.ModelAdmin):
    list_display = ("msisdn", "iccid", "dealer", "outlet", "status", "updated_at")
    list_filter = ("status", "dealer")
    search_fields = ("msisdn", "iccid")
    raw_id_fields = ("outlet",)
    list_select_related = ("dealer", "outlet")
    show_full_result_count = False  # millions of packs: no COUNT(*) on every page

    def has_add_permission(self, request):
        return False  # packs enter through an allocation to a dealer (recorded, audited)

    def get_readonly_fields(self, request, obj=None):
        # Moves go through the stock services (recorded); registration through its service.
        return ("dealer", "outlet", "status") if obj else ()


class StockMoveInline(admin.TabularInline):
    model = StockMove
    fields = ("pack", "from_dealer", "from_outlet", "to_dealer", "to_outlet")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("pack", "from_dealer", "from_outlet", "to_dealer", "to_outlet")
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StockAllocation)
class StockAllocationModelAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "dealer", "outlet", "pack_count", "actor_label", "source")
    list_filter = ("kind", "dealer")
    list_select_related = ("dealer", "outlet")
    date_hierarchy = "created_at"


@admin.register(StockMove)
class StockMoveModelAdmin(ReadOnlyAdmin):
    list_display = ("pack", "allocation", "from_dealer", "from_outlet", "to_dealer", "to_outlet")
    search_fields = ("pack__msisdn",)
    list_select_related = (
        "pack",
        "allocation",
        "from_dealer",
        "from_outlet",
        "to_dealer",
        "to_outlet",
    )
    show_full_result_count = False


class AgreementRangeInline(admin.TabularInline):
    model = AgreementRange
    fields = ("msisdn_from", "msisdn_to")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ResponsibleParty)
class ResponsiblePartyModelAdmin(ReadOnlyAdmin):
    list_display = ("name", "dealer", "registration_number", "contact_name", "phone")
    list_filter = ("dealer",)
    search_fields = ("name", "registration_number")


@admin.register(TransferAgreement)
class TransferAgreementModelAdmin(ReadOnlyAdmin):
    list_display = ("party", "dealer", "starts_on", "ends_on", "status", "pack_count")
    list_filter = ("status", "dealer")
    search_fields = ("party__name", "reference")
    list_select_related = ("party", "dealer")
    # The signed document is served (and its reading audited) by the agreement's page.
    exclude = ("document",)
    inlines = [AgreementRangeInline]


class AttendanceInline(admin.TabularInline):
    model = Attendance
    fields = ("user", "recorded_by", "recorded_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


# Sessions, attendance and parties are recorded on the outlets pages (services, audited).
@admin.register(TrainingSession)
class TrainingSessionModelAdmin(ReadOnlyAdmin):
    list_display = ("held_on", "topic", "audience", "trainer", "dealer")
    list_filter = ("audience", "dealer")
    search_fields = ("topic", "trainer")
    date_hierarchy = "held_on"
    inlines = [AttendanceInline]


@admin.register(Notice)
class NoticeModelAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "dealer", "kind", "subject", "read_at")
    list_filter = ("kind", "dealer")


@admin.register(RoidSequence)
class RoidSequenceModelAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "last_number")
