"""GET /api/v1/outlets/ and /starter-packs/: each persona sees its own scope, outsiders a 404."""

import pytest

from outlets.models import Outlet, StarterPack
from tests.factories import OutletFactory, StarterPackFactory

pytestmark = pytest.mark.django_db

OUTLETS = "/api/v1/outlets/"
PACKS = "/api/v1/starter-packs/"


def roids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["roid"] for row in response.json()["results"]}


def msisdns(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["msisdn"] for row in response.json()["results"]}


@pytest.fixture
def foreign_outlet(other_dealer_user):
    return OutletFactory(dealer=other_dealer_user.dealer_admin.dealer, roid="ROSBY000001")


def test_clerk_sees_its_own_outlet(client_for, clerk, outlet, other_outlet):
    client = client_for(clerk)

    response = client.get(OUTLETS)

    assert roids(response) == {outlet.roid}
    row = response.json()["results"][0]
    assert row == {
        "id": outlet.pk,
        "roid": "ROJKT000001",
        "name": "Konter Sinar",
        "status": "active",
        "dealer": {"code": "AD0001", "name": "PT Maju Seluler"},
        "region": "Jakarta Selatan",
        "province": "31",
        "province_name": "DKI Jakarta",
    }
    assert client.get(f"{OUTLETS}{outlet.pk}/").status_code == 200
    assert client.get(f"{OUTLETS}{other_outlet.pk}/").status_code == 404


def test_dealer_sees_its_outlets_only(
    client_for, dealer_user, outlet, other_outlet, foreign_outlet
):
    client = client_for(dealer_user)

    assert roids(client.get(OUTLETS)) == {outlet.roid, other_outlet.roid}
    assert client.get(f"{OUTLETS}{foreign_outlet.pk}/").status_code == 404


@pytest.mark.parametrize("persona", ["regulator", "grapari", "operator"])
def test_operator_roles_see_all_outlets(client_for, request, persona, outlet, foreign_outlet):
    client = client_for(request.getfixturevalue(persona))

    assert roids(client.get(OUTLETS)) == {outlet.roid, foreign_outlet.roid}
    assert client.get(f"{OUTLETS}{foreign_outlet.pk}/").status_code == 200


def test_outlet_status_filter(client_for, regulator, outlet, other_outlet):
    Outlet.objects.filter(pk=other_outlet.pk).update(status=Outlet.Status.SUSPENDED)
    client = client_for(regulator)

    assert roids(client.get(OUTLETS, {"status": "suspended"})) == {other_outlet.roid}
    assert client.get(OUTLETS, {"status": "closed"}).status_code == 400


def test_anonymous_sees_no_outlet(client_for, outlet):
    client = client_for()

    assert client.get(OUTLETS).status_code in (401, 403)
    assert client.get(f"{OUTLETS}{outlet.pk}/").status_code in (401, 403)
    assert client.get(PACKS).status_code in (401, 403)


def test_clerk_sees_its_outlets_packs_in_stock(client_for, clerk, pack, other_pack, outlet):
    sold = StarterPackFactory(outlet=outlet, status=StarterPack.Status.REGISTERED)
    client = client_for(clerk)

    response = client.get(PACKS, {"status": "in_stock"})

    assert msisdns(response) == {pack.msisdn}
    assert response.json()["results"][0] == {
        "msisdn": pack.msisdn,
        "iccid": pack.iccid,
        "status": "in_stock",
        "outlet_roid": outlet.roid,
    }
    assert msisdns(client.get(PACKS)) == {pack.msisdn, sold.msisdn}
    assert client.get(PACKS, {"status": "lost"}).status_code == 400


def test_clerk2_does_not_see_clerks_packs(client_for, clerk2, pack, other_pack):
    assert msisdns(client_for(clerk2).get(PACKS)) == {other_pack.msisdn}


def test_dealer_sees_its_stock_and_another_dealer_none(
    client_for, dealer_user, other_dealer_user, pack, other_pack
):
    assert msisdns(client_for(dealer_user).get(PACKS)) == {pack.msisdn, other_pack.msisdn}
    assert msisdns(client_for(other_dealer_user).get(PACKS)) == set()
