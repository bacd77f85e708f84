"""Resumable jobs: claim, heartbeat, stale detection and take-over — one implementation.

A long job lives in a row (a personal-data job, a report export, a reconciliation chunk). Whoever
works it first *claims* it: a compare-and-set that moves the row from a waiting status (or from
running with a heartbeat older than the job's stale period: its worker died or hangs) to running,
with a fresh claim token. The holder proves it still holds the claim at every step: its progress
writes are *fenced* by the token (``heartbeat``), and a holder whose token is gone raises
``ClaimLost`` and rolls its step back, so a job taken over is never worked twice.

``Lease`` describes how one model's rows are claimed (its statuses, its heartbeat column, its
stale period); each app declares the lease of its own job model next to its services.

An operator who knows a worker is gone (the machine was restarted, the process was killed) need
not wait for the stale period: ``take_over`` claims a running job at once and writes an audit row
(``job.take_over``) naming who took it from which worker, how old its heartbeat was, and why. A
worker that was in fact still alive finds its claim lost at its next step and stops.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from .audit import AuditAction, audit_record


class ClaimLost(Exception):
    """Another worker (or an operator) took the job over; this one stops, writing nothing."""


class NotRunning(Exception):
    """Only a running job can be taken over (a queued or failed one is simply started)."""

    def __init__(self, status: str):
        super().__init__(f"the job is {status}, not running: there is nothing to take over")
        self.status = status


def new_token() -> str:
    return uuid.uuid4().hex


def worker_name() -> str:
    """This process, as a claim names it when no Celery worker name is at hand."""
    return f"inline@{socket.gethostname()}:{os.getpid()}"


def seconds_setting(name: str, default: int) -> Callable[[], timedelta]:
    """A stale period read from the setting ``name`` when it is needed (tests change it)."""

    def stale_after() -> timedelta:
        return timedelta(seconds=int(getattr(settings, name, default)))

    return stale_after


@dataclass(frozen=True)
class Lease:
    """How the rows of ``model`` are claimed.

    ``waiting``: statuses claimable outright; ``running``: the status of a claimed row, whose
    ``beat_field`` (the time of its last sign of life) older than ``stale_after()`` makes it
    claimable again. ``worker_field``, when the model has one, names the claim's holder.
    """

    model: type[models.Model]
    stale_after: Callable[[], timedelta]
    waiting: tuple[str, ...] = ("queued",)
    running: str = "running"
    beat_field: str = "heartbeat_at"
    token_field: str = "claim_token"  # noqa: S105 (a column name)
    status_field: str = "status"
    worker_field: str | None = "claimed_by"

    def stale(self, now: datetime | None = None) -> Q:
        """Running rows whose holder gave no sign of life for the stale period."""
        now = now or timezone.now()
        return Q(
            **{self.status_field: self.running, f"{self.beat_field}__lt": now - self.stale_after()}
        )

    def live(self, now: datetime | None = None) -> Q:
        """Running rows whose holder is alive (a heartbeat within the stale period)."""
        now = now or timezone.now()
        return Q(
            **{self.status_field: self.running, f"{self.beat_field}__gte": now - self.stale_after()}
        )

    def claimable(self, now: datetime | None = None) -> Q:
        return Q(**{f"{self.status_field}__in": self.waiting}) | self.stale(now)

    def fenced(self, pk, token: str) -> models.QuerySet:
        """The row while ``token`` still holds its claim (empty once it was taken over)."""
        return self.model.objects.filter(
            pk=pk, **{self.token_field: token, self.status_field: self.running}
        )

    def _claim_changes(self, token: str, worker: str | None, now: datetime) -> dict:
        changes = {self.status_field: self.running, self.token_field: token, self.beat_field: now}
        if self.worker_field is not None:
            changes[self.worker_field] = (worker or worker_name())[:200]
        return changes


def claim(
    lease: Lease,
    pk,
    *,
    worker: str | None = None,
    also: Q | None = None,
    now: datetime | None = None,
    **changes,
) -> str | None:
    """Compare-and-set row ``pk`` to running under a new claim token; returns the token, or None
    when the row is not claimable (another worker holds it, or it is finished).

    ``also`` widens what is claimable (e.g. a claim this very task made before its redelivery);
    ``changes`` are further columns set by the same UPDATE. The conditions are on the row
    itself, so PostgreSQL re-checks them on the newest row version when two workers race.
    """
    now = now or timezone.now()
    token = new_token()
    claimable = lease.claimable(now)
    if also is not None:
        claimable |= also
    updated = lease.model.objects.filter(claimable, pk=pk).update(
        **lease._claim_changes(token, worker, now), **changes
    )
    return token if updated == 1 else None


def heartbeat(lease: Lease, pk, token: str, **changes) -> None:
    """Record a sign of life (and ``changes``, e.g. the cursor) while ``token`` holds the claim;
    raises ``ClaimLost`` when it no longer does. Inside the step's transaction, a lost claim
    rolls the step back."""
    if not lease.fenced(pk, token).update(**{lease.beat_field: timezone.now()}, **changes):
        raise ClaimLost


def is_stale(lease: Lease, job: models.Model, now: datetime | None = None) -> bool:
    """Whether ``job`` (as loaded) is running without a sign of life for the stale period."""
    if getattr(job, lease.status_field) != lease.running:
        return False
    beat = getattr(job, lease.beat_field)
    now = now or timezone.now()
    return beat is None or beat < now - lease.stale_after()


def take_over(
    lease: Lease,
    pk,
    *,
    actor,
    reason: str = "",
    worker: str | None = None,
    **changes,
) -> str:
    """An operator claims running job ``pk`` at once, without waiting for its stale period;
    returns the new claim token. Audited (``job.take_over``) in the same transaction.

    Raises ``NotRunning`` when the job is not running (a queued one is claimed the ordinary way,
    a failed one is resumed). The previous holder, if it was alive after all, loses its claim
    at its next fenced step and writes nothing more.
    """
    now = timezone.now()
    token = new_token()
    with transaction.atomic():
        job = lease.model.objects.select_for_update().get(pk=pk)
        status = getattr(job, lease.status_field)
        if status != lease.running:
            raise NotRunning(status)
        beat = getattr(job, lease.beat_field)
        before = {
            "worker": getattr(job, lease.worker_field) if lease.worker_field else "",
            "heartbeat_at": beat.isoformat() if beat else None,
            "silent_seconds": round((now - beat).total_seconds()) if beat else None,
            "stale": is_stale(lease, job, now),
        }
        new_changes = lease._claim_changes(token, worker, now)
        lease.model.objects.filter(pk=pk).update(**new_changes, **changes)
        audit_record(
            actor=actor,
            action=AuditAction.JOB_TAKE_OVER,
            target=job,
            before=before,
            after={"worker": new_changes.get(lease.worker_field, ""), "reason": reason[:500]},
        )
    return token
