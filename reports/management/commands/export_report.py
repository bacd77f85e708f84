"""``python manage.py export_report KIND --from DATE --to DATE --format csv|xlsx|pdf --output PATH``

The same export as the web page and the API (``reports.services``), run inline: an
``ExportJob`` is recorded (so the file's SHA-256 can be checked on the portal), the file is
stored in the private storage and copied to PATH (mode 0600).

Without ``--user`` it runs as the command line (every outlet, audited as
``command-line:<os user>``); with ``--user`` as that user sees it. ID numbers are masked unless
``--unmasked`` is given (with ``--user``, that user needs ``reports.export_unmasked``).
"""

import os
import shutil

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from reports import services
from reports.models import ExportJob
from reports.scope import GROUPINGS


class Command(BaseCommand):
    help = "Write a report export (registrations, discrepancies, clarifications, outlets, summary)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=ExportJob.Kind.values)
        parser.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD (included)")
        parser.add_argument("--format", choices=ExportJob.Format.values, default="csv")
        parser.add_argument("--output", required=True, help="where to write the file")
        parser.add_argument("--user", help="export as this user sees it (default: everything)")
        parser.add_argument("--province", default="")
        parser.add_argument("--dealer", default="")
        parser.add_argument("--outlet", default="")
        parser.add_argument("--grouping", choices=GROUPINGS, default="province")
        parser.add_argument(
            "--unmasked", action="store_true", help="full ID numbers and personal data (audited)"
        )

    def handle(self, *args, **options):
        user = None
        if options["user"]:
            try:
                user = get_user_model().objects.get(username=options["user"])
            except get_user_model().DoesNotExist as exc:
                raise CommandError(f"No user {options['user']!r}.") from exc
        data = {
            key: options[key]
            for key in ("date_from", "date_to", "province", "dealer", "outlet", "grouping")
        }
        try:
            job = services.export_job_create(
                user=user,
                kind=options["kind"],
                format=options["format"],
                data=data,
                masked=not options["unmasked"],
                trigger=ExportJob.Trigger.COMMAND,
                dispatch=False,
            )
        except ValidationError as exc:
            faults = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(faults) from exc
        except PermissionDenied as exc:
            raise CommandError(str(exc) or "Not allowed.") from exc
        job = services.export_job_run(job_id=job.pk)
        if job.status != ExportJob.Status.SUCCEEDED:
            raise CommandError(f"Export #{job.pk} {job.status}: {job.error}")
        output = options["output"]
        with job.file.storage.open(job.file.name, "rb") as source:
            descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
        withheld = (
            f" ({job.rows_withheld} withheld: processing restricted)" if job.rows_withheld else ""
        )
        self.stdout.write(
            f"export #{job.pk}: {job.rows_done} rows{withheld} -> {output}\nsha256 {job.sha256}"
        )
