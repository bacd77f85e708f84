"""What the commands that run personal-data jobs share: ``--take-over`` and the run itself."""

from django.core.management.base import CommandError

from core.audit import command_line_actor
from privacy import services
from privacy.models import PrivacyJob


def add_take_over_arguments(parser) -> None:
    parser.add_argument(
        "--take-over",
        action="store_true",
        help=(
            "take over a job still marked running whose worker is gone (the machine restarted, "
            "the process was killed) at once, instead of waiting PRIVACY_JOB_STALE_SECONDS; "
            "audited. A worker that is in fact still alive stops at its next chunk."
        ),
    )
    parser.add_argument("--reason", default="", help="why the job is taken over (audited)")


def run_job(command, job: PrivacyJob, options) -> PrivacyJob:
    """Run ``job`` here (taking it over with ``--take-over``); a job another worker holds is an
    error that says how to take it over."""
    take_over = options.get("take_over")
    job = services.privacy_job_run(
        job_id=job.pk,
        progress=command.stdout.write,
        take_over_by=command_line_actor() if take_over else None,
        reason=options.get("reason") or "",
    )
    if job.status == PrivacyJob.Status.RUNNING:
        raise CommandError(
            f"job #{job.pk} is being run by {job.claimed_by or '?'}; try again later, or use "
            "--take-over if that worker is gone"
        )
    return job


def active_job_error(what: str, exc: services.JobAlreadyActive) -> CommandError:
    return CommandError(
        f"{what} job #{exc.job.pk if exc.job else '?'} is already queued or running "
        "(--take-over takes it over if its worker is gone)"
    )
