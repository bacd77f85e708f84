"""``manage.py load_operator_snapshot FILE`` — load the operator's daily snapshot into the mock.

All or nothing: a file with any bad row is rejected, every bad row reported as
``line N, field: reason``, and nothing is loaded (exit status 1). A file that cannot be opened
(missing, a directory, not readable) is said so, as ``import_registrations`` says it (exit
status 2). A full snapshot that would set more than ``OPERATORDB_MAX_DEACTIVATED_SHARE`` (0.5)
of the active numbers inactive — or any, from a file listing no number — is refused, nothing
loaded (exit status 1), unless ``--allow-mass-deactivation``: a truncated export must not end
the operator's whole picture. See ``operatordb.snapshot``.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from core import external_digests
from operatordb.snapshot import MassDeactivationRefused, SnapshotRejected, load_snapshot

EXIT_REJECTED = 1
EXIT_UNUSABLE = 2


class Command(BaseCommand):
    help = (
        "Load an operator snapshot CSV (msisdn, iccid, status, activated_at, outlet_roid, "
        "id_type, id_number, full_name, birth_date). A full snapshot marks numbers it no longer "
        "lists inactive; --delta only adds and updates."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--delta",
            action="store_true",
            help="a partial feed: numbers absent from the file are left as they are",
        )
        parser.add_argument(
            "--allow-mass-deactivation",
            action="store_true",
            help="load a full snapshot even when it sets more than OPERATORDB_MAX_DEACTIVATED_SHARE"
            " of the active numbers inactive (or lists no number at all)",
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        path = options["file"]
        try:
            with open(path, "rb"):  # opened before the load starts: said as the import says it
                pass
            report = load_snapshot(
                path,
                full=not options["delta"],
                allow_mass_deactivation=options["allow_mass_deactivation"],
            )
        except OSError as exc:
            if exc.filename is None:  # not the file's own fault (the database, a worker)
                raise
            raise CommandError(
                f"Cannot open {path}: {exc.strerror}", returncode=EXIT_UNUSABLE
            ) from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"the file is not UTF-8 text ({exc.reason})") from exc
        except MassDeactivationRefused as exc:
            if options["json"]:
                self.stdout.write(
                    json.dumps(
                        {
                            "loaded": False,
                            "refused": "mass_deactivation",
                            "deactivating": exc.deactivating,
                            "active": exc.active,
                            "rows": exc.report.rows,
                        },
                        indent=2,
                    )
                )
            raise CommandError(f"{path}: {exc}", returncode=EXIT_REJECTED) from exc
        except SnapshotRejected as exc:
            report = exc.report
            if not options["json"] and [e.field for e in report.errors] == ["file"]:
                # Not UTF-8 text at all (UTF-16, compressed): said of the file, plainly.
                raise CommandError(
                    f"{options['file']}: {report.errors[0].reason}; nothing was loaded"
                ) from exc
            if options["json"]:
                self.stdout.write(json.dumps({"loaded": False, **report.as_dict()}, indent=2))
            else:
                for error in report.errors:
                    self.stderr.write(str(error))
                if report.error_count > len(report.errors):
                    self.stderr.write(f"... and {report.error_count - len(report.errors)} more")
            raise CommandError(
                f"{report.error_count} bad row(s) in {options['file']}; nothing was loaded"
            ) from exc
        # A full snapshot rewrote every number under the key in force: after a digest-key
        # rotation, reconciliation may compare again. A delta leaves the rest as it was.
        if not options["delta"] and external_digests.mark_reloaded(
            external_digests.OPERATOR_SNAPSHOT
        ):
            self.stderr.write("the snapshot is under the rotated digest key: reconciliation runs")
        if options["json"]:
            self.stdout.write(json.dumps({"loaded": True, **report.as_dict()}, indent=2))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {report.rows} rows in {report.seconds:.1f} s ({report.rate:,.0f} rows/s): "
                f"{report.inserted} new, {report.updated} changed, {report.unchanged} unchanged, "
                f"{report.deactivated} no longer listed (set inactive); {report.converted} "
                f"line(s) checked and converted (the others as their rows were written)."
            )
        )
