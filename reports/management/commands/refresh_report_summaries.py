"""``python manage.py refresh_report_summaries [--full]``: bring the dashboard's summary tables
up to date now (incrementally, or rebuilt with ``--full``) and say what was done."""

from django.core.management.base import BaseCommand

from reports import services


class Command(BaseCommand):
    help = "Refresh the report summary tables (the dashboard's figures)."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="rebuild everything")

    def handle(self, *args, **options):
        outcome = services.report_summaries_refresh(full=options["full"])
        days = "all" if outcome.registration_days < 0 else outcome.registration_days
        self.stdout.write(
            f"{outcome.mode} refresh in {outcome.duration_ms} ms: {days} registration day(s) "
            f"recomputed; figures as of {outcome.as_of:%Y-%m-%d %H:%M:%S %Z}"
        )
