"""``manage.py rotate_digest_key``: re-digest every ID/KK digest under a new ID_DIGEST_KEY."""

from django.core.management.base import BaseCommand, CommandError

from core import external_digests
from privacy import selectors, services
from privacy.management.jobcommand import active_job_error, add_take_over_arguments, run_job
from privacy.models import PrivacyJob
from privacy.services.digest_rotation import digest_rotation_check, digest_stragglers

RELOAD = {
    external_digests.OPERATOR_SNAPSHOT: (
        "the operator's snapshot: manage.py load_operator_snapshot FILE (a full snapshot, not "
        "--delta); until then reconciliation refuses to run"
    ),
    external_digests.POPULATION_REGISTRY: (
        "the population registry's file: manage.py load_population_registry FILE (the whole "
        "file); until then the registry does not find people it holds no other copy of"
    ),
}


class Command(BaseCommand):
    help = (
        "Re-digest every keyed digest of an ID or KK number (registrations, versions, staff, "
        "owners, dealer admins, the operator's and the registry's records, reconciliation's ID "
        "groups, report flags, requests, the erasure ledger) under ID_DIGEST_KEY, the digests "
        "having been made with ID_DIGEST_KEY_PREVIOUS. Every look-up keeps working during the "
        "rotation. In chunks, printing progress; resumable: an interrupted or failed rotation "
        "goes on where it stopped (--take-over: at once, audited). --verify reads every "
        "encrypted number and reports digests not under ID_DIGEST_KEY (exit status 1 while any "
        "is left): run it before removing ID_DIGEST_KEY_PREVIOUS."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--verify",
            action="store_true",
            help="count digests not under ID_DIGEST_KEY (after the rotation); no writes",
        )
        add_take_over_arguments(parser)

    def handle(self, *args, verify, **options):
        if verify:
            return self._verify()
        try:
            todo = digest_rotation_check()
        except services.DigestRotationRefused as exc:
            raise CommandError(str(exc)) from exc
        kind = PrivacyJob.Kind.DIGEST_ROTATION
        job = selectors.active_job(kind)
        if job is None:
            last = PrivacyJob.objects.filter(kind=kind).order_by("-created_at").first()
            if last is not None and last.status == PrivacyJob.Status.FAILED:
                job = services.privacy_job_resume(job_id=last.pk, dispatch=False)
                self.stdout.write(f"resuming job #{job.pk} from {job.cursor}")
            elif todo == "done":
                self.stdout.write(
                    self.style.SUCCESS(
                        "the stored digests are under ID_DIGEST_KEY already; check with "
                        "--verify, then remove ID_DIGEST_KEY_PREVIOUS"
                    )
                )
                self._reload_notice()
                return
            else:
                try:
                    job = services.digest_rotation_start(
                        trigger=PrivacyJob.Trigger.COMMAND, dispatch=False
                    )
                except services.JobAlreadyActive as exc:
                    raise active_job_error("a digest rotation", exc) from exc
        try:
            job = run_job(self, job, options)
        except services.DigestRotationIncomplete as exc:
            raise CommandError(f"job #{job.pk} failed: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"job #{job.pk} {job.status}: {job.counts}"))
        self._reload_notice()

    def _reload_notice(self) -> None:
        """What must be loaded again: numbers only the external copies hold are still under
        the old key (there is no number beside them to re-digest)."""
        stale = external_digests.stale()
        if not stale:
            return
        self.stdout.write(
            self.style.WARNING(
                "RELOAD NEEDED: numbers known only from these files are still under the old "
                "key. Load them again, then remove ID_DIGEST_KEY_PREVIOUS:"
            )
        )
        for source in stale:
            self.stdout.write(self.style.WARNING(f"  - {RELOAD[source]}"))

    def _verify(self):
        left = digest_stragglers()
        for label, field, count in left:
            self.stdout.write(f"{label}.{field}: {count} digest(s) not under ID_DIGEST_KEY")
        if left:
            raise CommandError(
                "some digests are not under ID_DIGEST_KEY: keep ID_DIGEST_KEY_PREVIOUS and run "
                "rotate_digest_key again"
            )
        self.stdout.write(self.style.SUCCESS("every digest with its number is under ID_DIGEST_KEY"))
