"""``manage.py reapply_erasures [--ledger FILE]``: erase again what a restore brought back."""

import json

from django.core.management.base import BaseCommand

from core.audit import command_line_actor
from privacy.services import erasure_ledger_reapply
from privacy.services.ledger import erasure_ledger_import


class Command(BaseCommand):
    help = (
        "Re-apply every live entry of the erasure ledger: registrations, versions, discrepancy "
        "sides, staff records, user accounts, stored replies and export files of people erased "
        "on request are erased again. Run after every restore (scripts/restore.sh does, with "
        "--ledger: the live database's ledger saved before the restore, which knows of "
        "erasures newer than the backup). Safe to run any time; audited."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--ledger", help="a file from export_erasure_ledger to add to this database's ledger"
        )

    def handle(self, *args, ledger=None, **options):
        if ledger:
            with open(ledger, encoding="utf-8") as fh:
                added = erasure_ledger_import(json.load(fh))
            self.stdout.write(f"{added} ledger entries carried over")
        counts = erasure_ledger_reapply(actor=command_line_actor())
        self.stdout.write(self.style.SUCCESS(f"erasures re-applied: {counts}"))
