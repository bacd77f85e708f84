"""Two reviewers race for one item on PostgreSQL, from two threads (two connections): exactly
one claim wins; two decisions racing on one item, exactly one is taken."""

import threading

import pytest
from django.db import connection

from compliance.models import ReviewItem, Violation
from compliance.workflow.review import review_item_claim, review_item_decide
from compliance.workflow.support import WorkflowConflict
from core.models import AuditEvent
from tests.factories import UserFactory

from .conftest import answered_item

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 5


def _race(fn, actors):
    """Run ``fn(actor)`` in one thread per actor, released together; (outcomes, errors)."""
    barrier = threading.Barrier(len(actors))
    outcomes: dict[str, str] = {}

    def run(actor):
        try:
            barrier.wait()
            fn(actor)
            outcomes[actor.username] = "won"
        except WorkflowConflict as exc:
            outcomes[actor.username] = exc.code
        except Exception as exc:  # pragma: no cover - surfaced by the assertion below
            outcomes[actor.username] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(actor,)) for actor in actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.fixture
def reviewers(db):
    return [UserFactory(username=f"reviewer{n}", role="grapari") for n in range(2)]


def test_two_reviewers_never_hold_the_same_item(
    require_postgres, policies, reviewers, outlet, clerk
):
    from .conftest import make_registration

    for _ in range(ROUNDS):
        item = answered_item(make_registration(outlet), clerk)

        outcomes = _race(lambda actor, i=item: review_item_claim(actor=actor, item=i), reviewers)

        assert sorted(outcomes.values()) == ["claimed_by_other", "won"], outcomes
        item.refresh_from_db()
        winner = next(name for name, outcome in outcomes.items() if outcome == "won")
        assert item.claimed_by.username == winner
        assert (
            AuditEvent.objects.filter(action="review_item.claim", target_id=str(item.pk)).count()
            == 1
        )


def test_two_decisions_on_one_item_one_is_taken(
    require_postgres, policies, reviewers, outlet, clerk
):
    from .conftest import make_registration

    item = answered_item(make_registration(outlet), clerk)

    outcomes = _race(
        lambda actor: review_item_decide(
            actor=actor, item=ReviewItem.objects.get(pk=item.pk), decision="confirm_violation",
            reason="race",
        ),
        reviewers,
    )  # fmt: skip

    assert sorted(outcomes.values()) in (
        ["already_decided", "won"],
        ["claimed_by_other", "won"],
    ), outcomes
    assert Violation.objects.count() == 1
    assert AuditEvent.objects.filter(action="review_item.decide").count() == 1
