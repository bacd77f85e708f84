"""The pure reading of pack lists: CSV files, typed numbers, ranges — every fault by line."""

from identity.idgen import make_iccid
from outlets.stockfiles import (
    MsisdnRange,
    RangeError,
    parse_msisdn_list,
    parse_pack_csv,
    parse_range,
    parse_range_lines,
    range_lines,
)

ICCID_1, ICCID_2 = make_iccid(1), make_iccid(2)


def codes(parsed) -> list[tuple[int, str]]:
    return [(error.line, error.code) for error in parsed.errors]


def test_a_clean_file_with_bom_blank_lines_and_any_number_layout():
    text = f"\ufeffMSISDN,ICCID\n0813 0000 0001,{ICCID_1}\n\n+62 813-0000-0002,{ICCID_2}\n813000000003,\n"

    parsed = parse_pack_csv(text.encode())

    assert parsed.errors == []
    assert [(line.line, line.msisdn, line.iccid) for line in parsed.lines] == [
        (2, "6281300000001", ICCID_1),
        (4, "6281300000002", ICCID_2),
        (5, "62813000000003", None),
    ]


def test_malformed_rows_are_reported_by_line_and_nothing_is_kept():
    text = (
        "msisdn,iccid\n"
        "081300000001,\n"
        "0215550123,\n"  # a landline
        f"081300000003,{ICCID_1[:-1]}1\n"  # wrong check digit
        "081300000004,12345\n"  # not an ICCID
        "081300000005,,extra\n"  # a third value
        "banana,\n"
    )

    parsed = parse_pack_csv(text)

    assert codes(parsed) == [
        (3, "msisdn_format"),
        (4, "iccid_checksum"),
        (5, "iccid_format"),
        (6, "too_many_values"),
        (7, "msisdn_format"),
    ]


def test_duplicates_in_one_file_are_reported_at_the_second_line():
    text = f"msisdn,iccid\n081300000001,{ICCID_1}\n6281300000001,\n081300000002,{ICCID_1}\n"

    parsed = parse_pack_csv(text)

    assert [(e.line, e.code, e.params) for e in parsed.errors] == [
        (3, "duplicate_msisdn", {"msisdn": "6281300000001", "first": 2}),
        (4, "duplicate_iccid", {"iccid": ICCID_1, "first": 2}),
    ]


def test_a_file_without_header_empty_or_not_utf8():
    assert codes(parse_pack_csv("081300000001\n")) == [(1, "no_msisdn_column")]
    assert codes(parse_pack_csv(b"")) == [(0, "empty")]
    assert codes(parse_pack_csv("msisdn\n\n")) == [(0, "empty")]
    assert codes(parse_pack_csv("msisdn\n0813\xe9".encode("latin-1"))) == [(0, "not_utf8")]


def test_iccid_column_ignored_when_not_wanted():
    parsed = parse_pack_csv(f"msisdn,iccid\n081300000001,{ICCID_1}\n", with_iccid=False)
    assert parsed.lines[0].iccid is None


def test_typed_numbers_one_per_line_or_separated():
    parsed = parse_msisdn_list("081300000001\n081300000002, 081300000003\n081300000001\n")

    assert [line.msisdn for line in parsed.lines] == [
        "6281300000001",
        "6281300000002",
        "6281300000003",
    ]
    assert codes(parsed) == [(3, "duplicate_msisdn")]


def test_ranges():
    span = parse_range("081300000008", "6281300000011")
    assert span == MsisdnRange("6281300000008", "6281300000011")
    assert span.count == 4
    assert [line.msisdn for line in range_lines(span)][-1] == "6281300000011"

    for first, last, field, code in (
        ("0813", "081300000001", "msisdn_from", "msisdn_format"),
        ("081300000001", "0813000000010", "msisdn_to", "range_lengths"),
        ("081300000009", "081300000001", "msisdn_to", "range_order"),
    ):
        try:
            parse_range(first, last)
        except RangeError as exc:
            assert (exc.field, exc.code) == (field, code)
        else:
            raise AssertionError(f"{first}–{last} accepted")
    try:
        parse_range("081300000001", "081300000100", max_count=50)
    except RangeError as exc:
        assert exc.code == "range_too_long" and exc.params == {"max": 50, "count": 100}


def test_range_lines_typed_in_a_form():
    spans, faults = parse_range_lines(
        "081300000001, 081300000009\n081300000020 – 081300000029\n081300000050\nxyz\n"
    )

    assert [(s.first, s.last) for s in spans] == [
        ("6281300000001", "6281300000009"),
        ("6281300000020", "6281300000029"),
        ("6281300000050", "6281300000050"),
    ]
    assert faults == [(4, "msisdn_format", {})]
