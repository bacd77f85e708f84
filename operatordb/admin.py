"""The mock's tables in the Django admin: read-only, as a system the portal does not own."""

from django.contrib import admin

from .models import InjectedDiscrepancy, OperatorSubscriber, PopulationRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OperatorSubscriber)
class OperatorSubscriberAdmin(ReadOnlyAdmin):
    list_display = ("msisdn", "status", "outlet_roid", "id_type", "id_number_masked", "updated_at")
    list_filter = ("status", "id_type")
    search_fields = ("=msisdn", "=outlet_roid")
    exclude = ("id_number_digest", "name_key")
    show_full_result_count = False


@admin.register(PopulationRecord)
class PopulationRecordAdmin(ReadOnlyAdmin):
    list_display = ("nik_masked", "full_name", "birth_date", "sex")
    exclude = ("nik_digest", "kk_digest", "name_key")
    show_full_result_count = False


@admin.register(InjectedDiscrepancy)
class InjectedDiscrepancyAdmin(ReadOnlyAdmin):
    list_display = ("msisdn", "kind", "case", "expected", "created_at")
    list_filter = ("kind", "case", "expected")
    search_fields = ("=msisdn",)
