"""One rule for free text in a CSV (``core.csvsafe``): the Python path and the SQL path give the
same cell for the same hostile input, and every CSV the portal writes goes through it."""

import pytest
from django.db import connection

from core.csvsafe import FORMULA_STARTS, defuse, defuse_sql

HOSTILE = [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("+62812", "'+62812"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "' =1"),
    ("=a\nb", "'=a b"),
    ("Jl. Merdeka 1\r\nRT 02", "Jl. Merdeka 1  RT 02"),
    ("\n=1", " =1"),  # a line break first: after it the formula is one cell's text
    ("'already quoted", "'already quoted"),
    ("a=b", "a=b"),
    ("Śiti Nur'aini", "Śiti Nur'aini"),
    ("Ngụyễn 阮", "Ngụyễn 阮"),
    ("", ""),
]


@pytest.mark.parametrize(("raw", "safe"), HOSTILE)
def test_python_path(raw, safe):
    assert defuse(raw) == safe


@pytest.mark.parametrize("value", [None, 0, 12, 1.5, True])
def test_anything_but_text_is_left_alone(value):
    assert defuse(value) is value


def test_every_formula_start_is_covered():
    for start in FORMULA_STARTS:
        assert defuse(start + "x").startswith("'")


@pytest.mark.django_db
def test_sql_path_gives_the_same_cells(require_postgres):
    """The exports computed by PostgreSQL (``reports.expressions.Defused``) and the Python
    ones agree cell for cell."""
    raws = [raw for raw, _ in HOSTILE]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ord, "  # noqa: S608 (the rule under test; the values are bound)
            + defuse_sql("v")
            + " FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, ord)"
            " ORDER BY ord",
            [raws],
        )
        from_sql = [value for _, value in cursor.fetchall()]
    assert from_sql == [defuse(raw) for raw in raws] == [safe for _, safe in HOSTILE]


@pytest.mark.django_db
def test_the_export_expression_is_the_same_rule(require_postgres):
    from django.db.models import Value
    from django.db.models.functions import Coalesce

    from accounts.models import User
    from reports.expressions import Defused

    User.objects.create(username="u1")
    for raw, safe in HOSTILE:
        got = (
            User.objects.annotate(cell=Defused(Coalesce(Value(raw), Value(""))))
            .values_list("cell", flat=True)
            .first()
        )
        assert got == safe, raw
