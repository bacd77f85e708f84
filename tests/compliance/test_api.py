"""The reconciliation-runs and discrepancies API: who may start and follow runs, scoping of
discrepancies per outlet and dealer (an outsider gets a 404), masking."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.models import Discrepancy, ReconciliationRun
from compliance.reconciliation.engine import reconciliation_start

from .conftest import truth_set

RUNS = "/api/v1/reconciliation-runs/"
DISCREPANCIES = "/api/v1/discrepancies/"


@pytest.fixture
def api(db):
    def make(user) -> APIClient:
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        client.force_authenticate(user)
        return client

    return make


def _discrepancy(outlet, msisdn, kind="id_number_mismatch", **extra) -> Discrepancy:
    now = timezone.now()
    return Discrepancy.objects.create(
        msisdn=msisdn,
        kind=kind,
        outlet=outlet,
        detected_at=now,
        last_seen_at=now,
        details=extra.pop(
            "details",
            {
                "portal": {"id_type": "ktp", "id_number": "3171********0042"},
                "operator": {"id_type": "ktp", "id_number": "3171********0043"},
            },
        ),
        **extra,
    )


@pytest.fixture
def found(outlet, other_outlet, other_dealer_user):
    from tests.factories import OutletFactory

    foreign = OutletFactory(dealer=other_dealer_user.dealer_admin.dealer, roid="ROOTHER0001")
    return {
        "mine": _discrepancy(outlet, "6281200000001"),
        "name": _discrepancy(
            outlet,
            "6281200000002",
            kind="name_mismatch",
            details={
                "portal": {"full_name": "Siti Nur'aini"},
                "operator": {"full_name": "Siti Nuraini X"},
            },
        ),
        "neighbour": _discrepancy(other_outlet, "6281200000003", kind="birth_date_mismatch"),
        "foreign": _discrepancy(foreign, "6281200000004", kind="unregistered_activation"),
    }


# --- runs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["clerk", "dealer_user", "grapari", "regulator"])
def test_only_operator_admins_start_runs(request, api, persona):
    user = request.getfixturevalue(persona)

    response = api(user).post(RUNS, {"mode": "full"}, format="json")

    assert response.status_code == 403
    assert not ReconciliationRun.objects.exists()


@pytest.mark.parametrize("persona", ["clerk", "dealer_user"])
def test_outlets_and_dealers_do_not_follow_runs(request, api, persona):
    run = reconciliation_start(mode="full", trigger="command", dispatch=False)
    client = api(request.getfixturevalue(persona))
    assert client.get(RUNS).status_code == 403
    assert client.get(f"{RUNS}{run.pk}/").status_code == 403


def test_operator_starts_a_run_and_grapari_and_regulator_follow_it(
    api, operator, grapari, regulator, generated, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery does the run
        response = api(operator).post(RUNS, {"mode": "full"}, format="json")

    assert response.status_code == 202
    body = response.json()
    assert body["mode"] == "full" and body["requested_by"] == "admin"
    for user in (grapari, regulator, operator):
        run = api(user).get(f"{RUNS}{body['id']}/").json()
        assert run["status"] == "succeeded"
        assert run["progress"]["done"] == run["progress"]["total"] > 0
        assert sum(run["counts"].values()) == len(truth_set())
        assert set(run["counts"]) == {
            "missing_in_operator", "id_number_mismatch", "name_mismatch",
            "birth_date_mismatch", "unregistered_activation", "activated_before_registration",
            "id_over_limit",
        }  # fmt: skip
    listing = api(regulator).get(RUNS).json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"]


def test_a_run_in_progress_answers_409(api, operator):
    active = reconciliation_start(mode="full", trigger="command", dispatch=False)

    response = api(operator).post(RUNS, {"mode": "incremental"}, format="json")

    assert response.status_code == 409
    assert response.json()["active_run"] == active.pk
    assert ReconciliationRun.objects.count() == 1


def test_a_bad_mode_is_a_400_naming_the_field(api, operator):
    response = api(operator).post(RUNS, {"mode": "sometimes"}, format="json")
    assert response.status_code == 400
    assert "mode" in response.json()
    assert not ReconciliationRun.objects.exists()


def test_unknown_run_is_404(api, operator):
    assert api(operator).get(f"{RUNS}999999/").status_code == 404


# --- discrepancies --------------------------------------------------------------------------------


def _ids(response) -> set[int]:
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


def test_discrepancies_are_scoped_like_registrations(
    api, found, clerk, clerk2, dealer_user, other_dealer_user, grapari, regulator, operator
):
    every = {d.pk for d in found.values()}
    assert _ids(api(clerk).get(DISCREPANCIES)) == {found["mine"].pk, found["name"].pk}
    assert _ids(api(clerk2).get(DISCREPANCIES)) == {found["neighbour"].pk}
    assert _ids(api(dealer_user).get(DISCREPANCIES)) == every - {found["foreign"].pk}
    assert _ids(api(other_dealer_user).get(DISCREPANCIES)) == {found["foreign"].pk}
    for user in (grapari, regulator, operator):
        assert _ids(api(user).get(DISCREPANCIES)) == every


def test_another_outlets_discrepancy_is_a_404(api, found, clerk, clerk2, other_dealer_user):
    url = f"{DISCREPANCIES}{found['mine'].pk}/"
    assert api(clerk).get(url).status_code == 200
    assert api(clerk2).get(url).status_code == 404
    assert api(other_dealer_user).get(url).status_code == 404


def test_filters_and_pagination(api, found, operator):
    client = api(operator)
    assert _ids(client.get(DISCREPANCIES, {"kind": "name_mismatch"})) == {found["name"].pk}
    assert _ids(client.get(DISCREPANCIES, {"outlet": "ROJKT000002"})) == {found["neighbour"].pk}
    assert _ids(client.get(DISCREPANCIES, {"status": "resolved"})) == set()
    assert _ids(client.get(DISCREPANCIES, {"msisdn": "081200000001"})) == {found["mine"].pk}
    body = client.get(DISCREPANCIES).json()
    assert {"count", "next", "previous", "results"} <= set(body)
    assert client.get(DISCREPANCIES, {"kind": "nonsense"}).status_code == 400


def test_id_numbers_are_masked_and_the_regulator_sees_no_names(api, found, grapari, regulator):
    url = f"{DISCREPANCIES}{found['name'].pk}/"
    assert api(grapari).get(url).json()["details"]["portal"]["full_name"] == "Siti Nur'aini"
    masked = api(regulator).get(url).json()["details"]
    assert masked["portal"]["full_name"] == "S*** N*******"
    detail = api(grapari).get(f"{DISCREPANCIES}{found['mine'].pk}/").json()
    assert detail["details"]["portal"]["id_number"] == "3171********0042"
    assert detail["outlet_roid"] == "ROJKT000001"
    assert "id_digest" not in detail and "id_group" not in detail


def test_the_schema_documents_both_endpoints(api, operator):
    schema = api(operator).get("/api/schema/?format=json").json()
    assert "/api/v1/reconciliation-runs/" in schema["paths"]
    assert "/api/v1/discrepancies/{id}/" in schema["paths"]
    create = schema["paths"]["/api/v1/reconciliation-runs/"]["post"]["responses"]
    assert {"202", "403", "409"} <= set(create)
