"""A registration the population registry refused after the fact (it was kept awaiting
verification while the registry was down): into GraPARI's review queue, and the outlet told.

Registered as a hook of the subscribers app (``subscribers.hooks.register_refused_handler``, in
``ComplianceConfig.ready``), so the registration service never imports the workflow. Runs in the
transaction that refuses the registration: the refusal, its queue item and the notification are
committed together.
"""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.utils.translation import gettext as _

from subscribers.models import Registration

from .notifications import notify, outlet_staff_users
from .queue import REG_FIELDS, _insert_flagged


def registrations_refused(*, registrations: list, now: datetime) -> None:
    """Queue each refused registration for review (once) and tell its outlet's staff."""
    rows = list(
        Registration.objects.filter(pk__in=[r.pk for r in registrations]).values(*REG_FIELDS)
    )
    if not rows:
        return
    _insert_flagged(rows, now)
    for row in rows:
        link = reverse("subscribers:detail", args=[row["pk"]])
        notify(
            users=outlet_staff_users(outlet_ids=[row["outlet_id"]]),
            text=lambda number=row["registration_number"]: (
                _(
                    "Registration %(number)s was refused by the population registry "
                    "(Dukcapil): the number stays inactive. Open it to see why and tell the "
                    "buyer."
                )
                % {"number": number}
            ),
            link=link,
        )
