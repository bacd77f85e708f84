"""The user's notifications."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from core.pagination import CappedCountPaginator

from ...reconciliation.views import PAGE_SIZE
from ..notifications import notifications_mark_read
from ..selectors import notifications_for_user
from ._common import private


@login_required
def notification_list(request):
    """The user's notifications; POST marks them all read."""
    if request.method == "POST":
        notifications_mark_read(user=request.user)
        return redirect("compliance:notifications")
    page = CappedCountPaginator(notifications_for_user(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return private(render(request, "compliance/notifications.html", {"page": page}))
