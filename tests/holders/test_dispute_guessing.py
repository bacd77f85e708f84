"""The dispute form is not a way to learn the masked numbers: a number typed in full that cannot
be reported gets one answer whatever the reason, and a few such misses end the session — on the
API and on the page; the holder picking from their list is not affected."""

import re

import pytest

from core.models import AuditEvent
from holders.models import HolderDispute, HolderSession, StoredSms
from subscribers.models import Registration

from .conftest import log_in, make_person, new_msisdn

pytestmark = pytest.mark.django_db


def _dispute(client, msisdn):
    return client.post("/api/v1/holder/disputes/", {"msisdn": msisdn, "note": ""}, format="json")


def _local(msisdn: str) -> str:
    return "0" + msisdn[2:]


def _ref_of(client, index: int) -> str:
    return client.get("/api/v1/holder/numbers/").json()["results"][index]["ref"]


def _wrong_guess(msisdn: str, n: int) -> str:
    """The masked number's shape (first four and last four digits) with other middle digits."""
    local = _local(msisdn)
    middle = f"{(int(local[4:-4]) + n) % 10 ** len(local[4:-4]):0{len(local[4:-4])}d}"
    return local[:4] + middle + local[-4:]


@pytest.fixture
def holder(holder_api, outlet):
    person = make_person(outlet, numbers=4)
    log_in(holder_api, person)
    return person


def test_a_typed_number_that_cannot_be_reported_gets_one_answer_whatever_the_reason(
    holder_api, holder, outlet, settings
):
    settings.HOLDER_DISPUTE_MISSES_PER_SESSION = 10
    settings.HOLDER_DISPUTE_MISSES_PER_NIK = 10
    assert _dispute(holder_api, _ref_of(holder_api, 1)).status_code == 201  # reported
    Registration.objects.filter(pk=holder.registrations[2].pk).update(status="blocked")
    stranger = make_person(outlet, numbers=1)

    answers = [
        _dispute(holder_api, typed)
        for typed in (
            _wrong_guess(holder.msisdns[3], 1),  # nobody's
            _local(stranger.msisdns[0]),  # someone else's
            _local(holder.msisdns[1]),  # on the NIK, already reported
            _local(holder.msisdns[2]),  # on the NIK, blocked
        )
    ]

    assert [a.status_code for a in answers] == [400] * 4
    shapes = {re.sub(r"\d+", "N", str(a.json())) for a in answers}
    assert len(shapes) == 1, shapes
    assert "cannot be reported here" in shapes.pop()
    assert HolderSession.objects.get(verified_at__isnull=False).dispute_misses == 4
    assert AuditEvent.objects.filter(action="holder.dispute_refused").count() == 4
    assert HolderDispute.objects.count() == 1


def test_picked_from_the_list_the_holder_is_told_what_is_wrong(holder_api, holder):
    """The list already shows the status: the ref path says it plainly and counts no miss."""
    ref = _ref_of(holder_api, 1)
    assert _dispute(holder_api, ref).status_code == 201
    again = _dispute(holder_api, ref)
    assert again.status_code == 400
    assert "already been reported" in again.json()["msisdn"][0]
    assert HolderSession.objects.get(verified_at__isnull=False).dispute_misses == 0


def test_a_number_typed_in_full_still_reports_it(holder_api, holder):
    answer = _dispute(holder_api, _local(holder.msisdns[1]))
    assert answer.status_code == 201, answer.content
    assert HolderDispute.objects.get().msisdn == holder.msisdns[1]


def test_wrong_guesses_end_the_session_and_the_right_number_is_refused_after(
    holder_api, holder, settings
):
    settings.HOLDER_DISPUTE_MISSES_PER_SESSION = 3
    target = holder.msisdns[1]
    first = _dispute(holder_api, _wrong_guess(target, 1))
    second = _dispute(holder_api, _wrong_guess(target, 2))
    assert [first.status_code, second.status_code] == [400, 400]
    third = _dispute(holder_api, _wrong_guess(target, 3))
    assert third.status_code == 429
    assert "Retry-After" in third
    assert "session has ended" in third.json()["detail"]

    right = _dispute(holder_api, _local(target))
    assert right.status_code == 401  # the session is over: nothing is looked at
    assert holder_api.get("/api/v1/holder/numbers/").status_code == 401
    assert not HolderDispute.objects.exists()
    assert not StoredSms.objects.filter(to=target).exists()
    assert AuditEvent.objects.filter(action="holder.session_ended").count() == 1


def test_the_nik_limit_spans_sessions_and_refuses_typed_numbers_unchecked(
    holder_api, holder, settings
):
    settings.HOLDER_DISPUTE_MISSES_PER_SESSION = 3
    settings.HOLDER_DISPUTE_MISSES_PER_NIK = 4
    target = holder.msisdns[1]
    for n in range(2):
        assert _dispute(holder_api, _wrong_guess(target, n + 1)).status_code == 400
    log_in(holder_api, holder)  # a new session of the same NIK: 2 misses so far
    assert _dispute(holder_api, _wrong_guess(target, 3)).status_code == 400
    assert _dispute(holder_api, _wrong_guess(target, 4)).status_code == 429  # the NIK's 4th

    log_in(holder_api, holder)
    right = _dispute(holder_api, _local(target))
    assert right.status_code == 429  # the right number too: it is not looked at
    assert not HolderDispute.objects.exists()

    # The holder picking from their list is not locked out by a guesser.
    log_in(holder_api, holder)
    assert _dispute(holder_api, _ref_of(holder_api, 1)).status_code == 201


class TestWeb:
    @pytest.fixture
    def web(self, client, holder_api, outlet, django_capture_on_commit_callbacks):
        from .test_statement_choice_sms import _log_in_web

        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        person = make_person(outlet, numbers=3)
        _log_in_web(client, person, django_capture_on_commit_callbacks)
        return person

    def _post(self, client, number):
        return client.post("/nomor-saya/laporkan/", {"number": number, "note": ""}, follow=True)

    def test_wrong_guesses_on_the_page_end_the_session(self, client, web, settings):
        settings.HOLDER_DISPUTE_MISSES_PER_SESSION = 3
        target = web.msisdns[1]
        stranger = _local(new_msisdn())
        first = self._post(client, _wrong_guess(target, 1)).content.decode()
        second = self._post(client, stranger).content.decode()
        for page in (first, second):
            assert "cannot be reported here" in page
            assert "not among" not in page
        ended = self._post(client, _wrong_guess(target, 2))
        assert ended.redirect_chain[-1][0].endswith("/nomor-saya/")
        assert "session has ended" in ended.content.decode()

        right = client.post("/nomor-saya/laporkan/", {"number": _local(target), "note": ""})
        assert right.status_code == 302 and right["Location"].endswith("/nomor-saya/")
        assert client.get("/nomor-saya/nomor/").status_code == 302
        assert not HolderDispute.objects.exists()
        assert not StoredSms.objects.filter(to=target).exists()

    def test_the_page_reports_the_number_picked_from_the_list(self, client, web):
        page = client.get("/nomor-saya/nomor/").content.decode()
        refs = re.findall(r'name="number" value="([0-9a-f]+)"', page)
        assert refs
        self._post(client, refs[-1])
        assert HolderDispute.objects.count() == 1
        assert HolderSession.objects.get(verified_at__isnull=False).dispute_misses == 0
