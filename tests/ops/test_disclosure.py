"""One disclosure policy per role (``core.disclosure``, docs/security.md "Masking by role"),
held by tests generated from the code, not from a list of screens:

- every serializer class of the project is walked: a field that carries a buyer's personal
  data (by its name, ``core.disclosure.FIELD_KINDS``) must go through the policy
  (``PersonalField`` / ``PersonalMappingField``) unless it is an input or a staff member's own
  data, each such exception named here with its reason;
- every page and API endpoint of the URL conf is read (GET) by every persona over a registration,
  a clarification with a proposed correction, a discrepancy and the operator's record whose
  personal values are unmistakable; whatever the policy masks or withholds from a persona must
  not appear in full in any answer (JSON, HTML, PDF text) that persona gets.
"""

from datetime import date

import pytest
from rest_framework import serializers

from core import disclosure
from core.disclosure import FIELD_KINDS, Kind, PersonalField, PersonalMappingField, Shown
from tests.ops.test_access_matrix import (
    FIXTURE,
    ROLES,
    _client,
    build_world,
    collected,
    url_for,
)
from tests.pdftext import pdf_text

PROJECT_APPS = (
    "accounts",
    "compliance",
    "core",
    "outlets",
    "privacy",
    "reports",
    "subscribers",
    "registration_portal",
)

# Serializers whose personal-data field names do not carry a buyer's data shown to a reader.
NOT_SHOWN = {
    "subscribers.serializers.RegistrationInputSerializer": "request body (input only)",
    "subscribers.serializers.RegistrationWithPhotosInputSerializer": "request body (input only)",
    "subscribers.serializers.RevealedIdNumberSerializer": (
        "the full ID number on purpose: needs subscribers.reveal_id_number, audited"
    ),
    "compliance.workflow.api.clarifications.AnswerInputSerializer": "request body (input only)",
    "compliance.workflow.api.clarifications.AnswerWithPhotoInputSerializer": (
        "request body (input only)"
    ),
    "outlets.api.staff.StaffInviteSerializer": (
        "request body: a new staff member's own identity (input only)"
    ),
    "outlets.api.staff.InvitedStaffSerializer": "a staff member's own account name, not a buyer's",
    "outlets.api.training.AttendanceSerializer": "a staff member's own account name",
    "outlets.api.staff.StaffSerializer": "a staff member's own account name, not a buyer's",
    "outlets.api.outlets.OutletApplicationSerializer": (
        "the outlet's business address, a party to an agreement with the operator"
    ),
    "outlets.api.outlets.OutletApplicationInputSerializer": "request body (input only)",
    "outlets.api.agreements.PartySerializer": "a business party's contact address",
}


def _project_serializers():
    collected()  # importing the URL conf imports every API module
    seen, todo = set(), [serializers.BaseSerializer]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return sorted(
        (c for c in seen if c.__module__.split(".")[0] in PROJECT_APPS),
        key=lambda c: f"{c.__module__}.{c.__qualname__}",
    )


def _fields(cls):
    try:
        return cls().fields
    except Exception:  # a serializer that needs arguments: none of the project's does
        pytest.fail(f"cannot instantiate {cls.__module__}.{cls.__qualname__}")


def test_every_personal_field_of_every_serializer_goes_through_the_policy():
    found, unguarded, stale = 0, [], set(NOT_SHOWN)
    for cls in _project_serializers():
        name = f"{cls.__module__}.{cls.__qualname__}"
        for field_name, field in _fields(cls).items():
            source = (getattr(field, "source", None) or field_name).rsplit(".", 1)[-1]
            if field_name not in FIELD_KINDS and source not in FIELD_KINDS:
                continue
            found += 1
            if isinstance(field, PersonalField | PersonalMappingField):
                continue
            if name in NOT_SHOWN:
                stale.discard(name)
                continue
            unguarded.append(f"{name}.{field_name} ({type(field).__name__})")
    assert found >= 10, "the walk no longer sees the serializers"
    assert not unguarded, (
        "personal fields that bypass core.disclosure (use PersonalField, or name the "
        "serializer in NOT_SHOWN with a reason):\n  " + "\n  ".join(unguarded)
    )
    assert not stale, f"NOT_SHOWN entries without a personal field any more: {sorted(stale)}"


# --- every page and endpoint, every persona ---------------------------------------------------

BUYER = {
    "full_name": "Sentinelia Purnamasari",
    "birth_place": "Kotasentinel",
    "birth_date": date(1987, 6, 5),
    "address": "Jalan Sentinelweg 77",
}
CORRECTION = {
    "full_name": "Koreksiana Sentosa",
    "birth_place": "Kotakoreksi",
    "birth_date": "1986-04-03",
    "address": "Jalan Koreksiweg 99",
}
EXPLANATION = "Pembeli Sentinelia tinggal di Jalan Sentinelweg, kata kasir."  # free text
MASKED_NAME = "S********* P**********"  # initials of BUYER["full_name"]
OPERATOR_SIDE = {"full_name": "Operatoria Sentinelsen", "birth_date": "1985-02-01"}


def _full_forms(kind: Kind) -> list[str]:
    """How a value of ``kind`` reads in full in any answer (JSON, a page, a PDF)."""
    values = {
        Kind.NAME: [BUYER["full_name"], CORRECTION["full_name"], OPERATOR_SIDE["full_name"]],
        Kind.BIRTH_PLACE: [BUYER["birth_place"], CORRECTION["birth_place"]],
        Kind.ADDRESS: ["Sentinelweg", "Koreksiweg"],
        Kind.BIRTH_DATE: [
            "1987-06-05",
            "5 June 1987",
            "5 Juni 1987",
            "1986-04-03",
            "1985-02-01",
            "3 April 1986",
        ],
        Kind.FREE_TEXT: [EXPLANATION, "kata kasir"],
    }
    return values.get(kind, [])


def _plant(world):
    """The world's registration, answer and discrepancy given unmistakable personal values."""
    from compliance.models import ClarificationAnswer, Discrepancy
    from subscribers.models import Registration

    Registration.objects.filter(pk=world["registration"]).update(**BUYER)
    ClarificationAnswer.objects.filter(pk=world["answer"]).update(
        correction=CORRECTION, explanation=EXPLANATION
    )
    Discrepancy.objects.filter(pk=world["discrepancy"]).update(
        details={
            "portal": {"full_name": BUYER["full_name"], "birth_date": "1987-06-05"},
            "operator": OPERATOR_SIDE,
        }
    )
    registration = Registration.objects.get(pk=world["registration"])
    return registration


def _text(response) -> str:
    content_type = response.get("Content-Type", "")
    if "pdf" in content_type:
        return pdf_text(
            b"".join(response.streaming_content) if response.streaming else response.content
        )
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    if content_type.startswith(("application/json", "text/")):
        return response.content.decode(errors="replace")
    return ""


@pytest.mark.django_db
def test_no_page_or_endpoint_shows_a_persona_more_than_the_policy(request):
    world = build_world(request)
    registration = _plant(world)
    personas = {role: request.getfixturevalue(f) for role, f in FIXTURE.items()}
    clients = {role: _client(role, request) for role in ROLES}
    urls = [u for u in (url_for(name, world) for name in collected()) if u]
    query = registration.msisdn[-8:]
    urls += [f"/api/v1/registrations/?q={query}", f"/registrations/?q={query}"]
    leaks, seen_masked = [], set()
    for role in ROLES:
        user = personas.get(role)
        hidden = [
            (kind, form)
            for kind in Kind
            if disclosure.shown(user, kind) != Shown.FULL
            for form in _full_forms(kind)
        ]
        for url in urls:
            response = clients[role].get(url)
            if response.status_code != 200:
                continue
            text = _text(response)
            leaks += [f"{role} {url}: {kind} {form!r}" for kind, form in hidden if form in text]
            if MASKED_NAME in text:
                seen_masked.add((role, url.split("?")[0]))
    assert not leaks, "personal data shown beyond the policy:\n  " + "\n  ".join(leaks)
    # Not vacuous: the regulator reached the registration and got its name masked, by the API
    # (list, detail, search) and by the pages.
    assert {
        ("regulator", f"/api/v1/registrations/{registration.pk}/"),
        ("regulator", "/api/v1/registrations/"),
        ("regulator", f"/registrations/{registration.pk}/"),
    } <= seen_masked, seen_masked


@pytest.mark.django_db
def test_staff_roles_see_what_they_work_with(clerk, grapari, regulator, request):
    """The other side of the policy: the clerk and GraPARI see the buyer and the proposed
    correction in full (they work with them); the regulator the masked forms."""
    world = build_world(request)
    registration = _plant(world)
    detail = f"/api/v1/registrations/{registration.pk}/"
    clarification = f"/api/v1/clarifications/{world['clarification']}/"
    for role in ("clerk", "grapari"):
        client = _client(role, request)
        assert client.get(detail).json()["full_name"] == BUYER["full_name"]
        answer = client.get(clarification).json()["answers"][0]
        assert answer["correction"]["address"] == CORRECTION["address"]
        assert answer["correction"]["birth_date"] == CORRECTION["birth_date"]
        assert answer["explanation"] == EXPLANATION
    client = _client("regulator", request)
    assert client.get(detail).json()["full_name"] == MASKED_NAME
    answer = client.get(clarification).json()["answers"][0]
    assert answer["correction"] == {
        "full_name": "K********* S******",
        "birth_place": "K**********",
        "birth_date": "1986-**-**",
        "address": disclosure.WITHHELD_TEXT,
    }
    # That the outlet answered, when and in which round, not what it wrote.
    assert answer["explanation"] == disclosure.WITHHELD_TEXT
    assert answer["created_at"] and answer["round"] == 1
