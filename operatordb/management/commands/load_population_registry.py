"""``manage.py load_population_registry FILE`` — load people into the mock population registry.

All or nothing: a file with any bad row is rejected, every fault reported as
``line N, field: reason`` on stderr, and nothing is loaded (exit status 1). Loading again
updates the people of the file. See ``operatordb.population``.
"""

from django.core.management.base import BaseCommand, CommandError

from core import external_digests
from operatordb.population import OPTIONAL, REQUIRED, RegistryFileRejected, load_registry


class Command(BaseCommand):
    help = (
        "Load the mock population registry (Dukcapil) from a UTF-8 CSV with the columns "
        f"{', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)} (face_photo: an image "
        "file, relative to the CSV's folder). A file with any bad row is rejected whole, "
        "each fault listed as 'line N, field: reason'. Loading again updates (idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file, **options):
        try:
            report = load_registry(file)
        except OSError as exc:
            if exc.filename is None:  # not the file's own fault (the database)
                raise
            # As the snapshot loader and the import say it: the file cannot be used at all.
            raise CommandError(f"Cannot open {file}: {exc.strerror}", returncode=2) from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"the file is not UTF-8 text ({exc.reason})") from exc
        except RegistryFileRejected as exc:
            for fault in exc.report.errors[:200]:
                self.stderr.write(str(fault))
            if len(exc.report.errors) > 200:
                self.stderr.write(f"... and {len(exc.report.errors) - 200} more")
            raise CommandError(
                f"{len(exc.report.errors)} fault(s) in {file}; nothing was loaded"
            ) from exc
        if external_digests.mark_reloaded(external_digests.POPULATION_REGISTRY):
            self.stderr.write("the registry file is loaded under the rotated digest key")
        self.stdout.write(
            self.style.SUCCESS(
                f"Population registry: {report.rows} people read, {report.created} new, "
                f"{report.updated} updated, {report.unchanged} unchanged."
            )
        )
