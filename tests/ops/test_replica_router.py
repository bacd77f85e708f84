"""The optional read replica (registration_portal/routers.py): report reads go to ``replica``,
writes, claims and reads inside a transaction stay on ``default``, and exports still complete.

The ``replica`` alias is a test mirror of ``default`` (``TEST: {"MIRROR": "default"}``, what
settings give it when REPLICA_DATABASE_URL is set): a second connection to the same test
database. It is added here, at import, because pytest-django sets the test databases up after
collection; it is used only by the tests below, which install the router. They are
transactional: the mirror's connection sees only committed rows, as a real replica would.
"""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from compliance.models import Discrepancy
from core.routers import REPLICA, ReplicaRouter, read_alias
from reports import services
from reports.figures import report_figures
from reports.models import ExportJob
from reports.periods import Period
from reports.rows import discrepancy_rows, registration_rows
from reports.scope import ReportFilter, ReportScope
from reports.summary import summaries_refresh
from tests.conftest import needs
from tests.reports.conftest import PERIOD, make_discrepancy, make_registration, nik, wib

if REPLICA not in connections.settings:
    _default = connections.settings[DEFAULT_DB_ALIAS]
    connections.settings[REPLICA] = {
        **_default,
        "TEST": {**_default["TEST"], "MIRROR": DEFAULT_DB_ALIAS},
    }

pytestmark = pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA])
ROUTER = "core.routers.ReplicaRouter"
PARAMS = {"date_from": PERIOD[0].isoformat(), "date_to": PERIOD[1].isoformat()}
WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def with_replica(settings):
    needs(connection.vendor == "postgresql", "needs PostgreSQL (set DATABASE_URL)")
    settings.DATABASE_ROUTERS = [ROUTER]  # what REPLICA_DATABASE_URL installs
    yield
    connections[REPLICA].close()


@pytest.fixture
def data(outlet, other_outlet):
    """Five registrations in the period (one with an open discrepancy), one outside it."""
    rows = [
        make_registration(outlet=outlet, at=wib(PERIOD[0] + timedelta(days=i)), id_number=nik(i))
        for i in range(1, 5)
    ]
    rows.append(make_registration(outlet=other_outlet, at=wib(PERIOD[1]), id_number=nik(9)))
    make_registration(outlet=outlet, at=wib(PERIOD[1] + timedelta(days=1)), id_number=nik(10))
    make_discrepancy(kind="name_mismatch", at=wib(PERIOD[1]), registration=rows[0])
    summaries_refresh(full=True)
    return rows


def flt_scope(user):
    return ReportFilter(Period(*PERIOD)), ReportScope.for_user(user)


def tables(captured) -> str:
    return "\n".join(q["sql"] for q in captured.captured_queries)


def test_figures_and_rows_are_read_on_the_replica(with_replica, data, regulator):
    flt, scope = flt_scope(regulator)
    with (
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as replica,
    ):
        figures = report_figures(flt, scope)
        msisdns = list(registration_rows(flt, scope).values_list("msisdn", flat=True))
        discrepancies = discrepancy_rows(flt, scope).count()

    assert figures.totals.registrations == 5 and figures.discrepancies_detected == 1
    assert sorted(msisdns) == sorted(r.msisdn for r in data)
    assert discrepancies == 1
    assert "reports_dailyoutletstats" in tables(replica)
    assert '"subscribers_registration"' in tables(replica)
    assert '"compliance_discrepancy"' in tables(replica)
    # On the primary only the check that the replica has the latest summary refresh.
    assert primary.captured_queries
    assert all("reports_summarystate" in q["sql"] for q in primary.captured_queries)
    assert not any(q["sql"].startswith(WRITES) for q in replica.captured_queries)


@contextmanager
def replica_lagging():
    """The replica stops replaying the primary: its connection keeps the snapshot it has now (a
    repeatable-read transaction), so what the primary commits inside the block is not on the
    replica — a replica behind, as after a network partition."""
    with transaction.atomic(using=REPLICA), connections[REPLICA].cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT count(*) FROM reports_summarystate")  # the snapshot is taken
        yield


def test_a_replica_behind_the_latest_refresh_is_not_used_for_figures(
    with_replica, data, regulator, outlet
):
    flt, scope = flt_scope(regulator)
    with replica_lagging():
        # A sixth registration and a summary refresh the replica has not replayed.
        make_registration(outlet=outlet, at=wib(PERIOD[0]), id_number=nik(11))
        summaries_refresh()
        with CaptureQueriesContext(connections[REPLICA]) as replica:
            figures = report_figures(flt, scope)
    # The primary's figures, not the lagging replica's five.
    assert figures.totals.registrations == 6
    assert "reports_dailyoutletstats" not in tables(replica)


def test_an_export_reads_rows_on_the_replica_and_claims_on_default(
    with_replica, data, regulator, settings
):
    settings.REPORTS_CSV_COPY = False  # rows through the ORM's server-side cursor
    job = services.export_job_create(
        user=regulator, kind="registrations", format="csv", data=PARAMS, trigger="web",
        dispatch=False,
    )  # fmt: skip
    with (
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as replica,
    ):
        job = services.export_job_run(job_id=job.pk)

    assert job.status == ExportJob.Status.SUCCEEDED
    assert job.rows_done == job.rows_total == 5
    with job.file.open("rb") as fh:
        assert len(fh.read().splitlines()) == 1 + 5
    assert '"subscribers_registration"' in tables(replica)
    assert not any(q["sql"].startswith(WRITES) for q in replica.captured_queries)
    assert '"subscribers_registration"' not in tables(primary)
    # The compare-and-set claim, the progress and the outcome: on the primary.
    claims = [q["sql"] for q in primary.captured_queries if q["sql"].startswith("UPDATE")]
    assert claims and all('"reports_exportjob"' in sql for sql in claims)


def test_the_copy_path_writes_the_same_file_from_the_replica(
    with_replica, data, regulator, outlet, settings
):
    """The CSV's COPY (raw SQL, on PostgreSQL) runs on the replica's connection and writes what
    the ORM path does: with the replica behind, both files hold the replica's five rows, not
    the sixth the primary has."""
    hashes = []
    with replica_lagging():
        make_registration(outlet=outlet, at=wib(PERIOD[0]), id_number=nik(11))
        for copy in (False, True):
            settings.REPORTS_CSV_COPY = copy
            job = services.export_job_create(
                user=regulator, kind="registrations", format="csv", data=PARAMS, trigger="web",
                dispatch=False,
            )  # fmt: skip
            job = services.export_job_run(job_id=job.pk)
            assert job.status == ExportJob.Status.SUCCEEDED
            with job.file.open("rb") as fh:
                assert len(fh.read().splitlines()) == 1 + 5
            hashes.append(job.sha256)
    assert hashes[0] == hashes[1]
    flt, scope = flt_scope(regulator)
    assert registration_rows(flt, scope).using(DEFAULT_DB_ALIAS).count() == 6


def test_reads_in_a_transaction_and_every_write_stay_on_default(with_replica, data, regulator):
    flt, scope = flt_scope(regulator)
    assert read_alias() == REPLICA
    with transaction.atomic(), CaptureQueriesContext(connections[REPLICA]) as replica:
        assert read_alias() == DEFAULT_DB_ALIAS  # read-your-writes
        assert registration_rows(flt, scope).count() == 5
    assert not replica.captured_queries

    discrepancy = discrepancy_rows(flt, scope).get()
    assert discrepancy._state.db == REPLICA
    with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as primary:
        discrepancy.status = Discrepancy.Status.RESOLVED
        discrepancy.resolved_at = discrepancy.detected_at + timedelta(days=1)
        discrepancy.save(update_fields=["status", "resolved_at"])
    assert any(q["sql"].startswith("UPDATE") for q in primary.captured_queries)
    assert Discrepancy.objects.using(DEFAULT_DB_ALIAS).get().status == "resolved"

    router = ReplicaRouter()
    assert router.allow_migrate(REPLICA, "reports") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "reports") is None
    assert router.allow_relation(discrepancy, data[0]) is True


def test_without_the_router_nothing_goes_to_the_replica(data, regulator, settings):
    needs(connection.vendor == "postgresql", "needs PostgreSQL (set DATABASE_URL)")
    if not settings.REPLICA_DATABASE_URL:
        assert settings.DATABASE_ROUTERS == []  # unset: no router at all
    settings.DATABASE_ROUTERS = []
    flt, scope = flt_scope(regulator)
    with CaptureQueriesContext(connections[REPLICA]) as replica:
        report_figures(flt, scope)
        assert registration_rows(flt, scope).count() == 5
    assert not replica.captured_queries
