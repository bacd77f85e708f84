"""``python manage.py refresh_report_summaries [--full]``: bring the dashboard's summary tables
up to date now (incrementally, or rebuilt with ``--full``) and say what was done. Summaries built
under another definition of the figures (``summary.DEFINITION_VERSION``) are rebuilt in full
without ``--full``."""

from django.core.management.base import BaseCommand

from reports import services
from reports.summary import DEFINITION_VERSION

REASONS = {
    "requested": "--full",
    "first": "first refresh",
    "definition": f"the figures' definition changed: now version {DEFINITION_VERSION}",
    "parameters": "the cap in force or a threshold changed",
}


class Command(BaseCommand):
    help = "Refresh the report summary tables (the dashboard's figures)."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="rebuild everything")

    def handle(self, *args, **options):
        outcome = services.report_summaries_refresh(full=options["full"])
        days = "all" if outcome.registration_days < 0 else outcome.registration_days
        why = f" ({REASONS[outcome.reason]})" if outcome.reason else ""
        self.stdout.write(
            f"{outcome.mode} refresh{why} in {outcome.duration_ms} ms: {days} registration day(s) "
            f"recomputed; figures as of {outcome.as_of:%Y-%m-%d %H:%M:%S %Z}"
        )
