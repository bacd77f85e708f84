"""A database built before the audit trail moved to ``core`` keeps every audit row: the move is
state only (the table ``compliance_auditevent`` stays), and the rows are read through the new
model afterwards."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core.audit import audit_record
from core.models import AuditEvent

BEFORE_THE_MOVE = [("compliance", "0006_lean_indexes"), ("core", None)]


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


@pytest.mark.django_db(transaction=True)
def test_the_audit_trail_survives_the_move_to_core(grapari):
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    kept = audit_record(actor=grapari, action="registration.view", target_type="x",
                        target_id="1", after={"why": "written before"})  # fmt: skip
    try:
        old = _migrate(BEFORE_THE_MOVE).loader.project_state(BEFORE_THE_MOVE[:1]).apps
        OldAuditEvent = old.get_model("compliance", "AuditEvent")
        assert OldAuditEvent.objects.filter(pk=kept.pk).exists()
        written = OldAuditEvent.objects.create(
            actor_id=grapari.pk,
            actor_label="old-layout",
            action="registration.create",
            target_type="subscribers.registration",
            target_id="42",
            after={"status": "active"},
        )
    finally:
        _migrate(leaves)

    assert AuditEvent._meta.db_table == "compliance_auditevent"
    moved = AuditEvent.objects.get(pk=written.pk)
    assert (moved.actor_id, moved.actor_label, moved.action, moved.after) == (
        grapari.pk,
        "old-layout",
        "registration.create",
        {"status": "active"},
    )
    assert AuditEvent.objects.get(pk=kept.pk).after == {"why": "written before"}
    # New rows continue the same sequence.
    assert audit_record(actor="system", action="registration.view", target_type="x",
                        target_id="2").pk > written.pk  # fmt: skip
