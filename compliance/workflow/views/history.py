"""A registration's history: every audit row about it and the workflow around it."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from core.disclosure import sees_every_detail
from subscribers.selectors import registration_get_for_user

from ..selectors import registration_history
from ._common import audit_look, private


@login_required
def registration_history_page(request, pk: int):
    """Every audit row about a registration and the workflow around it, newest first."""
    registration = registration_get_for_user(user=request.user, pk=pk)
    audit_look(request, registration, "history")
    events = list(registration_history(registration=registration)[:500])
    return private(
        render(
            request,
            "compliance/registration_history.html",
            {
                "registration": registration,
                "events": events,
                "versions": list(registration.versions.all()),
                "clarifications": list(registration.clarifications.all()),
                "show_values": sees_every_detail(request.user),
            },
        )
    )
