"""Draft rule sets never judge a registration; publishing them sets a date to come, audited;
the pages are the operator admin's alone."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from core.audit import AuditAction
from core.models import AuditEvent
from subscribers import drafts, services
from subscribers.imports.prepare import PolicyBook
from subscribers.models import PolicyStatus, RegistrationPolicy, RulePreview
from subscribers.selectors import policy_in_force
from tests.conftest import buyer_data

from .preview_data import PERIOD, history, nik

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    """The pages answer in English here (Bahasa Indonesia is the default), and the language a
    request activated does not outlive the test."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override(translation.get_language()):
        yield


def _draft(operator, **changes):
    source = policy_in_force()
    draft = drafts.draft_create(actor=operator, source=source)
    for name, value in changes.items():
        setattr(draft, name, value)
    draft.save()
    return draft


def test_a_draft_copies_every_rule_of_its_source(policies, operator):
    source = RegistrationPolicy.objects.get(code="2018-11")
    draft = drafts.draft_create(actor=operator, source=source)
    assert draft.status == PolicyStatus.DRAFT and draft.effective_from is None
    assert draft.based_on == source and draft.code != source.code
    for name in drafts.rule_fields():
        assert getattr(draft, name) == getattr(source, name), name
    assert AuditEvent.objects.filter(
        action=AuditAction.RULE_SET_DRAFT_CREATE, target_id=str(draft.pk)
    ).exists()


def test_only_an_operator_admin_drafts(policies, clerk, dealer_user):
    for user in (clerk, dealer_user):
        with pytest.raises(PermissionDenied):
            drafts.draft_create(actor=user, source=policy_in_force())
    assert not RegistrationPolicy.all_objects.filter(status=PolicyStatus.DRAFT).exists()


def test_a_draft_never_judges_a_live_registration(clerk, pack, photos, operator):
    """A draft dated today — the day a published rule set would come into force — that would
    refuse the buyer (KTP no longer accepted) judges nothing: the rule set in force does."""
    in_force = policy_in_force()
    today = timezone.localdate()
    draft = _draft(operator, citizen_id_types=["sim"], effective_from=today)
    assert policy_in_force() == in_force
    assert policy_in_force(at=today + timedelta(days=400)) == in_force
    registration = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)
    assert registration.policy == in_force != draft
    # The bulk import's book of rule sets leaves it out too.
    book = PolicyBook()
    assert draft not in book.policies
    assert book.policies[book.on(today)] == in_force


def test_publishing_with_a_past_date_or_today_is_refused_and_writes_nothing(policies, operator):
    draft = _draft(operator)
    today = timezone.localdate()
    for day in (today - timedelta(days=1), today, None):
        with pytest.raises(ValidationError) as caught:
            drafts.draft_publish(actor=operator, draft=draft, effective_from=day)
        assert "effective_from" in caught.value.message_dict
    draft.refresh_from_db()
    assert draft.status == PolicyStatus.DRAFT
    assert not AuditEvent.objects.filter(action=AuditAction.RULE_SET_PUBLISH).exists()


def test_publishing_on_a_day_taken_by_another_rule_set_is_refused(policies, operator):
    first, second = _draft(operator), _draft(operator)
    day = timezone.localdate() + timedelta(days=30)
    drafts.draft_publish(actor=operator, draft=first, effective_from=day)
    with pytest.raises(ValidationError):
        drafts.draft_publish(actor=operator, draft=second, effective_from=day)
    with pytest.raises(ValidationError):  # published already
        drafts.draft_publish(actor=operator, draft=first, effective_from=day + timedelta(days=1))


def test_a_published_draft_judges_from_its_day_audited(policies, operator):
    in_force = policy_in_force()
    draft = _draft(operator, max_numbers_per_id=2)
    day = timezone.localdate() + timedelta(days=10)
    drafts.draft_publish(actor=operator, draft=draft, effective_from=day)
    assert policy_in_force() == in_force
    assert policy_in_force(at=day) == draft
    assert policy_in_force(at=day - timedelta(days=1)) == in_force
    event = AuditEvent.objects.get(action=AuditAction.RULE_SET_PUBLISH)
    assert event.target_id == str(draft.pk)
    assert event.after == {"status": "published", "effective_from": day.isoformat()}


# --- the pages --------------------------------------------------------------------------------


@pytest.fixture
def past_and_draft(policies, operator):
    history(policies)
    draft = drafts.draft_create(
        actor=operator, source=RegistrationPolicy.objects.get(code="2026-07")
    )
    draft.max_numbers_per_id = 2
    draft.save()
    preview = drafts.preview_request(
        actor=operator, draft=draft, period_from=PERIOD[0], period_to=PERIOD[1]
    )
    return draft, preview


def _pages(draft, preview, source_pk):
    return {
        "list": ("get", reverse("subscribers:rule_sets")),
        "copy": ("post", reverse("subscribers:rule_set_copy", args=[source_pk])),
        "draft": ("get", reverse("subscribers:rule_draft", args=[draft.pk])),
        "preview_new": ("post", reverse("subscribers:rule_preview_new", args=[draft.pk])),
        "publish": ("post", reverse("subscribers:rule_publish", args=[draft.pk])),
        "preview": ("get", reverse("subscribers:rule_preview", args=[preview.pk])),
        "samples": (
            "get",
            reverse("subscribers:rule_preview_samples", args=[preview.pk, "over_cap:new"]),
        ),
    }


def test_the_operator_admin_drafts_previews_and_publishes_through_the_pages(
    client, operator, past_and_draft
):
    draft, preview = past_and_draft
    client.force_login(operator)
    source = RegistrationPolicy.objects.get(code="2026-07")
    assert client.get(reverse("subscribers:rule_sets")).status_code == 200
    response = client.post(reverse("subscribers:rule_set_copy", args=[source.pk]))
    assert response.status_code == 302
    page = client.get(reverse("subscribers:rule_draft", args=[draft.pk]))
    assert page.status_code == 200
    assert "3" in page.content.decode() and "differences" in page.content.decode()
    response = client.post(
        reverse("subscribers:rule_preview_new", args=[draft.pk]),
        {"period_from": PERIOD[0].isoformat(), "period_to": PERIOD[1].isoformat()},
    )
    assert response.status_code == 302
    shown = client.get(response["Location"])
    assert shown.status_code == 200
    assert 'data-code="over_cap"' in shown.content.decode()
    samples = client.get(
        reverse("subscribers:rule_preview_samples", args=[preview.pk, "over_cap:new"])
    )
    body = samples.content.decode()
    assert samples.status_code == 200 and "ROJKT000101" in body
    assert nik(1) not in body and nik(2) not in body  # masked
    day = timezone.localdate() + timedelta(days=5)
    response = client.post(
        reverse("subscribers:rule_publish", args=[draft.pk]), {"effective_from": day.isoformat()}
    )
    assert response.status_code == 302
    assert policy_in_force(at=day) == draft


def test_bad_input_on_the_pages_gets_a_4xx_and_writes_nothing(client, operator, past_and_draft):
    draft, _preview = past_and_draft
    client.force_login(operator)
    previews = RulePreview.objects.count()
    today = timezone.localdate()
    for period in (
        {"period_from": "2026-11-30", "period_to": "2026-11-01"},
        {"period_from": today.isoformat(), "period_to": (today + timedelta(days=1)).isoformat()},
        {"period_from": "kemarin", "period_to": ""},
    ):
        response = client.post(reverse("subscribers:rule_preview_new", args=[draft.pk]), period)
        assert response.status_code == 400
    assert RulePreview.objects.count() == previews
    yesterday = (today - timedelta(days=1)).isoformat()
    response = client.post(
        reverse("subscribers:rule_publish", args=[draft.pk]), {"effective_from": yesterday}
    )
    assert response.status_code == 400
    assert "tomorrow at the earliest" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == PolicyStatus.DRAFT
    # A published rule set has no draft page.
    published = policy_in_force()
    assert client.get(reverse("subscribers:rule_draft", args=[published.pk])).status_code == 404


@pytest.mark.parametrize("persona", ["clerk", "dealer_user", "grapari", "regulator"])
def test_outsiders_get_403_or_404_and_change_nothing(client, request, persona, past_and_draft):
    draft, preview = past_and_draft
    client.force_login(request.getfixturevalue(persona))
    source = RegistrationPolicy.objects.get(code="2026-07")
    drafts_before = RegistrationPolicy.all_objects.count()
    previews_before = RulePreview.objects.count()
    future = (timezone.localdate() + timedelta(days=5)).isoformat()
    data = {"period_from": "2026-11-01", "period_to": "2026-11-30", "effective_from": future}
    for name, (method, url) in _pages(draft, preview, source.pk).items():
        response = getattr(client, method)(url, data if method == "post" else None)
        assert response.status_code == (403 if name == "list" else 404), name
    assert RegistrationPolicy.all_objects.count() == drafts_before
    assert RulePreview.objects.count() == previews_before
    draft.refresh_from_db()
    assert draft.status == PolicyStatus.DRAFT


def test_signed_out_visitors_are_sent_to_sign_in(client, past_and_draft):
    draft, preview = past_and_draft
    for _name, (method, url) in _pages(draft, preview, draft.pk).items():
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "login" in response["Location"]


def test_a_published_rule_set_is_never_edited_only_drafts_are(policies, operator):
    published = policy_in_force()
    cap = published.max_numbers_per_id
    published.max_numbers_per_id = 1
    with pytest.raises(ValidationError):
        published.save()
    with pytest.raises(ValidationError):
        published.delete()
    published.refresh_from_db()
    assert published.max_numbers_per_id == cap
    # A draft is edited freely until it is published, then it too is final.
    draft = _draft(operator, max_numbers_per_id=1)
    draft.refresh_from_db()
    assert draft.max_numbers_per_id == 1
    tomorrow = timezone.localdate() + timedelta(days=1)
    drafts.draft_publish(actor=operator, draft=draft, effective_from=tomorrow)
    draft.refresh_from_db()
    draft.max_numbers_per_id = 2
    with pytest.raises(ValidationError):
        draft.save()
    assert RegistrationPolicy.objects.get(pk=draft.pk).max_numbers_per_id == 1


def test_the_admin_shows_a_published_rule_set_read_only_and_edits_drafts(
    client, policies, operator
):
    client.force_login(operator)
    published = policy_in_force()
    url = reverse("admin:subscribers_registrationpolicy_change", args=[published.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="max_numbers_per_id"' not in page.content.decode()
    posted = client.post(url, {"name": "Changed", "max_numbers_per_id": 1})
    assert posted.status_code == 403
    published.refresh_from_db()
    assert published.name != "Changed"
    delete_url = reverse("admin:subscribers_registrationpolicy_delete", args=[published.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    bulk = client.post(
        reverse("admin:subscribers_registrationpolicy_changelist"),
        {"action": "delete_selected", "_selected_action": [published.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302, 403)
    assert RegistrationPolicy.objects.filter(pk=published.pk).exists()
    # A draft's page is a form.
    draft = _draft(operator)
    draft_page = client.get(
        reverse("admin:subscribers_registrationpolicy_change", args=[draft.pk])
    ).content.decode()
    assert 'name="max_numbers_per_id"' in draft_page
