"""``manage.py import_registrations FILE``: legacy/bulk import of registrations from a CSV.

The rules and the writing are ``subscribers.imports.registrations_import``; this command opens
the files, reports, and sets the exit status.
"""

import contextlib
import csv
import gc
import os
import sys
from pathlib import Path

from django.core import checks
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from subscribers.imports import (
    COLUMNS,
    DEFAULT_CHUNK_SIZE,
    OPTIONAL_COLUMNS,
    ImportFileError,
    read_registration_csv,
    registrations_import,
)

EXIT_REJECTED = 1
EXIT_UNUSABLE = 2


class Command(BaseCommand):
    # The model checks only: the others (URLs, templates, admin, security) concern serving
    # pages, and would import every view and API module first — half a second of CPU before
    # a row is read. ``manage.py check`` and every server start still run them all.
    requires_system_checks = [checks.Tags.models]
    help = (
        "Import registrations made elsewhere from a UTF-8 CSV with a header row naming the "
        f"columns {', '.join(COLUMNS)} (registered_at: YYYY-MM-DD or ISO 8601 date and time, "
        f"naive times are Asia/Jakarta), and optionally {', '.join(OPTIONAL_COLUMNS)}. Each row "
        "passes the form's validation under the policy in force at registered_at, photos "
        "excepted, the population registry included where that policy asks for it (a KK it "
        "does not pair with the NIK rejects the row where the policy asks for the KK); "
        "consent is taken as given (consent_at = registered_at), a missing document_checked "
        "is recorded as not known. Unknown packs are created at the row's outlet. "
        "Rows already imported are skipped, so a second run adds nothing. Rejected rows are "
        "listed on stderr as 'line N: field: reason' (and in --errors-csv); the other rows are "
        "imported. Exit status: 0 every row imported or already there, 1 some rows rejected, "
        "2 the file could not be read (nothing imported)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file, or - for standard input")
        parser.add_argument(
            "--errors-csv",
            metavar="PATH",
            help="also write the rejected rows' faults there (columns: line, field, reason)",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=DEFAULT_CHUNK_SIZE,
            help="rows per transaction (default %(default)s)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=min(os.cpu_count() or 1, 4),
            help="processes checking and encrypting the coming rows while the database writes "
            "(default: the number of CPUs, at most 4; 1 = no extra process)",
        )

    def handle(self, *args, file, errors_csv, chunk_size, workers, verbosity, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1", returncode=EXIT_UNUSABLE)
        label = "<stdin>" if file == "-" else Path(file).name
        committed = {"rows": 0}

        with contextlib.ExitStack() as files:
            # Bytes that are not UTF-8 become lone surrogates: their row is rejected, not the file.
            text = {"encoding": "utf-8-sig", "errors": "surrogateescape", "newline": ""}
            try:
                if file == "-":
                    stream = files.enter_context(open(sys.stdin.fileno(), closefd=False, **text))
                else:
                    stream = files.enter_context(open(file, **text))
            except OSError as exc:
                raise CommandError(
                    f"Cannot open {file}: {exc.strerror}", returncode=EXIT_UNUSABLE
                ) from exc
            errors_writer = None
            if errors_csv:
                errors_file = files.enter_context(
                    open(errors_csv, "w", encoding="utf-8", newline="")
                )
                errors_writer = csv.writer(errors_file)
                errors_writer.writerow(["line", "field", "reason"])

            def on_error(error):
                self.stderr.write(
                    _("line %(line)d: %(field)s: %(reason)s")
                    % {"line": error.line, "field": error.field, "reason": error.message}
                )
                if errors_writer:
                    errors_writer.writerow([error.line, error.field, error.message])

            def on_chunk(result):
                committed["rows"] = result.rows
                if verbosity >= 2:
                    self.stdout.write(
                        f"… {result.rows} rows read, {result.imported} imported, "
                        f"{result.rejected} rejected"
                    )

            # Everything loaded so far (Django, the apps) lives as long as the process: moved
            # out of the garbage collector's sight, the full collections that the import's
            # allocations trigger stop re-scanning it (~5 us of CPU a row); the worker
            # processes forked later inherit this. The import's objects are short-lived and
            # freed by their reference counts, so the young generation is collected every
            # 50 000 allocations rather than every 700 (~4 us of CPU a row; memory stays flat).
            gc.freeze()
            thresholds = gc.get_threshold()
            gc.set_threshold(50_000, *thresholds[1:])
            files.callback(gc.set_threshold, *thresholds)  # as it was once the import is done
            try:
                result = registrations_import(
                    rows=read_registration_csv(stream),
                    chunk_size=chunk_size,
                    workers=workers,
                    source_label=label,
                    on_error=on_error,
                    on_chunk=on_chunk,
                )
            except ImportFileError as exc:
                raise CommandError(f"{label}: {exc}", returncode=EXIT_UNUSABLE) from exc
            except Exception:
                # Each chunk is its own transaction: what was committed stays, the chunk in
                # flight is gone, and a re-run skips what is already there.
                self.stderr.write(
                    _(
                        "%(file)s: import stopped after %(rows)d rows were committed; run the "
                        "same command again to import the rest."
                    )
                    % {"file": label, "rows": committed["rows"]}
                )
                raise

        if verbosity >= 1:
            for line, first in result.repeats:
                self.stdout.write(
                    _("line %(line)d: repeated in this file (line %(first)d): imported once.")
                    % {"line": line, "first": first}
                )
            self.stdout.write(
                _(
                    "%(file)s: %(rows)d rows: %(imported)d imported (%(flagged)d flagged for "
                    "review, %(packs)d new starter packs), %(skipped)d already imported, "
                    "%(repeated)d repeated in this file, %(rejected)d rejected."
                )
                % {
                    "file": label,
                    "rows": result.rows,
                    "imported": result.imported,
                    "flagged": result.flagged,
                    "packs": result.packs_created,
                    "skipped": result.skipped,
                    "repeated": len(result.repeats),
                    "rejected": result.rejected,
                }
            )
        if verbosity >= 1 and result.awaiting:
            self.stdout.write(
                _(
                    "%(awaiting)d imported awaiting verification: the population registry could "
                    "not be reached; they are checked when it answers."
                )
                % {"awaiting": result.awaiting}
            )
        if result.rejected:
            raise CommandError(
                _("%(rejected)d of %(rows)d rows rejected (listed above); the others imported.")
                % {"rejected": result.rejected, "rows": result.rows},
                returncode=EXIT_REJECTED,
            )
