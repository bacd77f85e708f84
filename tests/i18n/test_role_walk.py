"""Every page of every role, in Indonesian, with nothing raw showing.

The demo organisation (``seed_demo``) is reconciled once so the compliance pages have findings,
clarifications and review items; then each demo user (and an anonymous visitor) follows every
link of the portal from the home page, as Django's test client, with the browser asking for
Indonesian. A page fails on a server error, a visible ``snake_case`` code, a bare code in a
table cell, or an English sentence from the catalogue's own message ids (tests/i18n/walk.py
lists the few explained exceptions).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urldefrag, urlparse

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.management.commands.seed_demo import USERS
from accounts.models import User
from compliance.models import Clarification, ReviewItem
from compliance.workflow.clarifications import clarification_answer
from compliance.workflow.queue import review_item_enqueue, review_queue_sync

from .walk import SKIP_PREFIXES, problems

pytestmark = pytest.mark.django_db

PUBLIC = ("/", "/accounts/login/", "/healthz")
# Links the walk never follows: they change state on GET or leave the portal.
NEVER = ("/accounts/logout/", "/i18n/", "/admin/logout/")
PAGES_PER_SHAPE = 2  # /x/1/ and /x/2/ read; /x/3/ … are the same page with other data
MAX_PAGES = 150


def _shape(path: str) -> str:
    """The page a path shows, whatever its record: digits and UUIDs out, and of the query only
    the names of its parameters and the vocabulary a filter picks (``kind=…``, ``status=…``)."""
    url = urlparse(path)
    shape = re.sub(r"\d+", "N", re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "U", url.path))
    keys = sorted(
        f"{key}={value}" if key in ("kind", "status", "reason") else key
        for key, value in parse_qsl(url.query)
    )
    return shape + "?" + "&".join(keys)


@pytest.fixture
def demo(settings, policies):
    """The demo organisation, reconciled: findings, clarification requests (one answered by
    the clerk, one past its deadline) and GraPARI's review queue."""
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    call_command("reconcile", "--full", "--sync", verbosity=0)
    settings.DEBUG = False
    now = timezone.now()
    review_queue_sync(now=now)
    clerk = User.objects.get(username="clerk")
    asked = Clarification.objects.filter(outlet__staff__user=clerk).order_by("pk")
    clarification_answer(
        actor=clerk,
        clarification=asked.first(),
        explanation="Pembeli salah menyebut tanggal lahir; data sudah kami periksa ulang.",
    )
    other = Clarification.objects.exclude(pk=asked.first().pk).order_by("pk").first()
    review_item_enqueue(clarification=other, kind=ReviewItem.Kind.EXPIRED_CLARIFICATION, now=now)
    return now


def walk(client: Client, start=("/",)) -> dict[str, list[str]]:
    """Every page reachable from ``start`` by links; each page's problems by path."""
    queue, seen, shapes, found = list(start), set(), {}, {}
    fetched = 0
    while queue and fetched < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        shape = _shape(path)
        shapes[shape] = shapes.get(shape, 0) + 1
        if shapes[shape] > PAGES_PER_SHAPE:
            continue
        fetched += 1
        response = client.get(path)
        if response.status_code >= 500:
            found[path] = [f"server error {response.status_code}"]
            continue
        if response.status_code in (301, 302):
            location = response.headers["Location"]
            if location.startswith("/") and location not in seen:
                queue.append(location)
            continue
        if "text/html" not in response.headers.get("Content-Type", ""):
            continue
        html = response.content.decode()
        if not path.startswith(SKIP_PREFIXES) and (notes := problems(html, path)):
            found[path] = notes
        for href in re.findall(r'<a\s[^>]*href="([^"]+)"', html):
            href = urldefrag(href.replace("&amp;", "&"))[0]
            parsed = urlparse(href)
            if parsed.scheme or parsed.netloc or not href.startswith("/"):
                continue
            if href.startswith(NEVER) or href.startswith(SKIP_PREFIXES) or href in seen:
                continue
            queue.append(href)
    if VISITED is not None:
        VISITED.append(sorted(seen))
    return found


VISITED = None


def _report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{path}:\n  " + "\n  ".join(notes[:6]) for path, notes in found.items())


def test_every_role_reads_plain_indonesian(demo):
    failures = {}
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="id")
    if found := walk(anonymous, PUBLIC):
        failures["(anonymous)"] = found
    for username in USERS:
        client = Client(HTTP_ACCEPT_LANGUAGE="id")
        client.force_login(User.objects.get(username=username))
        if found := walk(client):
            failures[username] = found
    assert not failures, "\n".join(f"== {who}\n{_report(found)}" for who, found in failures.items())
