"""Satu Pintu under load: outlets registering, reviewers paging the queue, a regulator exporting.

Run by ``scripts/loadtest.sh`` (``make loadtest``), which seeds the database with
``loadtest/seed.py`` and points ``LOADTEST_PEOPLE`` at the JSON file it wrote. User classes:

- ``ClerkUser`` — each virtual user is a different outlet's clerk with its own API token. It
  registers buyers one after another with ``POST /api/v1/registrations/`` (multipart: an ID
  photo and a face photo, JPEGs of a few hundred KB, a fresh ``Idempotency-Key``, a buyer the
  seed put in the mock population registry, for the 2026-07 rules), taking its own outlet's
  starter packs; now and then it retries a registration with the same key, as a phone on a
  weak network does, and expects the first answer replayed.
- ``ReviewerUser`` — a GraPARI reviewer (``fixed_count`` ``LOADTEST_REVIEWERS``) paging the
  review queue by keyset, through the API (token) and the HTML page (logged in through the
  login form), and opening an item now and then.
- ``RegulatorUser`` — one regulator: ``POST /api/v1/reports/``, polls the export until it is
  done, downloads it, then asks for the next one (CSV of the year, XLSX of a month, outlets).
- ``HealthUser`` — the ceiling phase only: ``GET /healthz`` as fast as it can.

Any answer but the expected one is a failure (``catch_response``). Every request is also
recorded with its finishing time in ``LOADTEST_RESULTS`` (JSON) for ``loadtest/report.py``,
which computes the sustained rates over the steady state (after every user has started).
"""

import itertools
import json
import os
import random
import re
import resource
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from locust import FastHttpUser, HttpUser, between, constant, events, task
from locust.exception import StopUser

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Pure Python (and Pillow), no Django; seed.py registers the same buyers with the registry.
from loadtest.buyers import buyer, camera_jpeg, face_jpeg  # noqa: E402

REGISTRATIONS = "/api/v1/registrations/"
REGISTER = f"POST {REGISTRATIONS}"
RETRY_SHARE = float(os.environ.get("LOADTEST_RETRY_SHARE", "0.05"))
EXPORT_TIMEOUT = float(os.environ.get("LOADTEST_EXPORT_TIMEOUT", "120"))
REQUEST_TIMEOUT = float(os.environ.get("LOADTEST_REQUEST_TIMEOUT", "60"))


def _wait_range(name: str, default: str) -> tuple[float, float]:
    low, high = (float(v) for v in os.environ.get(name, default).split(","))
    return low, high


# --- people, photos, buyers -----------------------------------------------------------------

_people: dict | None = None
# LOADTEST_CLERK_OFFSET: the first seeded clerk of this run (the capacity run gives each stage
# clerks, and so packs, of its own).
_clerk_slots = itertools.count(int(os.environ.get("LOADTEST_CLERK_OFFSET", "0")))
_reviewer_slots = itertools.count()


def people() -> dict:
    """What loadtest/seed.py wrote: tokens, packs, passwords (read once)."""
    global _people
    if _people is None:
        path = os.environ.get("LOADTEST_PEOPLE")
        if not path:
            raise StopUser("LOADTEST_PEOPLE is not set: run loadtest/seed.py first")
        _people = json.loads(Path(path).read_text())
    return _people


_photos: dict[str, list[bytes]] = {}
_photo_lock = threading.Lock()


def photos() -> dict[str, list[bytes]]:
    """A few ID-card photos (1280x960) and the face photo (1600x1200), made once per process."""
    with _photo_lock:
        if not _photos:
            _photos["id"] = [camera_jpeg(1280, 960, seed) for seed in range(3)]
            # One face for every buyer: the one the seed gave the registry as their reference.
            _photos["face"] = [face_jpeg()]
    return _photos


# --- recording every request (for loadtest/report.py) ----------------------------------------

_records: list[tuple] = []
_marks: dict[str, float] = {}


@events.test_start.add_listener
def _on_test_start(environment, **_kwargs) -> None:
    _marks["start"] = time.time()
    _marks["client_cpu_start"] = _own_cpu()


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@events.spawning_complete.add_listener
def _on_spawning_complete(user_count, **_kwargs) -> None:
    _marks.setdefault("spawned", time.time())


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, exception=None, **_kw):
    _records.append(
        (name, time.time(), response_time, exception is not None, str(exception or "")[:200])
    )


@events.user_error.add_listener
def _on_user_error(user_instance, exception, tb, **_kwargs) -> None:
    _records.append(("user error", time.time(), 0, True, repr(exception)[:200]))


@events.test_stop.add_listener
def _on_test_stop(environment, **_kwargs) -> None:
    path = os.environ.get("LOADTEST_RESULTS")
    if not path:
        return
    _marks["stop"] = time.time()
    _marks["client_cpu"] = _own_cpu() - _marks.pop("client_cpu_start", 0.0)
    Path(path).write_text(
        json.dumps(
            {
                "phase": os.environ.get("LOADTEST_PHASE", ""),
                "marks": _marks,
                "users": environment.runner.target_user_count if environment.runner else None,
                "records": _records,
            }
        )
    )


def _expect(response, status: int) -> bool:
    """Fail the request unless it answered ``status`` (a 2xx/3xx left unmarked counts as a
    success when the ``catch_response`` block ends)."""
    if response.status_code == 0:  # no answer at all: the connection failed
        response.failure(f"no answer: {response.error!r}"[:300])
        return False
    if response.status_code != status:
        response.failure(f"{response.status_code} instead of {status}: {response.text[:200]}")
        return False
    return True


# --- users ----------------------------------------------------------------------------------


class ClerkUser(HttpUser):
    """An outlet clerk registering buyers through the API, one pack after another."""

    weight = 10
    wait_time = between(*_wait_range("LOADTEST_CLERK_WAIT", "1,3"))

    def on_start(self) -> None:
        clerks = people()["clerks"]
        slot = next(_clerk_slots)
        if slot >= len(clerks):
            raise StopUser(f"more clerks than seeded ({len(clerks)}): seed more")
        self.clerk = clerks[slot]
        self.packs = list(self.clerk["msisdns"])
        self.count = 0
        self.client.headers["Authorization"] = f"Token {self.clerk['token']}"

    @task
    def register(self) -> None:
        if not self.packs:
            # A sizing fault of the seed, not of the server: still an error of the run.
            events.request.fire(
                request_type="POST", name=REGISTER, response_time=0, response_length=0,
                exception=RuntimeError("the outlet ran out of starter packs: seed more"),
                context={},
            )  # fmt: skip
            raise StopUser()
        msisdn = self.packs.pop()
        self.count += 1
        body = buyer(self.clerk["n"], self.count, msisdn)
        pool = photos()
        files = {
            "id_photo": ("ktp.jpg", random.choice(pool["id"]), "image/jpeg"),
            "face_photo": ("wajah.jpg", random.choice(pool["face"]), "image/jpeg"),
        }
        key = str(uuid.uuid4())
        with self.client.post(
            REGISTRATIONS, data=body, files=files, headers={"Idempotency-Key": key},
            name=REGISTER, catch_response=True, timeout=REQUEST_TIMEOUT,
        ) as response:  # fmt: skip
            if not _expect(response, 201):
                return
            first = response.json()
            if first.get("msisdn") != msisdn or first.get("status") != "registered":
                response.failure(f"unexpected registration: {response.text[:200]}")
                return
        if random.random() < RETRY_SHARE:
            # The phone did not see the answer and sends the same request again.
            with self.client.post(
                REGISTRATIONS, data=body, files=files, headers={"Idempotency-Key": key},
                name=f"{REGISTER} (retry, same key)", catch_response=True,
                timeout=REQUEST_TIMEOUT,
            ) as response:  # fmt: skip
                if not _expect(response, 201):
                    return
                if response.headers.get("Idempotent-Replayed") != "true" or (
                    response.json().get("id") != first.get("id")
                ):
                    response.failure("the retry was not answered with the first answer")


_NEXT_LINK = re.compile(r'href="\?[^"]*?after=([^"&]+)"[^>]*id="next-page"')
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class ReviewerUser(HttpUser):
    """A GraPARI reviewer paging the queue (keyset) through the API and the HTML page."""

    fixed_count = int(os.environ.get("LOADTEST_REVIEWERS", "4"))
    wait_time = between(*_wait_range("LOADTEST_REVIEWER_WAIT", "1,3"))
    max_pages = 10

    def on_start(self) -> None:
        reviewers = people()["reviewers"]
        self.me = reviewers[next(_reviewer_slots) % len(reviewers)]
        self.token = {"Authorization": f"Token {self.me['token']}"}
        self.api_cursor, self.api_pages, self.html_after, self.html_pages = None, 0, None, 0
        self.item_ids: list[int] = []
        self.logged_in = self.log_in()

    def log_in(self) -> bool:
        with self.client.get(
            "/accounts/login/", name="GET /accounts/login/", catch_response=True
        ) as response:
            if not _expect(response, 200):
                return False
            match = _CSRF.search(response.text)
            if not match:
                response.failure("no CSRF token on the login page")
                return False
        with self.client.post(
            "/accounts/login/",
            data={
                "username": self.me["username"],
                "password": self.me["password"],
                "csrfmiddlewaretoken": match.group(1),
            },
            headers={"Referer": f"{self.host}/accounts/login/"},
            allow_redirects=False, name="POST /accounts/login/", catch_response=True,
        ) as response:  # fmt: skip
            return _expect(response, 302)

    @task(3)
    def api_page(self) -> None:
        params = {"cursor": self.api_cursor} if self.api_cursor else {}
        name = (
            "GET /api/v1/review-items/ (page 1)"
            if not self.api_cursor
            else "GET /api/v1/review-items/?cursor= (next page)"
        )
        with self.client.get(
            "/api/v1/review-items/", params=params, headers=self.token, name=name,
            catch_response=True, timeout=REQUEST_TIMEOUT,
        ) as response:  # fmt: skip
            if not _expect(response, 200):
                return
            page = response.json()
            if not page.get("results"):
                response.failure("an empty page of a queue of thousands")
                return
            self.item_ids = [item["id"] for item in page["results"]]
            self.api_pages += 1
            self.api_cursor = page.get("next_cursor") if self.api_pages < self.max_pages else None
            if not self.api_cursor:
                self.api_pages = 0

    @task(2)
    def html_page(self) -> None:
        if not self.logged_in:
            self.logged_in = self.log_in()
            return
        params = {"after": self.html_after} if self.html_after else {}
        name = (
            "GET /compliance/review/ (page 1)"
            if not self.html_after
            else "GET /compliance/review/?after= (next page)"
        )
        with self.client.get(
            "/compliance/review/", params=params, name=name, catch_response=True,
            allow_redirects=False, timeout=REQUEST_TIMEOUT,
        ) as response:  # fmt: skip
            if not _expect(response, 200):
                return
            match = _NEXT_LINK.search(response.text)
            self.html_pages += 1
            if match and self.html_pages < self.max_pages:
                self.html_after = match.group(1)
            else:
                self.html_after, self.html_pages = None, 0

    @task(1)
    def open_item(self) -> None:
        if not self.item_ids:
            return
        item = random.choice(self.item_ids)
        with self.client.get(
            f"/api/v1/review-items/{item}/", headers=self.token,
            name="GET /api/v1/review-items/{id}/", catch_response=True, timeout=REQUEST_TIMEOUT,
        ) as response:  # fmt: skip
            _expect(response, 200)


class RegulatorUser(HttpUser):
    """The regulator: request an export, follow it until done, download it, start another."""

    fixed_count = 1
    wait_time = constant(float(os.environ.get("LOADTEST_REGULATOR_WAIT", "2")))
    today = date.today()
    exports = itertools.cycle(
        [
            {"kind": "registrations", "format": "csv",
             "date_from": str(today - timedelta(days=365)), "date_to": str(today)},
            {"kind": "registrations", "format": "xlsx",
             "date_from": str(today - timedelta(days=100)),
             "date_to": str(today - timedelta(days=70))},
            {"kind": "outlets", "format": "csv",
             "date_from": str(today - timedelta(days=365)), "date_to": str(today)},
        ]
    )  # fmt: skip

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Token {people()['regulator']['token']}"

    @task
    def export(self) -> None:
        params = next(self.exports)
        label = f"{params['kind']} {params['format']}"
        started = time.perf_counter()
        with self.client.post(
            "/api/v1/reports/", json=params, name="POST /api/v1/reports/", catch_response=True,
            timeout=REQUEST_TIMEOUT,
        ) as response:  # fmt: skip
            if not _expect(response, 202):
                return
            job = response.json()
        deadline = time.monotonic() + EXPORT_TIMEOUT
        while job["status"] != "succeeded":
            if job["status"] == "failed" or time.monotonic() > deadline:
                events.request.fire(
                    request_type="EXPORT", name=f"export end to end ({label})",
                    response_time=(time.perf_counter() - started) * 1000, response_length=0,
                    exception=RuntimeError(f"export {job['id']} {job['status']}: {job['error']}"),
                    context={},
                )  # fmt: skip
                return
            time.sleep(1)
            with self.client.get(
                f"/api/v1/reports/{job['id']}/", name="GET /api/v1/reports/{id}/",
                catch_response=True, timeout=REQUEST_TIMEOUT,
            ) as response:  # fmt: skip
                if not _expect(response, 200):
                    return
                job = response.json()
        with self.client.get(
            f"/api/v1/reports/{job['id']}/download/", name="GET /api/v1/reports/{id}/download/",
            catch_response=True, timeout=REQUEST_TIMEOUT,
        ) as response:  # fmt: skip
            if not _expect(response, 200):
                return
            if len(response.content) != job["size"]:
                response.failure(f"{len(response.content)} bytes, the job says {job['size']}")
                return
        events.request.fire(
            request_type="EXPORT", name=f"export end to end ({label})",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=job["size"], exception=None, context={},
        )  # fmt: skip


class HealthUser(FastHttpUser):
    """The ceiling: the same server answering ``GET /healthz`` only, without pause."""

    wait_time = constant(0)

    @task
    def healthz(self) -> None:
        with self.client.get("/healthz", name="GET /healthz", catch_response=True) as response:
            _expect(response, 200)
