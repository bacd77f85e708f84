"""Loading the mock population registry (``manage.py load_population_registry FILE``).

The file: UTF-8 CSV (a BOM allowed) with a header row naming at least
``nik, kk_number, full_name, birth_date, sex``; optional columns ``birth_place``,
``head_of_family`` (1/0, true/false, ya/tidak; empty is no), ``face_photo`` (a JPEG, PNG or WebP
file, its path relative to the CSV's folder: the person's reference photo) and ``face_hash``
(the reference as 16 hex digits, what the mock stores; ``face_photo`` is turned into it).

- **All or nothing**: every row is checked; a file with any bad row is rejected whole, each
  fault reported as ``line, field, reason``, and nothing is written.
- **Idempotent**: a person is keyed by NIK; loading again updates the people of the file (a
  corrected birth date, a new KK) and leaves the others as they are.
- **Held the portal's way**: NIK and KK as keyed digests with a masked copy, the name with its
  comparison key, the face as its perceptual hash only (the image is not kept).
- The registry is the arbiter of a person's data: the birth date and sex are *not* required to
  agree with the NIK's digits (a corrected birth date keeps its NIK); the NIK and KK must be
  well-formed.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from core import pii
from core.masking import mask_id_number
from identity import idrules

from .models import PopulationRecord
from .registry import face_hash
from .snapshot import RowError as Fault  # one shape of a file's fault: line, field, reason

REQUIRED = ("nik", "kk_number", "full_name", "birth_date", "sex")
OPTIONAL = ("birth_place", "head_of_family", "face_photo", "face_hash")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_TRUE = {"1", "true", "yes", "ya", "y"}
_FALSE = {"", "0", "false", "no", "tidak", "n"}


@dataclass
class LoadReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[Fault] = field(default_factory=list)


class RegistryFileRejected(ValueError):
    def __init__(self, report: LoadReport):
        super().__init__(f"{len(report.errors)} fault(s)")
        self.report = report


def _row_values(data: dict, line: int, folder: Path, today: date, faults: list[Fault]):
    def fault(name: str, reason: str) -> None:
        faults.append(Fault(line, name, reason))

    start = len(faults)
    nik = kk = name = ""
    try:
        nik = idrules.validate_nik(data.get("nik", ""), birth_date=None, sex=None, today=today)
    except idrules.IdRuleError as exc:
        fault("nik", exc.message)
    try:
        kk = idrules.validate_kk(data.get("kk_number", ""), today=today)
    except idrules.IdRuleError as exc:
        fault("kk_number", exc.message)
    try:
        name = idrules.clean_person_name(data.get("full_name", ""))
    except idrules.IdRuleError as exc:
        fault("full_name", exc.message)
    birth = None
    text = (data.get("birth_date") or "").strip()
    try:
        birth = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        birth = None
    if birth is None:
        fault("birth_date", "Enter the date as YYYY-MM-DD, e.g. 1990-08-17.")
    elif birth > today:
        fault("birth_date", "The date of birth cannot be in the future.")
    sex = (data.get("sex") or "").strip().upper()
    if sex not in ("M", "F"):
        fault("sex", "Sex must be M (male) or F (female).")
    place = " ".join((data.get("birth_place") or "").split())
    if len(place) > 100:
        fault("birth_place", "At most 100 characters.")
    head = (data.get("head_of_family") or "").strip().lower()
    if head not in _TRUE | _FALSE:
        fault("head_of_family", "Write 1 (head of family) or 0 (not), or leave it empty.")
    reference = ""
    photo = (data.get("face_photo") or "").strip()
    given_hash = (data.get("face_hash") or "").strip().lower()
    if photo and given_hash:
        fault("face_photo", "Give the reference photo or its hash, not both.")
    elif photo:
        path = (folder / photo).resolve()
        try:
            reference = face_hash(path.read_bytes())
        except FileNotFoundError:
            fault("face_photo", f"No such file: {photo}")
        except (OSError, ValueError):
            fault("face_photo", "Not a readable JPEG, PNG or WebP image.")
    elif given_hash:
        if not _HEX16.fullmatch(given_hash):
            fault("face_hash", "A face hash is 16 hexadecimal digits.")
        reference = given_hash
    if len(faults) > start:
        return None
    return {
        "nik_digest": pii.digest(nik),
        "nik_masked": mask_id_number(nik),
        "full_name": name,
        "name_key": idrules.normalize_name_for_comparison(name),
        "birth_date": birth,
        "sex": sex,
        "kk_digest": pii.digest(kk),
        "kk_masked": mask_id_number(kk),
        "birth_place": place,
        "head_of_family": head in _TRUE,
        "face_hash": reference,
    }


def read_registry_file(path: str | Path, *, today: date | None = None) -> list[dict]:
    """Every row of the file as the record's values; raises ``RegistryFileRejected`` with
    every fault when any row (or the header) is bad."""
    today = today or timezone.localdate()
    path = Path(path)
    report = LoadReport()
    rows: list[dict] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8-sig", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None:
            report.errors.append(Fault(1, "header", "The file is empty."))
            raise RegistryFileRejected(report)
        names = [name.strip().lower() for name in header]
        missing = [name for name in REQUIRED if name not in names]
        unknown = [name for name in names if name not in REQUIRED + OPTIONAL]
        repeated = sorted({name for name in names if names.count(name) > 1})
        for label, found in (("missing", missing), ("unknown", unknown), ("repeated", repeated)):
            if found:
                report.errors.append(Fault(1, "header", f"{label} column(s): {', '.join(found)}"))
        if report.errors:
            raise RegistryFileRejected(report)
        last = reader.line_num
        for values in reader:
            line, last = last + 1, reader.line_num
            if not values or not any(v.strip() for v in values):
                continue
            report.rows += 1
            if len(values) != len(names):
                report.errors.append(
                    Fault(line, "row", f"{len(values)} fields; the header has {len(names)}.")
                )
                continue
            data = dict(zip(names, values, strict=True))
            record = _row_values(data, line, path.parent, today, report.errors)
            if record is None:
                continue
            earlier = seen.get(record["nik_digest"])
            if earlier is not None:
                report.errors.append(
                    Fault(line, "nik", f"This NIK is already on line {earlier} of this file.")
                )
                continue
            seen[record["nik_digest"]] = line
            rows.append(record)
    if report.errors:
        raise RegistryFileRejected(report)
    return rows


def load_registry(path: str | Path, *, today: date | None = None) -> LoadReport:
    """Load the file into the mock registry (all or nothing; see the module's docstring)."""
    rows = read_registry_file(path, today=today)
    report = LoadReport(rows=len(rows))
    report.created, report.updated, report.unchanged = upsert_people(rows)
    return report


def upsert_people(rows: list[dict]) -> tuple[int, int, int]:
    """Insert or update registry records (keyed by NIK digest): (created, updated, unchanged)."""
    created = updated = unchanged = 0
    now = timezone.now()
    compared = [name for name in rows[0] if name != "nik_digest"] if rows else []
    with transaction.atomic():
        existing = {
            record.nik_digest: record
            for record in PopulationRecord.objects.select_for_update().filter(
                nik_digest__in=[row["nik_digest"] for row in rows]
            )
        }
        new, changed = [], []
        for row in rows:
            record = existing.get(row["nik_digest"])
            if record is None:
                new.append(PopulationRecord(**row, updated_at=now))
            elif any(getattr(record, name) != row[name] for name in compared):
                for name in compared:
                    setattr(record, name, row[name])
                record.updated_at = now
                changed.append(record)
            else:
                unchanged += 1
        PopulationRecord.objects.bulk_create(new, batch_size=2000)
        if changed:
            PopulationRecord.objects.bulk_update(
                changed, [*compared, "updated_at"], batch_size=2000
            )
        created, updated = len(new), len(changed)
    return created, updated, unchanged
