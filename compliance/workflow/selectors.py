"""Reads of the compliance workflow, scoped to the asking user; one queryset serves the page and
the API, and an object outside the user's scope is a 404.

- clarifications: outlet staff see their outlet's; a dealer admin its outlets' and its own (and
  its parties'); the operator, GraPARI and the regulator all of them.
- the review queue: GraPARI and the operator work it; the regulator reads it; nobody else.
- sanctions and violations: like clarifications.
Photos (evidence, registration photos) are never the regulator's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.models import AuditEvent
from core.roles import is_regulator, is_signed_in, may_decide
from outlets.models import Dealer, Outlet
from outlets.selectors import dealer_id_for_user, scope_to_user, staff_membership_for_user
from subscribers import ladder
from subscribers.selectors import NoPolicyInForce, policy_in_force

from ..models import (
    Clarification,
    ClarificationAnswer,
    Notification,
    ReviewItem,
    Sanction,
    Violation,
)

QUEUE_PAGE_SIZE = 25
QUEUE_PAGE_MAX = 100
COUNT_CAP = 10_000


def can_view_review_queue(user) -> bool:
    """GraPARI and the operator work the queue; the regulator may read it."""
    return is_signed_in(user) and user.sees_all_outlets


# --- clarifications ---------------------------------------------------------------------------


def clarifications_for_user(*, user, filters: dict | None = None) -> QuerySet[Clarification]:
    """Requests ``user`` may see (module docstring), soonest deadline first.

    ``filters``: ``status`` (a status, or ``active`` / ``awaiting``), ``outlet`` (ROID),
    ``msisdn`` (08… or 62…).
    """
    qs = scope_to_user(
        Clarification.objects.select_related("outlet", "dealer", "registration", "party"),
        user=user,
        # Clerks see only what their outlet answers for; the dealer's and parties' requests
        # go to the dealer.
        accountable=Clarification.Accountable.OUTLET,
    )
    filters = filters or {}
    status = filters.get("status")
    if status == "active":
        qs = qs.filter(status__in=Clarification.ACTIVE)
    elif status == "awaiting":
        qs = qs.filter(status__in=Clarification.AWAITING_ANSWER)
    elif status:
        qs = qs.filter(status=status)
    if filters.get("outlet"):
        qs = qs.filter(outlet__roid=filters["outlet"])
    msisdn = "".join(ch for ch in str(filters.get("msisdn") or "") if ch.isdigit())
    if msisdn:
        qs = qs.filter(msisdn="62" + msisdn[1:] if msisdn.startswith("0") else msisdn)
    return qs.order_by("due_at", "pk")


def clarification_get_for_user(*, user, pk) -> Clarification:
    """One request, or 404 when it does not exist *or* the user may not see it."""
    return get_object_or_404(clarifications_for_user(user=user), pk=pk)


def inbox_count(*, user) -> int:
    """Requests waiting for ``user``'s answer: their outlet's, or (dealer admins) the dealer's
    own and its parties'. 0 for everyone else."""
    if not is_signed_in(user):
        return 0
    dealer_id = dealer_id_for_user(user=user)
    awaiting = Clarification.objects.filter(status__in=Clarification.AWAITING_ANSWER)
    if dealer_id is not None:
        return awaiting.filter(dealer_id=dealer_id).exclude(accountable="outlet").count()
    membership = staff_membership_for_user(user=user)
    if membership is None:
        return 0
    return awaiting.filter(outlet_id=membership.outlet_id, accountable="outlet").count()


def may_see_evidence(user, clarification: Clarification) -> bool:
    """Evidence photos: the party asked (the outlet's staff, or the dealer's admins for the
    dealer's own requests), GraPARI and the operator — never the regulator."""
    if not is_signed_in(user) or is_regulator(user):
        return False
    if may_decide(user):
        return True
    if clarification.accountable == Clarification.Accountable.OUTLET:
        membership = staff_membership_for_user(user=user)
        return membership is not None and membership.outlet_id == clarification.outlet_id
    return dealer_id_for_user(user=user) == clarification.dealer_id


def answer_get_for_user(*, user, clarification: Clarification, pk) -> ClarificationAnswer:
    return get_object_or_404(clarification.answers.all(), pk=pk)


# --- the review queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    kind: str = ""
    discrepancy_kind: str = ""
    province: str = ""
    region: str = ""
    dealer: str = ""  # dealer code
    outlet: str = ""  # ROID
    older_than_days: int | None = None
    overdue: bool | None = None
    claimed: str = ""  # "mine", "free", "others"
    outlet_set: str = ""  # a key of ``register_outlet_set`` ("" = every outlet)


# Sets of outlets a higher layer defines (such as "outlets above the baseline" of the risk
# signals) offered as a filter of the queue without this layer importing it: ``provider()``
# returns a queryset of outlet ids, evaluated as a subquery.
_outlet_sets: dict[str, tuple[object, Callable[[], QuerySet]]] = {}


def register_outlet_set(key: str, label, provider: Callable[[], QuerySet]) -> None:
    """Offer the queue filter ``outlet_set=key`` (labelled ``label``): items whose outlet is in
    ``provider()``. Registering the same key again replaces it."""
    _outlet_sets[key] = (label, provider)


def outlet_set_choices() -> list[tuple[str, object]]:
    return [(key, label) for key, (label, _provider) in _outlet_sets.items()]


def review_items_for_user(
    *, user, filters: QueueFilters | None = None, status: str = ReviewItem.Status.OPEN
) -> QuerySet[ReviewItem]:
    """The review queue as ``user`` may see it (``can_view_review_queue``), most overdue first
    (``due_at``, then ``id``). Each filter has an index of its own (``review_open_*_idx``)."""
    qs = ReviewItem.objects.select_related("outlet", "dealer", "claimed_by", "registration")
    if not can_view_review_queue(user):
        return qs.none()
    if status:
        qs = qs.filter(status=status)
    f = filters or QueueFilters()
    now = timezone.now()
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.discrepancy_kind:
        qs = qs.filter(discrepancy_kinds__contains=f",{f.discrepancy_kind},")
    if f.province:
        qs = qs.filter(province=f.province)
    if f.region:
        qs = qs.filter(region__iexact=f.region)
    # A dealer code or ROID becomes an id in a scalar subquery, not a join: the planner then
    # walks the filter's own index (review_open_dealer_idx / _outlet_idx) in queue order
    # instead of the whole queue's (13 ms → 0.2 ms at 100 000 items).
    if f.dealer:
        qs = qs.filter(dealer_id=Subquery(Dealer.objects.filter(code=f.dealer).values("pk")[:1]))
    if f.outlet:
        qs = qs.filter(outlet_id=Subquery(Outlet.objects.filter(roid=f.outlet).values("pk")[:1]))
    if f.outlet_set:
        entry = _outlet_sets.get(f.outlet_set)
        qs = qs.filter(outlet_id__in=entry[1]()) if entry else qs.none()
    if f.older_than_days:
        qs = qs.filter(queued_at__lte=now - timedelta(days=f.older_than_days))
    if f.overdue is True:
        qs = qs.filter(due_at__lt=now)
    elif f.overdue is False:
        qs = qs.filter(due_at__gte=now)
    if f.claimed == "mine":
        qs = qs.filter(claimed_by=user, claim_expires_at__gt=now)
    elif f.claimed == "free":
        qs = qs.filter(Q(claimed_by__isnull=True) | Q(claim_expires_at__lte=now))
    elif f.claimed == "others":
        qs = qs.exclude(claimed_by=user).filter(claim_expires_at__gt=now)
    return qs.order_by("due_at", "pk")


def review_item_get_for_user(*, user, pk) -> ReviewItem:
    """One item (open or not), or 404 for anyone who may not see the queue."""
    return get_object_or_404(review_items_for_user(user=user, status=""), pk=pk)


class BadCursor(ValueError):
    pass


def encode_cursor(item: ReviewItem) -> str:
    raw = f"{item.due_at.isoformat()}|{item.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        when, pk = raw.split("|")
        due_at = parse_datetime(when)
        if due_at is None:
            raise ValueError(when)
        return due_at, int(pk)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise BadCursor("invalid cursor") from exc


@dataclass
class QueuePage:
    items: list[ReviewItem]
    next_cursor: str | None
    count: int
    count_is_capped: bool


def review_queue_page(
    queryset: QuerySet[ReviewItem], *, after: str | None = None, size: int = QUEUE_PAGE_SIZE
) -> QueuePage:
    """A page of the queue after ``after`` (a cursor from the previous page): keyset
    pagination on (``due_at``, ``id``), so page 400 costs what page 1 costs, and a count capped
    at 10 000. Two queries whatever the number of items."""
    size = max(1, min(size, QUEUE_PAGE_MAX))
    page_qs = queryset
    if after:
        due_at, pk = decode_cursor(after)
        # due_at >= d narrows the index range; the OR settles ties on due_at.
        page_qs = page_qs.filter(due_at__gte=due_at).filter(
            Q(due_at__gt=due_at) | Q(due_at=due_at, pk__gt=pk)
        )
    rows = list(page_qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    count = queryset.order_by()[: COUNT_CAP + 1].count()
    return QueuePage(
        items=rows,
        next_cursor=encode_cursor(rows[-1]) if more and rows else None,
        count=min(count, COUNT_CAP),
        count_is_capped=count > COUNT_CAP,
    )


def review_open_count(*, user) -> int:
    """Open items for the GraPARI home (capped like every operator-wide count)."""
    if not can_view_review_queue(user):
        return 0
    return ReviewItem.objects.filter(status=ReviewItem.Status.OPEN)[: COUNT_CAP + 1].count()


# --- sanctions, violations, notifications -------------------------------------------------------


def _scope_by_outlet(qs: QuerySet, user, *, dealer_field: str, outlet_field: str) -> QuerySet:
    if not is_signed_in(user):
        return qs.none()
    if user.sees_all_outlets:
        return qs
    dealer_id = dealer_id_for_user(user=user)
    if dealer_id is not None:
        return qs.filter(**{dealer_field: dealer_id})
    membership = staff_membership_for_user(user=user)
    if membership is None:
        return qs.none()
    return qs.filter(**{outlet_field: membership.outlet_id})


def sanctions_for_user(*, user, filters: dict | None = None) -> QuerySet[Sanction]:
    """Sanctions: an outlet's own, a dealer's outlets', all for operator-wide roles.
    ``filters``: ``outlet`` (ROID), ``level``, ``active`` (true: not lifted)."""
    qs = _scope_by_outlet(
        Sanction.objects.select_related("outlet", "outlet__dealer", "created_by", "lifted_by"),
        user,
        dealer_field="outlet__dealer_id",
        outlet_field="outlet_id",
    )
    filters = filters or {}
    if filters.get("outlet"):
        qs = qs.filter(outlet__roid=filters["outlet"])
    if filters.get("level"):
        qs = qs.filter(level=filters["level"])
    if filters.get("active") is True:
        qs = qs.filter(lifted_at__isnull=True)
    elif filters.get("active") is False:
        qs = qs.filter(lifted_at__isnull=False)
    return qs.order_by("-created_at", "-pk")


def sanction_get_for_user(*, user, pk) -> Sanction:
    return get_object_or_404(sanctions_for_user(user=user), pk=pk)


def violations_for_user(*, user) -> QuerySet[Violation]:
    return _scope_by_outlet(
        Violation.objects.select_related("outlet", "registration", "confirmed_by"),
        user,
        dealer_field="dealer_id",
        outlet_field="outlet_id",
    ).order_by("-confirmed_at", "-pk")


def notifications_for_user(*, user) -> QuerySet[Notification]:
    if not is_signed_in(user):
        return Notification.objects.none()
    return Notification.objects.filter(user=user).order_by("-created_at", "-pk")


def unread_notifications_count(*, user) -> int:
    return notifications_for_user(user=user).filter(read_at__isnull=True).count()


# --- history -------------------------------------------------------------------------------------


def registration_history(*, registration) -> QuerySet[AuditEvent]:
    """Every audit row about a registration and the workflow around it: the registration, its
    requests, their answers' decisions (review items), violations and versions — newest first.
    Each branch is served by ``audit_target_idx``."""
    clarification_ids = list(registration.clarifications.values_list("pk", flat=True))
    item_ids = list(
        ReviewItem.objects.filter(
            Q(registration=registration) | Q(clarification_id__in=clarification_ids)
        ).values_list("pk", flat=True)
    )
    violation_ids = list(registration.violations.values_list("pk", flat=True))
    condition = Q(target_type="subscribers.registration", target_id=str(registration.pk))
    for label, ids in (
        ("compliance.clarification", clarification_ids),
        ("compliance.reviewitem", item_ids),
        ("compliance.violation", violation_ids),
    ):
        if ids:
            condition |= Q(target_type=label, target_id__in=[str(pk) for pk in ids])
    return (
        AuditEvent.objects.filter(condition).select_related("actor").order_by("-created_at", "-pk")
    )


def outlet_violation_summary(*, outlet, now: datetime | None = None) -> dict:
    """The outlet's standing on the ladder: violations within the window of the policy in
    force, and the next rung."""
    now = now or timezone.now()
    try:
        policy = policy_in_force(at=now)
    except NoPolicyInForce:
        return {"count": 0, "window_days": None, "next": None, "ladder": []}
    since = now - timedelta(days=policy.violation_window_days)
    count = Violation.objects.filter(outlet=outlet, confirmed_at__gte=since).count()
    return {
        "count": count,
        "window_days": policy.violation_window_days,
        "next": ladder.next_rung(policy.sanction_ladder, count),
        "ladder": policy.sanction_ladder,
    }


def outlet_compliance_annotations(recent_since=None) -> dict:
    """For the dealer dashboard (outlets.selectors.dashboard): per outlet (``OuterRef("pk")``),
    its requests in progress and its confirmed violations within the window of the policy in
    force — correlated subqueries, so they never multiply with other counts."""
    try:
        window = policy_in_force().violation_window_days
    except NoPolicyInForce:
        window = 180
    since = timezone.now() - timedelta(days=window)

    def per_outlet(qs):
        counted = (
            qs.filter(outlet=OuterRef("pk"))
            .order_by()
            .values("outlet")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))

    return {
        "open_clarifications": per_outlet(
            Clarification.objects.filter(status__in=Clarification.ACTIVE)
        ),
        "confirmed_violations": per_outlet(Violation.objects.filter(confirmed_at__gte=since)),
    }
