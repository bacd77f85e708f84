"""The operator's subscriber database and the population registry, as the portal sees them.

The reconciliation engine, the review workflow and the retention purge ask an ``OperatorAdapter``
for operator records: in bulk by MSISDN, by MSISDN range, by what changed since a time, and the
active numbers per ID digest. ``get_adapter()`` returns the implementation configured in
``OPERATORDB_ADAPTER``; the portal ships a mock (``operatordb.adapter.MockOperatorDatabase``,
the ``operatordb`` app's own tables), and a real operator feed replaces it without touching the
engine.

Two ways for the engine to compare:
- **generic**: it pulls records through these methods and compares in Python, chunk by chunk.
  Any adapter works this way (a remote API, a file).
- **set-based**: when ``same_database_relation()`` names a relation in the portal's own database,
  the engine joins to it in SQL. A real operator feed is meant to work like the mock does: its
  daily snapshot is loaded by ``load_operator_snapshot`` (COPY into staging, then upsert) into
  tables with these columns in the same PostgreSQL database, so the comparison stays set-based
  at operator scale. Such an adapter returns its table (or a view) here.

The relation must have the columns of ``OperatorRecord`` with these meanings: ``msisdn`` in the
stored ``62…`` form and unique; ``status`` ``active``/``inactive``; ``id_number_digest`` the
``core.pii.id_digest`` of the ID number (normalised by ``core.idnumbers``); ``name_key``
``identity.idrules.normalize_name_for_comparison`` of ``full_name``; ``issued_at`` and
``deactivated_at`` the life the row describes (both may be NULL: the number's only life, as
old snapshots say); ``updated_at`` moving only when a value changes.

An adapter may also offer ``activate_sale(sale: Sale) -> bool`` (the mock does): the
portal tells it of each registered sale, the way the real network learns of a pack sold
inactive once its registration is validated. Without it nothing is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string

RECORD_FIELDS = (
    "msisdn",
    "iccid",
    "status",
    "activated_at",
    "outlet_roid",
    "id_type",
    "id_number_digest",
    "id_number_masked",
    "full_name",
    "name_key",
    "birth_date",
    "issued_at",
    "deactivated_at",
    "updated_at",
)
BATCH = 2000


@dataclass(frozen=True, slots=True)
class OperatorRecord:
    msisdn: str
    iccid: str
    status: str
    activated_at: datetime | None
    outlet_roid: str
    id_type: str
    id_number_digest: str
    id_number_masked: str
    full_name: str
    name_key: str
    birth_date: date | None
    # The life this record describes (docs/number-lives.md): when the number was issued for
    # it (None: not given — the number's only life) and when it ended (None: it lives).
    issued_at: datetime | None
    deactivated_at: datetime | None
    updated_at: datetime

    @property
    def is_active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class Sale:
    """A registered sale, as the portal tells the operator's side of it (``activate_sale``):
    the number, its card, who bought it (the ID as its digest and masked copy) and where."""

    msisdn: str
    iccid: str
    outlet_roid: str
    id_type: str
    id_number_digest: str
    id_number_masked: str
    full_name: str
    birth_date: date | None
    # The sale (registration) time, and when the pack of this life was stocked: a number
    # sold again after a deactivation is issued anew, from then.
    registered_at: datetime
    pack_stocked_at: datetime | None
    # The quarantine of the rule set the sale was made under (days; None: none named).
    quarantine_days: int | None


@dataclass(frozen=True, slots=True)
class PopulationEntry:
    nik_digest: str
    nik_masked: str
    full_name: str
    name_key: str
    birth_date: date
    sex: str
    kk_digest: str


@runtime_checkable
class OperatorAdapter(Protocol):
    """What the reconciliation engine needs from an operator database."""

    def same_database_relation(self, *, using: str) -> str | None:
        """A quoted SQL relation in database ``using`` with ``RECORD_FIELDS`` as columns, or None
        when the records do not live there (the engine then compares in Python)."""

    def count(self) -> int:
        """How many MSISDNs the operator holds (planning only; may be an estimate)."""

    def msisdns(self, *, since: datetime | None = None) -> Iterator[str]:
        """Every MSISDN (changed at or after ``since`` when given), in ascending order."""

    def lookup(self, msisdns: Iterable[str]) -> dict[str, OperatorRecord]:
        """The records of these MSISDNs that exist; absent ones are simply missing."""

    def iter_range(
        self, msisdn_from: str | None, msisdn_to: str | None, *, since: datetime | None = None
    ) -> Iterator[OperatorRecord]:
        """Records with ``msisdn_from <= msisdn < msisdn_to`` (None: unbounded), optionally
        only those changed at or after ``since``."""

    def active_by_id_digest(self, digests: Iterable[str]) -> dict[str, list[OperatorRecord]]:
        """The active records holding each of these ID digests."""

    def iter_active_by_digest(
        self, digest_from: str | None, digest_to: str | None
    ) -> Iterator[OperatorRecord]:
        """Active records with an ID digest in ``[digest_from, digest_to)``, ordered by digest."""

    def lookup_population(self, nik_digests: Iterable[str]) -> dict[str, PopulationEntry]:
        """The population registry's records for these NIK digests."""

    def block_msisdn(self, *, msisdn: str, reason: str) -> None:
        """The portal blocked ``msisdn`` (a GraPARI decision): the operator stops the number.
        Raises on failure; the portal retries until it returns (so it must be idempotent)."""


@lru_cache(maxsize=4)
def _adapter_class(path: str):
    return import_string(path)


def get_adapter() -> OperatorAdapter:
    """The configured adapter (``OPERATORDB_ADAPTER``, default: the mock)."""
    path = getattr(settings, "OPERATORDB_ADAPTER", "operatordb.adapter.MockOperatorDatabase")
    return _adapter_class(path)()
