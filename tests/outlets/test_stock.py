"""Starter-pack stock: operator to dealer, dealer to outlet, back; set-based, all or nothing."""

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import translation

from core.models import AuditEvent
from outlets import services
from outlets.models import StarterPack, StockAllocation, StockMove
from outlets.services import stock as stock_services
from outlets.stockfiles import PackLine, parse_pack_csv, parse_range
from subscribers import services as registration_services
from tests.conftest import buyer_data
from tests.factories import OutletFactory, StarterPackFactory

from .conftest import pack_lines

pytestmark = pytest.mark.django_db


def messages_of(exc: ValidationError, field: str = "packs") -> list[str]:
    return exc.value.message_dict[field]


# --- operator -> dealer ------------------------------------------------------------------------


def test_operator_allocates_a_csv_to_a_dealer(operator, dealer_org):
    lines = pack_lines(1, 3)

    allocation = services.stock_allocate_to_dealer(
        actor=operator, dealer=dealer_org, lines=lines, source="file packs.csv"
    )

    packs = StarterPack.objects.filter(dealer=dealer_org).order_by("msisdn")
    assert [(p.msisdn, p.iccid, p.outlet_id, p.status) for p in packs] == [
        (line.msisdn, line.iccid, None, "in_stock") for line in lines
    ]
    assert allocation.kind == StockAllocation.Kind.TO_DEALER
    assert allocation.pack_count == 3 and allocation.actor == operator
    moves = StockMove.objects.filter(allocation=allocation)
    assert moves.count() == 3
    assert {
        (m.from_dealer_id, m.from_outlet_id, m.to_dealer_id, m.to_outlet_id) for m in moves
    } == {(None, None, dealer_org.pk, None)}
    event = AuditEvent.objects.get(action="stock.to_dealer")
    assert event.after["packs"] == 3 and event.after["to"] == "AD0001"


def test_operator_allocates_a_range_without_iccids(operator, dealer_org):
    span = parse_range("081300000010", "081300000019")
    from outlets.stockfiles import range_lines

    services.stock_allocate_to_dealer(
        actor=operator, dealer=dealer_org, lines=range_lines(span), source="range"
    )

    packs = StarterPack.objects.filter(dealer=dealer_org)
    assert packs.count() == 10
    assert set(packs.values_list("iccid", flat=True)) == {None}


def test_only_the_operator_allocates_to_dealers(dealer_user, dealer_org):
    with pytest.raises(PermissionDenied):
        services.stock_allocate_to_dealer(
            actor=dealer_user, dealer=dealer_org, lines=pack_lines(1, 1), source="x"
        )
    assert not StarterPack.objects.exists()


def test_packs_already_known_refuse_the_whole_file_by_line(operator, dealer_org, pack):
    lines = [
        *pack_lines(1, 2),
        PackLine(4, pack.msisdn, None),
        PackLine(5, "6281300000099", pack.iccid),
    ]

    with pytest.raises(ValidationError) as exc:
        services.stock_allocate_to_dealer(
            actor=operator, dealer=dealer_org, lines=lines, source="x"
        )

    assert messages_of(exc) == [
        f"Line 4: {pack.msisdn} is already in stock (dealer AD0001).",
        f"Line 5: ICCID {pack.iccid} already belongs to another starter pack.",
    ]
    assert StarterPack.objects.count() == 1  # only the pre-existing one: nothing half-applied
    assert not StockAllocation.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="stock.").exists()


def test_bad_csv_rows_are_reported_by_line_through_the_service_messages(operator, dealer_org):
    parsed = parse_pack_csv("msisdn,iccid\n081300000001,\nnope,\n081300000001,\n")

    with pytest.raises(ValidationError) as exc:
        services.refuse_lines(parsed.errors)

    assert messages_of(exc) == [
        "Line 3: “nope” is not an Indonesian mobile number.",
        "Line 4: 6281300000001 is already on line 2.",
    ]


def test_a_thousand_packs_is_a_handful_of_queries(
    operator, dealer_org, outlet, django_assert_max_num_queries
):
    # Set-based: the count does not grow with the number of packs. (Measured: 10 and 7
    # statements on PostgreSQL; 20 and 9 on SQLite, whose 999-parameter limit splits the
    # bulk INSERT of new packs and the look-ups into more statements.)
    with django_assert_max_num_queries(22):
        services.stock_allocate_to_dealer(
            actor=operator, dealer=dealer_org, lines=pack_lines(1, 1000), source="x"
        )
    assert StockMove.objects.count() == 1000

    with django_assert_max_num_queries(10):
        allocation = services.stock_allocate_to_outlet(
            actor=operator, outlet=outlet, lines=pack_lines(1, 1000, with_iccid=False), source="x"
        )
    assert allocation.pack_count == 1000
    assert StarterPack.objects.filter(outlet=outlet).count() == 1000
    assert StockMove.objects.filter(allocation=allocation, to_outlet=outlet).count() == 1000


# --- dealer -> outlet --------------------------------------------------------------------------


def test_dealer_allocates_packs_to_its_outlet(dealer_user, outlet, dealer_stock):
    chosen = [PackLine(i, p.msisdn) for i, p in enumerate(dealer_stock[:3], start=1)]

    allocation = services.stock_allocate_to_outlet(
        actor=dealer_user, outlet=outlet, lines=chosen, source="list"
    )

    assert set(StarterPack.objects.filter(outlet=outlet).values_list("msisdn", flat=True)) == {
        line.msisdn for line in chosen
    }
    moves = StockMove.objects.filter(allocation=allocation)
    assert {(m.from_outlet_id, m.to_outlet_id, m.to_dealer_id) for m in moves} == {
        (None, outlet.pk, outlet.dealer_id)
    }
    assert allocation.actor_label == "dealer"


def test_dealer_allocates_a_range(dealer_user, outlet, dealer_stock):
    span = parse_range(dealer_stock[0].msisdn, dealer_stock[-1].msisdn)

    allocation = services.stock_allocate_to_outlet(
        actor=dealer_user, outlet=outlet, span=span, source="range"
    )

    assert allocation.pack_count == 5
    assert StarterPack.objects.filter(outlet=outlet).count() == 5


def test_a_range_with_gaps_is_refused(dealer_user, outlet, dealer_stock):
    span = parse_range(dealer_stock[0].msisdn, "6281300000007")  # ...06 and ...07 do not exist

    with pytest.raises(ValidationError) as exc:
        services.stock_allocate_to_outlet(
            actor=dealer_user, outlet=outlet, span=span, source="range"
        )

    assert messages_of(exc) == [
        "6281300000006 is not in your dealer's stock.",
        "6281300000007 is not in your dealer's stock.",
    ]
    assert not StarterPack.objects.filter(outlet=outlet).exists()


def test_packs_not_held_by_the_dealer_are_refused_and_nothing_moves(
    dealer_user, outlet, dealer_stock, another_dealers_pack, other_pack
):
    lines = [
        PackLine(1, dealer_stock[0].msisdn),
        PackLine(2, another_dealers_pack.msisdn),  # another dealer's
        PackLine(3, "6281399999999"),  # unknown: the same answer
        PackLine(4, other_pack.msisdn),  # already at another outlet of this dealer
    ]

    with pytest.raises(ValidationError) as exc:
        services.stock_allocate_to_outlet(actor=dealer_user, outlet=outlet, lines=lines, source="x")

    assert messages_of(exc) == [
        f"Line 2: {another_dealers_pack.msisdn} is not in your dealer's stock.",
        "Line 3: 6281399999999 is not in your dealer's stock.",
        f"Line 4: {other_pack.msisdn} is at outlet ROJKT000002: take it back to your stock first.",
    ]
    dealer_stock[0].refresh_from_db()
    assert dealer_stock[0].outlet_id is None  # the good line did not move either
    assert not StockAllocation.objects.filter(kind="to_outlet").exists()


def test_a_sold_pack_cannot_be_moved(dealer_user, clerk, outlet, other_outlet, pack, photos):
    registration_services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)
    blocked = StarterPackFactory(outlet=outlet, status=StarterPack.Status.BLOCKED)

    with pytest.raises(ValidationError) as exc:
        services.stock_return_to_dealer(
            actor=dealer_user,
            outlet=outlet,
            lines=[PackLine(1, pack.msisdn), PackLine(2, blocked.msisdn)],
        )

    assert messages_of(exc) == [
        f"Line 1: {pack.msisdn} is already registered and cannot be moved.",
        f"Line 2: {blocked.msisdn} is blocked and cannot be moved.",
    ]
    pack.refresh_from_db()
    assert (pack.outlet_id, pack.status) == (outlet.pk, "registered")


def test_a_sold_pack_in_the_dealers_stock_cannot_go_to_an_outlet(dealer_user, outlet, dealer_stock):
    StarterPack.objects.filter(pk=dealer_stock[0].pk).update(status=StarterPack.Status.REGISTERED)

    with pytest.raises(ValidationError) as exc:
        services.stock_allocate_to_outlet(
            actor=dealer_user,
            outlet=outlet,
            lines=[PackLine(1, dealer_stock[0].msisdn)],
            source="x",
        )

    assert "already registered and cannot be moved" in messages_of(exc)[0]


def test_another_dealer_cannot_allocate_to_my_outlet(other_dealer_user, outlet, dealer_stock):
    with pytest.raises(PermissionDenied):
        services.stock_allocate_to_outlet(
            actor=other_dealer_user,
            outlet=outlet,
            lines=[PackLine(1, dealer_stock[0].msisdn)],
            source="x",
        )


def test_a_revoked_outlet_takes_no_stock(dealer_user, operator, outlet, dealer_stock):
    services.outlet_revoke(actor=operator, outlet=outlet, reason="fraud")

    with pytest.raises(ValidationError) as exc:
        services.stock_allocate_to_outlet(
            actor=dealer_user,
            outlet=outlet,
            lines=[PackLine(1, dealer_stock[0].msisdn)],
            source="x",
        )

    assert "revoked" in messages_of(exc, "outlet")[0]


def test_outlet_packs_go_back_to_the_dealer(dealer_user, outlet, pack):
    allocation = services.stock_return_to_dealer(actor=dealer_user, outlet=outlet)

    pack.refresh_from_db()
    assert pack.outlet_id is None and pack.dealer_id == outlet.dealer_id
    move = StockMove.objects.get(allocation=allocation)
    assert (move.from_outlet_id, move.to_outlet_id) == (outlet.pk, None)
    assert services.stock_return_to_dealer(actor=dealer_user, outlet=outlet) is None


def test_registration_after_allocation_uses_the_moved_pack(
    dealer_user, clerk, outlet, dealer_stock, photos
):
    services.stock_allocate_to_outlet(
        actor=dealer_user, outlet=outlet, lines=[PackLine(1, dealer_stock[0].msisdn)], source="x"
    )
    data = buyer_data(dealer_stock[0], iccid=dealer_stock[0].iccid)

    registration = registration_services.registration_create(clerk=clerk, data=data, **photos)

    assert registration.outlet == outlet


# --- the race ----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_allocations_of_the_same_packs_at_once_one_wins(
    require_postgres, dealer_user, outlet, other_outlet, operator, dealer_org, monkeypatch
):
    services.stock_allocate_to_dealer(
        actor=operator, dealer=dealer_org, lines=pack_lines(1, 200), source="x"
    )
    lines = pack_lines(1, 200, with_iccid=False)
    barrier = threading.Barrier(2)
    outcomes = {}
    # Both requests read the packs as the dealer's before either writes: the worst case, which
    # only the compare-and-set UPDATE can settle.
    both_read = threading.Barrier(2)
    read_packs = stock_services._packs_for

    def read_then_wait(**kwargs):
        found = read_packs(**kwargs)
        both_read.wait(timeout=10)
        return found

    monkeypatch.setattr(stock_services, "_packs_for", read_then_wait)

    def allocate(target):
        try:
            barrier.wait(timeout=10)
            with translation.override("en"):
                outcomes[target.roid] = services.stock_allocate_to_outlet(
                    actor=dealer_user, outlet=target, lines=lines, source="race"
                ).pk
        except ValidationError as exc:
            outcomes[target.roid] = exc.message_dict
        finally:
            connection.close()

    threads = [threading.Thread(target=allocate, args=(o,)) for o in (outlet, other_outlet)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    winners = [v for v in outcomes.values() if isinstance(v, int)]
    losers = [v for v in outcomes.values() if isinstance(v, dict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert losers[0] == {
        "non_field_errors": [
            "Some of these starter packs were moved by someone else at the same moment, so "
            "nothing was moved. Check the list and try again."
        ]
    }
    assert StockAllocation.objects.filter(kind="to_outlet").count() == 1
    winner = StockAllocation.objects.get(kind="to_outlet")
    assert StarterPack.objects.filter(outlet=winner.outlet).count() == 200
    assert StockMove.objects.filter(allocation__kind="to_outlet").count() == 200


def test_other_outlet_of_the_same_dealer(dealer_user, other_outlet, dealer_stock):
    allocation = services.stock_allocate_to_outlet(
        actor=dealer_user,
        outlet=other_outlet,
        lines=[PackLine(1, dealer_stock[1].msisdn)],
        source="x",
    )
    assert allocation.outlet == other_outlet


def test_factory_outlet_of_another_dealer_is_not_mine(dealer_user, other_dealer, dealer_stock):
    theirs = OutletFactory(dealer=other_dealer)
    with pytest.raises(PermissionDenied):
        services.stock_return_to_dealer(actor=dealer_user, outlet=theirs)
