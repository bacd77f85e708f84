"""Export jobs: claimed once, taken over when their worker dies, swept, expired, verified;
``export_report`` goes through the same service."""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.models import AuditEvent
from reports import services
from reports.models import ExportJob

from .conftest import PERIOD

PARAMS = {"date_from": PERIOD[0].isoformat(), "date_to": PERIOD[1].isoformat()}


def queued(user, kind="registrations", fmt="csv") -> ExportJob:
    return services.export_job_create(
        user=user, kind=kind, format=fmt, data=PARAMS, trigger="web", dispatch=False
    )


@pytest.mark.django_db
def test_running_a_job_twice_writes_it_once(dataset, regulator):
    job = queued(regulator)
    first = services.export_job_run(job_id=job.pk)
    name, digest = first.file.name, first.sha256
    again = services.export_job_run(job_id=job.pk)
    assert again.status == "succeeded" and again.file.name == name and again.sha256 == digest
    assert again.attempts == 1


@pytest.mark.django_db
def test_a_job_whose_worker_died_is_taken_over(dataset, regulator, settings):
    job = queued(regulator)
    # A worker claimed it and died: running, no progress since.
    ExportJob.objects.filter(pk=job.pk).update(
        status="running", claim_token="dead", heartbeat_at=timezone.now()
    )
    assert services.export_job_run(job_id=job.pk).status == "running"  # still fresh: left alone
    ExportJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.REPORTS_EXPORT_STALE_SECONDS + 1)
    )
    done = services.export_job_run(job_id=job.pk)
    assert done.status == "succeeded" and done.attempts == 1 and done.claim_token != "dead"


@pytest.mark.django_db
def test_a_worker_that_lost_its_claim_writes_nothing(dataset, regulator, monkeypatch, settings):
    job = queued(regulator)
    real = services._sha256

    def steal_then_hash(path):
        ExportJob.objects.filter(pk=job.pk).update(claim_token="someone-else")
        return real(path)

    monkeypatch.setattr(services, "_sha256", steal_then_hash)
    result = services.export_job_run(job_id=job.pk)
    assert result.status == "running" and result.sha256 == "" and not result.file
    location = Path(settings.STORAGES["private"]["OPTIONS"]["location"])
    assert not [f for f in location.rglob("*") if f.is_file()]  # its file was removed


@pytest.mark.django_db
def test_a_failure_is_recorded_on_the_job(dataset, regulator, monkeypatch):
    job = queued(regulator)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.exporters, "write_csv", broken)
    failed = services.export_job_run(job_id=job.pk)
    assert failed.status == "failed" and "disk full" in failed.error and failed.finished_at


@pytest.mark.django_db
def test_the_sweep_requeues_lost_jobs_and_deletes_expired_files(
    dataset, regulator, settings, django_capture_on_commit_callbacks
):
    lost = queued(regulator)
    ExportJob.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=1))
    old = services.export_job_run(job_id=queued(regulator, fmt="xlsx").pk)
    stored = old.file.name
    assert old.file.storage.exists(stored)
    ExportJob.objects.filter(pk=old.pk).update(
        finished_at=timezone.now() - timedelta(days=settings.REPORTS_EXPORT_RETENTION_DAYS + 1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.export_jobs_sweep()
    assert outcome == {"requeued": 1, "files_deleted": 1, "work_files_deleted": 0}
    lost.refresh_from_db()
    old.refresh_from_db()
    assert lost.status == "succeeded"
    assert old.file_deleted_at and not old.file and len(old.sha256) == 64
    assert not old.file.storage.exists(stored)


@pytest.mark.django_db
def test_verify_tells_which_export_a_file_is(dataset, regulator, grapari, client):
    job = services.export_job_run(job_id=queued(regulator).pk)
    with job.file.storage.open(job.file.name, "rb") as fh:
        data = fh.read()
    client.force_login(grapari)  # anyone who reads reports may check a file they were sent
    response = client.post("/reports/verify/", {"sha256": f"{job.sha256.upper()}  file.csv"})
    html = response.content.decode()
    assert f'id="match-{job.pk}"' in html and "regulator" in html and "2026-03-01" in html
    upload = SimpleUploadedFile("file.csv", data, content_type="text/csv")
    assert (
        f'id="match-{job.pk}"' in client.post("/reports/verify/", {"file": upload}).content.decode()
    )
    tampered = SimpleUploadedFile("file.csv", data + b"x", content_type="text/csv")
    html = client.post("/reports/verify/", {"file": tampered}).content.decode()
    assert 'id="no-match"' in html and hashlib.sha256(data + b"x").hexdigest() in html
    assert (
        "A SHA-256 is 64"
        in client.post(
            "/reports/verify/", {"sha256": "abc"}, HTTP_ACCEPT_LANGUAGE="en"
        ).content.decode()
    )


@pytest.mark.django_db
def test_the_web_page_requests_an_export_and_shows_its_progress(
    dataset, regulator, client, django_capture_on_commit_callbacks
):
    client.force_login(regulator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/reports/exports/",
            {"kind": "summary", "format": "csv", "grouping": "dealer", **PARAMS},
        )
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reports/exports/{job.pk}/"
    assert job.trigger == "web" and job.parameters["grouping"] == "dealer"
    html = client.get(response["Location"]).content.decode()
    assert 'data-status="succeeded"' in html and job.sha256 in html
    assert 'http-equiv="refresh"' not in html and "data-live" not in html
    # A bad period is shown at its field, nothing written.
    response = client.post(
        "/reports/exports/",
        {"kind": "summary", "format": "csv", "date_from": "2026-03-05", "date_to": "2026-03-01"},
    )
    assert response.status_code == 200 and ExportJob.objects.count() == 1


@pytest.mark.django_db
def test_export_report_command(dataset, tmp_path, capsys, regulator):
    output = tmp_path / "discrepancies.csv"
    call_command(
        "export_report", "discrepancies", "--from", PARAMS["date_from"], "--to", PARAMS["date_to"],
        "--format", "csv", "--output", str(output),
    )  # fmt: skip
    job = ExportJob.objects.get()
    data = output.read_bytes()
    assert hashlib.sha256(data).hexdigest() == job.sha256
    assert job.trigger == "command" and job.requested_by is None
    assert job.requested_by_label.startswith("command-line:")
    assert data.splitlines()[0].startswith(b"msisdn,kind,status,registration_number,outlet_roid")
    assert oct(output.stat().st_mode & 0o777) == "0o600"
    assert f"sha256 {job.sha256}" in capsys.readouterr().out
    assert AuditEvent.objects.filter(
        action="reports.export_request", actor_label__startswith="command-line:"
    ).exists()

    # As a user, with that user's rights: the regulator never gets an unmasked file.
    with pytest.raises(CommandError, match="date_to"):
        call_command(
            "export_report", "registrations", "--from", "2026-03-05", "--to", "2026-03-01",
            "--output", str(tmp_path / "x.csv"),
        )  # fmt: skip
    with pytest.raises(CommandError):
        call_command(
            "export_report", "registrations", "--from", PARAMS["date_from"], "--to",
            PARAMS["date_to"], "--output", str(tmp_path / "x.csv"), "--user", "regulator",
            "--unmasked",
        )  # fmt: skip


@pytest.mark.django_db
def test_export_report_as_a_dealer_covers_its_outlets(dataset, tmp_path, dealer_user):
    output = tmp_path / "outlets.csv"
    call_command(
        "export_report", "outlets", "--from", PARAMS["date_from"], "--to", PARAMS["date_to"],
        "--output", str(output), "--user", "dealer",
    )  # fmt: skip
    roids = {line.split(",")[0] for line in output.read_text().splitlines()[1:]}
    assert roids == {"ROJKT000001", "ROJKT000002", "ROJBR000001"}


@pytest.mark.django_db
def test_refresh_command_and_button(
    dataset, client, regulator, capsys, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from reports.models import SummaryState

    cache.clear()

    call_command("refresh_report_summaries")
    assert "incremental refresh" in capsys.readouterr().out
    call_command("refresh_report_summaries", "--full")
    assert "full refresh" in capsys.readouterr().out
    generation = SummaryState.objects.get().generation
    client.force_login(regulator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/reports/refresh/", {"query": "date_from=2026-03-01"})
    assert response.status_code == 302 and response["Location"].endswith("?date_from=2026-03-01")
    assert SummaryState.objects.get().generation == generation + 1  # eager Celery ran it


@pytest.mark.django_db
def test_the_dashboard_asks_for_a_refresh_when_the_figures_are_stale(
    dataset, client, regulator, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from reports.models import SummaryState

    cache.clear()

    SummaryState.objects.update(refreshed_at=timezone.now() - timedelta(hours=2))
    generation = SummaryState.objects.get().generation
    client.force_login(regulator)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get("/reports/").status_code == 200
    assert SummaryState.objects.get().generation == generation + 1
