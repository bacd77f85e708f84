"""The privacy app in the Django admin: read-only. Every change goes through ``services`` (the
pages under /privacy/, the commands and the tasks), which write the audit rows."""

from django.contrib import admin

from .models import DataSubjectRequest, PrivacyJob, RegistrationPrivacy


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "id_number_masked",
        "channel",
        "reference",
        "handled_by_label",
        "created_at",
    )
    list_filter = ("channel",)
    search_fields = ("reference",)
    exclude = ("id_number_digest", "id_number_digests")
    date_hierarchy = "created_at"


@admin.register(PrivacyJob)
class PrivacyJobAdmin(ReadOnlyAdmin):
    list_display = ("pk", "kind", "status", "trigger", "created_at", "started_at", "finished_at")
    list_filter = ("kind", "status", "trigger")


@admin.register(RegistrationPrivacy)
class RegistrationPrivacyAdmin(ReadOnlyAdmin):
    list_display = (
        "registration_id",
        "deactivated_at",
        "restricted_at",
        "erasure_requested_at",
        "anonymised_at",
    )
    list_filter = (
        ("restricted_at", admin.EmptyFieldListFilter),
        ("anonymised_at", admin.EmptyFieldListFilter),
        ("erasure_requested_at", admin.EmptyFieldListFilter),
    )
    raw_id_fields = ("registration", "request", "anonymised_by_job")
    show_full_result_count = False
