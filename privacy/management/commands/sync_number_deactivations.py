"""``manage.py sync_number_deactivations``: learn which registered numbers left service."""

from django.core.management.base import BaseCommand, CommandError

from privacy import services
from privacy.models import PrivacyJob


class Command(BaseCommand):
    help = (
        "Read the operator's records changed since the last successful sync (all of them the "
        "first time) through the operator adapter, and record for each registered number seen "
        "inactive when it was deactivated; the retention period counts from there. Numbers "
        "active again lose the mark."
    )

    def handle(self, *args, **options):
        try:
            job = services.number_deactivations_sync_start(
                trigger=PrivacyJob.Trigger.COMMAND, dispatch=False
            )
        except services.JobAlreadyActive as exc:
            raise CommandError(
                f"sync job #{exc.job.pk if exc.job else '?'} is already queued or running"
            ) from exc
        job = services.privacy_job_run(job_id=job.pk, progress=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"job #{job.pk} {job.status}: {job.counts}"))
