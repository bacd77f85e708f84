"""``manage.py reconcile [--full] [--sync] [--json] [--take-over]`` — run a reconciliation and
print its summary (counts by kind). Through Celery by default (waiting for the workers), or
inline with ``--sync`` (its chunks on ``RECONCILIATION_INLINE_THREADS`` threads at once).
Incremental unless ``--full``. ``--take-over`` takes over the run in progress whose workers are
gone (audited) and finishes it inline.

A run still waiting to start (queued, its planning never taken by a worker) is not a reason to
refuse: the command gets that run back, as the page and the API do (``starting``) — its planning
sent again, or with ``--sync`` worked here. Waiting for the workers, the command says so when the
run makes no progress for ``--patience`` seconds (no worker seems to be taking it) and how to
work it inline instead."""

import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from compliance.models import ReconciliationRun
from compliance.reconciliation import engine
from compliance.reconciliation.selectors import open_counts_by_kind, run_summary
from compliance.reconciliation.starting import waiting_run, waiting_run_sent_again
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
            "--patience",
            type=float,
            default=30,
            help="seconds without progress before saying that no worker seems to take the run",
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
            run = self._waiting_run_back(exc, sync=options["sync"])
        if options["sync"]:
            run = engine.reconciliation_run_inline(run_id=run.pk)
        else:
            run = self._wait(
                run, options["timeout"], quiet=options["json"], patience=options["patience"]
            )
        self._report(run, options)

    def _waiting_run_back(self, exc: engine.RunAlreadyActive, *, sync: bool):
        """The run still waiting to start that kept this one from starting (``--sync`` works
        it here; otherwise its planning is sent again); a run really running is a refusal."""
        run = waiting_run(exc.run) if sync else waiting_run_sent_again(exc.run)
        if run is None:
            active = exc.run
            if active is not None:
                active.refresh_from_db()
            other = f" (run {active.pk}, {active.mode}, {active.status})" if active else ""
            raise CommandError(
                f"A reconciliation run is already in progress{other}; --take-over takes it over "
                "if its workers are gone."
            ) from exc
        how = "working it here" if sync else "its planning sent again"
        self.stderr.write(
            f"Run {run.pk} ({run.mode}) was still waiting to start, queued at "
            f"{run.created_at:%Y-%m-%d %H:%M:%S %Z}: {how}, instead of starting another."
        )
        return run

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

    def _wait(self, run, timeout: float, *, quiet: bool, patience: float):
        """Poll ``run`` until it ends or ``timeout`` passes. After ``patience`` seconds with no
        progress at all, say once (until it progresses again) that no worker seems to take it."""
        now = time.monotonic()
        deadline = now + timeout
        progress, progressed_at, hinted = None, now, False
        while True:
            run.refresh_from_db()
            now = time.monotonic()
            if not run.is_active or now > deadline:
                if not quiet:
                    self.stderr.write("", style_func=str)
                return run
            seen = (run.status, run.chunks_total, run.chunks_done, run.rows_done)
            if seen != progress:
                progress, progressed_at, hinted = seen, now, False
            if not quiet:
                self.stderr.write(
                    f"\rrun {run.pk}: {run.status}, {run.chunks_done}/{run.chunks_total} chunks",
                    style_func=str,
                    ending="",
                )
                self.stderr.flush()
            if not hinted and now - progressed_at >= patience:
                hinted = True
                if not quiet:
                    self.stderr.write("", style_func=str)  # the progress line stays as it was
                self.stderr.write(
                    self._no_worker_hint(run, now - progressed_at), style_func=self.style.WARNING
                )
            time.sleep(min(0.5, max(patience / 2, 0.05)))

    @staticmethod
    def _no_worker_hint(run, idle: float) -> str:
        if run.status == ReconciliationRun.Status.QUEUED:
            return (
                f"Run {run.pk} is still queued, {idle:.0f} s without progress: no Celery worker "
                "seems to be taking it (is one consuming the 'reconcile' queue, and is the broker "
                "up?). "
                "Interrupting this wait leaves the run queued; `manage.py reconcile --sync` then "
                "works it here, without a worker."
            )
        return (
            f"Run {run.pk} has made no progress for {idle:.0f} s: no Celery worker seems to be "
            "working its chunks (is one consuming the 'reconcile' queue?). If its workers are "
            "gone, `manage.py reconcile --take-over` finishes it here."
        )

    def _print(self, summary: dict) -> None:
        out = self.stdout
        progress = summary["progress"]
        out.write(
            f"Run {summary['id']} ({summary['mode']}, {summary['engine'] or '-'}): "
            f"{summary['status']} in {summary['duration_seconds'] or 0:.1f} s, "
            f"{progress['done']}/{progress['total']} chunks, {progress['rows_done']} rows"
        )
        # The kind column as wide as the longest kind (``activated_before_registration``).
        width = max([len("kind"), *map(len, summary["counts"])]) + 2
        out.write(f"{'kind':<{width}}{'found':>8}{'opened':>8}{'resolved':>9}{'open now':>10}")
        for kind, found in summary["counts"].items():
            out.write(
                f"{kind:<{width}}{found:>8}{summary['opened'][kind]:>8}"
                f"{summary['resolved'][kind]:>9}{summary['open_now'][kind]:>10}"
            )
