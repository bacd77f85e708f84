"""The mock operator database: ``operatordb``'s own tables behind the adapter interface
(``core.operator.OperatorAdapter``). Nothing else in the portal reads these tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import router

from core.operator import BATCH, RECORD_FIELDS, OperatorRecord, PopulationEntry


def _batched(values: Iterable[str], size: int = BATCH) -> Iterator[list[str]]:
    batch: list[str] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class MockOperatorDatabase:
    """The mock: ``operatordb``'s own tables, in whatever database the router puts them."""

    def _queryset(self):
        from .models import OperatorSubscriber

        return OperatorSubscriber.objects.order_by()

    @staticmethod
    def _records(rows) -> Iterator[OperatorRecord]:
        for row in rows:
            yield OperatorRecord(*row)

    def same_database_relation(self, *, using: str) -> str | None:
        from django.db import connections

        from .models import OperatorSubscriber

        if router.db_for_read(OperatorSubscriber) != using:
            return None
        return connections[using].ops.quote_name(OperatorSubscriber._meta.db_table)

    def count(self) -> int:
        return self._queryset().count()

    def msisdns(self, *, since: datetime | None = None) -> Iterator[str]:
        qs = self._queryset()
        if since is not None:
            qs = qs.filter(updated_at__gte=since)
        return qs.order_by("msisdn").values_list("msisdn", flat=True).iterator(chunk_size=BATCH)

    def lookup(self, msisdns: Iterable[str]) -> dict[str, OperatorRecord]:
        found: dict[str, OperatorRecord] = {}
        for batch in _batched(msisdns):
            rows = self._queryset().filter(msisdn__in=batch).values_list(*RECORD_FIELDS)
            found.update((record.msisdn, record) for record in self._records(rows))
        return found

    def iter_range(
        self, msisdn_from: str | None, msisdn_to: str | None, *, since: datetime | None = None
    ) -> Iterator[OperatorRecord]:
        qs = self._queryset()
        if msisdn_from is not None:
            qs = qs.filter(msisdn__gte=msisdn_from)
        if msisdn_to is not None:
            qs = qs.filter(msisdn__lt=msisdn_to)
        if since is not None:
            qs = qs.filter(updated_at__gte=since)
        rows = qs.order_by("msisdn").values_list(*RECORD_FIELDS).iterator(chunk_size=BATCH)
        return self._records(rows)

    def active_by_id_digest(self, digests: Iterable[str]) -> dict[str, list[OperatorRecord]]:
        groups: dict[str, list[OperatorRecord]] = {}
        for batch in _batched(d for d in digests if d):
            rows = (
                self._queryset()
                .filter(status="active", id_number_digest__in=batch)
                .values_list(*RECORD_FIELDS)
            )
            for record in self._records(rows):
                groups.setdefault(record.id_number_digest, []).append(record)
        return groups

    def iter_active_by_digest(
        self, digest_from: str | None, digest_to: str | None
    ) -> Iterator[OperatorRecord]:
        qs = self._queryset().filter(status="active").exclude(id_number_digest="")
        if digest_from is not None:
            qs = qs.filter(id_number_digest__gte=digest_from)
        if digest_to is not None:
            qs = qs.filter(id_number_digest__lt=digest_to)
        rows = (
            qs.order_by("id_number_digest", "msisdn")
            .values_list(*RECORD_FIELDS)
            .iterator(chunk_size=BATCH)
        )
        return self._records(rows)

    def lookup_population(self, nik_digests: Iterable[str]) -> dict[str, PopulationEntry]:
        from .models import PopulationRecord

        found: dict[str, PopulationEntry] = {}
        fields = [f.name for f in PopulationEntry.__dataclass_fields__.values()]
        for batch in _batched(d for d in nik_digests if d):
            for row in PopulationRecord.objects.filter(nik_digest__in=batch).values_list(*fields):
                entry = PopulationEntry(*row)
                found[entry.nik_digest] = entry
        return found

    def block_msisdn(self, *, msisdn: str, reason: str) -> None:
        """The mock stops the number: inactive from now (``updated_at`` moves only when it was
        active, so a retry changes nothing and the next incremental run sees it once)."""
        from django.utils import timezone

        from .models import OperatorSubscriber

        OperatorSubscriber.objects.filter(msisdn=msisdn).exclude(status="inactive").update(
            status="inactive", updated_at=timezone.now()
        )

    def activate_sale(self, sale) -> bool:
        """The mock network activates a registered sale (``core.operator.Sale``), as the real
        one activates a pack sold inactive once its registration is validated. Returns True
        when it changed the number's record.

        - No record of the number: its first life begins, active from now, under the buyer.
        - A live record without a holder (the operator's own unsold stock): the same.
        - A live record of the same holder: activated if it was not (a retry changes nothing).
        - A live record of another holder (a card already in use): left alone — the network
          does not hand a number in use to a second person; reconciliation reports it.
        - A record whose life ended: a new life, issued when the pack was stocked, if the
          number has rested its quarantine; still in quarantine, nothing (the sale stays
          unknown to the operator, and reconciliation says so after the grace period).
        """
        from datetime import timedelta

        from django.db import transaction
        from django.utils import timezone

        from .models import OperatorSubscriber

        now = timezone.now()
        holder = {
            "iccid": sale.iccid,
            "outlet_roid": sale.outlet_roid,
            "id_type": sale.id_type,
            "id_number_digest": sale.id_number_digest,
            "id_number_masked": sale.id_number_masked,
            "full_name": sale.full_name,
            "name_key": _name_key(sale.full_name),
            "birth_date": sale.birth_date,
        }
        with transaction.atomic():
            row = OperatorSubscriber.objects.select_for_update().filter(msisdn=sale.msisdn).first()
            if row is None:
                OperatorSubscriber.objects.create(
                    msisdn=sale.msisdn, status="active", activated_at=now, updated_at=now, **holder
                )
                return True
            if row.deactivated_at is None:
                if row.id_number_digest and row.id_number_digest != sale.id_number_digest:
                    return False
                if row.id_number_digest and row.status == "active":
                    return False
                values = {"status": "active", "activated_at": row.activated_at or now}
                if not row.id_number_digest:
                    values.update(holder)
            else:
                quarantine = timedelta(days=sale.quarantine_days or 0)
                if now < row.deactivated_at + quarantine:
                    return False
                stocked = sale.pack_stocked_at or sale.registered_at
                values = {
                    **holder,
                    "status": "active",
                    "activated_at": now,
                    "issued_at": min(max(stocked, row.deactivated_at), sale.registered_at),
                    "deactivated_at": None,
                }
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
            row.save()
            return True

    def deactivate(self, *, msisdn: str, at=None) -> bool:
        """The mock network ends the number's current life (the subscriber churned): inactive
        and deactivated from ``at`` (default now). Returns False if it had no live record."""
        from django.utils import timezone

        from .models import OperatorSubscriber

        at = at or timezone.now()
        return bool(
            OperatorSubscriber.objects.filter(msisdn=msisdn, deactivated_at__isnull=True).update(
                status="inactive", deactivated_at=at, updated_at=timezone.now()
            )
        )


def _name_key(name: str) -> str:
    from identity.idrules import normalize_name_for_comparison

    return normalize_name_for_comparison(name or "")
