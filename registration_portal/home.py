"""Each role's home page: the project's top, the one page that reads every app."""

from datetime import datetime, time

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import render
from django.utils import timezone

from core.masking import local_msisdn
from outlets.models import StarterPack
from outlets.selectors import (
    dealer_id_for_user,
    outlets_for_user,
    staff_membership_for_user,
    starter_packs_for_user,
)
from subscribers.selectors import registrations_for_user

RECENT_ON_HOME = 5


def _start_of_today() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


@login_required
def home(request):
    """Each role lands on its own home: clerks on their outlet's work, operator admins on the
    admin, the others on a page of what they can do."""
    user = request.user
    membership = staff_membership_for_user(user=user)
    if membership is not None:
        registrations = registrations_for_user(user=user)
        recent = list(registrations[:RECENT_ON_HOME])
        for registration in recent:
            registration.display_name = registration.full_name
            registration.msisdn_local = local_msisdn(registration.msisdn)
        context = {
            "membership": membership,
            "outlet": membership.outlet,
            "today_count": registrations.filter(registered_at__gte=_start_of_today()).count(),
            "packs_in_stock": starter_packs_for_user(
                user=user, status=StarterPack.Status.IN_STOCK
            ).count(),
            "recent": recent,
        }
        return render(request, "accounts/home_clerk.html", context)
    if dealer_id_for_user(user=user) is not None:
        outlets = outlets_for_user(user=user).annotate(
            registered_today=Count(
                "registrations", filter=Q(registrations__registered_at__gte=_start_of_today())
            )
        )
        context = {"dealer": user.dealer_admin.dealer, "outlets": outlets}
        return render(request, "accounts/home_dealer.html", context)
    if user.role == user.Role.GRAPARI:
        return render(request, "accounts/home_grapari.html")
    if user.role == user.Role.REGULATOR:
        return render(request, "accounts/home_regulator.html")
    if user.is_operator:
        return render(request, "accounts/home_operator.html")
    return render(request, "accounts/home_none.html")
