"""The mock's tables in the Django admin: read-only, as a system the portal does not own."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core import vocabulary

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
    list_display = (
        "msisdn", "status", "outlet_roid", "id_type_label", "id_number_masked", "updated_at"
    )  # fmt: skip
    list_filter = ("status", "id_type")
    search_fields = ("=msisdn", "=outlet_roid")
    exclude = ("id_number_digest", "name_key")
    show_full_result_count = False

    @admin.display(description=_("ID type"), ordering="id_type")
    def id_type_label(self, subscriber):
        return vocabulary.label("id_type", subscriber.id_type)


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
