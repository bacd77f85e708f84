"""Fewer indexes on the tables a first reconciliation run's hand-over fills (tens of thousands of
clarification requests, their items, review items).

- A clarification item's request and discrepancy had an index each beside the unique pair
  (request, discrepancy) and ``clar_item_discrepancy_idx``, which serve the same look-ups.
- A review item's discrepancy had one beside its unique constraint.
- The request's party, agreement and opener, and the review item's request, are set on few rows:
  partial indexes (``IS NOT NULL``), which a row without them does not enter; the foreign keys'
  own checks and cascades still find them (``col = $1`` implies the condition).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0010_merge_change_snapshots"),
        ("outlets", "0006_number_lives"),
        ("subscribers", "0014_registration_awaiting_registry_hot_flag"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The foreign keys' own indexes go (by name: altering the fields would also drop the
        # partial unique index on the same column); the constraints stay as they are.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS compliance_clarification_agreement_id_cdd070a7",
                    reverse_sql="CREATE INDEX compliance_clarification_agreement_id_cdd070a7 ON compliance_clarification (agreement_id)",
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS compliance_clarification_opened_by_id_e68ab40f",
                    reverse_sql="CREATE INDEX compliance_clarification_opened_by_id_e68ab40f ON compliance_clarification (opened_by_id)",
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS compliance_clarification_party_id_589c5735",
                    reverse_sql="CREATE INDEX compliance_clarification_party_id_589c5735 ON compliance_clarification (party_id)",
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS compliance_clarificationitem_clarification_id_6d4d1ad0",
                    reverse_sql="CREATE INDEX compliance_clarificationitem_clarification_id_6d4d1ad0 ON compliance_clarificationitem (clarification_id)",
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS compliance_clarificationitem_discrepancy_id_f198a64b",
                    reverse_sql="CREATE INDEX compliance_clarificationitem_discrepancy_id_f198a64b ON compliance_clarificationitem (discrepancy_id)",
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS compliance_reviewitem_clarification_id_cbf92058",
                    reverse_sql="CREATE INDEX compliance_reviewitem_clarification_id_cbf92058 ON compliance_reviewitem (clarification_id)",
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS compliance_reviewitem_discrepancy_id_78a89cff",
                    reverse_sql="CREATE INDEX compliance_reviewitem_discrepancy_id_78a89cff ON compliance_reviewitem (discrepancy_id)",
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="clarification",
                    name="agreement",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="outlets.transferagreement",
                    ),
                ),
                migrations.AlterField(
                    model_name="clarification",
                    name="opened_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="clarification",
                    name="party",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="outlets.responsibleparty",
                    ),
                ),
                migrations.AlterField(
                    model_name="clarificationitem",
                    name="clarification",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="items",
                        to="compliance.clarification",
                    ),
                ),
                migrations.AlterField(
                    model_name="clarificationitem",
                    name="discrepancy",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="compliance.discrepancy",
                    ),
                ),
                migrations.AlterField(
                    model_name="reviewitem",
                    name="clarification",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="review_items",
                        to="compliance.clarification",
                    ),
                ),
                migrations.AlterField(
                    model_name="reviewitem",
                    name="discrepancy",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="compliance.discrepancy",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="clarification",
            index=models.Index(
                condition=models.Q(("party__isnull", False)),
                fields=["party"],
                name="clar_party_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="clarification",
            index=models.Index(
                condition=models.Q(("agreement__isnull", False)),
                fields=["agreement"],
                name="clar_agreement_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="clarification",
            index=models.Index(
                condition=models.Q(("opened_by__isnull", False)),
                fields=["opened_by"],
                name="clar_opened_by_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="reviewitem",
            index=models.Index(
                condition=models.Q(("clarification__isnull", False)),
                fields=["clarification"],
                name="review_clarification_idx",
            ),
        ),
    ]
