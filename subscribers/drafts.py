"""Draft rule sets: copied from a rule set, previewed against history, published with the date
they come into force (docs/rules.md, "Drafts, preview, publication"). Operator admins only;
every step audited."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import AuditAction, audit_record
from core.queue import enqueue
from core.roles import require_operator

from . import preview as previews
from .models import PolicyStatus, RegistrationPolicy, RulePreview

# Not copied: what makes a row itself.
_OWN_FIELDS = {"id", "code", "name", "status", "effective_from", "based_on"}
# The longest past period one preview looks at.
PREVIEW_MAX_DAYS = 3 * 366


def rule_fields() -> list[str]:
    """The fields a draft copies from its rule set: every rule and workflow setting."""
    return [
        field.name
        for field in RegistrationPolicy._meta.concrete_fields
        if field.name not in _OWN_FIELDS
    ]


def _free_code(base: str) -> str:
    taken = set(RegistrationPolicy.all_objects.values_list("code", flat=True))
    stem = f"{base[:13]}-draft"
    code, number = stem, 1
    while code in taken:
        number += 1
        code = f"{stem}{number}"
    return code


def draft_create(*, actor, source: RegistrationPolicy) -> RegistrationPolicy:
    """A draft copy of ``source``: the same rules, no date, never used to judge until it is
    published."""
    require_operator(actor)
    with transaction.atomic():
        draft = RegistrationPolicy(
            code=_free_code(source.code),
            name=_("Draft of %(code)s") % {"code": source.code},
            status=PolicyStatus.DRAFT,
            effective_from=None,
            based_on=source,
            **{name: getattr(source, name) for name in rule_fields()},
        )
        draft.save()
        audit_record(
            actor=actor,
            action=AuditAction.RULE_SET_DRAFT_CREATE,
            target=draft,
            after={"code": draft.code, "based_on": source.code},
        )
    return draft


def draft_publish(
    *, actor, draft: RegistrationPolicy, effective_from: date, today: date | None = None
) -> RegistrationPolicy:
    """Publish ``draft``: in force from ``effective_from``, which must be after today —
    registrations already made, today's included, keep the rule set they were judged by."""
    require_operator(actor)
    today = today or timezone.localdate()
    if effective_from is None or effective_from <= today:
        raise ValidationError(
            {
                "effective_from": [
                    _(
                        "A rule set comes into force tomorrow at the earliest: registrations "
                        "already made keep the rules they were judged by."
                    )
                ]
            }
        )
    with transaction.atomic():
        locked = RegistrationPolicy.all_objects.select_for_update().get(pk=draft.pk)
        if locked.status != PolicyStatus.DRAFT:
            raise ValidationError({"effective_from": [_("This rule set is already published.")]})
        if RegistrationPolicy.objects.filter(effective_from=effective_from).exists():
            raise ValidationError(
                {"effective_from": [_("Another rule set comes into force on that day.")]}
            )
        planned = locked.effective_from
        locked.status = PolicyStatus.PUBLISHED
        locked.effective_from = effective_from
        locked.save(update_fields=["status", "effective_from"])
        audit_record(
            actor=actor,
            action=AuditAction.RULE_SET_PUBLISH,
            target=locked,
            before={"status": PolicyStatus.DRAFT, "effective_from": str(planned or "")},
            after={"status": PolicyStatus.PUBLISHED, "effective_from": str(effective_from)},
        )
    return locked


def preview_request(
    *, actor, draft: RegistrationPolicy, period_from: date, period_to: date
) -> RulePreview:
    """Preview ``draft`` on the registrations from ``period_from`` to ``period_to`` (past local
    days, both included): computed at once when the period is small, otherwise queued as a
    background job whose progress its page shows."""
    require_operator(actor)
    today = timezone.localdate()
    errors = {}
    if not draft.is_draft:
        errors["draft"] = [_("Only a draft rule set is previewed.")]
    if period_from > period_to:
        errors["period_from"] = [_("The period starts after it ends.")]
    elif period_to > today:
        errors["period_to"] = [_("The period lies in the past: it ends today at the latest.")]
    elif (period_to - period_from).days >= PREVIEW_MAX_DAYS:
        errors["period_from"] = [_("A preview covers at most three years.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        preview = RulePreview.objects.create(
            draft=draft, period_from=period_from, period_to=period_to, requested_by=actor
        )
        audit_record(
            actor=actor,
            action=AuditAction.RULE_SET_PREVIEW,
            target=draft,
            after={"preview": preview.pk, "from": str(period_from), "to": str(period_to)},
        )
    rows = previews.period_registrations(period_from, period_to).count()
    if rows <= previews.SYNC_LIMIT:
        previews.preview_run(preview_id=preview.pk)
        preview.refresh_from_db()
    else:
        from .tasks import run_rule_preview

        enqueue(run_rule_preview, preview.pk)
    return preview
