"""Telling people: a ``Notification`` in the portal, and an e-mail through Django's mail framework
(console backend by default) after the commit.

The notification row is the record and is written in the caller's transaction; the e-mail is
best effort: a mail outage never undoes a decision already committed. ``tell_accountable`` tells
the parties asked about their clarification requests, one notification per person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext

from core.publicurl import public_url

from ..models import Clarification, Notification
from .support import when_text

logger = logging.getLogger(__name__)


def outlet_staff_users(*, outlet_ids: Iterable[int]) -> QuerySet:
    """The active accounts of the active staff of these outlets."""
    return get_user_model().objects.filter(
        outlet_staff__outlet_id__in=list(outlet_ids),
        outlet_staff__is_active=True,
        is_active=True,
    )


def dealer_admin_users(*, dealer_ids: Iterable[int]) -> QuerySet:
    """The active accounts of these dealers' admins."""
    return get_user_model().objects.filter(
        dealer_admin__dealer_id__in=list(dealer_ids), is_active=True
    )


def notify(*, users: Iterable, text: Callable[[], str] | str, link: str = "") -> int:
    """Write one notification per user (``text`` rendered in each user's language when it is a
    callable) and e-mail those with an address after the commit. Returns how many."""
    rows = []
    for user in users:
        with translation.override(getattr(user, "preferred_language", None) or None):
            message = str(text() if callable(text) else text)[:300]
        rows.append(Notification(user=user, text=message, link=link[:300]))
    if not rows:
        return 0
    Notification.objects.bulk_create(rows)
    mails = [(row.user.email, row.text, row.link) for row in rows if row.user.email]
    if mails:
        transaction.on_commit(lambda: _send_mails(mails))
    return len(rows)


def _send_mails(mails: list[tuple[str, str, str]]) -> None:
    for address, text, link in mails:
        # A link in an e-mail is clicked outside the portal: the portal's public address.
        body = f"{text}\n\n{public_url(link) if link.startswith('/') else link}" if link else text
        try:
            send_mail(f"[Satu Pintu] {text[:80]}", body, None, [address])
        except Exception:
            logger.warning("notification e-mail to a user failed", exc_info=True)


def notifications_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    """Mark ``user``'s unread notifications read (all of them, or those of ``ids``)."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


def tell_accountable(clarifications: list[Clarification], message) -> None:
    """One notification per person per outlet (or dealer), not one per request.

    ``message(count, due_at)`` is called in each recipient's language.
    """
    by_outlet: dict[int, list] = {}
    by_dealer: dict[int, list] = {}
    for clarification in clarifications:
        if clarification.accountable == Clarification.Accountable.OUTLET:
            groups, key = by_outlet, clarification.outlet_id
        else:
            groups, key = by_dealer, clarification.dealer_id
        count, due = groups.get(key, (0, clarification.due_at))
        groups[key] = (count + 1, min(due, clarification.due_at))
    tell_groups(by_outlet=by_outlet, by_dealer=by_dealer, message=message)


def tell_groups(
    *,
    by_outlet: dict[int, tuple[int, datetime]],
    by_dealer: dict[int, tuple[int, datetime]],
    message,
) -> int:
    """Tell the people of each outlet (or dealer) about ``count`` requests due first at
    ``due``: one notification per person per outlet (or dealer), whatever the number of
    outlets — two queries for the recipients, one insert. Returns how many were written."""
    from outlets.models import DealerAdmin, OutletStaff

    recipients: list[tuple] = []
    if by_outlet:
        recipients += OutletStaff.objects.filter(
            outlet_id__in=list(by_outlet), is_active=True, user__is_active=True
        ).values_list("outlet_id", "user_id", "user__email", "user__preferred_language")
    outlet_recipients = len(recipients)
    if by_dealer:
        recipients += DealerAdmin.objects.filter(
            dealer_id__in=list(by_dealer), user__is_active=True
        ).values_list("dealer_id", "user_id", "user__email", "user__preferred_language")
    link = reverse("compliance:inbox")[:300]
    texts: dict[tuple, str] = {}
    rows, mails = [], []
    for index, (key, user_id, email, language) in enumerate(recipients):
        count, due = (by_outlet if index < outlet_recipients else by_dealer)[key]
        cache_key = (language or None, count, due)
        if cache_key not in texts:
            with translation.override(language or None):
                texts[cache_key] = str(message(count, due))[:300]
        text = texts[cache_key]
        rows.append(Notification(user_id=user_id, text=text, link=link))
        if email:
            mails.append((email, text, link))
    if rows:
        Notification.objects.bulk_create(rows, batch_size=2000)
    if mails:
        transaction.on_commit(lambda: _send_mails(mails))
    return len(rows)


def new_requests_message(count: int, due_at: datetime) -> str:
    return ngettext(
        "%(count)d new clarification request: answer by %(due)s.",
        "%(count)d new clarification requests: answer by %(due)s.",
        count,
    ) % {"count": count, "due": when_text(due_at)}
