"""The door's limits hold against attempts sent at the same moment (PostgreSQL, threads): each
limit's count and the row it lets in are one step, so a burst is counted as if it came one
request after the other — sessions, code tries, and typed numbers that could not be reported."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from holders import services
from holders.models import HolderSession, SmsMessage

from .conftest import last_code, make_person, new_msisdn

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _burst(calls) -> list:
    """Run each call in its own thread, all released at once; their results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:  # the outcome is what the test asserts
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _started(results) -> list[HolderSession]:
    unexpected = [r for r in results if not isinstance(r, HolderSession | services.HolderThrottled)]
    assert not unexpected, unexpected
    return [r for r in results if isinstance(r, HolderSession)]


def _start(person, msisdn: str, client_ip: str):
    return lambda: services.holder_session_start(
        id_number=person.nik, kk_number=person.kk, msisdn=msisdn, client_ip=client_ip
    )


def test_a_burst_for_one_nik_opens_no_more_sessions_than_the_limit(
    require_postgres, outlet, settings
):
    settings.HOLDER_MAX_PER_NIK = 5
    person = make_person(outlet, numbers=1)
    calls = [_start(person, person.msisdns[0], f"10.1.0.{i + 1}") for i in range(12)]

    started = _started(_burst(calls))

    assert len(started) == 5
    assert HolderSession.objects.count() == 5
    # Five codes went out, no more.
    assert SmsMessage.objects.filter(to=person.msisdns[0]).count() == 5


def test_a_burst_to_one_number_opens_no_more_sessions_than_the_limit(
    require_postgres, outlet, settings
):
    settings.HOLDER_MAX_PER_NUMBER = 3
    owner = make_person(outlet, numbers=1)
    others = [make_person(outlet, numbers=0) for _ in range(10)]
    calls = [_start(p, owner.msisdns[0], f"10.2.0.{i + 1}") for i, p in enumerate(others)]

    started = _started(_burst(calls))

    assert len(started) == 3
    assert HolderSession.objects.filter(msisdn=owner.msisdns[0]).count() == 3


def test_a_burst_from_one_client_opens_no_more_sessions_than_the_limit(
    require_postgres, outlet, settings
):
    settings.HOLDER_MAX_PER_CLIENT = 4
    people = [make_person(outlet, numbers=0) for _ in range(10)]
    calls = [_start(p, new_msisdn(), "10.3.0.1") for p in people]

    started = _started(_burst(calls))

    assert len(started) == 4
    assert HolderSession.objects.count() == 4


def test_a_burst_of_face_checks_for_one_nik_is_held_to_the_limit(
    require_postgres, outlet, settings
):
    settings.HOLDER_MAX_PER_NIK = 3
    person = make_person(outlet, numbers=0)

    def face(index):
        def call():
            try:
                return services.holder_face_start(
                    id_number=person.nik, image=b"not a face", client_ip=f"10.4.0.{index + 1}"
                )
            except ValidationError as exc:  # no match: the session is still written
                return exc

        return call

    results = _burst([face(i) for i in range(10)])

    throttled = [r for r in results if isinstance(r, services.HolderThrottled)]
    assert len(throttled) == 7, results
    assert HolderSession.objects.filter(method="face").count() == 3


def test_a_burst_of_wrong_codes_uses_up_the_tries_once(require_postgres, outlet, settings):
    """Each try is counted under the session row's lock: ten wrong codes sent at once count as
    ten tries (five used, five refused unchecked), and the right code after them is refused."""
    settings.HOLDER_CODE_MAX_ATTEMPTS = 5
    person = make_person(outlet, numbers=1)
    session = _start(person, person.msisdns[0], "10.5.0.1")()
    right = last_code(person.msisdns[0])
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    def verify():
        return services.holder_session_verify(session_id=session.pk, code=wrong)

    results = _burst([verify for _ in range(10)])

    assert all(isinstance(r, ValidationError) for r in results), results
    session.refresh_from_db()
    assert session.attempts == 5
    with pytest.raises(ValidationError):
        services.holder_session_verify(session_id=session.pk, code=right)
    session.refresh_from_db()
    assert session.verified_at is None


def _verified_session(person) -> HolderSession:
    now = timezone.now()
    return HolderSession.objects.create(
        nik_digest=person.registrations[0].id_number_digest,
        nik_masked="3171********0000",
        msisdn=person.msisdns[0],
        client_digest="x",
        matched=True,
        code_hash="",
        code_expires_at=now,
        verified_at=now,
        token_hash=f"t{now.timestamp()}{id(person)}",
        token_expires_at=now + timedelta(minutes=15),
        created_at=now,
    )


def _typed_guess(session, index: int):
    def call():
        try:
            return services.holder_dispute_open(
                session=session,
                msisdn=f"0811{index:04d}9999",
                answer_url=lambda token: f"https://x/{token}",
            )
        except ValidationError as exc:
            return exc

    return call


def _misses(person) -> list[int]:
    digest = person.registrations[0].id_number_digest
    return list(
        HolderSession.objects.filter(nik_digest=digest).values_list("dispute_misses", flat=True)
    )


def test_a_burst_of_typed_guesses_in_one_session_counts_each_miss(
    require_postgres, outlet, settings
):
    settings.HOLDER_DISPUTE_MISSES_PER_SESSION = 3
    settings.HOLDER_DISPUTE_MISSES_PER_NIK = 100
    person = make_person(outlet, numbers=2)
    session = _verified_session(person)

    results = _burst([_typed_guess(session, i) for i in range(10)])

    ended = [r for r in results if isinstance(r, services.HolderSessionEnded)]
    assert len(ended) == 8, results  # the third miss ended it; the rest were not looked at
    assert _misses(person) == [3]
    session.refresh_from_db()
    assert session.token_expires_at <= timezone.now()  # ended


def test_a_burst_of_typed_guesses_across_sessions_of_one_nik_is_held_to_the_nik_limit(
    require_postgres, outlet, settings
):
    settings.HOLDER_DISPUTE_MISSES_PER_SESSION = 3
    settings.HOLDER_DISPUTE_MISSES_PER_NIK = 5
    person = make_person(outlet, numbers=2)
    sessions = [_verified_session(person) for _ in range(4)]
    calls = [_typed_guess(s, i * 3 + j) for i, s in enumerate(sessions) for j in range(3)]

    results = _burst(calls)

    assert sum(_misses(person)) == 5, results
    assert not any(isinstance(r, HolderSession) for r in results)
