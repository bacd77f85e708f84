"""Snapshot files for the loader's tests: valid lines of the operator's export, one per number."""

from operatordb import snapshot
from operatordb.models import OperatorSubscriber

HEADER = (
    "msisdn,iccid,status,activated_at,outlet_roid,id_type,id_number,full_name,birth_date,"
    "issued_at,deactivated_at\n"
)
TABLE = OperatorSubscriber._meta.db_table


def luhn_completed(prefix: str) -> str:
    """``prefix`` and the check digit that makes it a valid ICCID."""
    return next(prefix + d for d in "0123456789" if snapshot._luhn_ok(prefix + d))


def iccid(i: int) -> str:
    """A valid ICCID (its check digit matches) for number ``i``."""
    return luhn_completed(f"896210{i:012d}")


def row(i: int, name: str = "Siti Rahma", number: str | None = None) -> str:
    """Line ``i`` as the export writes it (every field in its stored form): number
    ``628120000iiii`` unless ``number``."""
    return (
        f"{number or f'628120000{i:04d}'},{iccid(i)},active,"
        f"2025-03-01T10:{i % 60:02d}:00+07:00,RO31{i:06d},ktp,3171015708{i:06d},{name},"
        "1990-08-17,,"
    )


def write(tmp_path, rows, name="snapshot.csv", header=HEADER):
    """The file ``name`` in ``tmp_path``: the header and ``rows`` (a row may hold bytes that
    are not UTF-8, as surrogate escapes)."""
    path = tmp_path / name
    data = header + "".join(row + "\n" for row in rows)
    path.write_bytes(data.encode("utf-8", errors="surrogateescape"))
    return path
