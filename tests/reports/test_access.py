"""Who sees the reports and whose exports: every page and endpoint with its outsider test."""

import pytest
from rest_framework.test import APIClient

from reports import services
from reports.models import ExportJob

from .conftest import PERIOD

PARAMS = {"date_from": PERIOD[0].isoformat(), "date_to": PERIOD[1].isoformat()}
QUERY = f"?date_from={PARAMS['date_from']}&date_to={PARAMS['date_to']}"


def api(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


@pytest.fixture
def regulator_job(dataset, regulator, django_capture_on_commit_callbacks) -> ExportJob:
    with django_capture_on_commit_callbacks(execute=True):
        job = services.export_job_create(
            user=regulator, kind="registrations", format="csv", data=PARAMS, trigger="api"
        )
    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED
    return job


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["regulator", "operator", "grapari", "dealer_user"])
def test_report_roles_see_the_dashboard_and_the_rows(dataset, client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    for url in (
        "/reports/",
        "/reports/rows/registrations/",
        "/reports/rows/discrepancies/",
        "/reports/exports/",
        "/reports/verify/",
    ):
        response = client.get(url + QUERY)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_dashboard_draws_its_charts_and_links_to_the_rows(dataset, client, regulator):
    client.force_login(regulator)
    response = client.get("/reports/" + QUERY + "&bucket=week")
    html = response.content.decode()
    for chart in (
        "chart-trend-registrations",
        "chart-groups",
        "chart-top-outlets",
        "chart-discrepancy-mix",
        "chart-trend-discrepancies",
        "chart-id-types",
    ):
        assert f'id="{chart}"' in html
    assert html.count("<svg") == 6 and "<script" not in html.split("</head>")[1]
    assert 'id="figure-registrations" data-value="22"' in html
    assert "/reports/rows/registrations/?date_from=2026-03-01" in html
    assert 'style="' not in html  # CSP: style-src 'self', no inline styles


@pytest.mark.django_db
def test_a_dealers_rows_are_its_outlets_only(dataset, client, dealer_user):
    client.force_login(dealer_user)
    html = client.get("/reports/rows/registrations/" + QUERY + "&outlet=ROJTM000001").content
    assert b'data-count="0"' in html
    html = client.get("/reports/rows/registrations/" + QUERY).content.decode()
    assert "ROJTM000001" not in html and "ROJKT000001" in html


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["clerk", "clerk2"])
def test_outlet_staff_get_no_reports(dataset, client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    for url in (
        "/reports/",
        "/reports/rows/registrations/",
        "/reports/exports/",
        "/reports/verify/",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post("/reports/exports/", {"kind": "registrations", **PARAMS}).status_code == 403
    assert api(request.getfixturevalue(persona)).get("/api/v1/reports/figures/").status_code == 403
    assert not ExportJob.objects.exists()


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/reports/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert APIClient().get("/api/v1/reports/").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["clerk", "clerk2", "dealer_user", "grapari", "operator"])
def test_nobody_else_reads_the_regulators_export(regulator_job, client, request, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    pk = regulator_job.pk
    assert client.get(f"/reports/exports/{pk}/").status_code == 404
    assert client.get(f"/reports/exports/{pk}/download/").status_code == 404
    assert api(user).get(f"/api/v1/reports/{pk}/").status_code == 404
    assert api(user).get(f"/api/v1/reports/{pk}/download/").status_code == 404
    listed = api(user).get("/api/v1/reports/")
    assert listed.status_code in (200, 403)
    if listed.status_code == 200:
        assert pk not in [job["id"] for job in listed.json()["results"]]


@pytest.mark.django_db
def test_the_api_runs_an_export_and_serves_it(
    dataset, regulator, django_capture_on_commit_callbacks
):
    client = api(regulator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/reports/", {"kind": "discrepancies", "format": "xlsx", **PARAMS}, format="json"
        )
    assert response.status_code == 202
    body = response.json()
    job = client.get(f"/api/v1/reports/{body['id']}/").json()
    assert job["status"] == "succeeded" and len(job["sha256"]) == 64
    assert job["progress"]["done"] == job["progress"]["total"] > 0
    assert job["parameters"]["date_from"] == "2026-03-01"
    download = client.get(job["download_url"])
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    import hashlib

    assert hashlib.sha256(content).hexdigest() == job["sha256"] == download["X-Content-SHA256"]
    assert download["Content-Type"].startswith("application/vnd.openxmlformats")
    assert [j["id"] for j in client.get("/api/v1/reports/").json()["results"]] == [job["id"]]


@pytest.mark.django_db
def test_the_api_says_what_is_wrong(dataset, regulator):
    client = api(regulator)
    response = client.post(
        "/api/v1/reports/",
        {"kind": "photos", "date_from": "2026-03-05", "date_to": "2026-03-01"},
        format="json",
    )
    assert response.status_code == 400 and "kind" in response.json()
    response = client.post(
        "/api/v1/reports/",
        {"kind": "registrations", "date_from": "2026-03-05", "date_to": "2026-03-01"},
        format="json",
    )
    assert response.status_code == 400 and "date_to" in response.json()
    response = client.post(
        "/api/v1/reports/", {"kind": "registrations", **PARAMS, "masked": False}, format="json"
    )
    assert response.status_code == 403
    assert not ExportJob.objects.exists()


@pytest.mark.django_db
def test_a_queued_export_is_not_downloadable_yet(dataset, regulator):
    job = services.export_job_create(
        user=regulator,
        kind="registrations",
        format="csv",
        data=PARAMS,
        trigger="api",
        dispatch=False,
    )
    assert api(regulator).get(f"/api/v1/reports/{job.pk}/download/").status_code == 409


@pytest.mark.django_db
def test_the_figures_api_is_the_dashboards(dataset, regulator, dealer_user):
    body = api(regulator).get("/api/v1/reports/figures/" + QUERY).json()
    assert body["totals"]["registrations"] == 22 and body["totals"]["ids_over_cap"] == 2
    assert set(body["workflow"]) == {
        "clarifications_opened",
        "clarifications_answered",
        "clarifications_overdue",
        "median_hours_to_resolve",
        "confirmed_violations",
        "sanctions_by_level",
    }
    assert {g["key"] for g in body["groups"]} == {"31", "32", "35"}
    dealer = api(dealer_user).get("/api/v1/reports/figures/" + QUERY + "&grouping=outlet").json()
    assert {g["key"] for g in dealer["groups"]} == {"ROJKT000001", "ROJKT000002", "ROJBR000001"}
    bad = api(regulator).get("/api/v1/reports/figures/?date_from=nope&grouping=planet")
    assert bad.status_code == 400 and set(bad.json()) >= {"date_from", "grouping"}
