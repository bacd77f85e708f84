"""The partial index a head of family's data-subject request reads: the minors' registrations
made through them. Built concurrently: registrations keep being written while it builds."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """Concurrently on PostgreSQL; a plain index elsewhere (a development SQLite file)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(
            self, app_label, schema_editor, from_state, to_state
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(
            self, app_label, schema_editor, from_state, to_state
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("subscribers", "0012_merge_change_xid"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="registration",
            index=models.Index(
                condition=models.Q(("guardian_id_number_digest", ""), _negated=True),
                fields=["guardian_id_number_digest"],
                name="reg_guardian_digest_idx",
            ),
        ),
    ]
