# Satu Pintu — the two commands of the README, and a few helpers.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3
HOST   ?= 127.0.0.1
PORT   ?= 8000
export CHROMIUM_PATH ?= /usr/bin/chromium

.PHONY: install run test test-sqlite test-fast lint format services bench loadtest capacity messages clean check-deploy audit faults mutation survivors

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## make run: the portal at http://127.0.0.1:8000 with a Celery worker and beat (Ctrl-C stops all).
## Embedded defaults: SQLite file + filesystem broker. DATABASE_URL / REDIS_URL are used when set.
run: install
	PY=$(PY) HOST=$(HOST) PORT=$(PORT) scripts/dev.sh

## make test: the whole suite. Starts/installs PostgreSQL, Redis and Chromium where it can;
## uses DATABASE_URL / REDIS_URL when set (CI sets both). Two pytest workers (pytest-xdist), each
## with a test database of its own; TEST_WORKERS=1 runs it in one process (at most 3: the worker
## tests' Redis databases, tests/celery_support.py).
TEST_WORKERS ?= 2
test: install
	scripts/ensure-services.sh
	PY=$(PY) scripts/test.sh -n $(TEST_WORKERS)

test-fast: install   ## the suite without the browser tests, on whatever DATABASE_URL says
	$(PY) -m pytest -m "not browser" -q

## make test-sqlite: the suite (browser tests aside) on SQLite, make run's default database:
## every page and job has a generic path there; what needs PostgreSQL is skipped (CI runs it too).
test-sqlite: install
	DATABASE_URL=sqlite:///$(CURDIR)/.test-sqlite.sqlite3 REDIS_URL= REQUIRE_SERVICES=0 \
	  $(PY) -m pytest -m "not browser" -q -n 2

faults: install   ## the fault tests alone: worker killed, Redis down, DB dropped, client retry
	scripts/ensure-services.sh
	PY=$(PY) scripts/test.sh tests/faults

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

services:
	scripts/ensure-services.sh

bench: install   ## benchmarks on PostgreSQL; figures printed beside the floor measured in the same run
	scripts/ensure-services.sh
	PY=$(PY) scripts/bench.sh

## make loadtest: locust against a local gunicorn + PostgreSQL + Redis + Celery worker: a /healthz
## ceiling phase, then clerks registering with photos, reviewers paging, a regulator exporting.
## Prints the figures, exits 1 on any error (docs/load.md). LOADTEST_SHORT=1: about a minute.
loadtest: install
	PY=$(PY) scripts/loadtest.sh

## make capacity: clerks raised stage by stage until p99 > 500 ms, an error, or the photo worker
## falls behind; prints the registrations/s an operator sizes hardware from (docs/load.md).
capacity: install
	LOADTEST_CAPACITY=1 PY=$(PY) scripts/loadtest.sh

## make mutation: mutation testing (mutmut) of the modules where a silent bug costs most, each in
## .mutation/<target>/ (the working tree is never modified); prints the kill rate per module
## (docs/testing.md). Slow (hours for all): MUTATION_TARGETS="idrules masking" for some. Not in CI.
mutation: install
	scripts/ensure-services.sh
	$(PY) scripts/mutation.py $(MUTATION_TARGETS)

## make survivors: the bugs an earlier mutation test let through, put back one at a time in a
## copy of the project: each must fail the test named after it (docs/testing.md).
survivors: install
	scripts/ensure-services.sh
	PY=$(PY) $(PY) scripts/survivors.py

messages: install   ## refresh the Indonesian catalogue and report what is left untranslated
	PY=$(PY) scripts/translations.sh

audit: install   ## known vulnerabilities in the pinned dependencies (pip-audit + audit-exceptions.toml)
	PY=$(PY) scripts/audit.sh

## make check-deploy: the production settings' deploy checks with freshly generated keys; a key
## given in the environment (SECRET_KEY, FIELD_ENCRYPTION_KEYS, ID_DIGEST_KEY) is checked instead,
## so `ID_DIGEST_KEY=x make check-deploy` shows production refusing it.
check-deploy: install
	DJANGO_SETTINGS_MODULE=registration_portal.settings.production \
	SECRET_KEY=$${SECRET_KEY:-$$($(PY) -c 'import secrets;print(secrets.token_urlsafe(50))')} \
	FIELD_ENCRYPTION_KEYS=$${FIELD_ENCRYPTION_KEYS:-$$($(PY) -c 'from cryptography.fernet import Fernet;print(Fernet.generate_key().decode())')} \
	ID_DIGEST_KEY=$${ID_DIGEST_KEY:-$$($(PY) -c 'import secrets;print(secrets.token_urlsafe(32))')} \
	ALLOWED_HOSTS=example.org PUBLIC_BASE_URL=https://example.org DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf .celery db.sqlite3 private_media .test_private_media staticfiles
