"""A registration's history: every audit row about it and the workflow around it."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from core.disclosure import sees_every_detail
from core.roles import is_operator
from subscribers.selectors import registration_get_for_user

from ..selectors import registration_history
from ..story import history_story
from ._common import audit_look, private


@login_required
def registration_history_page(request, pk: int):
    """A registration's history as a story (days, one sentence per event, looks folded); an
    operator admin may ask for the raw audit rows (``?raw=1``)."""
    registration = registration_get_for_user(user=request.user, pk=pk)
    audit_look(request, registration, "history")
    events = list(registration_history(registration=registration)[:500])
    raw = is_operator(request.user) and request.GET.get("raw") == "1"
    return private(
        render(
            request,
            "compliance/registration_history.html",
            {
                "registration": registration,
                "events": events,
                "story": None if raw else history_story(events),
                "raw": raw,
                "may_see_raw": is_operator(request.user),
                "versions": list(registration.versions.all()),
                "clarifications": list(registration.clarifications.all()),
                "show_values": sees_every_detail(request.user),
            },
        )
    )
