"""The audit trail's one way in.

The service that acts writes the audit row itself, in its own transaction, so a change cannot be
committed without its row. ``audit_record`` writes one row; ``audit_event`` builds an unsaved row
of exactly the same shape for ``audit_bulk`` (set-based steps audit every row they change in one
statement). Every action is declared in ``AuditAction``: an undeclared action is a programming
error and raises, so the registry is the complete list of what the trail can say.

Never store an unmasked ID number in ``before``/``after``.
"""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from . import vocabulary
from .models import AuditEvent
from .requestid import request_id as current_request_id


class AuditAction(models.TextChoices):
    """Every action the audit trail records, as ``<record>.<what happened>``."""

    # Accounts
    API_TOKEN_ISSUE = "api_token.issue", _("API token issued")
    API_TOKEN_REVOKE = "api_token.revoke", _("API token revoked")
    API_TOKENS_REVOKE_ALL = "api_token.revoke_all", _("Every API token revoked")
    # Outlets, their applications, staff, agreements and training
    OUTLET_APPLICATION_SUBMIT = "outlet_application.submit", _("Outlet application submitted")
    OUTLET_APPLICATION_APPROVE = "outlet_application.approve", _("Outlet application approved")
    OUTLET_APPLICATION_REJECT = "outlet_application.reject", _("Outlet application rejected")
    OUTLET_CREATE = "outlet.create", _("Outlet created")
    OUTLET_SUSPEND = "outlet.suspend", _("Outlet suspended")
    OUTLET_REINSTATE = "outlet.reinstate", _("Outlet reinstated")
    OUTLET_REVOKE = "outlet.revoke", _("Outlet revoked")
    OUTLET_STAFF_INVITE = "outlet_staff.invite", _("Clerk invited")
    OUTLET_STAFF_ACCEPT_INVITATION = "outlet_staff.accept_invitation", _("Invitation accepted")
    OUTLET_STAFF_REMOVE = "outlet_staff.remove", _("Clerk removed")
    OUTLET_STAFF_ID_ERASED = "outlet_staff.id_erased", _("Clerk's ID number erased")
    PARTY_CREATE = "party.create", _("Responsible party created")
    AGREEMENT_CREATE = "agreement.create", _("Responsibility-transfer agreement created")
    AGREEMENT_ATTACH_DOCUMENT = "agreement.attach_document", _("Agreement document attached")
    AGREEMENT_DOCUMENT_VIEW = "agreement.document_view", _("Agreement document viewed")
    TRAINING_SESSION_CREATE = "training.session_create", _("Training session created")
    TRAINING_ATTENDANCE_RECORD = "training.attendance_record", _("Training attendance recorded")
    # Stock
    STOCK_TO_DEALER = "stock.to_dealer", _("Stock allocated to a dealer")
    STOCK_TO_OUTLET = "stock.to_outlet", _("Stock allocated to an outlet")
    STOCK_TO_DEALER_STOCK = "stock.to_dealer_stock", _("Stock returned to the dealer")
    STARTER_PACK_BLOCK = "starter_pack.block", _("Starter pack blocked")
    # Registrations
    REGISTRATION_CREATE = "registration.create", _("Registration created")
    REGISTRATION_IMPORT = "registration.import", _("Registration imported")
    REGISTRATION_VIEW = "registration.view", _("Registration viewed")
    REGISTRATION_PHOTO_VIEW = "registration.photo_view", _("Registration photo viewed")
    REGISTRATION_RECEIPT_LINK_VIEW = "registration.receipt_link_view", _("Receipt link opened")
    REGISTRATION_REVEAL_ID_NUMBER = "registration.reveal_id_number", _("Full ID number shown")
    REGISTRATION_PHOTOS_PROCESSED = "registration.photos_processed", _("Photos processed")
    REGISTRATION_PHOTO_ORPHANS_DELETED = (
        "registration.photo_orphans_deleted",
        _("Unreferenced photo files deleted"),
    )
    REGISTRATION_FLAG = "registration.flag", _("Registration flagged")
    REGISTRATION_UNFLAG = "registration.unflag", _("Registration flag removed")
    REGISTRATION_VERIFY = "registration.verify", _("Registration verified")
    REGISTRATION_CORRECT = "registration.correct", _("Registration corrected")
    REGISTRATION_BLOCK = "registration.block", _("Registration blocked")
    REGISTRATION_RESTRICTED = "registration.restricted", _("Processing restricted")
    REGISTRATION_RESTRICTION_LIFTED = "registration.restriction_lifted", _("Restriction lifted")
    REGISTRATION_ERASURE_DEFERRED = "registration.erasure_deferred", _("Erasure deferred")
    REGISTRATION_ANONYMISED = "registration.anonymised", _("Registration anonymised")
    REGISTRATION_REGISTRY_VERIFIED = (
        "registration.registry_verified",
        _("Registration verified by the population registry after the fact"),
    )
    REGISTRATION_REGISTRY_REFUSED = (
        "registration.registry_refused",
        _("Registration refused by the population registry after the fact"),
    )
    REGISTRATION_FACE_PHOTOS_DELETED = (
        "registration.face_photos_deleted",
        _("Face photos deleted (no longer needed)"),
    )
    # Rule sets
    RULE_SET_DRAFT_CREATE = "rule_set.draft_create", _("Draft rule set created")
    RULE_SET_PREVIEW = "rule_set.preview", _("Draft rule set previewed against history")
    RULE_SET_PUBLISH = "rule_set.publish", _("Rule set published")
    # Reconciliation
    RECONCILIATION_START = "reconciliation.start", _("Reconciliation started")
    RECONCILIATION_FINISH = "reconciliation.finish", _("Reconciliation finished")
    RECONCILIATION_FAIL = "reconciliation.fail", _("Reconciliation failed")
    # Clarifications, review, sanctions
    CLARIFICATION_OPEN = "clarification.open", _("Clarification requested")
    CLARIFICATION_ANSWERED = "clarification.answered", _("Clarification answered")
    CLARIFICATION_REOPENED = "clarification.reopened", _("Clarification asked again")
    CLARIFICATION_EXTEND = "clarification.extend", _("Clarification deadline extended")
    CLARIFICATION_EXPIRED = "clarification.expired", _("Clarification deadline passed")
    CLARIFICATION_ACCEPTED = "clarification.accepted", _("Clarification accepted")
    CLARIFICATION_REJECTED = "clarification.rejected", _("Clarification rejected")
    CLARIFICATION_WITHDRAWN = "clarification.withdrawn", _("Clarification withdrawn")
    CLARIFICATION_EVIDENCE_VIEW = "clarification.evidence_view", _("Clarification evidence viewed")
    DISCREPANCY_DISMISSED = "discrepancy.dismissed", _("Finding dismissed")
    DISCREPANCY_DISMISSED_BEFORE = "discrepancy.dismissed_before", _("Finding dismissed before")
    DISCREPANCY_CORRECTED = "discrepancy.corrected", _("Finding corrected")
    DISCREPANCY_DISMISS_AGAIN = "discrepancy.dismiss_again", _("Finding dismissed again")
    REVIEW_ITEM_QUEUE = "review_item.queue", _("Queued for review")
    REVIEW_ITEM_CLAIM = "review_item.claim", _("Review item claimed")
    REVIEW_ITEM_RELEASE = "review_item.release", _("Review item released")
    REVIEW_ITEM_CLAIM_EXPIRED = "review_item.claim_expired", _("Review claim expired")
    REVIEW_ITEM_DECIDE = "review_item.decide", _("Review decided")
    REVIEW_ITEM_CLOSE = "review_item.close", _("Review item closed")
    VIOLATION_CONFIRM = "violation.confirm", _("Violation confirmed")
    SANCTION_IMPOSE = "sanction.impose", _("Sanction imposed")
    SANCTION_LIFT = "sanction.lift", _("Sanction lifted")
    NUMBER_BLOCK = "number.block", _("Number blocked")
    NUMBER_BLOCK_TOLD_OPERATOR = "number.block_told_operator", _("Operator told of a block")
    # The holder's door (docs/holders.md)
    HOLDER_SESSION_START = "holder.session_start", _("Holder asked for a code")
    HOLDER_SESSION_VERIFY = "holder.session_verify", _("Holder verified with the code")
    HOLDER_CODE_REFUSED = "holder.code_refused", _("Holder's code refused")
    HOLDER_NUMBERS_VIEW = "holder.numbers_view", _("Holder viewed the numbers on their NIK")
    HOLDER_FACE_CHECK = "holder.face_check", _("Holder's face checked by the registry")
    HOLDER_THROTTLED = "holder.throttled", _("Holder's door: too many attempts")
    HOLDER_DISPUTE_REFUSED = (
        "holder.dispute_refused",
        _("Holder typed a number that could not be reported"),
    )
    HOLDER_SESSION_ENDED = (
        "holder.session_ended",
        _("Holder's session ended: too many numbers that could not be reported"),
    )
    HOLDER_DISPUTE_OPEN = "holder.dispute_open", _("Holder reported a number as not theirs")
    HOLDER_DISPUTE_ANSWER = "holder.dispute_answer", _("Number's user answered a dispute")
    HOLDER_DISPUTE_BLOCK = "holder.dispute_block", _("Disputed number blocked")
    HOLDER_DISPUTE_REVERSE = "holder.dispute_reverse", _("Block of a disputed number reversed")
    HOLDER_DISPUTE_DISMISS = "holder.dispute_dismiss", _("Dispute dismissed by GraPARI")
    HOLDER_NUMBER_NOT_KEPT = (
        "holder.number_not_kept",
        _("Holder did not keep a number over the cap"),
    )
    HOLDER_OPERATOR_TOLD = "holder.operator_told", _("Operator told of a holder's action")
    HOLDER_STATEMENT_ISSUE = "holder.statement_issue", _("Statement of numbers issued")
    HOLDER_RECORDS_PURGE = "holder.records_purge", _("Holder sessions and SMS purged")
    # Reports
    REPORTS_EXPORT_REQUEST = "reports.export_request", _("Export requested")
    REPORTS_EXPORT_DOWNLOAD = "reports.export_download", _("Export downloaded")
    REPORTS_EXPORT_UNMASKED = "reports.export_unmasked", _("Unmasked export requested")
    # Resumable jobs (personal-data jobs, exports, reconciliation)
    JOB_TAKE_OVER = "job.take_over", _("Stalled job taken over by an operator")
    # Personal-data operations
    PRIVACY_DSR_LOOKUP = "privacy.dsr_lookup", _("Data-subject look-up")
    PRIVACY_DSR_VIEW = "privacy.dsr_view", _("Data-subject request viewed")
    PRIVACY_DSR_EXPORT = "privacy.dsr_export", _("Data-subject export")
    PRIVACY_DSR_RESTRICT = "privacy.dsr_restrict", _("Processing restricted on request")
    PRIVACY_DSR_LIFT_RESTRICTION = (
        "privacy.dsr_lift_restriction",
        _("Restriction lifted on request"),
    )
    PRIVACY_DSR_ERASE = "privacy.dsr_erase", _("Erasure on request")
    PRIVACY_DSR_DECIDE = "privacy.dsr_decide", _("Ambiguous records decided")
    PRIVACY_LEDGER_REAPPLIED = "privacy.ledger_reapplied", _("Erasures re-applied after a restore")
    PRIVACY_DIGEST_KEY_ROTATED = "privacy.digest_key_rotated", _("Digest key rotated")
    REGISTRATION_EARLIER_VALUES_ERASED = (
        "registration.earlier_values_erased",
        _("Earlier values erased"),
    )
    REGISTRATION_GUARDIAN_ERASED = (
        "registration.guardian_erased",
        _("Head of family's data erased"),
    )
    REGISTRATION_GUARDIAN_ERASURE_DEFERRED = (
        "registration.guardian_erasure_deferred",
        _("Head of family's data kept"),
    )
    PRIVACY_REGISTRATIONS_ANONYMISED = (
        "privacy.registrations_anonymised",
        _("Registrations anonymised"),
    )
    PRIVACY_JOB_START = "privacy.job_start", _("Personal-data job started")
    PRIVACY_JOB_RESUME = "privacy.job_resume", _("Personal-data job resumed")
    PRIVACY_JOB_FINISH = "privacy.job_finish", _("Personal-data job finished")
    PRIVACY_JOB_FAILED = "privacy.job_failed", _("Personal-data job failed")


vocabulary.register("audit_action", AuditAction)


def _declared(action: str) -> AuditAction:
    try:
        return AuditAction(action)
    except ValueError:
        raise ValueError(f"audit action {action!r} is not declared in AuditAction") from None


def command_line_actor() -> str:
    """Who acts from a management command: ``command-line:<the operating-system user>``."""
    try:
        who = getpass.getuser()
    except Exception:  # no login name in a container
        who = str(os.getuid())
    return f"command-line:{who}"


def actor_label(actor) -> str:
    """Who acted, as the trail names them: the username, or the label a command or task uses."""
    if getattr(actor, "is_authenticated", False):
        return actor.get_username()
    return str(actor) if actor else "system"


def audit_event(
    *,
    actor,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """An unsaved audit row: that ``actor`` did ``action`` to ``target`` (for ``audit_bulk``)."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_repr = target_repr or str(target)[:200]
    is_user = getattr(actor, "is_authenticated", False)
    return AuditEvent(
        actor=actor if is_user else None,
        actor_label=actor_label(actor),
        action=_declared(action).value,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr[:200],
        request_id=current_request_id.get(),
        before=before,
        after=after,
    )


def audit_record(**kwargs) -> AuditEvent:
    """Record that ``actor`` did ``action`` to ``target`` (``audit_event``'s arguments)."""
    event = audit_event(**kwargs)
    event.save(force_insert=True)
    return event


def audit_bulk(events: list[AuditEvent]) -> None:
    """Write many audit rows in one statement."""
    if events:
        AuditEvent.objects.bulk_create(events, batch_size=1000)
