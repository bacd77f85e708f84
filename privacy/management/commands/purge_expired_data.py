"""``manage.py purge_expired_data [--dry-run]``: anonymise what is past the retention period."""

from django.core.management.base import BaseCommand

from privacy import selectors, services
from privacy.management.jobcommand import active_job_error, add_take_over_arguments, run_job
from privacy.models import PrivacyJob


class Command(BaseCommand):
    help = (
        "Anonymise the registrations whose number was deactivated more than "
        "RETENTION_DAYS_AFTER_DEACTIVATION days ago, and those whose erasure was requested and "
        "is now possible: photos deleted first, then name, birth place, address and ID/KK "
        "numbers removed; the rows stay for statistics. Registrations with an open discrepancy "
        "wait. Chunked, audited, safe to run twice. --dry-run only counts, writing nothing. "
        "--take-over takes over at once a purge whose worker is gone (audited)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count only, write nothing")
        add_take_over_arguments(parser)

    def handle(self, *args, dry_run, **options):
        if dry_run:
            preview = selectors.retention_preview()
            self.stdout.write(
                f"cut-off {preview.cutoff:%Y-%m-%d %H:%M %Z}: {preview.past_retention} "
                f"registration(s) past retention, {preview.erasures_due} erasure(s) now possible, "
                f"{preview.photo_files} photo file(s) to delete (dry run: nothing written)"
            )
            return
        try:
            job = services.retention_purge_start(trigger=PrivacyJob.Trigger.COMMAND, dispatch=False)
        except services.JobAlreadyActive as exc:
            if not options["take_over"] or exc.job is None:
                raise active_job_error("purge", exc) from exc
            job = exc.job
        job = run_job(self, job, options)
        self.stdout.write(self.style.SUCCESS(f"job #{job.pk} {job.status}: {job.counts}"))
