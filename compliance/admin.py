"""Compliance in the Django admin: the audit trail (read-only), reconciliation runs (with a
"start a run" action through the same service as the page) and discrepancies (read-only)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from core import vocabulary
from core.admin import ReadOnlyMixin

from .models import (
    Clarification,
    Discrepancy,
    NumberBlock,
    ReconciliationRun,
    ReviewItem,
    RunChunk,
    Sanction,
    Violation,
)
from .reconciliation import engine


class RunChunkInline(ReadOnlyMixin, admin.TabularInline):
    model = RunChunk
    fields = ("seq", "phase", "scope", "key_from", "key_to", "status", "claimed_by", "attempts",
              "rows_examined", "last_error")  # fmt: skip
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False


def _start(request, mode: str) -> None:
    try:
        run = engine.reconciliation_start(
            mode=mode, trigger=ReconciliationRun.Trigger.ADMIN, requested_by=request.user
        )
    except engine.RunAlreadyActive:
        messages.error(request, _("A run is already in progress; runs never overlap."))
    else:
        messages.success(request, _("Run %(id)s started.") % {"id": run.pk})


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "mode", "status", "trigger", "created_at", "chunks_done", "chunks_total",
                    "duration")  # fmt: skip
    list_filter = ("status", "mode", "trigger")
    inlines = [RunChunkInline]
    actions = ["start_full_run", "start_incremental_run", "mark_failed"]

    @admin.action(description=_("Start a full run"))
    def start_full_run(self, request, queryset):
        _start(request, ReconciliationRun.Mode.FULL)

    @admin.action(description=_("Start an incremental run"))
    def start_incremental_run(self, request, queryset):
        _start(request, ReconciliationRun.Mode.INCREMENTAL)

    @admin.action(description=_("Give up the selected runs in progress (mark failed)"))
    def mark_failed(self, request, queryset):
        for run in queryset.filter(status__in=ReconciliationRun.ACTIVE_STATUSES):
            engine.reconciliation_fail(
                run_id=run.pk, error=f"given up by {request.user.get_username()} in the admin"
            )

    def has_change_permission(self, request, obj=None):
        # Actions need it; every field stays read-only.
        return request.user.is_superuser or getattr(request.user, "is_operator", False)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("msisdn", "kind", "status", "outlet", "detected_at", "resolved_at")
    list_filter = ("status", "kind")
    search_fields = ("=msisdn",)
    raw_id_fields = ("registration", "outlet")
    exclude = ("id_digest", "id_group")
    show_full_result_count = False


# --- The compliance workflow: read-only in the admin; decisions go through the review queue
# (compliance/workflow/review.py), where they are claimed, reasoned and audited, and a
# suspension is lifted on the outlet's compliance record page (compliance/workflow/sanctions.py).


@admin.register(Clarification)
class ClarificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "msisdn", "status", "accountable", "outlet", "due_at", "round")
    list_filter = ("status", "accountable")
    search_fields = ("=msisdn",)
    raw_id_fields = ("registration", "outlet", "dealer", "party", "agreement", "opened_by")
    show_full_result_count = False


@admin.register(ReviewItem)
class ReviewItemAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "status", "msisdn", "outlet", "due_at", "claimed_by", "decision")
    list_filter = ("status", "kind", "decision")
    search_fields = ("=msisdn",)
    raw_id_fields = ("registration", "clarification", "discrepancy", "outlet", "dealer",
                     "claimed_by", "decided_by")  # fmt: skip
    exclude = ("discrepancy_kinds",)
    readonly_fields = ("kinds_in_words",)
    show_full_result_count = False

    @admin.display(description=_("discrepancy kinds"))
    def kinds_in_words(self, item):
        return vocabulary.labels("discrepancy_kind", item.kinds)


@admin.register(Violation)
class ViolationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "msisdn", "outlet", "dealer", "kinds_in_words", "confirmed_at",
                    "confirmed_by")  # fmt: skip
    exclude = ("kinds",)
    readonly_fields = ("kinds_in_words",)
    search_fields = ("=msisdn",)
    raw_id_fields = ("outlet", "registration", "clarification", "review_item", "confirmed_by")
    show_full_result_count = False

    @admin.display(description=_("kinds"))
    def kinds_in_words(self, violation):
        return violation.kind_labels


@admin.register(Sanction)
class SanctionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "outlet", "level", "violations_counted", "created_at", "lifted_at")
    list_filter = ("level",)
    raw_id_fields = ("outlet", "violation", "created_by", "lifted_by")


@admin.register(NumberBlock)
class NumberBlockAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("msisdn", "created_at", "blocked_by", "operator_told_at", "attempts")
    search_fields = ("=msisdn",)
    raw_id_fields = ("registration", "review_item", "blocked_by")
