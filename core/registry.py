"""The population registry (Dukcapil) as the portal sees it: the boundary beside the operator's.

Since Permen Kominfo 14/2017 a citizen's NIK and family card (KK) are validated against the
population registry when a prepaid number is registered; under Permenkomdigi 7/2026 the registry
also verifies the buyer's face. The registration service asks a ``PopulationRegistry`` — never a
table — so a real Dukcapil client replaces the mock without touching the rules:

- ``lookup(niks)``: the registry's record of each NIK it knows (a NIK it does not know is simply
  absent from the answer);
- ``verify_face(nik, image)``: the registry's verdict on a face photo against its reference
  photo of that NIK, with a similarity score.

Both raise ``RegistryUnavailable`` when the registry cannot answer within ``timeout`` seconds
(down, slow, refusing): the caller then keeps the registration *awaiting verification* — never
activated unverified, never lost (``subscribers.services``).

``get_registry()`` returns the implementation named by the ``POPULATION_REGISTRY`` setting; the
portal ships a mock (``operatordb.registry.MockPopulationRegistry``, the ``operatordb`` app's own
table ``PopulationRecord``, loaded with ``manage.py load_population_registry``). The timeout is
``POPULATION_REGISTRY_TIMEOUT`` (seconds).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_REGISTRY = "operatordb.registry.MockPopulationRegistry"
DEFAULT_TIMEOUT = 3.0


class RegistryUnavailable(Exception):
    """The registry did not answer (down, refused, or slower than the timeout)."""


@dataclass(frozen=True, slots=True)
class RegistryPerson:
    """The registry's record of one NIK, as far as registration needs it.

    Numbers are held as the portal holds them: keyed digests (``core.pii.digest``) of the
    normalised NIK and KK. ``name_key`` is ``identity.idrules.normalize_name_for_comparison`` of
    the name, the portal's one name comparison."""

    nik_digest: str
    kk_digest: str
    full_name: str
    name_key: str
    birth_date: date
    sex: str
    birth_place: str = ""
    head_of_family: bool = False
    has_face_reference: bool = False


class FaceVerdict(StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"
    NO_REFERENCE = "no_reference"  # the registry holds no reference photo of this NIK
    UNREADABLE = "unreadable"  # the photo sent cannot be read as an image


@dataclass(frozen=True, slots=True)
class FaceResult:
    """The registry's verdict on a face photo: kept as the evidence (with the photo's hash) for
    the registration's life, the photo itself only for a few days (docs/rules.md, "Face
    photos")."""

    verdict: str  # a FaceVerdict
    score: float  # similarity 0..1 as the registry reports it
    method: str  # which comparison gave it (the mock says so: "mock-dhash-v1")

    @property
    def matched(self) -> bool:
        return self.verdict == FaceVerdict.MATCH


@runtime_checkable
class PopulationRegistry(Protocol):
    """What the registration service needs from the population registry."""

    def lookup(
        self, niks: Iterable[str], *, timeout: float, digests: Mapping[str, str] | None = None
    ) -> dict[str, RegistryPerson]:
        """The registry's records of these (normalised, 16-digit) NIKs, keyed by NIK; unknown
        NIKs are absent. Raises ``RegistryUnavailable``.

        ``digests``: NIK -> its keyed digest (``core.pii.digest``) where the caller holds it
        already (the bulk import); a registry keyed by digests (the mock) need not compute them
        again, one asked by NIK ignores them."""

    def verify_face(self, nik: str, image: bytes, *, timeout: float) -> FaceResult:
        """The registry's verdict on ``image`` (JPEG/PNG/WebP bytes) as the face of ``nik``.
        Raises ``RegistryUnavailable``."""


@lru_cache(maxsize=4)
def _registry_class(path: str):
    return import_string(path)


def get_registry() -> PopulationRegistry:
    """The configured registry (``POPULATION_REGISTRY``, default: the mock)."""
    path = getattr(settings, "POPULATION_REGISTRY", DEFAULT_REGISTRY) or DEFAULT_REGISTRY
    return _registry_class(path)()


def registry_timeout() -> float:
    """Seconds the registry has to answer one call (``POPULATION_REGISTRY_TIMEOUT``)."""
    return float(getattr(settings, "POPULATION_REGISTRY_TIMEOUT", DEFAULT_TIMEOUT))
