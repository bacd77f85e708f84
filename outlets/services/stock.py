"""Starter-pack stock: the operator allocates packs to a dealer, the dealer to its outlets, an
outlet's packs go back to the dealer. Every move is recorded (``StockAllocation`` says who and
when, a ``StockMove`` per pack says from which holder to which).

Set-based: whatever the size, an allocation is a few chunked look-ups, an ``INSERT ... SELECT``
of its moves (a bulk INSERT of the packs when the operator creates them) and ONE compare-and-set
UPDATE (``... WHERE id IN (this allocation's moves) AND holder = expected``), all in one
transaction. Of two allocations of the same pack at the same moment the second
UPDATE matches fewer rows than it moved, and the whole second allocation is rolled back.
Nothing is ever half-applied: any fault refuses the whole list, each fault at its line.
"""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.audit import AuditAction, actor_label, audit_record
from core.roles import is_signed_in, require_operator
from identity.idrules import IdRuleError
from identity.messages import id_rule_message

from ..models import Dealer, Outlet, StarterPack, StockAllocation, StockMove
from ..stockfiles import MAX_LINE_ERRORS_SHOWN, LineError, MsisdnRange, PackLine
from ._common import NON_FIELD, require_manages_dealer

PACKS = "packs"  # the field that carries line faults; forms and the API relabel it
INSERT_BATCH = 5_000

LINE_MESSAGES = {
    "msisdn_format": gettext_lazy("“%(value)s” is not an Indonesian mobile number."),
    "duplicate_msisdn": gettext_lazy("%(msisdn)s is already on line %(first)d."),
    "duplicate_iccid": gettext_lazy("ICCID %(iccid)s is already on line %(first)d."),
    "too_many_values": gettext_lazy("More values than the header has columns (%(expected)d)."),
    "csv_syntax": gettext_lazy("This line is not valid CSV (check the quotes)."),
    "not_utf8": gettext_lazy("The file is not UTF-8 text: save it as “CSV UTF-8”."),
    "empty": gettext_lazy("The list contains no starter pack."),
    "no_msisdn_column": gettext_lazy(
        "The first line must be a header naming the columns: msisdn (and iccid, optional)."
    ),
    "too_many_lines": gettext_lazy("At most %(max)d starter packs at once."),
    "already_known": gettext_lazy("%(msisdn)s is already in stock (dealer %(dealer)s)."),
    "iccid_taken": gettext_lazy("ICCID %(iccid)s already belongs to another starter pack."),
    "not_held": gettext_lazy("%(msisdn)s is not in your dealer's stock."),
    "registered": gettext_lazy("%(msisdn)s is already registered and cannot be moved."),
    "blocked": gettext_lazy("%(msisdn)s is blocked and cannot be moved."),
    "at_outlet": gettext_lazy(
        "%(msisdn)s is at outlet %(roid)s: take it back to your stock first."
    ),
    "not_at_outlet": gettext_lazy("%(msisdn)s is not in this outlet's stock."),
}


RANGE_MESSAGES = {
    "msisdn_format": gettext_lazy("Enter an Indonesian mobile number, e.g. 0812 3456 7890."),
    "range_lengths": gettext_lazy(
        "The first and the last number of a range must have as many digits."
    ),
    "range_order": gettext_lazy("The last number of the range comes before the first."),
    "range_too_long": gettext_lazy("A range holds at most %(max)d numbers (this one %(count)d)."),
    "too_many_ranges": gettext_lazy("At most 200 ranges at once."),
}


def range_message(code: str, **params) -> str:
    return str(RANGE_MESSAGES[code]) % params if params else str(RANGE_MESSAGES[code])


def line_messages(errors: Sequence[LineError]) -> list[str]:
    """Readable messages, one per faulty line (the first ``MAX_LINE_ERRORS_SHOWN``)."""
    messages = []
    for error in errors[:MAX_LINE_ERRORS_SHOWN]:
        if error.code in LINE_MESSAGES:
            text = str(LINE_MESSAGES[error.code]) % error.params
        else:  # an ICCID rule of identity.idrules
            text = id_rule_message(IdRuleError(error.code, error.code))
            if error.params.get("value"):
                text = f"{text} ({error.params['value']})"
        messages.append(
            _("Line %(line)d: %(message)s") % {"line": error.line, "message": text}
            if error.line
            else text
        )
    hidden = len(errors) - MAX_LINE_ERRORS_SHOWN
    if hidden > 0:
        messages.append(_("… and %(count)d more lines with faults.") % {"count": hidden})
    return messages


def refuse_lines(errors: Sequence[LineError], field: str = PACKS) -> None:
    if errors:
        raise ValidationError({field: line_messages(errors)})


def _chunks(values: Sequence, size: int | None = None):
    # SQLite allows 999 parameters per statement; PostgreSQL takes big lists but not unbounded.
    size = size or (900 if connection.vendor == "sqlite" else 10_000)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _raced() -> ValidationError:
    return ValidationError(
        {
            NON_FIELD: [
                _(
                    "Some of these starter packs were moved by someone else at the same moment, "
                    "so nothing was moved. Check the list and try again."
                )
            ]
        }
    )


def _new_allocation(*, actor, kind, dealer, outlet, count, source, note) -> StockAllocation:
    return StockAllocation.objects.create(
        kind=kind,
        dealer=dealer,
        outlet=outlet,
        actor=actor if is_signed_in(actor) else None,
        actor_label=actor_label(actor),
        pack_count=count,
        source=source[:200],
        note=(note or "").strip()[:300],
    )


def _audit(actor, allocation: StockAllocation, *, holder_from: str, holder_to: str) -> None:
    audit_record(
        actor=actor,
        action=AuditAction(f"stock.{allocation.kind}"),
        target=allocation,
        after={
            "packs": allocation.pack_count,
            "from": holder_from,
            "to": holder_to,
            "source": allocation.source,
        },
    )


# --- operator -> dealer ------------------------------------------------------------------------


def stock_allocate_to_dealer(
    *, actor, dealer: Dealer, lines: Sequence[PackLine], source: str, note: str = ""
) -> StockAllocation:
    """The operator hands ``lines`` (new starter packs: MSISDN and, when known, ICCID) to
    ``dealer``. A pack the portal already knows, or an ICCID already on another pack, refuses
    the whole list at its line. One bulk INSERT of packs and one of moves."""
    require_operator(actor)
    if not lines:
        refuse_lines([LineError(0, "empty")])
    if not dealer.is_active:
        raise ValidationError({"dealer": [_("This dealer is not active.")]})
    by_msisdn = {line.msisdn: line for line in lines}
    errors = []
    for chunk in _chunks(list(by_msisdn)):
        # A number whose pack's life ended (deactivated, issued again) may be stocked anew.
        for msisdn, code in (
            StarterPack.objects.current_lives()
            .filter(msisdn__in=chunk)
            .values_list("msisdn", "dealer__code")
        ):
            line = by_msisdn[msisdn]
            errors.append(LineError(line.line, "already_known", {"msisdn": msisdn, "dealer": code}))
    by_iccid = {line.iccid: line for line in lines if line.iccid}
    for chunk in _chunks(list(by_iccid)):
        for iccid in StarterPack.objects.filter(iccid__in=chunk).values_list("iccid", flat=True):
            errors.append(LineError(by_iccid[iccid].line, "iccid_taken", {"iccid": iccid}))
    refuse_lines(sorted(errors, key=lambda e: e.line))

    with transaction.atomic():
        allocation = _new_allocation(
            actor=actor,
            kind=StockAllocation.Kind.TO_DEALER,
            dealer=dealer,
            outlet=None,
            count=len(lines),
            source=source,
            note=note,
        )
        try:
            with transaction.atomic():
                packs = StarterPack.objects.bulk_create(
                    [StarterPack(msisdn=ln.msisdn, iccid=ln.iccid, dealer=dealer) for ln in lines],
                    batch_size=INSERT_BATCH,
                )
        except IntegrityError as exc:  # the same packs allocated by a concurrent request
            raise _raced() from exc
        _insert_moves_of_ids(
            allocation,
            [pack.pk for pack in packs],
            from_dealer_id=None,
            from_outlet_id=None,
            to_dealer_id=dealer.pk,
            to_outlet_id=None,
        )
        _audit(actor, allocation, holder_from="operator", holder_to=dealer.code)
    return allocation


# --- dealer -> outlet, outlet -> dealer -------------------------------------------------------


def _packs_for(*, lines: Sequence[PackLine] | None, span: MsisdnRange | None) -> dict:
    """{msisdn: (id, dealer_id, outlet_id, outlet roid, status)} of the packs asked for."""
    fields = ("msisdn", "pk", "dealer_id", "outlet_id", "outlet__roid", "status")
    found = {}
    if span is not None:
        rows = _in_span(StarterPack.objects.current_lives(), span).values_list(*fields)
        found.update((row[0], row[1:]) for row in rows)
    else:
        for chunk in _chunks([line.msisdn for line in lines]):
            rows = StarterPack.objects.current_lives().filter(msisdn__in=chunk).values_list(*fields)
            found.update((row[0], row[1:]) for row in rows)
    return found


def _requested(lines, span) -> list[PackLine]:
    if span is not None:
        return [PackLine(0, msisdn) for msisdn in span.numbers()]
    return list(lines)


def _insert_moves(
    allocation: StockAllocation,
    packs,
    *,
    from_dealer_id: int | None,
    from_outlet_id: int | None,
    to_dealer_id: int,
    to_outlet_id: int | None,
) -> int:
    """One ``INSERT INTO stockmove ... SELECT`` of the packs ``packs`` (a queryset) selects:
    the moves are written by the database, no model object per pack. Returns the row count."""
    chosen = packs.order_by().annotate(chosen_pack=F("pk")).values("chosen_pack")
    select_sql, select_params = chosen.query.sql_with_params()
    # Table and column names come from the models' metadata, the values are parameters.
    sql = (
        f"INSERT INTO {StockMove._meta.db_table} "  # noqa: S608
        "(allocation_id, pack_id, from_dealer_id, from_outlet_id, to_dealer_id, to_outlet_id) "
        f"SELECT %s, selected.chosen_pack, %s, %s, %s, %s FROM ({select_sql}) selected"
    )
    params = [allocation.pk, from_dealer_id, from_outlet_id, to_dealer_id, to_outlet_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *select_params])
        return cursor.rowcount


def _insert_moves_of_ids(allocation: StockAllocation, pack_ids: list[int], **holders) -> int:
    return sum(
        _insert_moves(allocation, StarterPack.objects.filter(pk__in=chunk), **holders)
        for chunk in _chunks(pack_ids)
    )


def _move(
    *,
    allocation: StockAllocation,
    pack_ids: list[int],
    dealer_id: int,
    from_outlet_id: int | None,
    to_outlet_id: int | None,
    span: MsisdnRange | None = None,
) -> None:
    holders = {
        "from_dealer_id": dealer_id,
        "from_outlet_id": from_outlet_id,
        "to_dealer_id": dealer_id,
        "to_outlet_id": to_outlet_id,
    }
    if span is not None:
        # Every number of the range was checked to be a pack in the dealer's stock: select
        # them by the range itself (one statement, no list of ids).
        inserted = _insert_moves(
            allocation,
            _in_span(StarterPack.objects.filter(dealer_id=dealer_id), span),
            **holders,
        )
    else:
        inserted = _insert_moves_of_ids(allocation, pack_ids, **holders)
    if inserted != len(pack_ids):
        raise _raced()
    # The compare-and-set: only packs still where this allocation found them move.
    held = StarterPack.objects.filter(
        pk__in=StockMove.objects.filter(allocation=allocation).values("pack_id"),
        dealer_id=dealer_id,
        status=StarterPack.Status.IN_STOCK,
    )
    held = (
        held.filter(outlet__isnull=True)
        if from_outlet_id is None
        else held.filter(outlet_id=from_outlet_id)
    )
    if held.update(outlet_id=to_outlet_id, updated_at=timezone.now()) != len(pack_ids):
        raise _raced()


def _in_span(packs, span: MsisdnRange):
    return packs.annotate(msisdn_length=Length("msisdn")).filter(
        msisdn_length=len(span.first), msisdn__range=(span.first, span.last)
    )


def _status_fault(status: str) -> str | None:
    if status == StarterPack.Status.REGISTERED:
        return "registered"
    if status == StarterPack.Status.BLOCKED:
        return "blocked"
    return None


def _refuse_revoked(outlet: Outlet) -> None:
    if outlet.status == Outlet.Status.REVOKED:
        raise ValidationError(
            {
                "outlet": [
                    _("Outlet %(roid)s is revoked: it takes no stock.") % {"roid": outlet.roid}
                ]
            }
        )


def stock_allocate_to_outlet(
    *,
    actor,
    outlet: Outlet,
    lines: Sequence[PackLine] | None = None,
    span: MsisdnRange | None = None,
    source: str,
    note: str = "",
) -> StockAllocation:
    """The dealer (or the operator) moves packs from the dealer's own stock to one of its
    outlets: by list (``lines``) or by MSISDN range (``span``: every number in it must be a
    pack in the dealer's stock). Refused, each at its line: a pack not in the dealer's stock
    (unknown or another dealer's: the same answer), one already registered or blocked, one
    already at an outlet."""
    require_manages_dealer(actor, outlet.dealer_id)
    _refuse_revoked(outlet)
    requested = _requested(lines, span)
    if not requested:
        refuse_lines([LineError(0, "empty")])
    packs = _packs_for(lines=lines, span=span)
    errors, pack_ids = [], []
    for line in requested:
        found = packs.get(line.msisdn)
        params = {"msisdn": line.msisdn}
        if found is None or found[1] != outlet.dealer_id:
            errors.append(LineError(line.line, "not_held", params))
        elif fault := _status_fault(found[4]):
            errors.append(LineError(line.line, fault, params))
        elif found[2] is not None:
            errors.append(LineError(line.line, "at_outlet", {**params, "roid": found[3]}))
        else:
            pack_ids.append(found[0])
    refuse_lines(errors)
    with transaction.atomic():
        # The outlet's row lock orders this allocation and a revocation (which takes the same
        # lock before returning the outlet's stock): either the revocation comes first and this
        # allocation is refused, or it comes after and returns these packs too.
        _refuse_revoked(Outlet.objects.select_for_update().get(pk=outlet.pk))
        allocation = _new_allocation(
            actor=actor,
            kind=StockAllocation.Kind.TO_OUTLET,
            dealer=outlet.dealer,
            outlet=outlet,
            count=len(pack_ids),
            source=source,
            note=note,
        )
        _move(
            allocation=allocation,
            pack_ids=pack_ids,
            dealer_id=outlet.dealer_id,
            from_outlet_id=None,
            to_outlet_id=outlet.pk,
            span=span,
        )
        _audit(actor, allocation, holder_from=outlet.dealer.code, holder_to=outlet.roid)
    return allocation


def stock_return_to_dealer(
    *,
    actor,
    outlet: Outlet,
    lines: Sequence[PackLine] | None = None,
    source: str = "list",
    note: str = "",
    check_actor: bool = True,
) -> StockAllocation | None:
    """Packs of ``outlet`` go back to its dealer's own stock: those listed, or (``lines`` None)
    every pack it holds in stock. Returns None when there was nothing to move."""
    if check_actor:
        require_manages_dealer(actor, outlet.dealer_id)
    if lines is None:
        pack_ids = list(
            StarterPack.objects.filter(
                outlet=outlet, status=StarterPack.Status.IN_STOCK
            ).values_list("pk", flat=True)
        )
        if not pack_ids:
            return None
    else:
        if not lines:
            refuse_lines([LineError(0, "empty")])
        packs = _packs_for(lines=lines, span=None)
        errors, pack_ids = [], []
        for line in lines:
            found = packs.get(line.msisdn)
            params = {"msisdn": line.msisdn}
            if found is None or found[2] != outlet.pk:
                errors.append(LineError(line.line, "not_at_outlet", params))
            elif fault := _status_fault(found[4]):
                errors.append(LineError(line.line, fault, params))
            else:
                pack_ids.append(found[0])
        refuse_lines(errors)
    with transaction.atomic():
        allocation = _new_allocation(
            actor=actor,
            kind=StockAllocation.Kind.TO_DEALER_STOCK,
            dealer=outlet.dealer,
            outlet=outlet,
            count=len(pack_ids),
            source=source,
            note=note,
        )
        _move(
            allocation=allocation,
            pack_ids=pack_ids,
            dealer_id=outlet.dealer_id,
            from_outlet_id=outlet.pk,
            to_outlet_id=None,
        )
        _audit(actor, allocation, holder_from=outlet.roid, holder_to=outlet.dealer.code)
    return allocation
