"""The statement and its check, choosing the numbers to keep, the SMS boundary, the purge."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from holders import tasks
from holders.models import (
    HolderKeepChoice,
    HolderSession,
    HolderStatement,
    OperatorNotice,
    SmsMessage,
    StoredSms,
)
from holders.services import holder_records_purge
from holders.sms import sms_queue, sms_sweep_pending
from operatordb.models import OperatorSubscriber
from subscribers.models import RegistrationPolicy
from tests.pdftext import pdf_text

from .conftest import log_in, make_person, start

pytestmark = pytest.mark.django_db


def _log_in_web(client, person, capture) -> None:
    with capture(execute=True):
        client.post(
            "/nomor-saya/",
            {"id_number": person.nik, "kk_number": person.kk, "msisdn": person.msisdns[0]},
        )
    from .conftest import last_code

    answer = client.post("/nomor-saya/kode/", {"code": last_code(person.msisdns[0])})
    assert answer.status_code == 302 and answer["Location"].endswith("/nomor-saya/nomor/")


class TestStatement:
    def test_the_statement_lists_the_numbers_and_can_be_checked(
        self, client, outlet, django_capture_on_commit_callbacks
    ):
        person = make_person(outlet, numbers=2)
        _log_in_web(client, person, django_capture_on_commit_callbacks)
        answer = client.get("/nomor-saya/pernyataan/")
        assert answer["Content-Type"] == "application/pdf"
        pdf = answer.content
        text = pdf_text(pdf)
        statement = HolderStatement.objects.get()
        assert statement.code in text
        assert "0" + person.msisdns[0][2:] in text
        local = "0" + person.msisdns[1][2:]
        assert f"{local[:4]}-****-{local[-4:]}" in text and local not in text
        assert person.nik not in text
        from django.core.files.uploadedfile import SimpleUploadedFile

        def check(code, content):
            page = client.post(
                "/nomor-saya/periksa/",
                {"code": code, "file": SimpleUploadedFile("s.pdf", content, "application/pdf")},
            )
            return page.content.decode()

        assert "Yes:" in check(statement.code, pdf) or "Ya:" in check(statement.code, pdf)
        tampered = pdf.replace(b"Satu Pintu", b"Satu Pintx")
        assert "No:" in check(statement.code, tampered) or "Tidak:" in check(
            statement.code, tampered
        )
        assert "No:" in check("AAAAAAAAAA", pdf) or "Tidak:" in check("AAAAAAAAAA", pdf)

    def test_the_statement_gives_the_full_public_address_of_its_check(
        self, client, outlet, settings, django_capture_on_commit_callbacks
    ):
        """A bank or an employer reads the paper: a path alone leads nowhere, and the address
        is the configured one, never the request's Host."""
        settings.PUBLIC_BASE_URL = "https://satupintu.example.id"
        person = make_person(outlet, numbers=1)
        _log_in_web(client, person, django_capture_on_commit_callbacks)
        answer = client.get("/nomor-saya/pernyataan/", HTTP_HOST="phish.example.com")
        text = " ".join(pdf_text(answer.content).split())
        assert "diperiksa di halaman https://satupintu.example.id/nomor-saya/periksa/" in text
        assert "statement at https://satupintu.example.id/nomor-saya/periksa/" in text
        assert "phish.example.com" not in text

    def test_no_statement_without_a_verified_session(self, client):
        answer = client.get("/nomor-saya/pernyataan/")
        assert answer.status_code == 302
        assert not HolderStatement.objects.exists()


class TestChoose:
    @pytest.fixture
    def chooses(self, policies):
        RegistrationPolicy.objects.update(holder_chooses_over_cap=True)

    def test_the_holder_keeps_three_and_the_rest_are_flagged(
        self, client, outlet, chooses, django_capture_on_commit_callbacks
    ):
        person = make_person(outlet, numbers=5)
        for msisdn in person.msisdns:
            OperatorSubscriber.objects.create(
                msisdn=msisdn, status="active", updated_at=timezone.now()
            )
        _log_in_web(client, person, django_capture_on_commit_callbacks)
        page = client.get("/nomor-saya/nomor/").content.decode()
        refs = re.findall(r'name="keep" value="([0-9a-f]+)"', page)
        assert len(refs) == 5
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/nomor-saya/pilih/", {"keep": refs[:3]})
        flagged = set(HolderKeepChoice.objects.values_list("msisdn", flat=True))
        assert flagged == set(person.msisdns[3:])
        assert set(
            OperatorSubscriber.objects.filter(status="inactive").values_list("msisdn", flat=True)
        ) == set(person.msisdns[3:])
        assert OperatorNotice.objects.filter(told_at__isnull=False).count() == 2

    def test_more_than_the_cap_is_refused(
        self, client, outlet, chooses, django_capture_on_commit_callbacks
    ):
        person = make_person(outlet, numbers=5)
        _log_in_web(client, person, django_capture_on_commit_callbacks)
        page = client.get("/nomor-saya/nomor/").content.decode()
        refs = re.findall(r'name="keep" value="([0-9a-f]+)"', page)
        client.post("/nomor-saya/pilih/", {"keep": refs[:4]})
        assert not HolderKeepChoice.objects.exists()

    def test_numbers_typed_in_full_are_refused(
        self, client, outlet, chooses, django_capture_on_commit_callbacks
    ):
        """Only the refs of the list: a typed number would tell whether it is on the NIK."""
        person = make_person(outlet, numbers=5)
        _log_in_web(client, person, django_capture_on_commit_callbacks)
        client.post("/nomor-saya/pilih/", {"keep": person.msisdns[:3]})
        assert not HolderKeepChoice.objects.exists()

    def test_not_offered_when_the_rule_set_does_not_say_so(
        self, client, outlet, django_capture_on_commit_callbacks
    ):
        person = make_person(outlet, numbers=5)
        _log_in_web(client, person, django_capture_on_commit_callbacks)
        page = client.get("/nomor-saya/nomor/").content.decode()
        assert 'name="keep"' not in page
        client.post("/nomor-saya/pilih/", {"keep": [person.msisdns[0]]})
        assert not HolderKeepChoice.objects.exists()


class TestSms:
    def test_a_message_survives_the_broker_being_down(self, django_capture_on_commit_callbacks):
        with (
            mock.patch.object(tasks.deliver_sms, "apply_async", side_effect=OSError("down")),
            django_capture_on_commit_callbacks(execute=True),
        ):
            sms_queue(to="6281100000001", body="halo")
        message = SmsMessage.objects.get()
        assert message.status == "pending" and not StoredSms.objects.exists()
        assert "halo" not in message.body_encrypted  # encrypted while it waits
        SmsMessage.objects.update(created_at=timezone.now() - timedelta(minutes=5))
        assert sms_sweep_pending() == 1
        message.refresh_from_db()
        assert message.status == "sent" and message.body_encrypted == ""
        assert StoredSms.objects.get().body == "halo"

    def test_a_failing_gateway_is_retried_and_the_message_kept(
        self, settings, django_capture_on_commit_callbacks
    ):
        settings.SMS_BACKEND = "tests.holders.test_statement_choice_sms.BrokenGateway"
        message = sms_queue(to="6281100000002", body="kode 123456")
        with pytest.raises(Retry):  # the task asks Celery to run it again later
            tasks.deliver_sms.apply(args=[message.pk])
        message.refresh_from_db()
        assert message.status == "pending" and message.attempts == 1
        assert "gateway down" in message.last_error
        settings.SMS_BACKEND = "holders.sms.DatabaseBackend"
        tasks.deliver_sms.apply(args=[message.pk])
        assert StoredSms.objects.get().body == "kode 123456"

    def test_the_console_backend_prints(self, settings, capsys):
        settings.SMS_BACKEND = "holders.sms.ConsoleBackend"
        message = sms_queue(to="6281100000003", body="halo konsol")
        tasks.deliver_sms.apply(args=[message.pk])
        assert "halo konsol" in capsys.readouterr().out


class BrokenGateway:
    def send(self, *, to, body):
        raise ConnectionError("gateway down")


def test_the_purge_removes_old_sessions_and_sms(holder_api, outlet):
    person = make_person(outlet, numbers=1)
    log_in(holder_api, person)
    start(holder_api, person)
    old = timezone.now() - timedelta(days=31)
    HolderSession.objects.update(created_at=old)
    SmsMessage.objects.update(created_at=old)
    StoredSms.objects.update(created_at=old)
    counts = holder_records_purge()
    assert counts == {"sessions": 2, "sms": 2, "stored_sms": 2}
    assert not HolderSession.objects.exists()


def test_the_retention_purge_covers_the_door(holder_api, outlet):
    from privacy.services.retention import retention_purge_start

    person = make_person(outlet, numbers=1)
    log_in(holder_api, person)
    HolderSession.objects.update(created_at=timezone.now() - timedelta(days=31))
    retention_purge_start(trigger="test", dispatch=False)
    from privacy.models import PrivacyJob
    from privacy.services.jobs import privacy_job_run

    job = PrivacyJob.objects.get()
    privacy_job_run(job_id=job.pk)
    assert not HolderSession.objects.exists()
