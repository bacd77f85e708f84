"""Print the SMS the database backend stored (``SMS_BACKEND = holders.sms.DatabaseBackend``):
the phone's stand-in for development, demonstrations and tests."""

from django.core.management.base import BaseCommand, CommandError

from holders.models import StoredSms
from identity.idrules import IdRuleError, normalize_msisdn


class Command(BaseCommand):
    help = "Print the SMS stored for a number (newest last); --last prints only the latest."

    def add_arguments(self, parser):
        parser.add_argument("--to", required=True, help="The number, 62… or 08….")
        parser.add_argument("--last", action="store_true", help="Only the latest message.")

    def handle(self, *args, to, last, **options):
        try:
            number = normalize_msisdn(to)
        except IdRuleError as exc:
            raise CommandError(f"--to: {exc}") from None
        qs = StoredSms.objects.filter(to=number).order_by("-created_at", "-id")
        rows = list(qs[:1] if last else qs[:50])
        if not rows:
            self.stdout.write(f"No SMS to {number}.")
            return
        for message in reversed(rows):
            self.stdout.write(f"[{message.created_at:%Y-%m-%d %H:%M:%S}] to {message.to}")
            self.stdout.write(message.body)
            self.stdout.write("")
