"""SQL a migration runs on PostgreSQL only — storage parameters, triggers, extensions, columns
the models do not declare. SQLite (``make run``'s default) has none of them: there the
operation does nothing, both ways."""

from django.db import migrations


def postgresql_only(forward: str, backward: str | None = None, **options) -> migrations.RunPython:
    """A ``RunPython`` executing ``forward`` (and, migrating back, ``backward``; None: nothing)
    on PostgreSQL, nothing elsewhere. ``options`` go to ``RunPython`` (``elidable``, say)."""

    def run(sql: str | None):
        def operation(apps, schema_editor):
            if sql and schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(sql)

        return operation

    return migrations.RunPython(run(forward), run(backward), **options)
