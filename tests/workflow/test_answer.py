"""The outlet answers: inbox and answer on the web and the API; the misuse list —
another outlet's request, after the deadline, an invalid NIK, a correction without evidence —
each a clear error with nothing written."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import Clarification, ClarificationAnswer, ReviewItem
from compliance.workflow.clarifications import clarification_answer, clarifications_expire_overdue
from core.models import AuditEvent
from identity.idgen import make_nik
from tests.conftest import photo_upload

from .conftest import BIRTH, flagged_request, in_registry

pytestmark = pytest.mark.django_db
CLARIFICATIONS = "/api/v1/clarifications/"


def _nothing_written(request: Clarification) -> None:
    request.refresh_from_db()
    assert request.status == "open"
    assert not ClarificationAnswer.objects.exists()
    assert not ReviewItem.objects.exists()
    assert not AuditEvent.objects.filter(action="clarification.answered").exists()


# --- the inbox --------------------------------------------------------------------------------


def test_clerk_sees_own_requests_side_by_side_with_id_numbers_masked(
    client, clerk, registration, other_registration
):
    mine = flagged_request(registration, "name_mismatch", "id_number_mismatch")
    theirs = flagged_request(other_registration)
    client.force_login(clerk)

    inbox = client.get("/compliance/inbox/")
    page = client.get(f"/compliance/clarifications/{mine.pk}/")

    assert inbox.status_code == 200
    assert mine.msisdn.encode() in inbox.content and theirs.msisdn.encode() not in inbox.content
    assert b"Siti Nurhayati" in page.content  # the operator's value beside the portal's
    assert b"3171********0999" in page.content
    assert b"answer-form" in page.content
    assert "no-store" in page["Cache-Control"]


def test_another_outlets_request_is_a_404_on_the_web_and_the_api(
    client, api, clerk, other_registration
):
    theirs = flagged_request(other_registration)
    client.force_login(clerk)

    assert client.get(f"/compliance/clarifications/{theirs.pk}/").status_code == 404
    post = client.post(f"/compliance/clarifications/{theirs.pk}/", {"explanation": "mine now"})
    assert post.status_code == 404
    answer = api(clerk).post(f"{CLARIFICATIONS}{theirs.pk}/answer/", {"explanation": "x"})
    assert answer.status_code == 404
    assert api(clerk).get(f"{CLARIFICATIONS}{theirs.pk}/").status_code == 404
    _nothing_written(theirs)


def test_api_lists_only_own_outlets_requests(api, clerk, clerk2, registration, other_registration):
    mine = flagged_request(registration)
    flagged_request(other_registration)

    body = api(clerk).get(CLARIFICATIONS).json()

    assert [row["id"] for row in body["results"]] == [mine.pk]
    row = body["results"][0]
    assert row["can_answer"] is True
    assert row["items"][0]["details"]["operator"]["full_name"] == "Siti Nurhayati"


def test_regulator_sees_requests_masked_and_no_photos(api, regulator, registration, clerk):
    request = flagged_request(registration)
    in_registry(registration, full_name="Siti Nurhayati")
    clarification_answer(
        actor=clerk,
        clarification=request,
        explanation="Typo at the counter.",
        correction={"full_name": "Siti Nurhayati"},
        evidence_photo=photo_upload(),
    )

    body = api(regulator).get(f"{CLARIFICATIONS}{request.pk}/").json()

    assert body["items"][0]["details"]["operator"]["full_name"].startswith("S*** N")
    assert "Nurhayati" not in str(body)
    assert body["answers"][0]["evidence_photo_url"] is None
    answer = request.answers.get()
    url = f"{CLARIFICATIONS}{request.pk}/answers/{answer.pk}/evidence/"
    assert api(regulator).get(url).status_code == 403


def test_the_regulator_sees_that_an_outlet_answered_not_what_it_wrote(
    api, client, regulator, grapari, clerk, registration
):
    """An outlet's explanation is free text about the buyer's case (docs/security.md, "Masking
    by role"): the regulator gets the answer — round, author, outcome, dates, the masked
    correction — with its explanation withheld, in both the request and the review item, on the
    API and the pages; those who work the case read it whole."""
    words = "Bu Siti tinggal di Jl. Melati 7, NIK lama 3171015708900042."
    request = flagged_request(registration)
    clarification_answer(actor=clerk, clarification=request, explanation=words)
    item = ReviewItem.objects.get(clarification=request)
    reads = {
        "request": f"{CLARIFICATIONS}{request.pk}/",
        "item": f"/api/v1/review-items/{item.pk}/",
    }
    for where, url in reads.items():
        body = api(regulator).get(url).json()
        answer = (body if where == "request" else body["request"])["answers"][0]
        assert answer["explanation"] == "***", where
        assert answer["round"] == 1 and answer["created_at"] and answer["answered_by"]
        assert "Melati" not in str(body), where
        shown = api(grapari).get(url).json()
        assert (shown if where == "request" else shown["request"])["answers"][0][
            "explanation"
        ] == words
    client.force_login(regulator)
    for page in (f"/compliance/clarifications/{request.pk}/", f"/compliance/review/{item.pk}/"):
        text = client.get(page).content.decode()
        assert "Melati" not in text, page
        assert "explanation-withheld" in text, page
    client.force_login(grapari)
    assert "Melati" in client.get(f"/compliance/review/{item.pk}/").content.decode()


def test_evidence_codes_hide_what_the_viewer_may_not_see(
    api, client, clerk, clerk2, dealer_user, regulator, grapari, registration
):
    """Outsiders (another outlet's clerk) get a 404 whether or not the answer exists; so does
    everyone for an answer the request does not have. A 403 is only for who sees the request
    and its answers but not their photos: the regulator, and the dealer admin for an outlet's
    request (docs/compliance-workflow.md, "Who sees and does what")."""
    request = flagged_request(registration)
    clarification_answer(
        actor=clerk, clarification=request, explanation="Typo.", evidence_photo=photo_upload()
    )
    answer = request.answers.get()
    paths = {
        "api": f"{CLARIFICATIONS}{request.pk}/answers/{{}}/evidence/",
        "web": f"/compliance/clarifications/{request.pk}/answers/{{}}/evidence/",
    }
    missing = answer.pk + 1000
    expected = {  # user: (existing answer, missing answer)
        clerk: (200, 404),
        grapari: (200, 404),
        clerk2: (404, 404),
        dealer_user: (403, 404),
        regulator: (403, 404),
    }
    for user, (existing_code, missing_code) in expected.items():
        client.force_login(user)
        for where, path in paths.items():
            get = api(user).get if where == "api" else client.get
            assert get(path.format(answer.pk)).status_code == existing_code, (user, where)
            assert get(path.format(missing)).status_code == missing_code, (user, where)
    client.force_login(dealer_user)
    refused = client.get(paths["web"].format(answer.pk))
    assert b"staff and the reviewers" in refused.content  # says why, not "your role"


# --- answering ----------------------------------------------------------------------------------


def test_clerk_answers_with_a_correction_and_evidence_on_the_web(client, clerk, registration):
    request = flagged_request(registration)
    in_registry(registration, full_name="Siti Nurhayati")
    client.force_login(clerk)

    response = client.post(
        f"/compliance/clarifications/{request.pk}/",
        {
            "explanation": "The buyer's name is Nurhayati, I typed it wrong.",
            "full_name": "Siti Nurhayati",
            "evidence_photo": photo_upload("ktp.jpg"),
        },
    )

    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == "answered" and request.answered_at is not None
    answer = request.answers.get()
    assert answer.correction == {"full_name": "Siti Nurhayati"}
    assert answer.evidence_photo
    # The registration is untouched until GraPARI accepts.
    registration.refresh_from_db()
    assert registration.full_name == "Siti Nur'aini"
    item = ReviewItem.objects.get()
    assert (item.kind, item.clarification, item.outlet) == (
        "answered_clarification",
        request,
        registration.outlet,
    )
    assert AuditEvent.objects.filter(
        action="clarification.answered", target_id=str(request.pk)
    ).exists()
    # The evidence is served to the outlet, privately.
    photo = client.get(f"/compliance/clarifications/{request.pk}/answers/{answer.pk}/evidence/")
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"


def test_an_explanation_alone_needs_no_photo(api, clerk, registration):
    request = flagged_request(registration)

    response = api(clerk).post(
        f"{CLARIFICATIONS}{request.pk}/answer/",
        {"explanation": "The operator's record is wrong; the KTP says Nur'aini."},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "answered"


def test_a_correction_with_an_invalid_nik_is_refused_at_id_number(api, clerk, registration):
    request = flagged_request(registration, "id_number_mismatch")

    response = api(clerk).post(
        f"{CLARIFICATIONS}{request.pk}/answer/",
        {
            "explanation": "Wrong NIK typed.",
            "id_number": "9971010101900001",  # 99 is no province
            "evidence_photo": photo_upload(),
        },
        format="multipart",
    )

    assert response.status_code == 400
    assert "province" in response.json()["id_number"][0]
    _nothing_written(request)


def test_a_nik_that_disagrees_with_the_birth_date_is_refused(api, clerk, registration):
    request = flagged_request(registration, "id_number_mismatch")
    nik_of_a_man = make_nik(birth_date=BIRTH, sex="M", serial=7)
    in_registry(registration, id_number=nik_of_a_man, sex="M")  # as Dukcapil records him

    response = api(clerk).post(
        f"{CLARIFICATIONS}{request.pk}/answer/",
        {"explanation": "x", "id_number": nik_of_a_man, "evidence_photo": photo_upload()},
        format="multipart",
    )

    assert response.status_code == 400
    assert "sex" in response.json()
    _nothing_written(request)


def test_a_valid_nik_correction_is_stored_encrypted_and_masked(api, clerk, registration):
    request = flagged_request(registration, "id_number_mismatch")
    new_nik = make_nik(birth_date=BIRTH, sex="F", serial=4321)
    in_registry(registration, id_number=new_nik)

    response = api(clerk).post(
        f"{CLARIFICATIONS}{request.pk}/answer/",
        {"explanation": "Typo", "id_number": new_nik, "evidence_photo": photo_upload()},
        format="multipart",
    )

    assert response.status_code == 201, response.content
    answer = ClarificationAnswer.objects.get()
    assert answer.correction == {"id_number": new_nik[:4] + "********" + new_nik[-4:]}
    assert new_nik not in answer.correction_id_number_encrypted
    assert new_nik not in str(AuditEvent.objects.values_list("after", flat=True))


def test_a_correction_needs_evidence_and_an_explanation(client, clerk, registration):
    request = flagged_request(registration)
    in_registry(registration, full_name="Siti Nurhayati")
    client.force_login(clerk)

    response = client.post(
        f"/compliance/clarifications/{request.pk}/", {"full_name": "Siti Nurhayati"}
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "explanation" in errors and "evidence_photo" in errors
    _nothing_written(request)


def test_answering_after_the_deadline_is_a_clear_error(api, client, clerk, registration):
    request = flagged_request(registration)
    Clarification.objects.filter(pk=request.pk).update(due_at=timezone.now() - timedelta(hours=1))

    response = api(clerk).post(
        f"{CLARIFICATIONS}{request.pk}/answer/", {"explanation": "late"}, format="json"
    )

    assert response.status_code == 400
    assert "deadline" in response.json()["non_field_errors"][0]
    _nothing_written(request)

    # Once the sweep has expired it, the same clear answer.
    assert clarifications_expire_overdue() == 1
    client.force_login(clerk)
    page = client.post(f"/compliance/clarifications/{request.pk}/", {"explanation": "late"})
    assert page.status_code == 200
    assert b"can no longer be answered" in page.content


def test_answering_twice_is_refused(api, clerk, registration):
    request = flagged_request(registration)
    url = f"{CLARIFICATIONS}{request.pk}/answer/"
    assert api(clerk).post(url, {"explanation": "once"}, format="json").status_code == 201

    again = api(clerk).post(url, {"explanation": "twice"}, format="json")

    assert again.status_code == 400
    assert "already answered" in again.json()["non_field_errors"][0]
    assert ClarificationAnswer.objects.count() == 1


def test_grapari_cannot_answer_for_the_outlet(api, grapari, registration):
    request = flagged_request(registration)

    response = api(grapari).post(
        f"{CLARIFICATIONS}{request.pk}/answer/", {"explanation": "me"}, format="json"
    )

    assert response.status_code == 403
    _nothing_written(request)


def test_dealer_answers_its_own_requests_but_not_its_outlets(
    api, dealer_user, outlet, registration
):
    from compliance.models import Clarification as C
    from tests.factories import StarterPackFactory

    from .conftest import hand_over, open_discrepancy

    outlet_request = flagged_request(registration)
    pack = StarterPackFactory(outlet=outlet)
    hand_over(open_discrepancy(kind="unregistered_activation", msisdn=pack.msisdn, outlet=outlet))
    dealer_request = C.objects.get(msisdn=pack.msisdn)

    listed = {row["id"] for row in api(dealer_user).get(CLARIFICATIONS).json()["results"]}
    assert listed == {outlet_request.pk, dealer_request.pk}
    refused = api(dealer_user).post(
        f"{CLARIFICATIONS}{outlet_request.pk}/answer/", {"explanation": "x"}, format="json"
    )
    assert refused.status_code == 403
    ok = api(dealer_user).post(
        f"{CLARIFICATIONS}{dealer_request.pk}/answer/",
        {"explanation": "Sold by a sub-reseller without registering; we retrained them."},
        format="json",
    )
    assert ok.status_code == 201
    # A correction makes no sense without a registration.
    assert ok.json()["status"] == "answered"
