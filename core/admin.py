from django.contrib import admin

from .models import AuditEvent


class ReadOnlyMixin:
    """Admin pages that show what happened and change nothing."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "action", "target_type", "target_repr")
    list_filter = ("action", "target_type")
    search_fields = ("=actor_label", "=target_id", "=request_id", "action")
    date_hierarchy = "created_at"
    show_full_result_count = False
