"""The dealer's own people, for the end-user-only rule (docs/rules.md): an outlet helps the buyer
register with the buyer's own NIK, never with the NIK of the dealer's people — staff of any of
its outlets, present or past, its admins, its outlets' owners. Looked up by keyed digest
(``core.pii.digest``), never by number."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models import DealerAdmin, Outlet, OutletStaff


@dataclass
class InsiderDigests:
    id_digests: set[str] = field(default_factory=set)
    kk_digests: set[str] = field(default_factory=set)


def insider_querysets(kind: str, dealer_ids=None) -> list:
    """The dealer's people's ``kind`` digests ("id": NIK, "kk": family card) as querysets of
    ``(dealer id, digest)`` — staff of its outlets (present or past), its admins, its outlets'
    owners — the one definition of who they are, for the lookups here and for the preview of a
    draft rule set, which joins them in SQL."""
    staff = OutletStaff.objects.values_list("outlet__dealer_id", f"{kind}_number_digest")
    admins = DealerAdmin.objects.values_list("dealer_id", f"{kind}_number_digest")
    owners = Outlet.objects.values_list("dealer_id", f"owner_{kind}_number_digest")
    if dealer_ids is not None:
        staff = staff.filter(outlet__dealer_id__in=dealer_ids)
        admins = admins.filter(dealer_id__in=dealer_ids)
        owners = owners.filter(dealer_id__in=dealer_ids)
    return [queryset.order_by() for queryset in (staff, admins, owners)]


def insider_digests(*, dealer_ids) -> dict[int, InsiderDigests]:
    """Per dealer, the NIK and KK digests of its people (six queries, any number of
    dealers): for the bulk import."""
    found: dict[int, InsiderDigests] = {}
    dealer_ids = list(dealer_ids)
    for kind in ("id", "kk"):
        for queryset in insider_querysets(kind, dealer_ids):
            for dealer_id, digest in queryset:
                entry = found.setdefault(dealer_id, InsiderDigests())
                if digest:
                    getattr(entry, f"{kind}_digests").add(digest)
    return found


def insider_match(*, dealer_id: int, id_digest: str, kk_digest: str = "") -> str | None:
    """ "id" when ``id_digest`` is the NIK of one of the dealer's people, else "kk" when
    ``kk_digest`` is the KK of one of them, else None (a handful of indexed look-ups)."""
    for wanted, kind in ((id_digest, "id"), (kk_digest, "kk")):
        if not wanted:
            continue
        staff = {f"{kind}_number_digest": wanted, "outlet__dealer_id": dealer_id}
        admin = {f"{kind}_number_digest": wanted, "dealer_id": dealer_id}
        owner = {f"owner_{kind}_number_digest": wanted, "dealer_id": dealer_id}
        if (
            OutletStaff.objects.filter(**staff).exists()
            or DealerAdmin.objects.filter(**admin).exists()
            or Outlet.objects.filter(**owner).exists()
        ):
            return kind
    return None
