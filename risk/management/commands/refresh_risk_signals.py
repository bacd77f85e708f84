"""``python manage.py refresh_risk_signals [--full]``: bring the risk signals up to date now."""

from django.core.management.base import BaseCommand

from risk.services import risk_refresh


class Command(BaseCommand):
    help = "Refresh the outlet risk signals (incrementally; --full rebuilds them)."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="rebuild every signal row")

    def handle(self, *args, full=False, **options):
        outcome = risk_refresh(full=full)
        self.stdout.write(
            f"risk signals: {outcome.mode} refresh in {outcome.duration_ms} ms, "
            f"{outcome.rows} signal rows"
        )
