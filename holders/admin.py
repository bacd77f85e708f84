"""The door's records in the Django admin: read-only, numbers masked.

What the admin never shows: sessions (``HolderSession``: NIK digests, hashed codes and tokens)
and the SMS texts (``StoredSms``, ``SmsMessage.body_encrypted``: they carry the codes). Those are
not registered at all; the rest is shown without digests or hashes and changes nothing —
disputes are decided in GraPARI's review queue, blocks reversed from the dispute's review page
(docs/holders.md)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyMixin
from core.masking import mask_msisdn

from .models import HolderDispute, HolderKeepChoice, HolderStatement, OperatorNotice, SmsMessage


@admin.display(description=_("MSISDN"))
def masked_number(obj) -> str:
    return mask_msisdn(obj.msisdn)


@admin.display(description=_("MSISDN"))
def masked_to(obj) -> str:
    return mask_msisdn(obj.to)


@admin.register(HolderDispute)
class HolderDisputeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", masked_number, "status", "created_at", "notice_until", "blocked_at")
    list_filter = ("status",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        masked_number,
        "status",
        "note",
        "created_at",
        "notice_until",
        "answered_at",
        "blocked_at",
        "reversed_at",
        "reverse_reason",
        "review_item_ref",
        "clarification_ref",
    )
    readonly_fields = fields

    # By number only: their own names carry the disputed number in full.
    @admin.display(description=_("review item"))
    def review_item_ref(self, obj):
        return obj.review_item_id or "-"

    @admin.display(description=_("clarification request"))
    def clarification_ref(self, obj):
        return obj.clarification_id or "-"


@admin.register(HolderKeepChoice)
class HolderKeepChoiceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", masked_number, "flagged_at")
    date_hierarchy = "flagged_at"
    show_full_result_count = False
    fields = (masked_number, "flagged_at")
    readonly_fields = fields


@admin.register(OperatorNotice)
class OperatorNoticeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "action", masked_number, "created_at", "told_at", "attempts")
    list_filter = ("action",)
    show_full_result_count = False
    fields = ("action", masked_number, "reason", "created_at", "told_at", "attempts", "last_error")
    readonly_fields = fields


@admin.register(HolderStatement)
class HolderStatementAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("code", "issued_at")
    search_fields = ("=code",)
    fields = ("code", "sha256", "issued_at")
    readonly_fields = fields


@admin.register(SmsMessage)
class SmsMessageAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The queue's state only: to whom (masked), whether it left; never the text."""

    list_display = ("id", masked_to, "status", "attempts", "created_at", "sent_at")
    list_filter = ("status",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (masked_to, "status", "attempts", "last_error", "created_at", "sent_at")
    readonly_fields = fields
