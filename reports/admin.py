"""Exports in the admin: read-only, for the operator to see who exported what."""

from django.contrib import admin

from .models import ExportJob


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "format",
        "status",
        "masked",
        "requested_by_label",
        "requested_by_role",
        "created_at",
        "rows_done",
    )
    list_filter = ("kind", "format", "status", "masked", "trigger")
    search_fields = ("requested_by_label", "sha256")
    readonly_fields = [field.name for field in ExportJob._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
