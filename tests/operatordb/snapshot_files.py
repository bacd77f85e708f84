"""Snapshot files for the loader's tests: valid lines of the operator's export, one per number."""

from operatordb import snapshot
from operatordb.models import OperatorSubscriber

HEADER = (
    "msisdn,iccid,status,activated_at,outlet_roid,id_type,id_number,full_name,birth_date,"
    "issued_at,deactivated_at\n"
)
TABLE = OperatorSubscriber._meta.db_table


def iccid(i: int) -> str:
    """A valid ICCID (its check digit matches) for number ``i``."""
    prefix = f"896210{i:012d}"
    return next(prefix + d for d in "0123456789" if snapshot._luhn_ok(prefix + d))


def row(i: int, name: str = "Siti Rahma", number: str | None = None) -> str:
    """Line ``i`` as the export writes it (every field in its stored form): number
    ``628120000iiii`` unless ``number``."""
    return (
        f"{number or f'628120000{i:04d}'},{iccid(i)},active,"
        f"2025-03-01T10:{i % 60:02d}:00+07:00,RO31{i:06d},ktp,3171015708{i:06d},{name},"
        "1990-08-17,,"
    )


def write(tmp_path, rows, name="snapshot.csv"):
    """The file ``name`` in ``tmp_path``: the header and ``rows``."""
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path
