"""What the workflow's pages share: private responses, the audited look at someone else's
registration, a finding's two sides."""

from django.utils.cache import patch_cache_control

from subscribers.selectors import registration_read_audit

from ...models import Discrepancy
from ...reconciliation.selectors import discrepancy_details_for_user
from ...reconciliation.views import DETAIL_LABELS, detail_value


def private(response):
    patch_cache_control(response, private=True, no_store=True)
    return response


def audit_look(request, registration, page: str) -> None:
    """Who looked at whose record (UU PDP), as every registration read records it."""
    registration_read_audit(user=request.user, registration=registration, page=page)


def sides(discrepancy: Discrepancy, user) -> list:
    """The portal's and the operator's values side by side: [(label, portal, operator)]."""
    details = discrepancy_details_for_user(discrepancy=discrepancy, user=user)
    portal = details.get("portal") if isinstance(details.get("portal"), dict) else {}
    operator = details.get("operator") if isinstance(details.get("operator"), dict) else {}
    keys = list(dict.fromkeys([*portal, *operator]))
    rows = [
        (DETAIL_LABELS.get(k, k), detail_value(k, portal.get(k)), detail_value(k, operator.get(k)))
        for k in keys
    ]
    rows += [
        (DETAIL_LABELS.get(k, k), detail_value(k, v), None)
        for k, v in details.items()
        if k not in ("portal", "operator")
    ]
    return rows
