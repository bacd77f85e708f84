"""Who may open which dealer page: every page against every persona (the outsider tests).

Objects of another dealer, or another outlet, are a 404 (their existence is not disclosed);
a page the role has no business on is a friendly 403; anonymous visitors go to the login.
"""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from outlets import services
from outlets.models import OutletApplication, TrainingSession
from outlets.stockfiles import PackLine, parse_range

from .test_agreements import MINIMAL_PDF
from .test_outlets_services import APPLICATION

pytestmark = pytest.mark.django_db

PERSONAS = [
    "dealer_user",
    "other_dealer_user",
    "clerk",
    "clerk2",
    "grapari",
    "regulator",
    "operator",
    "outsider",
]


@pytest.fixture
def world(
    dealer_user, other_dealer_user, other_dealer, clerk, clerk2, outlet, foreign_outlet,
    operator, dealer_stock, dealer_org, grapari, regulator, outsider,
):  # fmt: skip
    """One of everything for dealer A (the ``dealer_user``'s), some for dealer B."""
    application = services.outlet_application_submit(actor=dealer_user, **APPLICATION)
    services.outlet_application_submit(actor=other_dealer_user, **APPLICATION)
    allocation = services.stock_allocate_to_outlet(
        actor=dealer_user, outlet=outlet, lines=[PackLine(1, dealer_stock[0].msisdn)], source="x"
    )
    party = services.responsible_party_create(actor=dealer_user, dealer=dealer_org, name="CV Mitra")
    agreement = services.agreement_create(
        actor=dealer_user,
        dealer=dealer_org,
        party=party,
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        ranges=[parse_range(dealer_stock[1].msisdn, dealer_stock[2].msisdn)],
        document=SimpleUploadedFile("a.pdf", MINIMAL_PDF),
    )
    session = services.training_session_create(
        actor=dealer_user, held_on=date(2026, 1, 5), trainer="T", audience="outlet", topic="Aturan"
    )
    services.training_attendance_record(
        actor=dealer_user, session=session, users=[clerk], today=date(2026, 1, 6)
    )
    return {
        "outlet": outlet.pk,
        "membership": clerk.outlet_staff.pk,
        "application": application.pk,
        "allocation": allocation.pk,
        "agreement": agreement.pk,
        "session": session.pk,
    }


def row(**statuses):
    """Expected status per persona; unnamed personas get ``rest``."""
    rest = statuses.pop("rest")
    return {persona: statuses.get(persona, rest) for persona in PERSONAS}


ALL_BUT_OUTSIDER = row(outsider=403, rest=200)
DEALERS = row(dealer_user=200, other_dealer_user=200, rest=403)
DEALERS_AND_OPERATOR = row(dealer_user=200, other_dealer_user=200, operator=200, rest=403)
MANAGES_OUTLET = row(
    dealer_user=200, operator=200, other_dealer_user=404, clerk2=404, outsider=404, rest=403
)

PAGES = [
    ("outlets:dashboard", None, ALL_BUT_OUTSIDER),
    ("outlets:dashboard_csv", None, ALL_BUT_OUTSIDER),
    ("outlets:detail", "outlet", row(other_dealer_user=404, clerk2=404, outsider=404, rest=200)),
    (
        "outlets:status",
        "outlet",
        row(grapari=200, operator=200, other_dealer_user=404, clerk2=404, outsider=404, rest=403),
    ),
    ("outlets:staff_invite", "outlet", MANAGES_OUTLET),
    ("outlets:stock_return", "outlet", MANAGES_OUTLET),
    (
        "outlets:staff_remove",
        "membership",
        row(dealer_user=200, operator=200, clerk=403, grapari=403, rest=404),
    ),
    ("outlets:applications", None, DEALERS_AND_OPERATOR),
    ("outlets:application_new", None, DEALERS),
    ("outlets:application_detail", "application", row(dealer_user=200, operator=200, rest=404)),
    ("outlets:stock", None, ALL_BUT_OUTSIDER),
    ("outlets:stock_to_dealer", None, row(operator=200, rest=403)),
    ("outlets:stock_to_outlet", None, DEALERS_AND_OPERATOR),
    (
        "outlets:allocation_detail",
        "allocation",
        row(other_dealer_user=404, clerk2=404, outsider=404, rest=200),
    ),
    ("outlets:agreements", None, row(clerk=403, clerk2=403, outsider=403, rest=200)),
    ("outlets:agreement_new", None, DEALERS),
    (
        "outlets:agreement_detail",
        "agreement",
        row(other_dealer_user=404, clerk=404, clerk2=404, outsider=404, rest=200),
    ),
    (
        "outlets:agreement_document",
        "agreement",
        row(regulator=403, other_dealer_user=404, clerk=404, clerk2=404, outsider=404, rest=200),
    ),
    ("outlets:training", None, ALL_BUT_OUTSIDER),
    ("outlets:training_new", None, DEALERS_AND_OPERATOR),
    (
        "outlets:training_detail",
        "session",
        row(other_dealer_user=404, clerk2=404, outsider=404, rest=200),
    ),
]


@pytest.mark.parametrize(
    ("name", "obj", "expected"), PAGES, ids=[page[0].split(":")[1] for page in PAGES]
)
def test_every_page_for_every_persona(request, web_for, world, name, obj, expected):
    url = reverse(name, args=[world[obj]] if obj else [])

    answers = {}
    for persona in PERSONAS:
        response = web_for(request.getfixturevalue(persona)).get(url)
        answers[persona] = response.status_code

    assert answers == expected


@pytest.mark.parametrize(
    ("name", "obj", "_expected"), PAGES, ids=[p[0].split(":")[1] for p in PAGES]
)
def test_anonymous_visitors_go_to_the_login(web_for, world, name, obj, _expected):
    url = reverse(name, args=[world[obj]] if obj else [])

    response = web_for(None).get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- writes by those who may not ----------------------------------------------------------------


def test_no_one_but_the_operator_decides_an_application(request, web_for, world):
    url = reverse("outlets:application_detail", args=[world["application"]])
    for persona, status in (("dealer_user", 403), ("other_dealer_user", 404), ("grapari", 404)):
        response = web_for(request.getfixturevalue(persona)).post(url, {"decision": "approve"})
        assert response.status_code == status, persona
    assert OutletApplication.objects.get(pk=world["application"]).status == "pending"


def test_no_one_but_sanctioners_changes_a_status(request, web_for, world, outlet):
    url = reverse("outlets:status", args=[world["outlet"]])
    for persona, status in (("dealer_user", 403), ("clerk", 403), ("other_dealer_user", 404)):
        response = web_for(request.getfixturevalue(persona)).post(
            url, {"action": "suspend", "reason": "x"}
        )
        assert response.status_code == status, persona
    outlet.refresh_from_db()
    assert outlet.status == "active"


def test_another_dealer_cannot_remove_my_clerk_or_invite_to_my_outlet(
    web_for, world, other_dealer_user, clerk
):
    web = web_for(other_dealer_user)
    assert web.post(reverse("outlets:staff_remove", args=[world["membership"]])).status_code == 404
    invite = {"full_name": "X", "username": "x", "id_number": "1", "kk_number": "1"}
    assert (
        web.post(reverse("outlets:staff_invite", args=[world["outlet"]]), invite).status_code == 404
    )
    clerk.refresh_from_db()
    assert clerk.is_active and clerk.outlet_staff.is_active


def test_only_organisers_record_attendance(web_for, world, grapari, regulator, clerk):
    url = reverse("outlets:training_detail", args=[world["session"]])
    for user in (grapari, regulator, clerk):
        assert web_for(user).post(url, {"users": [clerk.pk]}).status_code == 403
    assert TrainingSession.objects.get(pk=world["session"]).attendances.count() == 1


def test_only_the_dealer_replaces_a_signed_document(web_for, world, grapari, operator):
    url = reverse("outlets:agreement_detail", args=[world["agreement"]])
    document = SimpleUploadedFile("b.pdf", MINIMAL_PDF)
    assert web_for(grapari).post(url, {"document": document}).status_code == 403


def test_notices_are_marked_read_by_dealer_admins_only(web_for, world, dealer_user, clerk):
    url = reverse("outlets:notices_read")
    assert web_for(clerk).post(url).status_code == 403
    assert web_for(dealer_user).post(url).status_code == 302
