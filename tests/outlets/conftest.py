"""Fixtures of the dealer-operations tests: another dealer's outlet, API clients, stock."""

import pytest
from rest_framework.test import APIClient

from identity.idgen import make_iccid, make_msisdn
from outlets import services
from outlets.stockfiles import PackLine
from tests.factories import OutletFactory, StarterPackFactory, UserFactory


@pytest.fixture(autouse=True)
def _english(settings):
    """Assertions read English messages; Bahasa Indonesia stays the default for users."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def client_for(db):
    """``client_for(user)``: an API client authenticated as ``user`` (anonymous for None)."""

    def make(user=None) -> APIClient:
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def web_for(client, db):
    """``web_for(user)``: Django's test client logged in as ``user``, reading English."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    def make(user=None):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def other_dealer(other_dealer_user):
    return other_dealer_user.dealer_admin.dealer


@pytest.fixture
def foreign_outlet(other_dealer):
    return OutletFactory(dealer=other_dealer, roid="ROSBY000001", name="Konter Lain")


@pytest.fixture
def outsider(db):
    """An account with no role: sees nothing, may do nothing."""
    return UserFactory(username="nobody", role="")


def pack_lines(first: int, count: int, *, with_iccid: bool = True) -> list[PackLine]:
    return [
        PackLine(
            i + 1,
            make_msisdn(first + i, prefix="62813"),
            make_iccid(first + i) if with_iccid else None,
        )
        for i in range(count)
    ]


@pytest.fixture
def dealer_stock(dealer_org, operator):
    """Five packs in the dealer's own stock (allocated by the operator, as in real life)."""
    services.stock_allocate_to_dealer(
        actor=operator, dealer=dealer_org, lines=pack_lines(1, 5), source="test"
    )
    return list(dealer_org.starter_packs.filter(outlet__isnull=True).order_by("msisdn"))


@pytest.fixture
def another_dealers_pack(other_dealer):
    return StarterPackFactory(
        outlet=None, dealer=other_dealer, msisdn=make_msisdn(777, prefix="62813")
    )
