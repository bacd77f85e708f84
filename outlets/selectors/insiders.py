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


def _rows(dealer_ids: list[int]):
    yield from OutletStaff.objects.filter(outlet__dealer_id__in=dealer_ids).values_list(
        "outlet__dealer_id", "id_number_digest", "kk_number_digest"
    )
    yield from DealerAdmin.objects.filter(dealer_id__in=dealer_ids).values_list(
        "dealer_id", "id_number_digest", "kk_number_digest"
    )
    yield from Outlet.objects.filter(dealer_id__in=dealer_ids).values_list(
        "dealer_id", "owner_id_number_digest", "owner_kk_number_digest"
    )


def insider_digests(*, dealer_ids) -> dict[int, InsiderDigests]:
    """Per dealer, the NIK and KK digests of its people (three queries, any number of
    dealers): for the bulk import."""
    found: dict[int, InsiderDigests] = {}
    for dealer_id, id_digest, kk_digest in _rows(list(dealer_ids)):
        entry = found.setdefault(dealer_id, InsiderDigests())
        if id_digest:
            entry.id_digests.add(id_digest)
        if kk_digest:
            entry.kk_digests.add(kk_digest)
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
