"""Reads of the reports app: a user's exports, and which export a file (by its SHA-256) is."""

import re

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import ExportJob
from .scope import can_view_reports

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def export_jobs_for_user(*, user) -> QuerySet[ExportJob]:
    """The exports ``user`` asked for, newest first. Nobody reads another user's export —
    not a clerk, not a dealer, not another regulator: it may hold rows they may not see."""
    if not getattr(user, "is_authenticated", False):
        return ExportJob.objects.none()
    return ExportJob.objects.filter(requested_by=user)


def export_job_get_for_user(*, user, pk) -> ExportJob:
    """One of the user's exports, or 404 when it does not exist *or* is someone else's."""
    return get_object_or_404(export_jobs_for_user(user=user), pk=pk)


def normalise_sha256(text: str) -> str:
    """A pasted digest as 64 lower-case hex digits ("" when it is not one); tolerates spaces
    and the ``sha256sum`` output's trailing file name."""
    first = (text or "").strip().split()[0] if (text or "").strip() else ""
    first = first.lower().removeprefix("sha256:")
    return first if SHA256_RE.match(first) else ""


def exports_with_sha256(*, user, sha256: str) -> QuerySet[ExportJob]:
    """Finished exports whose file has this SHA-256, for anyone who may read reports: holding
    the file is what lets one ask, and the answer is what the file already says it is."""
    if not can_view_reports(user) or not SHA256_RE.match(sha256 or ""):
        return ExportJob.objects.none()
    return ExportJob.objects.filter(
        sha256=sha256, status=ExportJob.Status.SUCCEEDED
    ).select_related("requested_by")
