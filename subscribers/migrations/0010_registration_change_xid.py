"""The change sequence of registrations: ``change_xid``, the id of the transaction that last
changed a row's data (inserted it, or updated it with a new ``updated_at``).

Incremental reconciliation selects its work by it instead of by the clock: a run remembers the
database snapshot taken when it was planned (``pg_current_snapshot()``), and the next run reads
the rows whose ``change_xid`` that snapshot did not see — committed after it, or still in
progress then — through this column's index, so a transaction left open across a run's start is
never missed and nothing else is read twice. The column is the database's alone (the model does
not declare it): inserts take the default, updates that move ``updated_at`` go through the
trigger; an update of the status only (reconciliation's own flag, a settled registration)
leaves it, as it leaves ``updated_at``.
"""

from django.db import migrations

from core.migration_sql import postgresql_only

TABLE = "subscribers_registration"
FUNCTION = "subscribers_registration_bump_change_xid"

FORWARD = f"""
ALTER TABLE {TABLE} ADD COLUMN change_xid bigint NOT NULL
    DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX reg_change_xid_idx ON {TABLE} (change_xid);
CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_xid := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END
$$;
CREATE TRIGGER {FUNCTION} BEFORE UPDATE ON {TABLE} FOR EACH ROW
    WHEN (NEW.updated_at IS DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION {FUNCTION}();
"""

BACKWARD = f"""
DROP TRIGGER {FUNCTION} ON {TABLE};
DROP FUNCTION {FUNCTION}();
ALTER TABLE {TABLE} DROP COLUMN change_xid;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("subscribers", "0009_number_lives"),
    ]

    # PostgreSQL only (the change sequence is its transaction ids); elsewhere incremental runs
    # fall back to the clock.
    operations = [postgresql_only(FORWARD, BACKWARD)]
