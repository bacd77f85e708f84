"""The compliance pages: runs (follow; start for operator admins) and discrepancies, scoped."""

import pytest
from django.utils import timezone

from compliance.models import Discrepancy, ReconciliationRun
from compliance.reconciliation.engine import reconciliation_start
from core.masking import display_msisdn

RUNS = "/compliance/runs/"
DISCREPANCIES = "/compliance/discrepancies/"


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def _discrepancy(outlet, msisdn, kind="birth_date_mismatch") -> Discrepancy:
    now = timezone.now()
    return Discrepancy.objects.create(
        msisdn=msisdn,
        kind=kind,
        outlet=outlet,
        detected_at=now,
        last_seen_at=now,
        details={
            "portal": {"birth_date": "1990-08-17", "full_name": "Siti Nur'aini"},
            "operator": {"birth_date": "1990-08-18"},
        },
    )


def test_anonymous_users_are_sent_to_log_in(client):
    for url in (RUNS, DISCREPANCIES):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_operator_sees_runs_with_a_start_button(client, operator):
    run = reconciliation_start(mode="full", trigger="command", dispatch=False)
    client.force_login(operator)

    page = client.get(RUNS)

    assert page.status_code == 200
    html = page.content.decode()
    assert f"#{run.pk}" in html and 'name="mode"' in html
    # A run in progress: the list of runs follows it (read again by the script; without a
    # script the page refreshes itself whole).
    assert 'id="runs" data-live="5"' in html
    assert '<noscript><meta http-equiv="refresh"' in html


@pytest.mark.parametrize("persona", ["grapari", "regulator"])
def test_grapari_and_regulator_follow_runs_without_starting_them(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    page = client.get(RUNS)
    assert page.status_code == 200
    assert 'name="mode"' not in page.content.decode()

    assert client.post(RUNS, {"mode": "full"}).status_code == 403
    assert not ReconciliationRun.objects.exists()


@pytest.mark.parametrize("persona", ["clerk", "dealer_user"])
def test_outlets_and_dealers_have_no_runs_page(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(RUNS).status_code == 403
    assert client.post(RUNS, {"mode": "full"}).status_code == 403
    run = reconciliation_start(mode="full", trigger="command", dispatch=False)
    assert client.get(f"{RUNS}{run.pk}/").status_code == 404


def test_operator_starts_a_run_from_the_page(
    client, operator, generated, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RUNS, {"mode": "full"})

    run = ReconciliationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{RUNS}{run.pk}/"
    assert run.requested_by == operator and run.trigger == "web"
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "Succeeded" in html and 'data-kind="id_over_limit"' in html
    assert '<meta http-equiv="refresh"' not in html and "data-live" not in html


def test_starting_while_a_run_is_in_progress_says_so(client, operator):
    active = reconciliation_start(mode="full", trigger="command", dispatch=False)
    ReconciliationRun.objects.filter(pk=active.pk).update(status=ReconciliationRun.Status.RUNNING)
    client.force_login(operator)

    response = client.post(RUNS, {"mode": "incremental"}, follow=True)

    assert response.redirect_chain[-1][0] == f"{RUNS}{active.pk}/"
    assert "already in progress" in response.content.decode()
    assert ReconciliationRun.objects.count() == 1


def test_discrepancy_pages_are_scoped_and_an_outsider_gets_404(
    client, clerk, clerk2, outlet, other_outlet, regulator
):
    mine = _discrepancy(outlet, "6281200000011")
    theirs = _discrepancy(other_outlet, "6281200000012")

    client.force_login(clerk)
    listing = client.get(DISCREPANCIES).content.decode()
    assert display_msisdn(mine.msisdn) in listing and display_msisdn(theirs.msisdn) not in listing
    assert client.get(f"{DISCREPANCIES}{mine.pk}/").status_code == 200
    assert client.get(f"{DISCREPANCIES}{theirs.pk}/").status_code == 404

    client.force_login(clerk2)
    assert client.get(f"{DISCREPANCIES}{mine.pk}/").status_code == 404

    client.force_login(regulator)
    detail = client.get(f"{DISCREPANCIES}{mine.pk}/").content.decode()
    assert "S*** N*******" in detail and "Nur&#x27;aini" not in detail
    assert "1990-**-**" in detail


def test_discrepancy_list_filters(client, operator, outlet):
    open_one = _discrepancy(outlet, "6281200000021", kind="name_mismatch")
    resolved = _discrepancy(outlet, "6281200000022")
    Discrepancy.objects.filter(pk=resolved.pk).update(status="resolved", resolved_at=timezone.now())
    client.force_login(operator)

    default = client.get(DISCREPANCIES).content.decode()
    assert (
        display_msisdn(open_one.msisdn) in default
        and display_msisdn(resolved.msisdn) not in default
    )  # open by default
    everything = client.get(DISCREPANCIES, {"status": ""}).content.decode()
    assert display_msisdn(resolved.msisdn) in everything
    by_kind = client.get(DISCREPANCIES, {"kind": "birth_date_mismatch", "status": ""})
    assert display_msisdn(open_one.msisdn) not in by_kind.content.decode()
