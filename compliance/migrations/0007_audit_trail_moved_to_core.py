"""The audit trail's model now belongs to the ``core`` app (``core.0001_initial`` adopts it).

State only: the table ``compliance_auditevent`` and every row in it stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0006_lean_indexes"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]
