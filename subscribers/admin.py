from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import drafts
from .models import PolicyStatus, Registration, RegistrationPolicy


@admin.register(RegistrationPolicy)
class RegistrationPolicyAdmin(admin.ModelAdmin):
    """Rule sets, drafts included (the default manager sees them). A rule set added here is a
    draft: it comes into force only through publication (``subscribers.drafts``), audited."""

    list_display = (
        "code",
        "status",
        "name",
        "effective_from",
        "citizen_proof",
        "registry_check",
        "max_numbers_per_id",
        "cap_exceptions",
        "staff_own_id_forbidden",
        "id_photo_required",
    )
    list_filter = ("status",)
    ordering = ("-effective_from",)
    readonly_fields = ("status", "based_on")
    actions = ["copy_as_draft"]

    def has_change_permission(self, request, obj=None):
        # A published rule set is shown read-only: only drafts are edited (the model refuses
        # too, subscribers.models.RegistrationPolicy.save).
        if obj is not None and not obj.is_draft:
            return False
        return super().has_change_permission(request, obj)

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None and not obj.is_draft and "notes" in fields:
            fields[fields.index("notes")] = "notes_as_written"
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return (*readonly, "notes_as_written") if obj is not None and not obj.is_draft else readonly

    @admin.display(description=gettext_lazy("notes"))
    def notes_as_written(self, obj):
        # The operator's own words, in the language they chose: shown as typed, as in a draft's
        # form, not as a label of the portal's.
        return format_html('<textarea readonly rows="6" cols="80">{}</textarea>', obj.notes)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not obj.is_draft:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        # The bulk action too deletes drafts only.
        queryset.filter(status=PolicyStatus.DRAFT).delete()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.status = PolicyStatus.DRAFT
        super().save_model(request, obj, form, change)

    @admin.action(description=gettext_lazy("Copy as a draft"))
    def copy_as_draft(self, request, queryset):
        for source in queryset:
            draft = drafts.draft_create(actor=request.user, source=source)
            self.message_user(request, _("Draft %(code)s created.") % {"code": draft.code})


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    """Registrations in the admin: masked numbers only; the full number is revealed (and
    audited) on the registration's page in the portal, never here."""

    list_display = (
        "registration_number",
        "msisdn",
        "id_type",
        "id_number_masked",
        "full_name",
        "outlet",
        "status",
        "registered_at",
    )
    list_filter = ("status", "id_type", "source", "policy")
    search_fields = ("registration_number", "msisdn")
    list_select_related = ("outlet",)
    date_hierarchy = "registered_at"
    show_full_result_count = False
    exclude = (
        "id_number_encrypted",
        "id_number_digest",
        "kk_number_encrypted",
        "kk_number_digest",
        "guardian_id_number_encrypted",
        "guardian_id_number_digest",
        "id_photo",
        "id_photo_thumb",
        "face_photo",
        "face_photo_thumb",
    )
    readonly_fields = (
        "registration_number",
        "outlet",
        "clerk",
        "starter_pack",
        "msisdn",
        "iccid",
        "policy",
        "id_type",
        "id_number_masked",
        "kk_number_masked",
        "full_name",
        "birth_place",
        "birth_date",
        "sex",
        "address",
        "nationality",
        "photo_status",
        "consent_at",
        "document_checked",
        "review_reasons",
        "source",
        "registered_at",
        "created_at",
        "updated_at",
        "category",
        "company_name",
        "guardian_id_number_masked",
        "declared_purpose",
        "statement_signed",
        "warnings",
        "registry_checked_at",
        "face_verdict",
        "face_score",
        "face_sha256",
        "refusal_reason",
    )

    def has_add_permission(self, request):
        # Registrations are made at outlets (form, API, import), through the one service.
        return False

    def has_delete_permission(self, request, obj=None):
        return False
