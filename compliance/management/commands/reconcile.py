"""``manage.py reconcile [--full] [--sync] [--json] [--take-over]`` — run a reconciliation and
print its summary (counts by kind). Through Celery by default (waiting for the workers), or
inline with ``--sync`` (its chunks on ``RECONCILIATION_INLINE_THREADS`` threads at once).
Incremental unless ``--full``. ``--take-over`` takes over the run in progress whose workers are
gone (audited) and finishes it inline."""

import json
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from compliance.models import ReconciliationRun
from compliance.reconciliation import engine
from compliance.reconciliation.selectors import open_counts_by_kind, run_summary
from core.audit import command_line_actor


class Command(BaseCommand):
    help = "Reconcile the registrations with the operator's database and print counts by kind."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="everything, not only changes")
        parser.add_argument("--sync", action="store_true", help="work inline, not via Celery")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")
        parser.add_argument(
            "--timeout", type=float, default=3600, help="seconds to wait for the workers"
        )
        parser.add_argument(
            "--take-over",
            action="store_true",
            help=(
                "take over the run in progress whose workers are gone, at once instead of after "
                "RECONCILIATION_CLAIM_TIMEOUT, and finish it here (audited)"
            ),
        )
        parser.add_argument("--reason", default="", help="why the run is taken over (audited)")

    def handle(self, *args, **options):
        if options["sync"]:
            # Working inline, this process is the worker: its start-up includes loading the
            # URL configuration (the hand-over's notification links need it), as a worker
            # process's first task does once — not a cost of the run.
            reverse("compliance:inbox")
        mode = (
            ReconciliationRun.Mode.FULL if options["full"] else ReconciliationRun.Mode.INCREMENTAL
        )
        if options["take_over"]:
            run = engine.active_run()
            if run is None:
                raise CommandError("No reconciliation run is in progress: nothing to take over.")
            run = engine.reconciliation_take_over(
                run_id=run.pk, actor=command_line_actor(), reason=options["reason"]
            )
            return self._report(run, options)
        try:
            run = engine.reconciliation_start(
                mode=mode, trigger=ReconciliationRun.Trigger.COMMAND, dispatch=not options["sync"]
            )
        except engine.RunAlreadyActive as exc:
            other = f" (run {exc.run.pk}, {exc.run.mode}, {exc.run.status})" if exc.run else ""
            raise CommandError(
                f"A reconciliation run is already in progress{other}; --take-over takes it over "
                "if its workers are gone."
            ) from exc
        if options["sync"]:
            run = engine.reconciliation_run_inline(run_id=run.pk)
        else:
            run = self._wait(run, options["timeout"], quiet=options["json"])
        self._report(run, options)

    def _report(self, run, options) -> None:
        summary = {**run_summary(run), "open_now": open_counts_by_kind()}
        if options["json"]:
            self.stdout.write(json.dumps(summary, cls=DjangoJSONEncoder, indent=2))
        else:
            self._print(summary)
        if run.status == ReconciliationRun.Status.FAILED:
            raise CommandError(f"Run {run.pk} failed: {run.error}")
        if run.is_active:
            raise CommandError(f"Run {run.pk} is still {run.status} after {options['timeout']} s.")

    def _wait(self, run, timeout: float, *, quiet: bool):
        deadline = time.monotonic() + timeout
        while True:
            run.refresh_from_db()
            if not run.is_active or time.monotonic() > deadline:
                return run
            if not quiet:
                sys.stderr.write(
                    f"\rrun {run.pk}: {run.status}, {run.chunks_done}/{run.chunks_total} chunks"
                )
                sys.stderr.flush()
            time.sleep(0.5)

    def _print(self, summary: dict) -> None:
        out = self.stdout
        progress = summary["progress"]
        out.write(
            f"Run {summary['id']} ({summary['mode']}, {summary['engine'] or '-'}): "
            f"{summary['status']} in {summary['duration_seconds'] or 0:.1f} s, "
            f"{progress['done']}/{progress['total']} chunks, {progress['rows_done']} rows"
        )
        out.write(f"{'kind':<26}{'found':>8}{'opened':>8}{'resolved':>9}{'open now':>10}")
        for kind, found in summary["counts"].items():
            out.write(
                f"{kind:<26}{found:>8}{summary['opened'][kind]:>8}"
                f"{summary['resolved'][kind]:>9}{summary['open_now'][kind]:>10}"
            )
