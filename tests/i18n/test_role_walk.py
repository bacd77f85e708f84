"""Every page of every role, in Indonesian, with nothing raw showing — and in English.

The demo organisation (``seed_demo``) is reconciled once so the compliance pages have findings,
clarifications and review items; then each demo user (and an anonymous visitor) follows every
link of the portal from the home page, as Django's test client, with the browser asking for
Indonesian. A page fails on a server error, a visible ``snake_case`` code, a bare code in a
table cell, or an English sentence from the catalogue's own message ids (tests/i18n/walk.py
lists the few explained exceptions).

Every page: the walk has no page limit, and reads two records of each URL pattern (two
registrations' detail pages, two runs...; each filter value of a list). After the walk, every
URL pattern of the portal must have been read by some role, or be listed in
``tests/i18n/walk.py`` (``NOT_WALKED``) with the reason — a URL pattern added without a way to
reach it fails here. Then each role reads one page of every pattern it reached again with the
browser asking for English: no server error, the page says it is English, and no Indonesian
sentence of the catalogue shows (a string written in Indonesian instead of translated).
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qsl, urldefrag, urlparse

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import Resolver404, resolve
from django.utils import timezone

from accounts.management.commands.seed_demo import USERS
from accounts.models import User
from compliance.models import Clarification, ReviewItem
from compliance.workflow.clarifications import clarification_answer
from compliance.workflow.queue import review_item_enqueue, review_queue_sync
from core import pii
from outlets import services as outlet_services
from outlets.models import TrainingSession
from privacy import services as privacy_services
from reports import services as reports_services
from subscribers import drafts
from subscribers.models import Registration
from subscribers.selectors import policy_in_force

from .walk import NOT_WALKED, SKIP_PREFIXES, english_problems, portal_routes, problems

pytestmark = pytest.mark.django_db

PUBLIC = ("/", "/accounts/login/", "/healthz")
# Links the walk never follows: they change state on GET or leave the portal.
NEVER = ("/accounts/logout/", "/i18n/", "/admin/logout/")
PAGES_PER_SHAPE = 2  # /x/1/ and /x/2/ read; /x/3/ … are the same page with other data
# Not a budget: a guard against a link loop that mints new URLs for ever.
MAX_PAGES = 5000


def route(path: str) -> str:
    """The URL pattern a path resolves to (``registrations/<int:pk>/``), or the path itself."""
    try:
        return resolve(urlparse(path).path).route
    except Resolver404:
        return urlparse(path).path


def _shape(path: str) -> str:
    """The page a path shows, whatever its record: its URL pattern, and of the query only the
    names of its parameters and the vocabulary a filter picks (``kind=…``, ``status=…``). The
    Django admin's query strings (sorting, filters, search) show its one list page."""
    url = urlparse(path)
    if url.path.startswith("/admin/"):
        return route(path) + ("?q" if url.query else "")
    keys = sorted(
        f"{key}={value}" if key in ("kind", "status", "reason") else key
        for key, value in parse_qsl(url.query)
    )
    return route(path) + "?" + "&".join(keys)


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
    records_behind_every_page(now)
    return now


def records_behind_every_page(now) -> None:
    """What the demo does not hold and some pages show: a personal-data request, a report
    export, a rule-set draft with a preview, an outlet application and a training session."""
    admin, dealer, regulator = (
        User.objects.get(username=u) for u in ("admin", "dealer", "regulator")
    )
    registration = Registration.objects.order_by("pk").first()
    privacy_services.data_subject_request_open(
        actor=admin, id_number=pii.decrypt(registration.id_number_encrypted), channel="grapari"
    )
    today = timezone.localdate()
    reports_services.export_job_create(
        user=regulator, kind="registrations", format="csv", trigger="web", dispatch=False,
        data={"date_from": (today - timedelta(days=30)).isoformat(), "date_to": today.isoformat()},
    )  # fmt: skip
    draft = drafts.draft_create(actor=admin, source=policy_in_force())
    drafts.preview_request(
        actor=admin, draft=draft, period_from=today - timedelta(days=7),
        period_to=today - timedelta(days=1),
    )  # fmt: skip
    outlet_services.outlet_application_submit(
        actor=dealer, name="Konter Harapan", owner_name="Yohana Simanjuntak",
        owner_id_number="3374015506800003", address="Jl. Merapi 12", region="Kota Semarang",
        province="33",
    )  # fmt: skip
    outlet_services.training_session_create(
        actor=dealer, held_on=today - timedelta(days=2), trainer="Ibu Ratna",
        audience=TrainingSession.Audience.OUTLET, topic="Registrasi prabayar sesuai aturan",
    )  # fmt: skip


def walk(client: Client, start=("/",), read=None) -> dict[str, list[str]]:
    """Every page reachable from ``start`` by links; each page's problems by path. ``read``
    (a dict) receives the pages answered without an error: path → its URL pattern."""
    queue, seen, shapes, found = list(start), set(), {}, {}
    read = {} if read is None else read
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
        if response.status_code < 400:
            read[path] = route(path)
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


def in_english(client: Client, read: dict[str, str]) -> dict[str, list[str]]:
    """One page of every URL pattern the role read, again, with the browser asking for
    English; each page's problems by path."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    found, done = {}, set()
    for path, pattern in read.items():
        if pattern in done or path.startswith(SKIP_PREFIXES):
            continue
        done.add(pattern)
        response = client.get(path)
        if response.status_code >= 500:
            found[path] = [f"server error {response.status_code}"]
        elif (
            response.status_code == 200
            and "text/html" in response.headers.get("Content-Type", "")
            and (notes := english_problems(response.content.decode(), path))
        ):
            found[path] = notes
    return found


def test_every_role_reads_every_page_in_plain_indonesian_and_in_english(demo):
    failures, english, reached = {}, {}, {}
    visitors = [("(anonymous)", None, PUBLIC)] + [(name, name, ("/",)) for name in USERS]
    for who, username, start in visitors:
        client = Client(HTTP_ACCEPT_LANGUAGE="id")
        if username:
            client.force_login(User.objects.get(username=username))
        read: dict[str, str] = {}
        if found := walk(client, start, read):
            failures[who] = found
        if found := in_english(client, read):
            english[who] = found
        for pattern in read.values():
            reached.setdefault(pattern, who)
    unreached = sorted(
        pattern
        for pattern in portal_routes()
        if pattern not in reached and not any(rule.fullmatch(pattern) for rule in NOT_WALKED)
    )
    report = [f"== {who}\n{_report(found)}" for who, found in failures.items()]
    report += [f"== {who}, in English\n{_report(found)}" for who, found in english.items()]
    if unreached:
        report.append(
            "== URL patterns no role reached (link them, give the demo the data, or explain "
            "them in tests/i18n/walk.py NOT_WALKED):\n" + "\n".join(unreached)
        )
    assert not report, "\n".join(report)
