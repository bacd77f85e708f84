"""Acceptance: outlets with planted behaviour rank first, each for the right reasons, and the
clean ones not at all — on the figures, the regulator's page and dashboard, the dealer's pages,
the outlets export and GraPARI's review filter."""

import csv
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.models import Discrepancy, DiscrepancyOutcome, ReviewItem
from reports import services as report_services
from reports.models import ExportJob
from reports.scope import ReportScope
from risk.figures import outlet_risks, ranked_outlets
from risk.services import risk_refresh
from tests.pdftext import pdf_text

from .conftest import params, recent_filter


def reasons(risk) -> set[str]:
    return {figure.code for figure in risk.reasons}


@pytest.mark.django_db
def test_the_planted_outlets_rank_first_with_their_reasons_and_clean_ones_not_at_all(
    planted, regulator
):
    ranked = ranked_outlets(recent_filter(), ReportScope.for_user(regulator))

    by_roid = {risk.outlet.roid: risk for risk in ranked}
    assert set(by_roid) == {planted.pre.roid, planted.reuse.roid, planted.burst.roid}
    assert reasons(by_roid[planted.pre.roid]) == {"pre_activation"}
    assert reasons(by_roid[planted.reuse.roid]) == {"nik_reuse"}
    assert reasons(by_roid[planted.burst.roid]) == {"odd_hours", "too_fast"}
    # The burst has two signals far above the baseline: it comes first; positions are 1, 2, 3.
    assert [risk.rank for risk in ranked] == [1, 2, 3]
    assert ranked[0].outlet.roid == planted.burst.roid
    # Every position is explained: the score is the sum of the reasons' distances.
    for risk in ranked:
        assert risk.score == pytest.approx(sum(f.distance for f in risk.reasons), abs=0.01)


@pytest.mark.django_db
def test_each_reason_shows_count_rate_baseline_and_distance(planted, regulator):
    risk = next(
        r
        for r in outlet_risks(recent_filter(), ReportScope.for_user(regulator))
        if r.outlet.roid == planted.burst.roid
    )
    odd = risk.figure("odd_hours")
    assert (odd.count, odd.registrations) == (8, 28)
    assert odd.rate == pytest.approx(8 / 28)
    # The baseline: the other outlets of the same dealer in the same province (none at night).
    assert risk.peer_level == "dealer_province" and risk.peers == 6
    assert odd.baseline == 0 and odd.distance == pytest.approx(8.0)
    fast = risk.figure("too_fast")
    assert fast.count == 7  # the first of the eight had no registration just before it
    assert not risk.figure("pre_activation").above


@pytest.mark.django_db
def test_a_dismissed_or_resolved_finding(planted, regulator):
    """A pre-activation a reviewer dismissed no longer counts; one the engine resolved (the
    number was registered later) still tells what happened."""
    findings = list(Discrepancy.objects.filter(outlet=planted.pre).order_by("pk"))
    for finding in findings[:3]:
        DiscrepancyOutcome.objects.create(
            discrepancy=finding,
            msisdn=finding.msisdn,
            kind=finding.kind,
            fingerprint="x",
            outcome=DiscrepancyOutcome.Outcome.DISMISSED,
        )
    risk_refresh()

    ranked = ranked_outlets(recent_filter(), ReportScope.for_user(regulator))
    assert planted.pre.roid not in {r.outlet.roid for r in ranked}  # 2 left: under the minimum


@pytest.mark.django_db
def test_the_regulators_page_lists_them_with_reasons_and_the_records_behind(
    planted, regulator, client
):
    client.force_login(regulator)
    page = client.get(reverse("risk:outlets"), params())
    assert page.status_code == 200
    ranked = page.context["ranked"]
    assert ranked[0].outlet.roid == planted.burst.roid
    html = page.content.decode()
    assert f'data-roid="{planted.pre.roid}"' in html
    assert 'data-signal="pre_activation" data-count="5"' in html
    # Each reason explained in the reader's language (Indonesian unless they chose English).
    assert "5 dari 20 registrasi" in html and "garis dasar: outlet lain dari dealer" in html
    # Each reason opens the records behind it.
    records_url = reverse("risk:records", args=[planted.pre.roid, "pre_activation"])
    assert f'href="{records_url}?' in html
    for clean in planted.clean:
        assert f'data-roid="{clean.roid}"' not in html
    # One click away: the eight registrations at 3 a.m., masked for the regulator.
    records = client.get(reverse("risk:records", args=[planted.burst.roid, "odd_hours"]), params())
    assert records.status_code == 200
    lines = records.context["lines"]
    assert {line.registration_number for line in lines} == {
        r.registration_number for r in planted.burst_registrations
    }
    first = planted.burst_registrations[0]
    body = records.content.decode()
    assert first.msisdn not in body and first.full_name not in body
    assert lines[0].name == "S*** A*****"


@pytest.mark.django_db
def test_the_records_show_which_lines_share_one_nik_without_showing_it(planted, grapari, client):
    client.force_login(grapari)
    records = client.get(reverse("risk:records", args=[planted.reuse.roid, "nik_reuse"]), params())
    lines = records.context["lines"]
    assert len(lines) == 5 and {line.same_number for line in lines} == {"A"}
    assert planted.reused_nik not in records.content.decode()
    # GraPARI works the cases: the MSISDN whole.
    assert "*" not in lines[0].msisdn and lines[0].msisdn.startswith("08")  # whole, 0812-…


@pytest.mark.django_db
def test_the_reports_dashboard_shows_the_ranked_outlets(planted, regulator, client):
    client.force_login(regulator)
    page = client.get(reverse("reports:dashboard"), params())
    html = page.content.decode()
    assert 'id="risk-section"' in html
    for roid in (planted.burst.roid, planted.pre.roid, planted.reuse.roid):
        assert f'data-roid="{roid}"' in html
    assert f'data-roid="{planted.clean[0].roid}"' not in html


@pytest.mark.django_db
def test_the_dealers_dashboard_counts_each_outlets_signals(planted, dealer_user, client):
    client.force_login(dealer_user)
    page = client.get(reverse("outlets:dashboard"), {"sort": "-risk_signals"})
    outlets = list(page.context["page"])
    assert outlets[0].roid == planted.burst.roid and outlets[0].risk_signals == 2
    figures = {o.roid: o.risk_signals for o in outlets}
    assert figures[planted.pre.roid] == 1 and figures[planted.reuse.roid] == 1
    assert all(figures[o.roid] == 0 for o in planted.clean)
    assert planted.foreign.roid not in figures
    assert 'data-figure="risk_signals">2<' in page.content.decode()


@pytest.mark.django_db
def test_outlet_staff_see_no_risk_figure_on_their_dashboard(planted, clerk, client):
    client.force_login(clerk)
    page = client.get(reverse("outlets:dashboard"))
    assert page.status_code == 200 and 'data-figure="risk_signals"' not in page.content.decode()


@pytest.mark.django_db
def test_the_outlets_export_carries_rank_and_reasons(
    planted, regulator, django_capture_on_commit_callbacks
):
    def export(fmt):
        with django_capture_on_commit_callbacks(execute=True):
            job = report_services.export_job_create(
                user=regulator,
                kind="outlets",
                format=fmt,
                data=params(),
                trigger=ExportJob.Trigger.WEB,
            )
        job.refresh_from_db()
        assert job.status == ExportJob.Status.SUCCEEDED, job.error
        with job.file.storage.open(job.file.name, "rb") as fh:
            return fh.read()

    rows = {r["roid"]: r for r in csv.DictReader(io.StringIO(export("csv").decode()))}
    assert rows[planted.burst.roid]["risk_rank"] == "1"
    assert rows[planted.pre.roid]["risk_pre_activation_count"] == "5"
    # In the requester's language: Indonesian unless they chose English.
    assert rows[planted.pre.roid]["risk_reasons"] == "Aktif sebelum diregistrasi"
    assert rows[planted.reuse.roid]["risk_nik_reuse_count"] == "5"
    for clean in planted.clean:
        assert rows[clean.roid]["risk_rank"] == "" and rows[clean.roid]["risk_signals_above"] == "0"
    assert export("xlsx").startswith(b"PK")
    # The printed rows end with the rank and the number of signals above the baseline.
    text = pdf_text(export("pdf"))
    assert re.search(rf"{planted.burst.roid} Konter Subuh 28 [\d,]+ % 0 0 0 1 2\b", text), text
    assert re.search(rf"{planted.clean[0].roid} Konter Sinar 20 [\d,]+ % 0 0 0 0\b", text)


@pytest.mark.django_db
def test_grapari_filters_the_queue_to_outlets_above_the_baseline(planted, grapari, client):
    now = timezone.now()
    for registration in (planted.burst_registrations[0], planted.clean[0].registrations.first()):
        ReviewItem.objects.create(
            kind=ReviewItem.Kind.FLAGGED_REGISTRATION,
            msisdn=registration.msisdn,
            registration=registration,
            outlet=registration.outlet,
            dealer=registration.outlet.dealer,
            queued_at=now,
            due_at=now,
        )
    client.force_login(grapari)
    everything = client.get(reverse("compliance:review_queue"))
    above = client.get(reverse("compliance:review_queue"), {"outlet_set": "above_baseline"})
    assert len(everything.context["page"].items) == 2
    assert [i.outlet_id for i in above.context["page"].items] == [planted.burst.pk]
    assert "Outlet di atas garis dasar" in above.content.decode()


@pytest.mark.django_db
def test_the_review_queue_api_filters_to_outlets_above_the_baseline(
    planted, grapari, dealer_user, client
):
    now = timezone.now()
    burst, clean = planted.burst_registrations[0], planted.clean[0].registrations.first()
    for registration in (burst, clean):
        ReviewItem.objects.create(
            kind=ReviewItem.Kind.FLAGGED_REGISTRATION,
            msisdn=registration.msisdn,
            registration=registration,
            outlet=registration.outlet,
            dealer=registration.outlet.dealer,
            queued_at=now,
            due_at=now,
        )
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(grapari)

    def outlets(**query):
        response = api.get("/api/v1/review-items/", query)
        assert response.status_code == 200, response.content
        return [item["outlet_roid"] for item in response.json()["results"]]

    assert sorted(outlets()) == sorted([planted.burst.roid, clean.outlet.roid])
    assert outlets(outlet_set="above_baseline") == [planted.burst.roid]
    # An unknown set is a clear 400 naming the field, not an empty or unfiltered page.
    wrong = api.get("/api/v1/review-items/", {"outlet_set": "everything"})
    assert wrong.status_code == 400 and "outlet_set" in wrong.json()
    # The filter opens the queue to no one else: a dealer still gets a 403.
    outsider = APIClient()
    outsider.force_authenticate(dealer_user)
    forbidden = outsider.get("/api/v1/review-items/", {"outlet_set": "above_baseline"})
    assert forbidden.status_code == 403
    # The schema offers the filter with the registered sets.
    schema = client.get("/api/schema/", {"format": "json"}).json()
    parameters = schema["paths"]["/api/v1/review-items/"]["get"]["parameters"]
    (outlet_set,) = [p for p in parameters if p["name"] == "outlet_set"]
    assert "above_baseline" in outlet_set["schema"]["enum"]
