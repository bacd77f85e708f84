"""An outlet revoked while its dealer allocates stock to it: the outlet's row lock orders the
two, so a revoked outlet never ends up holding packs (PostgreSQL)."""

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import translation

from outlets import services
from outlets.models import Outlet, StarterPack
from outlets.services import outlets as outlet_services
from outlets.services import stock as stock_services
from outlets.stockfiles import PackLine

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _someone_waits_for_a_lock(timeout: float = 5.0) -> bool:
    """True once another session of this database waits for a lock (the other thread is
    blocked where it should be); False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


def _in_thread(outcomes: dict, name: str, call) -> threading.Thread:
    def run():
        try:
            with translation.override("en"):
                outcomes[name] = call()
        except ValidationError as exc:
            outcomes[name] = exc.message_dict
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _allocate(dealer_user, outlet, dealer_stock):
    lines = [PackLine(i + 1, pack.msisdn) for i, pack in enumerate(dealer_stock)]
    return lambda: services.stock_allocate_to_outlet(
        actor=dealer_user, outlet=outlet, lines=lines, source="race"
    )


def _revoke(operator, outlet):
    return lambda: services.outlet_revoke(actor=operator, outlet=outlet, reason="Fraud")


def test_an_allocation_waiting_for_a_revocation_is_refused(
    require_postgres, dealer_user, operator, outlet, dealer_stock, monkeypatch
):
    locked, release = threading.Event(), threading.Event()
    notify = outlet_services._notify

    def notify_then_hold(**kwargs):  # inside the revocation's transaction, the row locked
        notice = notify(**kwargs)
        locked.set()
        release.wait(timeout=15)
        return notice

    monkeypatch.setattr(outlet_services, "_notify", notify_then_hold)
    outcomes: dict = {}
    revoking = _in_thread(outcomes, "revoke", _revoke(operator, outlet))
    assert locked.wait(timeout=10)
    allocating = _in_thread(outcomes, "allocate", _allocate(dealer_user, outlet, dealer_stock))
    blocked = _someone_waits_for_a_lock()
    release.set()
    for thread in (revoking, allocating):
        thread.join(timeout=30)

    assert blocked, outcomes
    assert outcomes["allocate"] == {
        "outlet": [f"Outlet {outlet.roid} is revoked: it takes no stock."]
    }
    assert outcomes["revoke"].status == Outlet.Status.REVOKED
    assert not StarterPack.objects.filter(outlet=outlet).exists()
    assert StarterPack.objects.filter(outlet__isnull=True).count() == len(dealer_stock)


def test_a_revocation_waiting_for_an_allocation_returns_its_packs(
    require_postgres, dealer_user, operator, outlet, dealer_stock, monkeypatch
):
    allocated, release = threading.Event(), threading.Event()
    audit = stock_services._audit

    def audit_then_hold(actor, allocation, **kwargs):  # inside the allocation's transaction
        audit(actor, allocation, **kwargs)
        if allocation.kind == "to_outlet":
            allocated.set()
            release.wait(timeout=15)

    monkeypatch.setattr(stock_services, "_audit", audit_then_hold)
    outcomes: dict = {}
    allocating = _in_thread(outcomes, "allocate", _allocate(dealer_user, outlet, dealer_stock))
    assert allocated.wait(timeout=10)
    revoking = _in_thread(outcomes, "revoke", _revoke(operator, outlet))
    blocked = _someone_waits_for_a_lock()
    release.set()
    for thread in (allocating, revoking):
        thread.join(timeout=30)

    assert blocked, outcomes
    assert outcomes["allocate"].pack_count == len(dealer_stock)
    assert outcomes["revoke"].status == Outlet.Status.REVOKED
    assert not StarterPack.objects.filter(outlet=outlet).exists()
    assert StarterPack.objects.filter(outlet__isnull=True).count() == len(dealer_stock)
