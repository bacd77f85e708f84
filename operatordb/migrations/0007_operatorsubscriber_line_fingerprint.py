"""The fingerprint of the snapshot line each operator row was written from: ``line_fingerprint``.

A reload of the daily snapshot converts only the lines whose fingerprint no stored row carries
(``operatordb.snapshot._load_changed_lines``): an unchanged line is its row, as stored. For that
to hold, a row changed by anything but the loader must forget its fingerprint: the trigger here
clears it on every update that does not set a new one (the mock network's writes, a digest-key
rotation, an edit in the admin). Like ``change_xid``, the column is the database's alone (the
model does not declare it), on PostgreSQL only: elsewhere the snapshot loads row by row.
"""

from django.db import migrations

from core.migration_sql import postgresql_only

TABLE = "operatordb_operatorsubscriber"
FUNCTION = "operatordb_operatorsubscriber_forget_line"

FORWARD = f"""
ALTER TABLE {TABLE} ADD COLUMN line_fingerprint uuid;
CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.line_fingerprint := NULL;
    RETURN NEW;
END
$$;
CREATE TRIGGER {FUNCTION} BEFORE UPDATE ON {TABLE} FOR EACH ROW
    WHEN (OLD.line_fingerprint IS NOT NULL
          AND NEW.line_fingerprint IS NOT DISTINCT FROM OLD.line_fingerprint)
    EXECUTE FUNCTION {FUNCTION}();
"""

BACKWARD = f"""
DROP TRIGGER {FUNCTION} ON {TABLE};
DROP FUNCTION {FUNCTION}();
ALTER TABLE {TABLE} DROP COLUMN line_fingerprint;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("operatordb", "0006_merge_pgcrypto"),
    ]

    operations = [postgresql_only(FORWARD, BACKWARD)]
