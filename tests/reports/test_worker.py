"""An export and a summary refresh run by a real Celery worker (Redis DB 12, PostgreSQL): the
request commits, the task is published after the commit, the worker claims the job, writes the
file into the private storage and records its hash."""

import hashlib
from datetime import date

import openpyxl
import pytest
from django.conf import settings as django_settings

from reports import services, tasks
from reports.models import ExportJob, SummaryState
from tests.celery_support import WorkerProcess, use_broker, wait_for, worker_env

from .conftest import PERIOD, make_registration, nik, wib

PARAMS = {"date_from": PERIOD[0].isoformat(), "date_to": PERIOD[1].isoformat()}


@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_exports_and_refreshes(
    require_postgres, dataset, regulator, redis_broker
):
    broker = redis_broker
    location = django_settings.STORAGES["private"]["OPTIONS"]["location"]
    worker = WorkerProcess(worker_env(broker, PRIVATE_MEDIA_ROOT=location), name="reports")
    with use_broker(broker):
        worker.start()
        try:
            job = services.export_job_create(
                user=regulator, kind="registrations", format="xlsx", data=PARAMS, trigger="api"
            )
            wait_for(
                lambda: ExportJob.objects.get(pk=job.pk).status in ("succeeded", "failed"),
                timeout=60,
            )
            job.refresh_from_db()
            assert job.status == "succeeded", job.error
            assert job.attempts == 1 and job.rows_done == job.rows_total == 21

            generation = SummaryState.objects.get().generation
            make_registration(
                outlet=dataset.outlets["jkt1"], at=wib(date(2026, 3, 30)), id_number=nik(900)
            )
            tasks.refresh_summaries.delay()
            wait_for(lambda: SummaryState.objects.get().generation > generation, timeout=60)
        finally:
            worker.stop()

    with job.file.storage.open(job.file.name, "rb") as fh:
        data = fh.read()
    assert hashlib.sha256(data).hexdigest() == job.sha256
    workbook = openpyxl.load_workbook(job.file.storage.path(job.file.name), read_only=True)
    assert sum(1 for _ in workbook["registrations"].iter_rows()) == 22  # header + 21 rows
    # Running the task again after it succeeded changes nothing.
    assert services.export_job_run(job_id=job.pk).sha256 == job.sha256
