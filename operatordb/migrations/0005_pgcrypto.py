"""PostgreSQL's ``pgcrypto`` extension: the snapshot load computes the keyed digests of the ID
numbers in the database (``hmac(…, 'sha256')``), with the key handed over by ``COPY`` into a
temporary table of the loading transaction (docs/decisions.md). ``pgcrypto`` ships with
PostgreSQL's contrib package and is a trusted extension (PostgreSQL 13+): the database's owner
may create it. Nothing on SQLite.
"""

from django.db import migrations

from core.migration_sql import postgresql_only


class Migration(migrations.Migration):
    dependencies = [("operatordb", "0004_operatorsubscriber_change_xid")]

    operations = [postgresql_only("CREATE EXTENSION IF NOT EXISTS pgcrypto")]
