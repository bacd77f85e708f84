"""``manage.py rotate_encryption_keys``: re-encrypt every ID number under the first key."""

from django.core.management.base import BaseCommand, CommandError

from privacy import keys, selectors, services
from privacy.management.jobcommand import add_take_over_arguments, run_job
from privacy.models import PrivacyJob
from privacy.services.rotation import RotationIncomplete


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted ID/KK number (registrations, versions, answers, outlet "
        "staff, owners, the erasure ledger) under the first key of FIELD_ENCRYPTION_KEYS, in "
        "chunks by primary key, printing progress. Resumable: an interrupted or failed "
        "rotation goes on where it stopped. "
        "--verify reads everything and reports what the first key alone cannot read yet "
        "(run it before removing an old key; exit status 1 while anything is left). "
        "--take-over takes over at once a rotation whose worker is gone (audited)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--verify", action="store_true", help="count values not under the first key; no writes"
        )
        add_take_over_arguments(parser)

    def handle(self, *args, verify, **options):
        if verify:
            return self._verify()
        kind = PrivacyJob.Kind.KEY_ROTATION
        job = selectors.active_job(kind)
        if job is None:
            failed = PrivacyJob.objects.filter(kind=kind).order_by("-created_at").first()
            if failed is not None and failed.status == PrivacyJob.Status.FAILED:
                job = services.privacy_job_resume(job_id=failed.pk, dispatch=False)
                self.stdout.write(f"resuming job #{job.pk} from {job.cursor}")
            else:
                job = services.key_rotation_start(
                    trigger=PrivacyJob.Trigger.COMMAND, dispatch=False
                )
        try:
            job = run_job(self, job, options)
        except RotationIncomplete as exc:
            raise CommandError(f"job #{job.pk} failed: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"job #{job.pk} {job.status}: {job.counts}"))
        if job.counts.get("unreadable"):
            raise CommandError(
                f"{job.counts['unreadable']} value(s) cannot be decrypted with any configured key"
            )

    def _verify(self):
        incomplete = False
        for entry in keys.key_coverage():
            self.stdout.write(
                f"{entry.label}.{entry.field}: {entry.primary} under the first key, "
                f"{entry.older} under an older key, {entry.unreadable} unreadable"
                + (f" (pks {entry.unreadable_ids[:10]})" if entry.unreadable_ids else "")
            )
            incomplete = incomplete or not entry.complete
        if incomplete:
            raise CommandError("not every value is under the first key: keep the old keys")
        self.stdout.write(self.style.SUCCESS("every value is under the first key"))
