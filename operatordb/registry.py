"""The mock population registry (Dukcapil) behind ``core.registry.PopulationRegistry``.

Its table is ``operatordb.PopulationRecord`` — the one table of the registry's records (the
reconciliation generator fills it too); ``manage.py load_population_registry FILE`` loads it.
A real Dukcapil client would replace this class through the ``POPULATION_REGISTRY`` setting.

**Face verification is a mock.** The real registry compares the photo with the e-KTP's
biometric record (Permenkomdigi 7/2026: similarity of at least 95 %, with liveness detection).
This mock compares *perceptual hashes*: the 64-bit difference hash (dHash) of the photo sent —
grey scale, 9 × 8 pixels, each bit "is this pixel brighter than its right-hand neighbour" — with
the dHash of the person's reference photo recorded at loading (``face_hash``). The score is the
share of equal bits; ``MATCH_THRESHOLD`` (0.90) or more is a match. It is deterministic and
survives re-encoding and scaling of the same picture (what the portal's photo worker does), but
it recognises pictures, not faces: two featureless pictures (a blank wall) match each other.

Faults, for demonstrations and tests (``POPULATION_REGISTRY_MOCK_FAULT``): ``"down"`` — every
call raises ``RegistryUnavailable``; ``"slow"`` — every call takes
``POPULATION_REGISTRY_MOCK_DELAY`` seconds, so it times out when that exceeds the caller's
timeout (the mock waits only up to the timeout, then gives up as a real client would).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from core import pii
from core.registry import FaceResult, FaceVerdict, RegistryPerson, RegistryUnavailable

MATCH_THRESHOLD = 0.90
METHOD = "mock-dhash-v1"
HASH_BITS = 64


def face_hash(image: bytes) -> str:
    """The 64-bit difference hash of an image, as 16 hex digits. Raises ``ValueError`` when
    the bytes are not an image Pillow reads."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image)) as opened:
            picture = ImageOps.exif_transpose(opened).convert("L").resize((9, 8), Image.LANCZOS)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError("not a readable image") from exc
    pixels = picture.tobytes()
    value = 0
    for row in range(8):
        for col in range(8):
            left, right = pixels[row * 9 + col], pixels[row * 9 + col + 1]
            value = (value << 1) | (1 if left > right else 0)
    return f"{value:016x}"


def face_similarity(hash_a: str, hash_b: str) -> float:
    """Share of equal bits of two 16-hex-digit hashes (1.0: identical)."""
    different = bin(int(hash_a, 16) ^ int(hash_b, 16)).count("1")
    return round(1 - different / HASH_BITS, 4)


def _fault(timeout: float) -> None:
    fault = (getattr(settings, "POPULATION_REGISTRY_MOCK_FAULT", "") or "").strip().lower()
    if fault == "down":
        raise RegistryUnavailable("population registry (mock) is down")
    if fault == "slow":
        delay = float(getattr(settings, "POPULATION_REGISTRY_MOCK_DELAY", 10.0))
        time.sleep(min(delay, timeout))
        if delay >= timeout:
            raise RegistryUnavailable(f"population registry (mock) did not answer in {timeout}s")


# What a lookup reads of a record, in ``RegistryPerson``'s order (``face_hash`` last: the
# person has a reference photo when it is set).
_PERSON_COLUMNS = (
    "nik_digest", "kk_digest", "full_name", "name_key", "birth_date", "sex", "birth_place",
    "head_of_family", "face_hash",
)  # fmt: skip


class MockPopulationRegistry:
    """``operatordb.PopulationRecord`` behind the registry interface."""

    def _records(self, digests: list[str]):
        from .models import PopulationRecord

        try:
            # A savepoint: a database error here must not break the caller's transaction.
            with transaction.atomic():
                return list(PopulationRecord.objects.filter(nik_digest__in=digests))
        except DatabaseError as exc:
            raise RegistryUnavailable("population registry (mock) cannot be read") from exc

    def _people(self, digests: list[str]) -> list[tuple]:
        """The records of ``digests`` as plain rows (``_PERSON_COLUMNS``): one query, the
        digests as one array parameter on PostgreSQL (an ``IN`` list of thousands of values
        costs Django more to build than the database to answer), no model object a record."""
        from .models import PopulationRecord

        records = PopulationRecord.objects.all()
        if connection.vendor == "postgresql":
            records = records.extra(where=["nik_digest = ANY(%s)"], params=[digests])
        else:
            records = records.filter(nik_digest__in=digests)
        try:
            with transaction.atomic():  # a savepoint, as _records
                return list(records.order_by().values_list(*_PERSON_COLUMNS))
        except DatabaseError as exc:
            raise RegistryUnavailable("population registry (mock) cannot be read") from exc

    def lookup(
        self, niks: Iterable[str], *, timeout: float, digests: Mapping[str, str] | None = None
    ) -> dict[str, RegistryPerson]:
        _fault(timeout)
        known = digests or {}
        by_digest = {known.get(nik) or pii.digest(nik): nik for nik in niks if nik}
        if not by_digest:
            return {}
        found = {}
        for nik_digest, *values, face in self._people(list(by_digest)):
            found[by_digest[nik_digest]] = RegistryPerson(nik_digest, *values, bool(face))
        return found

    def verify_face(self, nik: str, image: bytes, *, timeout: float) -> FaceResult:
        _fault(timeout)
        records = self._records([pii.digest(nik)])
        if not records or not records[0].face_hash:
            return FaceResult(FaceVerdict.NO_REFERENCE, 0.0, METHOD)
        try:
            sent = face_hash(image)
        except ValueError:
            return FaceResult(FaceVerdict.UNREADABLE, 0.0, METHOD)
        score = face_similarity(sent, records[0].face_hash)
        verdict = FaceVerdict.MATCH if score >= MATCH_THRESHOLD else FaceVerdict.NO_MATCH
        return FaceResult(verdict, score, METHOD)
