"""``manage.py sync_number_deactivations``: learn which registered numbers left service."""

from django.core.management.base import BaseCommand

from privacy import services
from privacy.management.jobcommand import active_job_error, add_take_over_arguments, run_job
from privacy.models import PrivacyJob


class Command(BaseCommand):
    help = (
        "Read the operator's records changed since the last successful sync (all of them the "
        "first time) through the operator adapter, and record for each registered number seen "
        "inactive when it was deactivated; the retention period counts from there. Numbers "
        "active again lose the mark. --take-over takes over at once a sync whose worker is gone "
        "(audited)."
    )

    def add_arguments(self, parser):
        add_take_over_arguments(parser)

    def handle(self, *args, **options):
        try:
            job = services.number_deactivations_sync_start(
                trigger=PrivacyJob.Trigger.COMMAND, dispatch=False
            )
        except services.JobAlreadyActive as exc:
            if not options["take_over"] or exc.job is None:
                raise active_job_error("sync", exc) from exc
            job = exc.job
        job = run_job(self, job, options)
        self.stdout.write(self.style.SUCCESS(f"job #{job.pk} {job.status}: {job.counts}"))
