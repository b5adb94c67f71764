"""Identifier normalisers, key specifications and match keys."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from petsuite.core.encoding import canonical_json, decode_parts, encode_parts
from petsuite.core.errors import InvalidInput, InvalidRecord, UnsupportedParameter
from petsuite.core.tables import Table
from petsuite.psi import matching
from petsuite.psi.matching import (
    KEY_DOMAIN_TAG,
    NORMALISERS,
    ColumnRule,
    KeySpec,
    build_keys,
    get_normaliser,
    normalise_date,
    normalise_email,
    normalise_exact,
    normalise_name,
    normalise_nhs_number,
    normalise_phone,
    normalise_text,
    normalise_uk_postcode,
)

# Every reason a normaliser may give: the string literals passed to InvalidRecord in the source.
_SOURCE = Path(matching.__file__).read_text(encoding="utf-8")
REASONS = frozenset(re.findall(r'InvalidRecord\(\s*"([^"]+)"', _SOURCE)) | {"empty value"}


def _fails(fn: Callable[[str], str], value: str) -> str:
    with pytest.raises(InvalidRecord) as info:
        fn(value)
    message = str(info.value)
    assert message in REASONS
    if len(value.strip()) >= 3:
        assert value.strip() not in message
    return message


# ------------------------------------------------------------------------------------------ text


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("  Hello   World ", "hello world"),
        ("HELLO\tworld\n", "hello world"),
        ("ＦＵＬＬ　ｗｉｄｔｈ", "full width"),
        ("Straße", "strasse"),
        ("ﬁle", "file"),  # ligature on purpose
    ],
)
def test_text(raw: str, want: str) -> None:
    assert normalise_text(raw) == want


def test_exact_keeps_case_and_inner_spacing() -> None:
    assert normalise_exact("  AB  c ") == "AB  c"
    assert normalise_exact("ＡＢ") == "AB"
    for bad in ("", "   ", "\t"):
        _fails(normalise_exact, bad)
        _fails(normalise_text, bad)


# ------------------------------------------------------------------------------------------ name


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("O'Brien", "o'brien"),
        ("O’Brien", "o'brien"),
        ("O`Brien", "o'brien"),
        ("  Smith  -  Jones ", "smith-jones"),
        ("Smith–Jones", "smith-jones"),
        ("Smith--Jones", "smith-jones"),
        ("José  Müller", "jose muller"),
        ("ZOË", "zoe"),
        ("J.R.R. Tolkien", "jrr tolkien"),
        ("-Smith-", "smith"),
        ("'Brien", "brien"),
        ("Ĳsselmeer", "ijsselmeer"),
        ("Łukasz", "łukasz"),
        ("Ørsted", "ørsted"),
    ],
)
def test_name(raw: str, want: str) -> None:
    assert normalise_name(raw) == want


def test_name_failures() -> None:
    for bad in ("", "  ", "--", "'", "...", "!!!"):
        _fails(normalise_name, bad)


# ------------------------------------------------------------------------------------------ date


@pytest.mark.parametrize(
    "raw",
    [
        "1990-01-31",
        "1990-1-31",
        "1990-01-31 00:00:00",
        "1990-01-31T00:00:00Z",
        "1990-01-31 00:00:00.000+00:00",
        "1990/01/31",
        "31/01/1990",
        "31/1/1990",
        "31-01-1990",
        "31.01.1990",
        "31 Jan 1990",
        "31 jan 1990",
        "31 January 1990",
        "31st January 1990",
        "31-Jan-1990",
        "31JAN1990",
        "January 31, 1990",
        "Jan 31 1990",
        "19900131",
        " 31/01/1990 ",
    ],
)
def test_date_formats(raw: str) -> None:
    assert normalise_date(raw) == "1990-01-31"


def test_date_dayfirst_and_month_names() -> None:
    assert normalise_date("02/03/1990") == "1990-03-02"
    assert normalise_date("02/03/1990", dayfirst=False) == "1990-02-03"
    # dayfirst affects slash dates only
    assert normalise_date("02-03-1990", dayfirst=False) == "1990-03-02"
    assert normalise_date("2 Sept 2001") == "2001-09-02"
    assert normalise_date("29 Feb 2000") == "2000-02-29"


def test_date_two_digit_years() -> None:
    assert _fails(normalise_date, "31/01/90").startswith("two-digit year")
    assert normalise_date("31/01/90", century_pivot=30) == "1990-01-31"
    assert normalise_date("31/01/29", century_pivot=30) == "2029-01-31"
    assert normalise_date("31/01/30", century_pivot=30) == "1930-01-31"
    assert normalise_date("1 Feb 05", century_pivot=50) == "2005-02-01"
    assert normalise_date("31/01/00", century_pivot=0) == "1900-01-31"
    assert normalise_date("31/01/99", century_pivot=100) == "2099-01-31"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "31/02/1990",
        "29/02/1900",
        "29-02-2001",
        "1990-13-01",
        "1990-00-10",
        "00/01/1990",
        "0000-01-01",
        "19901331",
        "31 Foo 1990",
        "yesterday",
        "1990-01-31T10:30:00",
        "1990-01-31 00:00:00+01:00",
        "1990-01-31 00:00:01",
        "31/01/1990/",
        "١٩٩٠-٠١-٣١",  # Arabic-Indic digits are not read as digits
    ],
)
def test_date_rejects(bad: str) -> None:
    _fails(normalise_date, bad)


# ------------------------------------------------------------------------------ postcode, NHS number


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("sw1a1aa", "SW1A 1AA"),
        ("SW1A 1AA", "SW1A 1AA"),
        (" sw1a  1aa ", "SW1A 1AA"),
        ("ec1a1bb", "EC1A 1BB"),
        ("w1a 0ax", "W1A 0AX"),
        ("m1 1ae", "M1 1AE"),
        ("b33 8th", "B33 8TH"),
        ("cr2 6xh", "CR2 6XH"),
        ("dn55 1pt", "DN55 1PT"),
        ("gir0aa", "GIR 0AA"),
    ],
)
def test_uk_postcode(raw: str, want: str) -> None:
    assert normalise_uk_postcode(raw) == want


@pytest.mark.parametrize(
    "bad", ["", "SW1A", "Q1 1AA", "SW1A 1AC", "SW1A1A", "12345", "SW1A 1AAA", "V1 1AA", "AB1C 1AA"]
)
def test_uk_postcode_rejects(bad: str) -> None:
    _fails(normalise_uk_postcode, bad)


@pytest.mark.parametrize("raw", ["9434765919", "943 476 5919", "943-476-5919", "9434765870"])
def test_nhs_number_valid(raw: str) -> None:
    assert normalise_nhs_number(raw) == raw.replace(" ", "").replace("-", "")


@pytest.mark.parametrize(
    "bad", ["", "9434765918", "9434765871", "943476591", "94347659190", "943476591X", "1000000010"]
)
def test_nhs_number_rejects(bad: str) -> None:
    _fails(normalise_nhs_number, bad)


def _nhs_check(nine: str) -> int:
    total = sum(w * int(d) for w, d in zip(range(10, 1, -1), nine, strict=True))
    return (11 - total % 11) % 11


def test_nhs_number_check_digit_ten_is_invalid() -> None:
    nine = next(f"{i:09d}" for i in range(1000, 100000) if _nhs_check(f"{i:09d}") == 10)
    for last in "0123456789":
        _fails(normalise_nhs_number, nine + last)


# ------------------------------------------------------------------------------------ email, phone


def test_email() -> None:
    assert normalise_email("  John.Smith@Example.COM ") == "john.smith@example.com"
    assert normalise_email("John.Smith@Example.COM", case_sensitive_local=True) == (
        "John.Smith@example.com"
    )
    assert normalise_email("a+tag@bücher.de") == "a+tag@xn--bcher-kva.de"
    assert normalise_email("a@XN--BCHER-KVA.de") == "a@xn--bcher-kva.de"
    assert normalise_email("ＡＢ@example.org") == "ab@example.org"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "plainaddress",
        "a@@b.com",
        "a@b@c.com",
        "@example.com",
        "john@",
        "john@localhost",
        "john@-bad.com",
        "john@bad-.com",
        "john@exa mple.com",
        ".john@example.com",
        "john.@example.com",
        "jo..hn@example.com",
        "jo hn@example.com",
        '"john"@example.com',
        "x" * 65 + "@example.com",
        "john@example..com",
    ],
)
def test_email_rejects(bad: str) -> None:
    _fails(normalise_email, bad)


@pytest.mark.parametrize(
    "raw",
    ["020 7946 0018", "+44 20 7946 0018", "(020) 7946-0018", "0044 20 7946 0018", "+442079460018"],
)
def test_phone_e164(raw: str) -> None:
    assert normalise_phone(raw) == "+442079460018"


def test_phone_regions_and_rejects() -> None:
    assert normalise_phone("07911 123456") == "+447911123456"
    assert normalise_phone("+1 202 555 0143") == "+12025550143"
    assert normalise_phone("(202) 555-0143", region="US") == "+12025550143"
    for bad in ("", "12", "abc", "020 7946 001", "+44 20 7946 00188"):
        _fails(normalise_phone, bad)


# ------------------------------------------------------------------------------------- registry


def test_registry_and_options() -> None:
    assert set(NORMALISERS) == {
        "text", "exact", "name", "date", "uk_postcode", "nhs_number", "email", "phone",
    }  # fmt: skip
    assert get_normaliser("date", dayfirst=False)("02/03/1990") == "1990-02-03"
    assert get_normaliser("text") is normalise_text
    with pytest.raises(UnsupportedParameter, match="known: date, email, exact"):
        get_normaliser("soundex")
    with pytest.raises(UnsupportedParameter, match="no option"):
        get_normaliser("text", dayfirst=True)
    with pytest.raises(UnsupportedParameter):
        get_normaliser("date", dayfirst="yes")
    with pytest.raises(UnsupportedParameter):
        get_normaliser("date", century_pivot=True)
    with pytest.raises(UnsupportedParameter):
        get_normaliser("date", century_pivot=101)
    with pytest.raises(UnsupportedParameter):
        get_normaliser("phone", region="XX")
    with pytest.raises(UnsupportedParameter):
        get_normaliser("email", case_sensitive_local=1)


def test_non_string_and_overlong_values_fail() -> None:
    for fn in (normalise_text, normalise_name, normalise_date, normalise_phone):
        with pytest.raises(InvalidRecord, match="not a string"):
            fn(12)  # type: ignore[arg-type]
        with pytest.raises(InvalidRecord, match="too long"):
            fn("1" * 5000)


def test_error_is_invalid_input_and_hides_value() -> None:
    personal = "Jane Q Doe 1961"
    with pytest.raises(InvalidInput) as info:
        normalise_nhs_number(personal)
    assert personal not in str(info.value)
    assert "Jane" not in repr(info.value)


# --------------------------------------------------------------------------------- idempotence

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _idempotent(fn: Callable[[str], str], value: str) -> None:
    try:
        once = fn(value)
    except InvalidRecord as exc:
        assert str(exc) in REASONS
        return
    assert fn(once) == once


@_SETTINGS
@given(st.text(max_size=40))
def test_free_text_normalisers_are_idempotent(value: str) -> None:
    for name in NORMALISERS:
        _idempotent(get_normaliser(name), value)


@_SETTINGS
@given(
    st.lists(
        st.sampled_from(["O", "'", "’", "-", "–", " ", "é", "a", "Ö", ".", "ß", "\u0301", "ﬁ"]),
        max_size=14,
    )
)
def test_name_is_idempotent_on_tricky_input(chars: list[str]) -> None:
    _idempotent(normalise_name, "".join(chars))


@_SETTINGS
@given(st.dates(), st.integers(0, 7))
def test_date_round_trips_every_format(day: object, fmt: int) -> None:
    import datetime as dt

    assert isinstance(day, dt.date)
    month = day.strftime("%B")
    text = [
        day.isoformat(),
        f"{day.day:02d}/{day.month:02d}/{day.year:04d}",
        f"{day.day}-{day.month}-{day.year:04d}",
        f"{day.day:02d}.{day.month:02d}.{day.year:04d}",
        f"{day.day} {month[:3]} {day.year:04d}",
        f"{day.day} {month} {day.year:04d}",
        f"{day.year:04d}{day.month:02d}{day.day:02d}",
        f"{month} {day.day}, {day.year:04d}",
    ][fmt]
    assert normalise_date(text) == day.isoformat()
    _idempotent(normalise_date, text)


_OUTWARD_FIRST = "ABCDEFGHIJKLMNOPRSTUWYZ"
_INWARD = "ABDEFGHJLNPQRSTUWXYZ"


_POSTCODE_PARTS = st.tuples(
    st.sampled_from(_OUTWARD_FIRST),
    st.sampled_from(["", *"ABCDEFGHKLMNOPQRSTUVWXY"]),
    st.integers(0, 99),
    st.integers(0, 9),
    st.sampled_from(_INWARD),
    st.sampled_from(_INWARD),
)


@_SETTINGS
@given(_POSTCODE_PARTS, st.booleans())
def test_postcode_pattern_and_idempotence(
    parts: tuple[str, str, int, int, str, str], lower: bool
) -> None:
    a, b, district, sector, u1, u2 = parts
    outward = f"{a}{b}{district}"
    text = f"{outward}{sector}{u1}{u2}"
    got = normalise_uk_postcode(text.lower() if lower else text)
    assert got == f"{outward} {sector}{u1}{u2}"
    assert normalise_uk_postcode(got) == got


@_SETTINGS
@given(st.integers(0, 10**9 - 1), st.sampled_from(["{}", "{} ", " {}"]))
def test_nhs_number_generated(n: int, template: str) -> None:
    nine = f"{n:09d}"
    check = _nhs_check(nine)
    if check == 10:
        for last in "0123456789":
            _fails(normalise_nhs_number, nine + last)
        return
    number = nine + str(check)
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    assert normalise_nhs_number(template.format(spaced)) == number
    assert normalise_nhs_number(number) == number
    wrong = nine + str((check + 1) % 10)
    _fails(normalise_nhs_number, wrong)


@_SETTINGS
@given(
    st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\.[A-Za-z0-9_-]{1,5})?", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9]{1,10}(\.[A-Za-z0-9]{1,6}){1,2}", fullmatch=True),
)
def test_email_generated(local: str, domain: str) -> None:
    got = normalise_email(f"{local}@{domain}")
    assert got == f"{local.lower()}@{domain.lower()}"
    assert normalise_email(got) == got


@_SETTINGS
@given(st.integers(0, 9999), st.sampled_from(["020 7946 {}", "+44 (0)20 7946 {}", "02079 46{}"]))
def test_phone_generated(n: int, template: str) -> None:
    raw = template.format(f"{n:04d}")
    got = normalise_phone(raw)
    assert got == f"+44207946{n:04d}"
    assert normalise_phone(got) == got


# ------------------------------------------------------------------------------------- KeySpec


def test_keyspec_parse() -> None:
    spec = KeySpec.parse(
        "surname:name, dob:date(dayfirst=false;century_pivot=30) ,postcode:uk_postcode,id"
    )
    assert [(r.column, r.normaliser) for r in spec.rules] == [
        ("surname", "name"),
        ("dob", "date"),
        ("postcode", "uk_postcode"),
        ("id", "text"),
    ]
    assert dict(spec.rules[1].options) == {"dayfirst": False, "century_pivot": 30}
    assert KeySpec.parse(str(spec)) == spec
    assert hash(KeySpec.parse(str(spec))) == hash(spec)
    assert KeySpec.parse("phone:phone(region=US)").rules[0].options["region"] == "US"
    assert KeySpec.parse("first name:name").rules[0].column == "first name"
    text = spec.describe()
    assert "'surname' as name" in text and "dayfirst=False" in text


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", InvalidInput),
        ("   ", InvalidInput),
        ("a:soundex", UnsupportedParameter),
        ("a:date(colour=red)", UnsupportedParameter),
        ("a:date(dayfirst)", InvalidInput),
        ("a:date(dayfirst=maybe)", UnsupportedParameter),
        ("a,,b", InvalidInput),
        ("a,", InvalidInput),
        ("a:text,a:name", InvalidInput),
        ("a:text)", InvalidInput),
        ("a:date(dayfirst=true", InvalidInput),
    ],
)
def test_keyspec_parse_rejects(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        KeySpec.parse(text)


def test_keyspec_constructor_validates() -> None:
    with pytest.raises(InvalidInput):
        KeySpec(())
    with pytest.raises(InvalidInput):
        ColumnRule("")
    with pytest.raises(UnsupportedParameter):
        ColumnRule("a", "date", {"nope": 1})
    options = {"dayfirst": False}
    rule = ColumnRule("dob", "date", options)
    options["dayfirst"] = True  # the rule copied its options
    assert rule.options["dayfirst"] is False


def test_fingerprint() -> None:
    a = KeySpec.parse("surname:name,dob:date,postcode:uk_postcode")
    # column names differ between organisations; defaults spelt out change nothing
    b = KeySpec.parse("last_name:name,birth:date(dayfirst=true),pc:uk_postcode")
    assert a.fingerprint() == b.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", a.fingerprint())
    different = [
        "surname:text,dob:date,postcode:uk_postcode",
        "surname:name,dob:date(dayfirst=false),postcode:uk_postcode",
        "dob:date,surname:name,postcode:uk_postcode",
        "surname:name,dob:date",
    ]
    for text in different:
        assert KeySpec.parse(text).fingerprint() != a.fingerprint()
    canonical = a.canonical()
    assert canonical["version"] == matching.SPEC_VERSION
    assert canonical_json(canonical)  # JSON-able, deterministic


# -------------------------------------------------------------------------------------- keys


def _table(**columns: list[str | None]) -> Table:
    n = len(next(iter(columns.values())))
    return Table(columns=dict(columns), n_rows=n, source="test")


SPEC = KeySpec.parse("surname:name,dob:date,postcode:uk_postcode")


def test_same_person_written_differently_gets_same_key() -> None:
    ours = _table(
        surname=["O'Brien", "Müller", "Smith"],
        dob=["01/02/1980", "1975-12-31", "3 Mar 1990"],
        postcode=["sw1a1aa", "M1 1AE", "EC1A 1BB"],
    )
    theirs = _table(
        surname=["OBRIEN", "  o’brien ", "MULLER", "Smith"],
        dob=["1980-02-01", "1 February 1980", "31.12.1975", "1990-03-04"],
        postcode=["SW1A 1AA", "SW1A  1AA", "m11ae", "EC1A 1BB"],
    )
    a = build_keys(ours, SPEC)
    b = build_keys(theirs, SPEC)
    assert a.keys[0] == b.keys[1]  # O'Brien with a typographic apostrophe
    assert a.keys[0] != b.keys[0]  # "obrien" is another spelling: not matched
    assert a.keys[1] == b.keys[2]
    assert a.keys[2] != b.keys[3]  # different date of birth: a different person
    assert set(a.keys) & set(b.keys) == {a.keys[0], a.keys[1]}


def test_key_encoding() -> None:
    result = build_keys(_table(surname=["Ann"], dob=["19900131"], postcode=["m11ae"]), SPEC)
    key = result.keys[0]
    assert key == encode_parts([KEY_DOMAIN_TAG, b"ann", b"1990-01-31", b"M1 1AE"])
    assert decode_parts(key) == [KEY_DOMAIN_TAG, b"ann", b"1990-01-31", b"M1 1AE"]


@_SETTINGS
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=6), st.text(min_size=1, max_size=6)),
        min_size=1,
        max_size=12,
    )
)
def test_keys_are_injective(rows: list[tuple[str, str]]) -> None:
    table = _table(a=[r[0] for r in rows], b=[r[1] for r in rows])
    spec = KeySpec.parse("a:exact,b:exact")
    result = build_keys(table, spec)
    normalised: dict[int, tuple[str, str]] = {}
    for i, (x, y) in enumerate(rows):
        try:
            normalised[i] = (normalise_exact(x), normalise_exact(y))
        except InvalidRecord:
            continue
    assert result.failed_rows == len(rows) - len(normalised)
    firsts: dict[tuple[str, str], int] = {}
    for i, pair in normalised.items():
        firsts.setdefault(pair, i)
    assert result.row_index == sorted(firsts.values())
    assert result.duplicate_keys == len(normalised) - len(firsts)
    for key, i in zip(result.keys, result.row_index, strict=True):
        x, y = normalised[i]
        assert key == encode_parts([KEY_DOMAIN_TAG, x.encode(), y.encode()])
    assert len(set(result.keys)) == len(result.keys)


def test_failures_are_counted_per_column() -> None:
    table = _table(
        surname=["Ann", None, "", "Bob", "!!!", "Cy", "Di"],
        dob=["1990-01-31", "1990-01-31", "1990-01-31", "31/02/1990", None, "1990-01-31", "  "],
        postcode=["M1 1AE", "M1 1AE", "M1 1AE", "M1 1AE", "nonsense", "M1 1AE", "M1 1AE"],
    )
    result = build_keys(table, SPEC)
    assert result.total_rows == 7
    assert result.failures == {"surname": 3, "dob": 3, "postcode": 1}
    assert result.failed_rows == 5  # rows 1, 2, 3, 4, 6; row 4 fails three times but counts once
    assert result.row_index == [0, 5]
    assert result.failure_reasons["surname"] == {"missing value": 1, "empty value": 2}
    assert result.failure_reasons["dob"] == {
        "impossible date": 1,
        "missing value": 1,
        "empty value": 1,
    }
    assert result.failure_reasons["postcode"] == {"not a valid UK postcode": 1}
    summary = result.summary()
    assert summary["keys"] == 2
    assert "nonsense" not in repr(summary) and "31/02/1990" not in repr(summary)


def test_duplicates_keep_the_first_row() -> None:
    table = _table(
        surname=["Ann", "ANN", "Bob", "ann ", "Bob"],
        dob=["1990-01-31", "31/01/1990", "1990-01-31", "31 Jan 1990", "1990-02-01"],
        postcode=["M1 1AE", "m11ae", "M1 1AE", "M1 1AE", "M1 1AE"],
    )
    result = build_keys(table, SPEC)
    assert result.duplicate_keys == 2
    assert result.row_index == [0, 2, 4]
    assert result.failed_rows == 0
    assert len(result.keys) == 3


def test_build_keys_bad_input() -> None:
    table = _table(surname=["Ann"], dob=["1990-01-31"])
    with pytest.raises(InvalidInput, match=r"no column 'postcode'.*'surname', 'dob'"):
        build_keys(table, SPEC)
    with pytest.raises(InvalidInput):
        build_keys(table, "surname:name")  # type: ignore[arg-type]


def test_empty_table() -> None:
    result = build_keys(_table(surname=[], dob=[], postcode=[]), SPEC)
    assert result.keys == [] and result.total_rows == 0 and result.failed_rows == 0
