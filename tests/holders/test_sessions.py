"""Opening the door: the same answer and the same work whatever the facts; the code's life."""

import re
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import AuditEvent
from holders import tasks
from holders.models import HolderSession, SmsMessage, StoredSms

from .conftest import last_code, log_in, make_person, new_msisdn, start

pytestmark = pytest.mark.django_db


def _attempt(client, person, **overrides):
    """One attempt; what it answered, the queries it ran (their shapes) and the tasks queued."""
    with (
        mock.patch.object(tasks.deliver_sms, "apply_async") as queued,
        CaptureQueriesContext(connection) as queries,
    ):
        answer = start(client, person, **overrides)
    shapes = [  # savepoint names and the throttle locks' keys differ from one call to the next
        re.sub(r"'[^']*'", "'…'", re.sub(r'"s\d+_x\d+"', "SAVEPOINT", q["sql"])).split(" WHERE ")[
            0
        ][:80]
        for q in queries.captured_queries
    ]
    return answer, shapes, [c.kwargs.get("args", c.args) for c in queued.call_args_list]


def test_every_wrong_fact_gets_the_answer_and_the_work_of_the_right_one(holder_api, outlet):
    right = make_person(outlet)
    other = make_person(outlet)
    unknown = make_person(outlet, numbers=0)
    ok, ok_queries, ok_tasks = _attempt(holder_api, right)
    wrong_kk, kk_queries, kk_tasks = _attempt(holder_api, right, kk_number=other.kk)
    not_on_nik, number_queries, number_tasks = _attempt(holder_api, right, msisdn=other.msisdns[0])
    nobody, nobody_queries, nobody_tasks = _attempt(holder_api, unknown, msisdn=new_msisdn())
    for answer in (ok, wrong_kk, not_on_nik, nobody):
        assert answer.status_code == 202
        assert set(answer.json()) == {"session"}
        assert answer["Content-Type"] == ok["Content-Type"]
    assert ok_queries == kk_queries == number_queries == nobody_queries
    assert len(ok_tasks) == len(kk_tasks) == len(number_tasks) == len(nobody_tasks) == 1
    # The work is the same; only the right one's SMS is ever sent.
    assert SmsMessage.objects.count() == 4
    assert SmsMessage.objects.filter(status="pending").count() == 1
    for message in SmsMessage.objects.all():
        tasks.deliver_sms.apply(args=[message.pk])
    assert list(StoredSms.objects.values_list("to", flat=True)) == [right.msisdns[0]]


def test_the_right_code_opens_the_door_for_fifteen_minutes(holder_api, person):
    token = log_in(holder_api, person)
    assert holder_api.get("/api/v1/holder/numbers/").status_code == 200
    assert not HolderSession.objects.filter(token_hash=token).exists()  # stored hashed only
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        late = holder_api.get("/api/v1/holder/numbers/")
    assert late.status_code == 401
    assert late["WWW-Authenticate"] == "Bearer"


def test_a_code_for_a_wrong_kk_never_opens_it(holder_api, outlet):
    right, other = make_person(outlet), make_person(outlet)
    session = start(holder_api, right, kk_number=other.kk).json()["session"]
    # Nothing was sent; even the code the session holds (guessed right) does not open it.
    assert not StoredSms.objects.exists()
    for code in ("000000", "123456", "999999"):
        answer = holder_api.post(
            f"/api/v1/holder/sessions/{session}/verify/", {"code": code}, format="json"
        )
        assert answer.status_code == 400
        assert "code" in answer.json()


def test_a_code_expires_after_ten_minutes(holder_api, person):
    session = start(holder_api, person).json()["session"]
    code = last_code(person.msisdns[0])
    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1)):
        answer = holder_api.post(
            f"/api/v1/holder/sessions/{session}/verify/", {"code": code}, format="json"
        )
    assert answer.status_code == 400
    assert "expired" in answer.json()["code"][0]


def test_five_wrong_tries_lock_the_code(holder_api, person):
    session = start(holder_api, person).json()["session"]
    code = last_code(person.msisdns[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    url = f"/api/v1/holder/sessions/{session}/verify/"
    for _ in range(5):
        assert holder_api.post(url, {"code": wrong}, format="json").status_code == 400
    locked = holder_api.post(url, {"code": code}, format="json")
    assert locked.status_code == 400
    assert "Too many" in locked.json()["code"][0]
    assert AuditEvent.objects.filter(action="holder.code_refused").count() == 6


def test_four_wrong_tries_then_the_right_one(holder_api, person):
    session = start(holder_api, person).json()["session"]
    code = last_code(person.msisdns[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    url = f"/api/v1/holder/sessions/{session}/verify/"
    for _ in range(4):
        holder_api.post(url, {"code": wrong}, format="json")
    assert holder_api.post(url, {"code": code}, format="json").status_code == 200
    # Used once only.
    assert holder_api.post(url, {"code": code}, format="json").status_code == 400


def test_an_unknown_session_is_a_400(holder_api):
    answer = holder_api.post(
        "/api/v1/holder/sessions/00000000-0000-0000-0000-000000000000/verify/",
        {"code": "123456"},
        format="json",
    )
    assert answer.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"id_number": "123", "kk_number": "3171010901120500", "msisdn": "081112345678"},
        {"id_number": "3171010405880500", "kk_number": "x", "msisdn": "081112345678"},
        {"id_number": "3171010405880500", "kk_number": "3171010901120500", "msisdn": "12"},
        {},
    ],
)
def test_malformed_input_is_a_400_and_writes_nothing(holder_api, body):
    answer = holder_api.post("/api/v1/holder/sessions/", body, format="json")
    assert answer.status_code == 400
    assert not HolderSession.objects.exists()
    assert not SmsMessage.objects.exists()


def test_every_step_is_audited_without_the_nik_in_clear(holder_api, person):
    log_in(holder_api, person)
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "holder.session_start" in actions and "holder.session_verify" in actions
    for event in AuditEvent.objects.filter(action__startswith="holder."):
        assert person.nik not in str(event.before) + str(event.after) + event.target_repr
        assert person.kk not in str(event.before) + str(event.after)


class TestThrottles:
    @pytest.fixture(autouse=True)
    def _limits(self, settings):
        settings.HOLDER_MAX_PER_NIK = 3
        settings.HOLDER_MAX_PER_NUMBER = 3
        settings.HOLDER_MAX_PER_CLIENT = 5

    def test_per_nik(self, holder_api, outlet, person):
        for index in range(3):
            holder_api.defaults["REMOTE_ADDR"] = f"10.0.0.{index + 1}"
            assert start(holder_api, person, msisdn=new_msisdn()).status_code == 202
        holder_api.defaults["REMOTE_ADDR"] = "10.0.0.9"
        answer = start(holder_api, person, msisdn=new_msisdn())
        assert answer.status_code == 429
        assert "Retry-After" in answer
        assert HolderSession.objects.count() == 3

    def test_per_number(self, holder_api, outlet, person):
        for index in range(3):
            holder_api.defaults["REMOTE_ADDR"] = f"10.0.1.{index + 1}"
            other = make_person(outlet, numbers=0)
            assert start(holder_api, other, msisdn=person.msisdns[0]).status_code == 202
        holder_api.defaults["REMOTE_ADDR"] = "10.0.1.9"
        assert start(holder_api, person).status_code == 429

    def test_per_client_address(self, holder_api, outlet):
        for _ in range(5):
            assert start(holder_api, make_person(outlet, numbers=1)).status_code == 202
        assert start(holder_api, make_person(outlet, numbers=1)).status_code == 429
        assert AuditEvent.objects.filter(action="holder.throttled").count() == 1

    def test_the_window_passes(self, holder_api, outlet, person):
        for _ in range(3):
            start(holder_api, person)
        assert start(holder_api, person).status_code == 429
        with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=1)):
            assert start(holder_api, person).status_code == 202


def test_sms_outbox_prints_the_code(holder_api, person, capsys):
    start(holder_api, person)
    call_command("sms_outbox", "--to", person.msisdns[0], "--last")
    out = capsys.readouterr().out
    assert last_code(person.msisdns[0]) in out
    assert person.msisdns[0] in out
