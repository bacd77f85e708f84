"""Summaries built under an older definition of the figures are rebuilt by the next ordinary
refresh (docs/reports.md, "When what the figures count changes"): the periodic task and the
command rebuild them in full without ``--full``, and ``migrate`` queues that refresh itself.
Afterwards the figures count what the code now defines — here, not the registrations the
population registry refused, which the first tables still counted."""

import hashlib
import inspect
import re
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F

from reports import summary, tasks
from reports.apps import rebuild_outdated_summaries
from reports.figures import report_figures
from reports.models import DailyOutletStats, SummaryState
from reports.periods import Period
from reports.scope import ReportFilter, ReportScope
from reports.summary import DEFINITION_VERSION, summaries_refresh

from .conftest import PERIOD, make_registration, nik, wib

pytestmark = pytest.mark.django_db
EVERYTHING = ReportScope.everything()
DAY = date(2026, 3, 17)

# The refresh's statements as they were when each definition was recorded. A change of them
# makes the test below fail: if what a figure counts changed, bump DEFINITION_VERSION and
# record the new fingerprint under the new number; if not (a rename, a faster plan), record it
# under the same number.
FINGERPRINTS = {2: "cecfedd1ea354675", 3: "3789954b2021711a"}


def _flt() -> ReportFilter:
    return ReportFilter(Period(*PERIOD))


def _built_under_the_first_definition(outlet) -> int:
    """The tables as the first definition left them after a refused registration: counted among
    the day's registrations, the state saying version 1 and fresh (an incremental refresh finds
    nothing changed since). Returns the registrations the right definition counts that day."""
    state = SummaryState.objects.get()
    refused = make_registration(outlet=outlet, at=wib(DAY), id_number=nik(700), status="refused")
    counted = make_registration(outlet=outlet, at=wib(DAY), id_number=nik(701))
    summaries_refresh()
    row = DailyOutletStats.objects.get(day=DAY, outlet=outlet, id_type="ktp")
    DailyOutletStats.objects.filter(pk=row.pk).update(registrations=F("registrations") + 1)
    SummaryState.objects.filter(pk=state.pk).update(
        definition_version=1, watermark=refused.updated_at + timedelta(hours=1)
    )
    assert counted.status == "registered"
    return row.registrations


def _registrations_on_the_day(outlet) -> int:
    return DailyOutletStats.objects.get(day=DAY, outlet=outlet, id_type="ktp").registrations


def test_the_next_ordinary_refresh_rebuilds_summaries_of_an_old_definition(dataset):
    outlet = dataset.outlets["jkt1"]
    right = _built_under_the_first_definition(outlet)
    stale = report_figures(_flt(), EVERYTHING).totals.registrations
    assert _registrations_on_the_day(outlet) == right + 1  # the refused one, counted

    outcome = tasks.refresh_summaries()  # the periodic task, as beat sends it

    assert (outcome["mode"], outcome["reason"]) == ("full", "definition")
    assert _registrations_on_the_day(outlet) == right
    assert report_figures(_flt(), EVERYTHING).totals.registrations == stale - 1
    assert SummaryState.objects.get().definition_version == DEFINITION_VERSION
    # Rebuilt once: the next refresh is incremental again.
    assert summaries_refresh().mode == "incremental"


def test_the_command_rebuilds_them_without_full_and_says_why(dataset):
    outlet = dataset.outlets["jkt1"]
    right = _built_under_the_first_definition(outlet)
    out = StringIO()

    call_command("refresh_report_summaries", stdout=out)

    assert out.getvalue().startswith("full refresh (the figures' definition changed")
    assert _registrations_on_the_day(outlet) == right


def test_migrate_queues_the_rebuild(dataset, django_capture_on_commit_callbacks):
    outlet = dataset.outlets["jkt1"]
    right = _built_under_the_first_definition(outlet)
    assert summary.definition_outdated()

    # What post_migrate calls; the task is queued after the commit (eager Celery runs it then).
    with django_capture_on_commit_callbacks(execute=True) as queued:
        rebuild_outdated_summaries()

    assert len(queued) == 1
    assert not summary.definition_outdated()
    assert _registrations_on_the_day(outlet) == right


def test_summaries_of_the_current_definition_are_refreshed_incrementally(
    dataset, django_capture_on_commit_callbacks
):
    outlet = dataset.outlets["jkt1"]
    make_registration(outlet=outlet, at=wib(DAY), id_number=nik(702))
    before = SummaryState.objects.get().full_refreshed_at

    outcome = summaries_refresh()

    assert outcome.mode == "incremental" and outcome.reason == ""
    assert SummaryState.objects.get().full_refreshed_at == before
    with django_capture_on_commit_callbacks(execute=True) as queued:
        rebuild_outdated_summaries()  # nothing outdated: nothing queued
    assert queued == []
    assert SummaryState.objects.get().full_refreshed_at == before


def test_the_definition_version_moves_with_the_refresh_statements():
    source = "".join(
        inspect.getsource(function)
        for function in (
            summary._refresh_registrations,
            summary._refresh_discrepancies,
            summary._delete_stale,
            summary._refresh_flags,
        )
    )
    fingerprint = hashlib.sha256(re.sub(r"\s+", " ", source).encode()).hexdigest()[:16]
    assert FINGERPRINTS.get(DEFINITION_VERSION) == fingerprint, (
        "The summary tables' statements changed. If what a figure counts changed, bump "
        "reports.summary.DEFINITION_VERSION (summaries built before are then rebuilt by the "
        "next refresh) and record this fingerprint under the new number; otherwise record it "
        f"under the same number: {fingerprint}"
    )
