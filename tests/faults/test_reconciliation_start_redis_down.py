"""Fault test: an operator starts a reconciliation while Redis (the broker) is down. The start
answers 202 (the run is recorded, queued), a second start gets the same waiting run instead of
a 409 that would block every start until the run is given up, and once Redis is back the
run's planning task is really in the broker's queue. No worker: the queue is read directly."""

import base64
import json

import pytest
import redis
from rest_framework.test import APIClient

from compliance.models import ReconciliationRun
from tests.celery_support import use_broker

RUNS = "/api/v1/reconciliation-runs/"


def _planning_messages(url: str) -> list[int]:
    """The run ids of the ``plan_run`` messages waiting in the broker's ``reconcile`` queue."""
    client = redis.Redis.from_url(url)
    ids = []
    for raw in client.lrange("reconcile", 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"].endswith(".plan_run"):
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            ids.append(args[0])
    return ids


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_start_while_redis_is_down_is_accepted_and_sent_when_it_is_back(
    require_postgres, operator, private_redis
):
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(operator)

    # Redis down: nothing listens on the private server's port yet.
    with use_broker(private_redis.url):
        first = api.post(RUNS, {"mode": "full"}, format="json")
        assert first.status_code == 202, first.content
        run_id = first.json()["id"]
        assert first.json()["status"] == "queued"

        # Starting again does not meet a stuck slot: the same waiting run, 202, its planning
        # sent again.
        again = api.post(RUNS, {"mode": "full"}, format="json")
        assert again.status_code == 202, again.content
        assert again.json()["id"] == run_id
        assert ReconciliationRun.objects.count() == 1

    private_redis.start()  # back, empty
    with use_broker(private_redis.url):
        assert _planning_messages(private_redis.url) == []
        back = api.post(RUNS, {"mode": "full"}, format="json")
        assert back.status_code == 202, back.content
        assert back.json()["id"] == run_id
        assert _planning_messages(private_redis.url) == [run_id]
        # The web page's start button behaves the same (a redirect to the run, no error).
        web = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        web.force_login(operator)
        page = web.post("/compliance/runs/", {"mode": "full"})
        assert page.status_code == 302 and page["Location"].endswith(f"/runs/{run_id}/")
        assert _planning_messages(private_redis.url) == [run_id, run_id]
    assert ReconciliationRun.objects.count() == 1
