"""The audit trail's registry: every action the portal writes is declared in ``AuditAction``;
an undeclared one is refused before anything is written."""

import re
from pathlib import Path

import pytest
from django.utils import translation

from core.audit import AuditAction, audit_bulk, audit_event, audit_record
from core.models import AuditEvent
from core.requestid import request_id

ROOT = Path(__file__).resolve().parents[2]
APPS = ("core", "accounts", "outlets", "subscribers", "operatordb", "compliance", "privacy",
        "reports")  # fmt: skip
LITERAL_ACTION = re.compile(r"""\baction\s*=\s*["']([a-z_]+\.[a-z_]+)["']""")


@pytest.mark.django_db
def test_an_undeclared_action_is_refused_and_nothing_is_written(grapari):
    with pytest.raises(ValueError, match="not declared"):
        audit_record(actor=grapari, action="registration.tickle", target=grapari)
    with pytest.raises(ValueError, match="not declared"):
        audit_event(actor=grapari, action="Registration.Create", target=grapari)
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_row_says_who_did_what_to_which_record_in_which_request(grapari):
    token = request_id.set("req-12345678")
    try:
        event = audit_record(
            actor=grapari, action=AuditAction.SANCTION_LIFT, target=grapari, after={"level": 1}
        )
        audit_bulk([audit_event(actor="compliance", action="review_item.queue", target=grapari)])
    finally:
        request_id.reset(token)
    rows = list(AuditEvent.objects.order_by("pk").values_list(
        "actor_id", "actor_label", "action", "target_type", "target_id", "request_id", "after"
    ))  # fmt: skip
    assert rows == [
        (grapari.pk, grapari.username, "sanction.lift", "accounts.user", str(grapari.pk),
         "req-12345678", {"level": 1}),
        (None, "compliance", "review_item.queue", "accounts.user", str(grapari.pk),
         "req-12345678", None),
    ]  # fmt: skip
    with translation.override("en"):
        assert AuditAction(event.action).label == "Sanction lifted"
    with translation.override("id"):
        assert AuditAction(event.action).label == "Sanksi dicabut"


def test_the_code_names_audit_actions_by_their_constants():
    """``action=AuditAction.X`` everywhere: a literal string would escape the registry until the
    line runs (an undeclared one raises then). Actions built from a model's choices go through
    ``AuditAction(...)``, which refuses an undeclared value."""
    literals = sorted(
        f"{path.relative_to(ROOT)}: {action}"
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
        for action in LITERAL_ACTION.findall(path.read_text())
    )
    assert literals == []
    assert LITERAL_ACTION.findall('audit_record(actor=a, action="registration.view")')


def test_actions_are_unique_and_named_record_dot_event():
    values = AuditAction.values
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z_]+\.[a-z_]+", value) for value in values)
    assert all(str(label) for label in AuditAction.labels)
