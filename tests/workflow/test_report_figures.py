"""The workflow's figures for the reports app (reports/workflow_figures.py): opened, answered,
overdue, time to resolve, confirmed violations, sanctions per level, per outlet; and the rows
of the ``clarifications`` export — scoped like every report, no ID numbers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import Clarification
from compliance.workflow.clarifications import clarification_answer
from compliance.workflow.review import review_item_decide
from reports.periods import Period
from reports.scope import ReportFilter, ReportScope
from reports.workflow_figures import CLARIFICATION_COLUMNS, clarification_rows, workflow_figures
from tests.factories import StarterPackFactory

from .conftest import (
    answered_item,
    flagged_request,
    hand_over,
    make_registration,
    open_discrepancy,
)

pytestmark = pytest.mark.django_db


def _filter(**kwargs) -> ReportFilter:
    today = timezone.localdate()
    return ReportFilter(period=Period(today - timedelta(days=7), today), **kwargs)


def test_figures_of_the_workflow(grapari, clerk, clerk2, outlet, other_outlet, dealer_user):
    decided = answered_item(make_registration(outlet), clerk)
    review_item_decide(
        actor=grapari, item=decided, decision="confirm_violation", reason="False data"
    )
    flagged_request(make_registration(outlet))  # open, not answered
    late = flagged_request(make_registration(other_outlet))
    Clarification.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    answered = flagged_request(make_registration(other_outlet))
    clarification_answer(actor=clerk2, clarification=answered, explanation="Checked")

    figures = workflow_figures(flt=_filter(), scope=ReportScope.everything())

    assert (figures.opened, figures.answered, figures.overdue) == (4, 2, 1)
    assert figures.median_hours_to_resolve is not None  # the decided one
    assert figures.confirmed_violations == 1
    assert figures.sanctions_by_level == {"warning": 1}
    assert figures.by_outlet[outlet.pk].confirmed_violations == 1
    assert figures.by_outlet[outlet.pk].open_clarifications == 1
    assert figures.by_outlet[other_outlet.pk].open_clarifications == 2

    one_outlet = workflow_figures(
        flt=_filter(outlet=other_outlet.roid), scope=ReportScope.everything()
    )
    assert (one_outlet.opened, one_outlet.confirmed_violations) == (2, 0)
    foreign = ReportScope(dealer_id=outlet.dealer_id + 999)
    assert workflow_figures(flt=_filter(), scope=foreign).opened == 0
    assert workflow_figures(flt=_filter(), scope=ReportScope.for_user(dealer_user)).opened == 4


def test_clarifications_export_rows(clerk, outlet, registration):
    request = flagged_request(registration, "name_mismatch", "birth_date_mismatch")

    total, rows = clarification_rows(flt=_filter(), scope=ReportScope.everything())

    rows = list(rows)
    assert total == 1 and len(rows) == 1
    row = dict(zip(CLARIFICATION_COLUMNS, rows[0], strict=True))
    assert row["id"] == request.pk and row["msisdn"] == registration.msisdn
    assert row["kind"] == "birth_date_mismatch+name_mismatch"
    assert row["registration_number"] == registration.registration_number
    assert row["outlet_roid"] == outlet.roid and row["status"] == "open"
    assert registration.id_number_masked[:4] not in str(rows[0][1:])


def test_open_clarifications_total_is_the_list_of_active_requests(
    api, grapari, regulator, dealer_user, clerk, clerk2, outlet, other_outlet
):
    # In progress: open, answered, past its deadline (expired), asked again after a rejection;
    # one opened long before the period still counts (open is "now"). Settled ones do not.
    flagged_request(make_registration(outlet))
    answered = flagged_request(make_registration(other_outlet))
    clarification_answer(actor=clerk2, clarification=answered, explanation="Checked")
    late = flagged_request(make_registration(other_outlet))
    Clarification.objects.filter(pk=late.pk).update(
        status=Clarification.Status.EXPIRED,
        due_at=timezone.now() - timedelta(days=40),
        opened_at=timezone.now() - timedelta(days=60),
    )
    settled = answered_item(make_registration(outlet), clerk)
    review_item_decide(actor=grapari, item=settled, decision="confirm_violation", reason="False")
    query = f"/api/v1/reports/figures/?grouping=outlet&date_from={timezone.localdate() - timedelta(days=7)}&date_to={timezone.localdate()}"

    def figures(user):
        body = api(user).get(query).json()
        active = api(user).get("/api/v1/clarifications/?status=active").json()["count"]
        groups = sum(g["counts"]["open_clarifications"] for g in body["groups"])
        return body["totals"]["open_clarifications"], active, groups

    assert figures(regulator) == (3, 3, 3)
    assert figures(dealer_user) == (3, 3, 3)

    # A pack activated unregistered: the dealer answers, no outlet — in the total and the
    # list, in no outlet's group.
    hand_over(
        open_discrepancy(
            kind="unregistered_activation",
            msisdn=StarterPackFactory(outlet=outlet).msisdn,
            outlet=outlet,
        )
    )
    assert figures(regulator) == (4, 4, 3)
    assert figures(dealer_user) == (4, 4, 3)
    narrowed = api(regulator).get(query + f"&outlet={other_outlet.roid}").json()
    assert narrowed["totals"]["open_clarifications"] == 2
