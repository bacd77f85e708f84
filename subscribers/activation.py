"""The operator's side of a sale: telling the operator's adapter that a pack was sold.

Packs are sold inactive; the network activates one once its registration is validated. The
portal tells the adapter (``core.operator``'s optional ``activate_sale``) of every registered
sale — after the commit, ``OPERATOR_MOCK_ACTIVATION_SECONDS`` later (negative: off), and only
once the population registry verified it where the rule set requires the registry (a
registration awaiting or refused by the registry is not for activation). The mock operator
(``operatordb.adapter``) then activates the number, so the next reconciliation finds the sale
where it should be (docs/number-lives.md). An adapter without ``activate_sale`` is told nothing.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from core.operator import Sale, get_adapter

from .models import Registration

logger = logging.getLogger(__name__)

# Statuses of a sale the network activates: registered, or flagged for a person's look (a
# flag does not stop the number; verified is a reviewer's "it is fine").
ACTIVATED_STATUSES = (
    Registration.Status.REGISTERED,
    Registration.Status.FLAGGED,
    Registration.Status.VERIFIED,
)


def activation_delay() -> int | None:
    """Seconds from commit to activation; None when the mock's activation is off."""
    seconds = getattr(settings, "OPERATOR_MOCK_ACTIVATION_SECONDS", -1)
    if seconds is None or int(seconds) < 0:
        return None
    return int(seconds)


def activation_schedule(registration: Registration) -> None:
    """After the current transaction commits, ask for the sale's activation in the delay set
    (nothing when the activation is off, the adapter offers none, or the registration is not
    for activation)."""
    delay = activation_delay()
    if delay is None or registration.status not in ACTIVATED_STATUSES:
        return
    if not hasattr(get_adapter(), "activate_sale"):
        return
    registration_id = registration.pk

    def send() -> None:
        from .tasks import activate_at_operator

        try:
            activate_at_operator.apply_async(args=(registration_id,), countdown=delay, retry=False)
        except Exception:  # the broker away: the sale stays unknown, reconciliation says so
            logger.warning("broker unavailable: activation of registration %s not sent",
                           registration_id)  # fmt: skip

    transaction.on_commit(send)


def registration_activate_at_operator(*, registration_id: int) -> str:
    """Tell the operator's adapter of one registered sale; safe to run twice (the adapter's
    activation is idempotent). Returns "activated", "unchanged" or why nothing was sent."""
    adapter = get_adapter()
    activate = getattr(adapter, "activate_sale", None)
    if activate is None:
        return "no-adapter"
    registration = (
        Registration.objects.select_related("outlet", "policy", "starter_pack")
        .filter(pk=registration_id)
        .first()
    )
    if registration is None:
        return "missing"
    if registration.status not in ACTIVATED_STATUSES or registration.life_ended_at is not None:
        return registration.status
    sale = Sale(
        msisdn=registration.msisdn,
        iccid=registration.iccid,
        outlet_roid=registration.outlet.roid,
        id_type=registration.id_type,
        id_number_digest=registration.id_number_digest,
        id_number_masked=registration.id_number_masked,
        full_name=registration.full_name,
        birth_date=registration.birth_date,
        registered_at=registration.registered_at,
        pack_stocked_at=registration.starter_pack.created_at,
        quarantine_days=registration.policy.number_quarantine_days,
    )
    return "activated" if activate(sale) else "unchanged"
