"""Reads of reconciliation (runs, discrepancies), scoped to the asking user. One queryset serves
page and API."""

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from core.masking import mask_name
from core.roles import is_operator, is_regulator, is_signed_in
from outlets.selectors import scope_to_user

from ..models import Discrepancy, DiscrepancyKind, ReconciliationRun


def can_view_runs(user) -> bool:
    """Reconciliation runs are the operator's machinery: operator, GraPARI and regulator see
    them; outlets and dealers see only the discrepancies that concern them."""
    return is_signed_in(user) and user.sees_all_outlets


def can_start_runs(user) -> bool:
    """Only operator admins start runs."""
    return is_operator(user)


def runs_for_user(*, user) -> QuerySet[ReconciliationRun]:
    """Every run for those who may see runs (``can_view_runs``), none for anyone else."""
    qs = ReconciliationRun.objects.select_related("requested_by")
    return qs if can_view_runs(user) else qs.none()


def run_get_for_user(*, user, pk) -> ReconciliationRun:
    return get_object_or_404(runs_for_user(user=user), pk=pk)


def discrepancies_for_user(*, user, filters: dict | None = None) -> QuerySet[Discrepancy]:
    """Discrepancies ``user`` may see: all for the operator, GraPARI and the regulator; those of
    the dealer's outlets for a dealer admin; the own outlet's for outlet staff; none otherwise.

    ``filters``: ``kind``, ``status``, ``outlet`` (ROID), ``msisdn`` (exact, 08… or 62…).
    """
    qs = scope_to_user(
        Discrepancy.objects.select_related("outlet", "registration"),
        user=user,
        dealer_field="outlet__dealer_id",
    )
    filters = filters or {}
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("outlet"):
        qs = qs.filter(outlet__roid=filters["outlet"])
    msisdn = "".join(ch for ch in str(filters.get("msisdn") or "") if ch.isdigit())
    if msisdn:
        qs = qs.filter(msisdn="62" + msisdn[1:] if msisdn.startswith("0") else msisdn)
    return qs


def discrepancy_get_for_user(*, user, pk) -> Discrepancy:
    """One discrepancy, or 404 when it does not exist *or* the user may not see it."""
    return get_object_or_404(discrepancies_for_user(user=user), pk=pk)


def open_counts_by_kind(*, user=None) -> dict[str, int]:
    """Open discrepancies per kind (all six kinds), within ``user``'s scope when given."""
    qs = Discrepancy.objects.all() if user is None else discrepancies_for_user(user=user)
    rows = (
        qs.filter(status=Discrepancy.Status.OPEN)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("id"))
    )
    return _by_kind(dict(rows))


def _mask_date(value: str | None) -> str | None:
    return f"{value[:4]}-**-**" if value else value


def _of_another_life(discrepancy: Discrepancy) -> bool:
    """A discrepancy whose registration is not the asking outlet's: its operator values
    describe a life of the number that outlet never registered (a recycled number)."""
    registration = discrepancy.registration if discrepancy.registration_id else None
    return registration is not None and registration.outlet_id != discrepancy.outlet_id


def discrepancy_details_for_user(*, discrepancy: Discrepancy, user) -> dict:
    """The portal's and the operator's values as ``user`` may see them. ID numbers are always
    masked (they are stored masked); the regulator also gets names and birth dates masked."""
    details = discrepancy.details or {}
    if not user.sees_all_outlets and _of_another_life(discrepancy):
        # The operator's values of a life of the number this outlet did not register.
        details = {k: v for k, v in details.items() if k != "operator"}
    if not is_regulator(user):
        return details
    masked = {}
    for side, values in details.items():
        if not isinstance(values, dict):
            masked[side] = values
            continue
        masked[side] = {
            key: (mask_name(value) if value else value)
            if key == "full_name"
            else _mask_date(value)
            if key == "birth_date"
            else value
            for key, value in values.items()
        }
    return masked


def _by_kind(counts: dict | None) -> dict[str, int]:
    counts = counts or {}
    return {kind: int(counts.get(kind, 0)) for kind in DiscrepancyKind.values}


def run_summary(run: ReconciliationRun) -> dict:
    """A run as the API, the command and the page report it: status, progress (chunks done of
    total, and rows), and counts by kind — found by the run, newly opened, resolved."""
    duration = run.duration
    return {
        "id": run.pk,
        "mode": run.mode,
        "status": run.status,
        "trigger": run.trigger,
        "engine": run.engine,
        "requested_by": run.requested_by.get_username() if run.requested_by_id else None,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_seconds": round(duration.total_seconds(), 3) if duration is not None else None,
        "since": run.since,
        "id_cap": run.id_cap,
        "progress": {
            "done": run.chunks_done,
            "total": run.chunks_total,
            "rows_done": run.rows_done,
            "rows_total": max(run.rows_total, run.rows_done),
        },
        "counts": _by_kind(run.counts),
        "opened": _by_kind(run.opened),
        "resolved": _by_kind(run.resolved),
        "error": run.error,
    }
