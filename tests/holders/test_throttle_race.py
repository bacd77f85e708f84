"""The door's limits hold against attempts sent at the same moment (PostgreSQL, threads): each
limit's count and the row it lets in are one step, so a burst is counted as if it came one
request after the other."""

import threading

import pytest
from django.db import connection

from holders import services
from holders.models import HolderSession, SmsMessage

from .conftest import make_person, new_msisdn

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
            except services.ValidationError as exc:  # no match: the session is still written
                return exc

        return call

    results = _burst([face(i) for i in range(10)])

    throttled = [r for r in results if isinstance(r, services.HolderThrottled)]
    assert len(throttled) == 7, results
    assert HolderSession.objects.filter(method="face").count() == 3


def test_a_burst_of_wrong_codes_uses_up_the_tries_once(require_postgres, outlet, settings):
    """Each try is counted under the session row's lock: ten wrong codes sent at once count as
    ten tries (five used, five refused unchecked), and the right code after them is refused."""
    from django.core.exceptions import ValidationError

    from .conftest import last_code

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
