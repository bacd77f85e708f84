"""The registration table's status changes as heap-only updates.

A first reconciliation run flags tens of thousands of registrations (registered → flagged) in
one statement. Any index that reads ``status`` — the late verification's partial index read it in
its condition — makes every such update write a new entry in all of the table's indexes. The
index is now conditioned on ``awaiting_registry``, a column the database keeps from ``status``
(stored, generated), which does not change between the other statuses; and the table leaves a
fifth of each page free (fillfactor 80: set first, so the rewrite that adds the column leaves
that room in every page) so that the new version of a row fits beside the old one:
PostgreSQL's heap-only update, no index touched.
"""

from django.db import migrations, models

from core.migration_sql import postgresql_only


class Migration(migrations.Migration):
    dependencies = [
        ("subscribers", "0013_registration_guardian_digest_index"),
    ]

    operations = [
        # First, so that the rewrite adding the stored column already leaves the room.
        postgresql_only(
            "ALTER TABLE subscribers_registration SET (fillfactor = 80)",
            "ALTER TABLE subscribers_registration RESET (fillfactor)",
            elidable=False,
        ),
        migrations.RemoveIndex(
            model_name="registration",
            name="reg_awaiting_idx",
        ),
        migrations.AddField(
            model_name="registration",
            name="awaiting_registry",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Q(("status", "awaiting")),
                output_field=models.BooleanField(),
            ),
        ),
        migrations.AddIndex(
            model_name="registration",
            index=models.Index(
                condition=models.Q(("awaiting_registry", True)),
                fields=["created_at"],
                name="reg_awaiting_idx",
            ),
        ),
    ]
