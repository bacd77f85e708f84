"""``manage.py export_erasure_ledger --output FILE``: the live erasure ledger, for a restore."""

import json
import os

from django.core.management.base import BaseCommand

from privacy.services.ledger import erasure_ledger_export


class Command(BaseCommand):
    help = (
        "Write every live erasure-ledger entry to FILE (JSON, mode 0600): scripts/restore.sh "
        "saves the live database's ledger this way before restoring an older backup, then "
        "re-applies it there (reapply_erasures --ledger FILE). The file is personal data: "
        "delete it after use (the script does)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True, help="where to write the JSON")

    def handle(self, *args, output, **options):
        entries = erasure_ledger_export()
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entries, fh)
        self.stdout.write(f"{len(entries)} erasure ledger entries written")
