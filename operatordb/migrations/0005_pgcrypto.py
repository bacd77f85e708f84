"""PostgreSQL's ``pgcrypto`` extension: the snapshot load computes the keyed digests of the ID
numbers in the database (``hmac(…, 'sha256')``), with the key handed over by ``COPY`` into a
temporary table of the loading transaction (docs/decisions.md). ``pgcrypto`` ships with
PostgreSQL's contrib package and is a trusted extension (PostgreSQL 13+): the database's owner
may create it. Nothing on SQLite.
"""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")


class Migration(migrations.Migration):
    dependencies = [("operatordb", "0004_operatorsubscriber_change_xid")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
