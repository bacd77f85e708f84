""" "This number is not mine": told at once, blocked after the notice window unless its user
answers; GraPARI reviews, the outlet explains, a confirmed dispute counts on the ladder."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from compliance.models import Clarification, NumberBlock, ReviewItem, Sanction, Violation
from compliance.workflow.review import review_item_decide
from compliance.workflow.selectors import review_items_for_user
from holders.models import HolderDispute, OperatorNotice, StoredSms
from holders.services import holder_disputes_block_due
from operatordb.models import OperatorSubscriber
from outlets.models import StarterPack
from subscribers.models import Registration

from .conftest import log_in, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def holder(holder_api, outlet):
    person = make_person(outlet, numbers=3)
    log_in(holder_api, person)
    return person


def _dispute(client, msisdn, note="Saya tidak pernah membeli nomor ini."):
    return client.post("/api/v1/holder/disputes/", {"msisdn": msisdn, "note": note}, format="json")


def _answer_link(msisdn: str) -> str:
    body = StoredSms.objects.filter(to=msisdn).latest("id").body
    return re.search(r"https?://\S+/nomor-saya/jawab/[^/\s]+/", body).group(0)


def _ref_of(client, index: int) -> str:
    return client.get("/api/v1/holder/numbers/").json()["results"][index]["ref"]


def test_a_dispute_tells_the_number_opens_a_review_and_asks_the_outlet(
    holder_api, holder, outlet, grapari, clerk, client
):
    disputed = holder.registrations[1]
    answer = _dispute(holder_api, _ref_of(holder_api, 1))
    assert answer.status_code == 201, answer.content
    assert answer.json()["status"] == "notice"
    # The number's user is told at once, with a link to answer.
    assert "BUKAN milik" in StoredSms.objects.get(to=disputed.msisdn).body
    # A review item of its own kind for GraPARI…
    item = ReviewItem.objects.get(msisdn=disputed.msisdn)
    assert item.kind == "holder_dispute" and item.status == "open"
    assert item in review_items_for_user(user=grapari)
    # …and a clarification request to the registering outlet, which its clerk sees.
    request = Clarification.objects.get(msisdn=disputed.msisdn)
    assert request.outlet == outlet and request.status == "open"
    client.force_login(clerk)
    inbox = client.get("/compliance/inbox/").content.decode()
    assert disputed.msisdn[-4:] in inbox
    # Not blocked yet.
    disputed.refresh_from_db()
    assert disputed.status == Registration.Status.REGISTERED


def test_blocked_only_after_the_notice_window(holder_api, holder):
    disputed = holder.registrations[1]
    _dispute(holder_api, _ref_of(holder_api, 1))
    reported = timezone.now()
    assert holder_disputes_block_due(now=reported + timedelta(hours=23, minutes=59)) == 0
    disputed.refresh_from_db()
    assert disputed.status == Registration.Status.REGISTERED
    assert not NumberBlock.objects.exists()
    assert holder_disputes_block_due(now=reported + timedelta(hours=24, minutes=1)) == 1
    disputed.refresh_from_db()
    assert disputed.status == Registration.Status.BLOCKED
    assert StarterPack.objects.get(msisdn=disputed.msisdn).status == "blocked"
    assert NumberBlock.objects.filter(msisdn=disputed.msisdn).exists()
    dispute = HolderDispute.objects.get()
    assert dispute.status == "blocked"
    # The holder sees it on the next look.
    rows = holder_api.get("/api/v1/holder/numbers/").json()["results"]
    assert rows[1]["status"] == "blocked"


def test_not_blocked_when_the_numbers_user_answers(holder_api, holder, client):
    disputed = holder.registrations[2]
    _dispute(holder_api, _ref_of(holder_api, 2))
    link = _answer_link(disputed.msisdn)
    path = urlsplit(link).path
    page = client.get(path)
    assert page.status_code == 200 and "answer-mine" in page.content.decode()
    assert client.post(path).status_code == 200
    assert HolderDispute.objects.get().status == "answered"
    assert holder_disputes_block_due(now=timezone.now() + timedelta(days=2)) == 0
    disputed.refresh_from_db()
    assert disputed.status == Registration.Status.REGISTERED
    # GraPARI still decides it.
    assert ReviewItem.objects.get(msisdn=disputed.msisdn).status == "open"


def test_the_answer_link_is_on_the_configured_address_not_the_requests_host(
    holder_api, holder, settings
):
    """A forged Host header must not put a link to someone else's site in the SMS."""
    settings.PUBLIC_BASE_URL = "https://satupintu.example.id"
    disputed = holder.registrations[1]
    answer = holder_api.post(
        "/api/v1/holder/disputes/",
        {"msisdn": _ref_of(holder_api, 1), "note": ""},
        format="json",
        HTTP_HOST="phish.example.com",
    )
    assert answer.status_code == 201, answer.content
    body = StoredSms.objects.filter(to=disputed.msisdn).latest("id").body
    assert "phish.example.com" not in body
    assert _answer_link(disputed.msisdn).startswith(
        "https://satupintu.example.id/nomor-saya/jawab/"
    )


def test_an_unknown_answer_link_is_a_404(client):
    assert client.get("/nomor-saya/jawab/not-a-real-token/").status_code == 404


def test_the_login_number_and_strangers_numbers_cannot_be_disputed(holder_api, holder, outlet):
    stranger = make_person(outlet, numbers=1)
    own = _dispute(holder_api, holder.msisdns[0])
    assert own.status_code == 400 and "msisdn" in own.json()
    other = _dispute(holder_api, stranger.msisdns[0])
    assert other.status_code == 400 and "msisdn" in other.json()
    assert not HolderDispute.objects.exists()
    assert not ReviewItem.objects.exists()
    assert not StoredSms.objects.filter(to=stranger.msisdns[0]).exists()


def test_a_number_disputed_once_is_not_disputed_twice(holder_api, holder):
    ref = _ref_of(holder_api, 1)
    assert _dispute(holder_api, ref).status_code == 201
    assert _dispute(holder_api, ref).status_code == 400


def test_disputes_per_session_are_limited(holder_api, outlet, settings):
    settings.HOLDER_DISPUTES_PER_SESSION = 1
    person = make_person(outlet, numbers=3)
    log_in(holder_api, person)
    assert _dispute(holder_api, _ref_of(holder_api, 1)).status_code == 201
    refused = _dispute(holder_api, _ref_of(holder_api, 2))
    assert refused.status_code == 400 and "non_field_errors" in refused.json()
    assert HolderDispute.objects.count() == 1


def test_a_confirmed_dispute_counts_on_the_outlets_ladder(holder_api, holder, grapari, outlet):
    _dispute(holder_api, _ref_of(holder_api, 1))
    item = ReviewItem.objects.get(kind="holder_dispute")
    review_item_decide(
        actor=grapari,
        item=item,
        decision="confirm_violation",
        reason="The outlet registered the number on a photocopied KTP.",
    )
    violation = Violation.objects.get()
    assert violation.outlet == outlet and violation.kinds == "holder_dispute"
    assert Sanction.objects.filter(outlet=outlet, level="warning").exists()
    progress = holder_api.get("/api/v1/holder/disputes/").json()["results"][0]["progress"]
    assert any("confirmed" in step for step in progress)


def test_ask_again_does_not_apply_to_a_dispute(holder_api, holder, grapari):
    from django.core.exceptions import ValidationError

    _dispute(holder_api, _ref_of(holder_api, 1))
    item = ReviewItem.objects.get(kind="holder_dispute")
    with pytest.raises(ValidationError):
        review_item_decide(actor=grapari, item=item, decision="ask_again", reason="?")


def test_grapari_reverses_a_block_on_evidence(holder_api, holder, grapari, clerk, client):
    disputed = holder.registrations[1]
    _dispute(holder_api, _ref_of(holder_api, 1))
    holder_disputes_block_due(now=timezone.now() + timedelta(days=1, minutes=1))
    item = ReviewItem.objects.get(kind="holder_dispute")
    url = f"/nomor-saya/ulasan/{item.pk}/"
    client.force_login(clerk)
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "x"}).status_code == 403
    client.force_login(grapari)
    assert client.post(url, {"reason": ""}).status_code == 200  # the form again, nothing done
    assert HolderDispute.objects.get().status == "blocked"
    answer = client.post(url, {"reason": "The user showed their e-KTP: the number is theirs."})
    assert answer.status_code == 302
    disputed.refresh_from_db()
    assert disputed.status == Registration.Status.REGISTERED
    assert not NumberBlock.objects.filter(msisdn=disputed.msisdn).exists()
    assert HolderDispute.objects.get().status == "reversed"
    notice = OperatorNotice.objects.get(msisdn=disputed.msisdn)
    assert notice.action == "unblock"


def test_the_dispute_review_page_confirms_nothing_to_those_it_is_not_for(
    holder_api, holder, grapari, operator, clerk, clerk2, dealer_user, regulator, client
):
    """The page belongs to the review queue, which outlet roles never get (403, as the queue's
    own pages: docs/compliance-workflow.md) and whose decisions the regulator never makes: they
    get that 403 whatever the number in the address, an item or not, so it says nothing of what
    exists. Those who decide get the page, and a 404 for an item that is not a dispute."""
    _dispute(holder_api, _ref_of(holder_api, 1))
    item = ReviewItem.objects.get(kind="holder_dispute")
    other = ReviewItem.objects.exclude(pk=item.pk).order_by("-pk").values_list("pk", flat=True)
    nowhere = max([item.pk, *other]) + 1000
    for user in (clerk, clerk2, dealer_user, regulator):
        client.force_login(user)
        for pk in (item.pk, nowhere):
            assert client.get(f"/nomor-saya/ulasan/{pk}/").status_code == 403, (user, pk)
        # The queue's own page of the same item answers the same.
        queue_page = client.get(f"/compliance/review/{item.pk}/").status_code
        assert queue_page == (200 if user == regulator else 403), user
    for user in (grapari, operator):
        client.force_login(user)
        assert client.get(f"/nomor-saya/ulasan/{item.pk}/").status_code == 200
        assert client.get(f"/nomor-saya/ulasan/{nowhere}/").status_code == 404


def test_the_operator_is_told_of_a_reversal(
    holder_api, holder, grapari, django_capture_on_commit_callbacks
):
    from holders.services import holder_dispute_reverse

    disputed = holder.registrations[1]
    OperatorSubscriber.objects.create(
        msisdn=disputed.msisdn,
        iccid="",
        status="active",
        activated_at=timezone.now(),
        outlet_roid="",
        id_type="ktp",
        id_number_digest="",
        id_number_masked="",
        full_name="x",
        name_key="x",
        updated_at=timezone.now(),
    )
    _dispute(holder_api, _ref_of(holder_api, 1))
    with django_capture_on_commit_callbacks(execute=True):
        holder_disputes_block_due(now=timezone.now() + timedelta(days=1, minutes=1))
    assert OperatorSubscriber.objects.get(msisdn=disputed.msisdn).status == "inactive"
    with django_capture_on_commit_callbacks(execute=True):
        holder_dispute_reverse(
            actor=grapari, dispute=HolderDispute.objects.get(), reason="e-KTP shown"
        )
    assert OperatorSubscriber.objects.get(msisdn=disputed.msisdn).status == "active"
    assert OperatorNotice.objects.get().told_at is not None


def _decide_dispute(grapari, decision, reason="Checked at GraPARI.", **extra):
    item = ReviewItem.objects.get(kind="holder_dispute")
    review_item_decide(actor=grapari, item=item, decision=decision, reason=reason, **extra)
    return item


def test_grapari_dismissing_a_dispute_stops_its_block(holder_api, holder, grapari, client):
    """Dismissed before the deadline: the sweep after it leaves the number alone, and the
    holder reads that GraPARI closed the dispute."""
    disputed = holder.registrations[1]
    _dispute(holder_api, _ref_of(holder_api, 1))
    _decide_dispute(grapari, "dismiss", "The outlet showed the buyer's own e-KTP.")
    assert HolderDispute.objects.get().status == "dismissed"
    assert holder_disputes_block_due(now=timezone.now() + timedelta(days=2)) == 0
    disputed.refresh_from_db()
    assert disputed.status == Registration.Status.REGISTERED
    assert StarterPack.objects.get(msisdn=disputed.msisdn).status != "blocked"
    assert not NumberBlock.objects.exists()
    assert not OperatorNotice.objects.exists()
    shown = holder_api.get("/api/v1/holder/disputes/").json()["results"][0]
    assert shown["status"] == "dismissed"
    assert not any("Blocked after" in step for step in shown["progress"])
    assert any("dispute is closed" in step for step in shown["progress"])
    page = _holder_page(client, holder_api).content.decode()
    assert "dispute is closed" in page or "sengketa ditutup" in page.lower()


def test_dismissing_after_the_disputes_block_undoes_it(holder_api, holder, grapari):
    disputed = holder.registrations[1]
    _dispute(holder_api, _ref_of(holder_api, 1))
    holder_disputes_block_due(now=timezone.now() + timedelta(days=1, minutes=1))
    _decide_dispute(grapari, "dismiss")
    disputed.refresh_from_db()
    assert disputed.status == Registration.Status.REGISTERED
    assert not NumberBlock.objects.exists()
    assert OperatorNotice.objects.get(msisdn=disputed.msisdn).action == "unblock"
    assert HolderDispute.objects.get().status == "dismissed"


def test_grapari_blocking_a_dispute_settles_it(holder_api, holder, grapari):
    disputed = holder.registrations[1]
    _dispute(holder_api, _ref_of(holder_api, 1))
    _decide_dispute(grapari, "block", "Nomor dipakai penipu.")
    dispute = HolderDispute.objects.get()
    assert dispute.status == "blocked" and not dispute.own_block
    # Nothing left for the sweep; the holder is not told "blocked after …".
    assert holder_disputes_block_due(now=timezone.now() + timedelta(days=2)) == 0
    progress = holder_api.get("/api/v1/holder/disputes/").json()["results"][0]["progress"]
    assert not any("Blocked after" in step for step in progress)
    block = NumberBlock.objects.get(msisdn=disputed.msisdn)
    assert block.blocked_by == grapari


def test_a_confirmed_dispute_is_still_blocked_after_the_notice_window(holder_api, holder, grapari):
    disputed = holder.registrations[1]
    _dispute(holder_api, _ref_of(holder_api, 1))
    _decide_dispute(grapari, "confirm_violation", "Registered on a photocopied KTP.")
    assert HolderDispute.objects.get().status == "notice"
    assert holder_disputes_block_due(now=timezone.now() + timedelta(days=1, minutes=1)) == 1
    disputed.refresh_from_db()
    assert disputed.status == Registration.Status.BLOCKED


def _holder_page(client, holder_api):
    """The web page of the API client's session (the token in the browser's session)."""
    session = client.session
    session["holder_token"] = holder_api._credentials["HTTP_AUTHORIZATION"].split()[1]
    session.save()
    return client.get("/nomor-saya/nomor/")


def test_the_deadline_is_shown_on_the_local_wall_clock(holder_api, holder, settings, client):
    from datetime import UTC, datetime

    settings.TIME_ZONE = "Asia/Jakarta"
    _dispute(holder_api, _ref_of(holder_api, 1))
    HolderDispute.objects.update(notice_until=datetime(2026, 12, 9, 0, 11, tzinfo=UTC))
    progress = holder_api.get("/api/v1/holder/disputes/").json()["results"][0]["progress"]
    assert any("09-12-2026 07:11" in step for step in progress), progress
    assert not any("00:11" in step for step in progress)
    page = _holder_page(client, holder_api).content.decode()
    assert "09-12-2026 07:11" in page


def _grapari_blocks_another_item(grapari, outlet, msisdn):
    """GraPARI's own block of the number, decided on an item that is not the dispute's."""
    item = ReviewItem.objects.create(
        kind="flagged_registration",
        msisdn=msisdn,
        registration=Registration.objects.get(msisdn=msisdn),
        outlet=outlet,
        dealer_id=outlet.dealer_id,
        province=outlet.province,
        region=outlet.region,
        queued_at=timezone.now(),
        due_at=timezone.now() + timedelta(days=1),
    )
    review_item_decide(actor=grapari, item=item, decision="block", reason="Nomor dipakai penipu.")


def test_reversing_a_disputes_block_leaves_graparis_own_block(
    holder_api, holder, grapari, outlet, client
):
    disputed = holder.registrations[1]
    _dispute(holder_api, _ref_of(holder_api, 1))
    holder_disputes_block_due(now=timezone.now() + timedelta(days=1, minutes=1))
    _grapari_blocks_another_item(grapari, outlet, disputed.msisdn)
    item = ReviewItem.objects.get(kind="holder_dispute")
    client.force_login(grapari)
    answer = client.post(f"/nomor-saya/ulasan/{item.pk}/", {"reason": "e-KTP shown"})
    assert answer.status_code == 302
    assert HolderDispute.objects.get().status == "reversed"
    disputed.refresh_from_db()
    assert disputed.status == Registration.Status.BLOCKED
    assert StarterPack.objects.get(msisdn=disputed.msisdn).status == "blocked"
    block = NumberBlock.objects.get(msisdn=disputed.msisdn)
    assert block.blocked_by == grapari and "penipu" in block.reason
    assert not OperatorNotice.objects.exists()


def test_a_number_grapari_blocked_first_is_not_unblocked_by_the_disputes_reversal(
    holder_api, holder, grapari, outlet
):
    from holders.services import holder_dispute_reverse

    disputed = holder.registrations[1]
    _dispute(holder_api, _ref_of(holder_api, 1))
    _grapari_blocks_another_item(grapari, outlet, disputed.msisdn)
    # The holder is not told "blocked after …" of a number already blocked.
    progress = holder_api.get("/api/v1/holder/disputes/").json()["results"][0]["progress"]
    assert not any("Blocked after" in step for step in progress), progress
    holder_disputes_block_due(now=timezone.now() + timedelta(days=1, minutes=1))
    holder_dispute_reverse(actor=grapari, dispute=HolderDispute.objects.get(), reason="e-KTP")
    disputed.refresh_from_db()
    assert disputed.status == Registration.Status.BLOCKED
    assert StarterPack.objects.get(msisdn=disputed.msisdn).status == "blocked"
    assert NumberBlock.objects.filter(msisdn=disputed.msisdn, blocked_by=grapari).exists()
    assert not OperatorNotice.objects.exists()
