"""Identifier normalisation and match keys for private set intersection.

The ICO's PETs guidance warns that PSI matches only *exactly* equal identifiers: if one organisation
writes ``"O'Brien, 01/02/1980, sw1a1aa"`` and the other ``"OBRIEN, 1980-02-01, SW1A 1AA"`` the person is
silently dropped from the intersection. Both parties therefore normalise each identifier column the
same way (a :class:`KeySpec`, checked with :meth:`KeySpec.fingerprint`) and join the normalised values
into one key per record with :func:`build_keys`, which also reports how many records failed.

Normalisers are pure ``str -> str`` functions registered in :data:`NORMALISERS`; bind options with
:func:`get_normaliser`. They raise :class:`InvalidRecord` whose message is a short fixed reason
and never contains the value: values are personal data and error messages end up in logs.

What leaks: :class:`KeyResult` holds the normalised keys (personal data: keep them local and feed
them to a PSI protocol) and aggregate counts (per-column failures, duplicates). The counts say how
clean a party's data is; they are meant for that party's own operator.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import phonenumbers

from petsuite.core.encoding import canonical_json, encode_parts
from petsuite.core.errors import InvalidInput, InvalidRecord, UnsupportedParameter

if TYPE_CHECKING:
    from petsuite.core.tables import Table

__all__ = [
    "KEY_DOMAIN_TAG",
    "MAX_VALUE_CHARS",
    "NORMALISERS",
    "SPEC_VERSION",
    "ColumnRule",
    "KeyResult",
    "KeySpec",
    "NormaliserInfo",
    "build_keys",
    "get_normaliser",
    "normalise_date",
    "normalise_email",
    "normalise_exact",
    "normalise_name",
    "normalise_nhs_number",
    "normalise_phone",
    "normalise_text",
    "normalise_uk_postcode",
    "resolve_options",
]

#: First part of every encoded key: separates PSI keys from any other use of ``encode_parts``.
KEY_DOMAIN_TAG = b"petsuite/psi/key/v1"
#: Version tag hashed into :meth:`KeySpec.fingerprint`; bumped whenever a normaliser's output changes.
SPEC_VERSION = "petsuite/psi/keyspec/v1"
#: Longest value any normaliser accepts (characters); longer values fail with "value too long".
MAX_VALUE_CHARS = 1024


# --------------------------------------------------------------------------------------------------
# helpers


def _check(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidRecord("not a string")
    if len(value) > MAX_VALUE_CHARS:
        raise InvalidRecord("value too long")
    return value


def _nfkc(value: str) -> str:
    return value if value.isascii() else unicodedata.normalize("NFKC", value)


def _collapse(value: str) -> str:
    return " ".join(value.split())


def _nonempty(value: str) -> str:
    if not value:
        raise InvalidRecord("empty value")
    return value


# --------------------------------------------------------------------------------------------------
# text, exact, name


def normalise_text(value: str) -> str:
    """Unicode NFKC, case-folded, internal whitespace collapsed to one space, stripped."""
    s = _check(value)
    if s.isascii():
        return _nonempty(_collapse(s.lower()))
    s = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", s).casefold())
    return _nonempty(_collapse(s))


def normalise_exact(value: str) -> str:
    """Unicode NFKC and surrounding whitespace stripped; case and inner spacing are kept."""
    s = _check(value)
    if s.isascii():
        return _nonempty(s.strip())
    s = unicodedata.normalize("NFKC", s).strip()
    # Stripping can expose characters that NFKC maps differently at the start; settle it once more.
    return _nonempty(unicodedata.normalize("NFKC", s).strip())


_APOSTROPHES = "'\u2018\u2019\u201b\u02bc\u02b9\u0060\u00b4\u2032\uff07"
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_JOIN_TABLE = str.maketrans({**dict.fromkeys(_APOSTROPHES, "'"), **dict.fromkeys(_HYPHENS, "-")})
# ASCII fast path as a bytes table (much faster than str.translate): backtick to apostrophe, other
# punctuation and control characters that are not whitespace deleted.
_ASCII_MAP = bytes.maketrans(b"`", b"'")
_ASCII_DELETE = bytes(
    b for b in range(128) if not chr(b).isalnum() and not chr(b).isspace() and chr(b) not in "-'`"
)
_JOINER_RUN = re.compile(r" ?[-'](?: ?[-'])* ?")  # spaces are single once collapsed


def _join_repl(match: re.Match[str]) -> str:
    return "-" if "-" in match.group(0) else "'"


def normalise_name(value: str) -> str:
    """A person's name: NFKC, case-folded, diacritics removed, punctuation dropped.

    Hyphens and apostrophes (any Unicode variant) are kept only between two word characters, a run of
    them collapses to one (``-`` if the run holds a hyphen); spaces around them are removed, so
    ``"Smith - Jones"`` and ``"smith-jones"`` agree. Diacritics are removed by NFKD and dropping
    combining marks, which suits Latin-script names; other scripts pass through case-folded.
    """
    s = _check(value)
    if s.isascii():
        s = s.lower().encode("ascii").translate(_ASCII_MAP, _ASCII_DELETE).decode("ascii")
    else:
        s = unicodedata.normalize("NFKC", s).casefold()
        s = unicodedata.normalize("NFKD", s).translate(_JOIN_TABLE)
        kept: list[str] = []
        for c in s:
            if unicodedata.combining(c):
                continue
            if c in "-'" or c.isspace():
                kept.append(c)
                continue
            cat = unicodedata.category(c)
            if cat[0] in "PSC" or cat in {"Zl", "Zp"}:
                continue
            kept.append(c)
        s = "".join(kept)
    s = _collapse(s)
    if "-" in s or "'" in s:
        if (
            " -" in s or "- " in s or " '" in s or "' " in s
            or "--" in s or "''" in s or "-'" in s or "'-" in s
        ):  # fmt: skip
            s = _JOINER_RUN.sub(_join_repl, s)
        # No joiner touches a space any more, so stripping cannot expose one.
        s = s.strip("-'")
    return _nonempty(s)


# --------------------------------------------------------------------------------------------------
# dates

_MONTHS: dict[str, int] = {}
for _i, _full in enumerate(
    (
        "january", "february", "march", "april", "may", "june",
        "july", "august", "september", "october", "november", "december",
    ),
    start=1,
):  # fmt: skip
    _MONTHS[_full] = _i
    _MONTHS[_full[:3]] = _i
_MONTHS["sept"] = 9

_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:[t ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?(z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
_YMD = re.compile(r"([0-9]{4})([/.])([0-9]{1,2})\2([0-9]{1,2})")
_DMY = re.compile(r"([0-9]{1,2})([/.-])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})")
_D_MON_Y = re.compile(
    r"([0-9]{1,2})(?:st|nd|rd|th)?[ ./-]?([a-z]{3,9})\.?,?[ ./-]?([0-9]{4}|[0-9]{2})"
)
_MON_D_Y = re.compile(r"([a-z]{3,9})\.?[ -]([0-9]{1,2})(?:st|nd|rd|th)?,? ?([0-9]{4})")
_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")


def _year(text: str, century_pivot: int | None) -> int:
    if len(text) == 4:
        return int(text)
    if century_pivot is None:
        raise InvalidRecord("two-digit year (set century_pivot to accept)")
    yy = int(text)
    return 2000 + yy if yy < century_pivot else 1900 + yy


_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _iso(year: int, month: int, day: int) -> str:
    if (
        year < 1
        or not 1 <= month <= 12
        or not 1 <= day <= _MONTH_DAYS[month]
        or (month == 2 and day == 29 and (year % 4 != 0 or (year % 100 == 0 and year % 400 != 0)))
    ):
        raise InvalidRecord("impossible date")
    return f"{year:04d}-{month:02d}-{day:02d}"


def normalise_date(value: str, *, dayfirst: bool = True, century_pivot: int | None = None) -> str:
    """A calendar date as ISO 8601 ``YYYY-MM-DD``.

    Accepts ``YYYY-MM-DD`` (optionally with a midnight time, as databases print dates),
    ``YYYY/MM/DD``, ``DD/MM/YYYY`` (``MM/DD/YYYY`` when ``dayfirst`` is false: it affects slash dates
    only), ``DD-MM-YYYY``, ``DD.MM.YYYY``, ``D Mon YYYY``, ``D Month YYYY`` (also ``03FEB1990``,
    ``3rd February 1990``), ``Month D, YYYY`` and ``YYYYMMDD``. Impossible dates fail.

    Two-digit years fail unless ``century_pivot`` (0..100) is set: ``yy < century_pivot`` means 20yy,
    otherwise 19yy (``century_pivot=30``: ``29`` is 2029, ``30`` is 1930).
    """
    s = _check(value)
    s = _nfkc(s).strip().lower()
    if not s:
        raise InvalidRecord("empty value")
    if s[0].isdigit():
        m = _ISO_DATE.fullmatch(s)
        if m is not None:
            return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _ISO.fullmatch(s)
        if m is not None:
            if m.group(4) is not None:
                hh, mm, ss, frac, tz = m.group(4, 5, 6, 7, 8)
                if (
                    hh != "00"
                    or mm != "00"
                    or (ss not in (None, "00"))
                    or (frac and frac.strip("0"))
                ):
                    raise InvalidRecord("date has a time of day")
                if tz not in (None, "z") and tz.lstrip("+-").replace(":", "").strip("0"):
                    raise InvalidRecord("date has a time zone offset")
            return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _COMPACT.fullmatch(s)
        if m is not None:
            return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _YMD.fullmatch(s)
        if m is not None:
            return _iso(int(m.group(1)), int(m.group(3)), int(m.group(4)))
        m = _DMY.fullmatch(s)
        if m is not None:
            a, sep, b, y = m.group(1, 2, 3, 4)
            year = _year(y, century_pivot)
            if sep == "/" and not dayfirst:
                return _iso(year, int(a), int(b))
            return _iso(year, int(b), int(a))
        m = _D_MON_Y.fullmatch(s)
        if m is not None:
            month = _MONTHS.get(m.group(2))
            if month is None:
                raise InvalidRecord("unknown month name")
            return _iso(_year(m.group(3), century_pivot), month, int(m.group(1)))
    else:
        m = _MON_D_Y.fullmatch(s)
        if m is not None:
            month = _MONTHS.get(m.group(1))
            if month is None:
                raise InvalidRecord("unknown month name")
            return _iso(int(m.group(3)), month, int(m.group(2)))
    raise InvalidRecord("unrecognised date format")


# --------------------------------------------------------------------------------------------------
# UK postcode, NHS number

_OUTWARD = (
    r"[A-PR-UWYZ][0-9]{1,2}"
    r"|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}"
    r"|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]"
)
_POSTCODE = re.compile(rf"(?:{_OUTWARD})[0-9][ABD-HJLNP-UW-Z]{{2}}|GIR0AA")


def normalise_uk_postcode(value: str) -> str:
    """A UK postcode as ``OUTWARD INWARD`` in capitals with one space (``sw1a1aa`` -> ``SW1A 1AA``).

    Validates the Royal Mail pattern (letters each position allows), ``GIR 0AA`` included. Does not
    check that the postcode exists; British Overseas Territory and BFPO codes are not accepted.
    """
    s = _check(value)
    s = "".join(_nfkc(s).upper().split())
    if not s:
        raise InvalidRecord("empty value")
    if _POSTCODE.fullmatch(s) is None:
        raise InvalidRecord("not a valid UK postcode")
    return f"{s[:-3]} {s[-3:]}"


_NHS_STRIP = str.maketrans("", "", " -\t")


def normalise_nhs_number(value: str) -> str:
    """An NHS number as 10 digits, check digit verified (NHS Data Dictionary modulus 11).

    Spaces and hyphens are removed. Weights 10..2 apply to the first nine digits; the check digit is
    ``11 - (sum mod 11)``, with 11 read as 0, and 10 means the number is invalid.
    """
    s = _check(value)
    s = _nfkc(s).strip().translate(_NHS_STRIP)
    if not s:
        raise InvalidRecord("empty value")
    if len(s) != 10 or not s.isascii() or not s.isdigit():
        raise InvalidRecord("NHS number must be 10 digits")
    total = 0
    for weight, digit in zip(range(10, 1, -1), s, strict=False):
        total += weight * (ord(digit) - 48)
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10 or check != ord(s[9]) - 48:
        raise InvalidRecord("NHS number check digit is wrong")
    return s


# --------------------------------------------------------------------------------------------------
# email, phone

_LOCAL_SPECIALS = frozenset("!#$%&'*+/=?^_`{|}~-.")
_LDH = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalise_email(value: str, *, case_sensitive_local: bool = False) -> str:
    """An email address: NFKC, stripped, domain lower-cased and IDNA-encoded (stdlib, IDNA 2003).

    The local part is lower-cased too unless ``case_sensitive_local``. Basic syntax only: exactly one
    ``@``, a dot-atom local part (no quoted forms) of at most 64 characters, a domain with at least two
    labels of letters, digits and hyphens. Provider-specific rules (dots or ``+tags`` at some
    providers) are not applied, since both parties could not know them.
    """
    s = _check(value)
    s = _nfkc(s).strip()
    if not s:
        raise InvalidRecord("empty value")
    if s.count("@") != 1:
        raise InvalidRecord("email must contain exactly one @")
    local, domain = s.split("@")
    if not local or not domain:
        raise InvalidRecord("email has an empty local part or domain")
    if len(local) > 64:
        raise InvalidRecord("email local part too long")
    if local[0] == "." or local[-1] == "." or ".." in local:
        raise InvalidRecord("email local part has a misplaced dot")
    for c in local:
        if not (c.isalnum() or c in _LOCAL_SPECIALS):
            raise InvalidRecord("email local part has a character not allowed")
    if not case_sensitive_local:
        local = local.lower()
    domain = domain.lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidRecord("email domain is not a valid international name") from None
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2:
        raise InvalidRecord("email domain is not a valid host name")
    for label in labels:
        if _LDH.fullmatch(label) is None:
            raise InvalidRecord("email domain is not a valid host name")
    return f"{local}@{domain}"


_E164 = phonenumbers.PhoneNumberFormat.E164


def normalise_phone(value: str, *, region: str = "GB") -> str:
    """A telephone number in E.164 (``+442079460018``), via Google's libphonenumber metadata.

    Numbers without an international prefix are read as numbers of ``region``. The number must be
    valid for its country (length and range), not merely possible; validity depends on the installed
    ``phonenumbers`` metadata.
    """
    s = _check(value)
    s = _nfkc(s).strip()
    if not s:
        raise InvalidRecord("empty value")
    try:
        number = phonenumbers.parse(s, region)
    except phonenumbers.NumberParseException:
        raise InvalidRecord("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidRecord("not a valid phone number")
    return phonenumbers.format_number(number, _E164)


# --------------------------------------------------------------------------------------------------
# registry


@dataclass(frozen=True, slots=True)
class NormaliserInfo:
    """A registered normaliser: the function, its options with defaults, and a one-line summary."""

    name: str
    function: Callable[..., str]
    defaults: Mapping[str, Any]
    summary: str


def _info(name: str, function: Callable[..., str], summary: str, **defaults: Any) -> NormaliserInfo:
    return NormaliserInfo(name, function, MappingProxyType(defaults), summary)


#: Every normaliser by name. Options are keyword arguments with the defaults shown.
NORMALISERS: Mapping[str, NormaliserInfo] = MappingProxyType(
    {
        "text": _info("text", normalise_text, "NFKC, case-folded, whitespace collapsed"),
        "exact": _info("exact", normalise_exact, "NFKC, stripped"),
        "name": _info("name", normalise_name, "case-folded, no diacritics or punctuation"),
        "date": _info("date", normalise_date, "ISO 8601 date", dayfirst=True, century_pivot=None),
        "uk_postcode": _info("uk_postcode", normalise_uk_postcode, "UK postcode, OUTWARD INWARD"),
        "nhs_number": _info("nhs_number", normalise_nhs_number, "NHS number, check digit verified"),
        "email": _info(
            "email", normalise_email, "email, domain IDNA-encoded", case_sensitive_local=False
        ),
        "phone": _info("phone", normalise_phone, "phone number in E.164", region="GB"),
    }
)


def _check_option(normaliser: str, key: str, value: Any) -> None:
    if key in ("dayfirst", "case_sensitive_local"):
        if not isinstance(value, bool):
            raise UnsupportedParameter(f"{normaliser}: option {key} must be true or false")
    elif key == "century_pivot":
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100
        ):
            raise UnsupportedParameter(f"{normaliser}: century_pivot must be an integer 0..100")
    elif key == "region" and (
        not isinstance(value, str) or value not in phonenumbers.SUPPORTED_REGIONS
    ):
        raise UnsupportedParameter(f"{normaliser}: region must be a two-letter region code like GB")


def resolve_options(name: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """All options of normaliser ``name``: the defaults overridden by ``options``, each validated.

    Raises
    ------
    UnsupportedParameter
        Unknown normaliser, unknown option or a value of the wrong type or range.
    """
    info = NORMALISERS.get(name)
    if info is None:
        known = ", ".join(sorted(NORMALISERS))
        raise UnsupportedParameter(f"unknown normaliser {name!r}; known: {known}")
    resolved = dict(info.defaults)
    for key, value in (options or {}).items():
        if key not in info.defaults:
            allowed = ", ".join(sorted(info.defaults)) or "none"
            raise UnsupportedParameter(
                f"normaliser {name!r} has no option {key!r}; options: {allowed}"
            )
        _check_option(name, key, value)
        resolved[key] = value
    return resolved


def get_normaliser(name: str, **options: Any) -> Callable[[str], str]:
    """The normaliser ``name`` with ``options`` bound, as a ``str -> str`` function.

    Raises
    ------
    UnsupportedParameter
        Unknown normaliser (the message lists the known ones) or a bad option.
    """
    resolved = resolve_options(name, options)
    function = NORMALISERS[name].function
    if not resolved:
        return function
    return functools.partial(function, **resolved)


# --------------------------------------------------------------------------------------------------
# key specifications

_RULE = re.compile(
    r"\s*([^:,()]+?)\s*(?::\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(([^()]*)\))?\s*)?(?=,|\Z)"
)


def _parse_option_value(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low in ("none", "null"):
        return None
    if re.fullmatch(r"[+-]?[0-9]+", t):
        return int(t)
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    return t


def _format_option_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class ColumnRule:
    """Normalise ``column`` with normaliser ``normaliser`` and ``options``.

    Options are validated at construction (:class:`~petsuite.core.errors.UnsupportedParameter`).
    """

    column: str
    normaliser: str = "text"
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column.strip():
            raise InvalidInput("a key column needs a non-empty name")
        if not isinstance(self.normaliser, str):
            raise InvalidInput("normaliser must be given by name")
        if not isinstance(self.options, Mapping):
            raise InvalidInput("options must be a mapping")
        resolve_options(self.normaliser, self.options)
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def __hash__(self) -> int:
        return hash((self.column, self.normaliser, tuple(sorted(self.options.items()))))

    def resolved_options(self) -> dict[str, Any]:
        """The options with every default filled in."""
        return resolve_options(self.normaliser, self.options)

    def function(self) -> Callable[[str], str]:
        """The bound normaliser."""
        return get_normaliser(self.normaliser, **self.options)

    def __str__(self) -> str:
        if not self.options:
            return f"{self.column}:{self.normaliser}"
        opts = ";".join(f"{k}={_format_option_value(v)}" for k, v in sorted(self.options.items()))
        return f"{self.column}:{self.normaliser}({opts})"


@dataclass(frozen=True)
class KeySpec:
    """How a record becomes a match key: an ordered tuple of :class:`ColumnRule`.

    Both parties must use specs with equal :meth:`fingerprint`; column names may differ between them.
    """

    rules: tuple[ColumnRule, ...]

    def __post_init__(self) -> None:
        rules = tuple(self.rules)
        if not rules:
            raise InvalidInput("a key specification needs at least one column")
        if not all(isinstance(r, ColumnRule) for r in rules):
            raise InvalidInput("a key specification is made of ColumnRule objects")
        columns = [r.column for r in rules]
        if len(set(columns)) != len(columns):
            raise InvalidInput("a key specification names a column twice")
        object.__setattr__(self, "rules", rules)

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        """Parse ``"surname:name,dob:date(dayfirst=false),postcode:uk_postcode,id"``.

        A bare column uses ``text``. Options go in brackets, separated by ``;``, values ``true``,
        ``false``, ``none``, integers or strings. Column names with ``:,()`` need the constructor.
        """
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("empty key specification")
        rules: list[ColumnRule] = []
        pos = 0
        while True:
            m = _RULE.match(text, pos)
            if m is None or m.end() == pos:
                raise InvalidInput(f"cannot parse key specification at character {pos}")
            column, normaliser, opts = m.group(1, 2, 3)
            options: dict[str, Any] = {}
            if opts is not None and opts.strip():
                for item in opts.split(";"):
                    key, sep, val = item.partition("=")
                    if not sep or not key.strip():
                        raise InvalidInput("key specification options look like name=value")
                    options[key.strip()] = _parse_option_value(val)
            rules.append(ColumnRule(column, normaliser or "text", options))
            pos = m.end()
            if pos == len(text):
                break
            if text[pos] != ",":
                raise InvalidInput(f"cannot parse key specification at character {pos}")
            pos += 1
        return cls(tuple(rules))

    def canonical(self) -> dict[str, Any]:
        """What :meth:`fingerprint` hashes: the version and each rule's normaliser and full options."""
        return {
            "version": SPEC_VERSION,
            "rules": [
                {"normaliser": r.normaliser, "options": r.resolved_options()} for r in self.rules
            ],
        }

    def fingerprint(self) -> str:
        """SHA-256 hex of the canonical JSON of :meth:`canonical`.

        Equal fingerprints mean equal normalisation: same normalisers, same options (defaults
        included, so ``date`` and ``date(dayfirst=true)`` agree), same order. Column names are left
        out because each party names its columns its own way.
        """
        return hashlib.sha256(canonical_json(self.canonical())).hexdigest()

    def describe(self) -> str:
        """One line per column, for people."""
        lines = []
        for i, r in enumerate(self.rules, start=1):
            opts = ", ".join(f"{k}={v!r}" for k, v in sorted(r.resolved_options().items()))
            summary = NORMALISERS[r.normaliser].summary
            extra = f" [{opts}]" if opts else ""
            lines.append(f"{i}. {r.column!r} as {r.normaliser} ({summary}){extra}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.rules)


# --------------------------------------------------------------------------------------------------
# keys


@dataclass(frozen=True)
class KeyResult:
    """Match keys of one table and what happened to the rows that produced none.

    Attributes
    ----------
    keys:
        One ``encode_parts([KEY_DOMAIN_TAG, v1, v2, ...])`` per row that normalised and was not a
        duplicate, in row order. Personal data.
    row_index:
        Source row of each key.
    failures:
        Per column, rows whose value was NULL, empty or failed normalisation.
    failure_reasons:
        Per column, counts by reason (fixed strings, never values).
    failed_rows:
        Rows with at least one failed column.
    duplicate_keys:
        Rows whose key equals an earlier row's (the first is kept).
    total_rows:
        Rows in the table.
    """

    keys: list[bytes]
    row_index: list[int]
    failures: dict[str, int]
    failure_reasons: dict[str, dict[str, int]]
    failed_rows: int
    duplicate_keys: int
    total_rows: int

    def summary(self) -> dict[str, Any]:
        """Counts only (no keys): safe for the operator's log and the audit trail."""
        return {
            "total_rows": self.total_rows,
            "keys": len(self.keys),
            "failed_rows": self.failed_rows,
            "duplicate_keys": self.duplicate_keys,
            "failures": dict(self.failures),
            "failure_reasons": {c: dict(r) for c, r in self.failure_reasons.items()},
        }


_NULL_REASON = "missing value"
_EMPTY_REASON = "empty value"


def _encoded_part(text: str) -> bytes:
    data = text.encode("utf-8")
    return len(data).to_bytes(8, "big") + data


def build_keys(table: Table, spec: KeySpec) -> KeyResult:
    """Normalise each row's key columns and encode them into one key per row.

    Each distinct value is normalised once per column (a cache), so repeated values cost a lookup.
    A row whose columns all normalise yields ``encode_parts([KEY_DOMAIN_TAG, v1.encode(), ...])``,
    which is injective: different normalised tuples always give different keys.

    Raises
    ------
    InvalidInput
        A column of the spec is not in the table (the message lists the table's columns).
    """
    if not isinstance(spec, KeySpec):
        raise InvalidInput("spec must be a KeySpec")
    n = table.n_rows
    # Work on distinct values and let C-level map/zip/join do the per-row work: a plain Python loop
    # over a million rows costs more than the normalisation of the distinct values.
    parts_by_rule: list[list[bytes]] = []
    failures: dict[str, int] = {}
    reasons: dict[str, dict[str, int]] = {}
    failed: set[int] = set()
    for rule in spec.rules:
        values = table.column(rule.column)
        fn = rule.function()
        cache: dict[str | None, bytes] = {}
        bad: dict[str | None, str] = {}
        for v in set(values):
            if v is None:
                bad[v] = _NULL_REASON
            elif not v or v.isspace():
                bad[v] = _EMPTY_REASON
            else:
                try:
                    cache[v] = _encoded_part(fn(v))
                except InvalidRecord as exc:
                    bad[v] = exc.reason
        col_reasons: dict[str, int] = {}
        count = 0
        if bad:
            for v in bad:
                cache[v] = b""  # placeholder; the row is dropped below
            bad_rows = [i for i, v in enumerate(values) if v in bad]
            count = len(bad_rows)
            failed.update(bad_rows)
            for v, k in Counter(values[i] for i in bad_rows).items():
                reason = bad[v]
                col_reasons[reason] = col_reasons.get(reason, 0) + k
        parts_by_rule.append(list(map(cache.__getitem__, values)))
        failures[rule.column] = failures.get(rule.column, 0) + count
        reasons[rule.column] = col_reasons

    prefix = encode_parts([KEY_DOMAIN_TAG])
    joined = list(map(b"".join, zip(repeat(prefix, n), *parts_by_rule, strict=True)))
    if failed:
        rows = [i for i in range(n) if i not in failed]
        keys = [joined[i] for i in rows]
    else:
        rows = list(range(n))
        keys = joined
    duplicates = 0
    if len(set(keys)) != len(keys):
        seen: set[bytes] = set()
        kept_keys: list[bytes] = []
        kept_rows: list[int] = []
        for key, i in zip(keys, rows, strict=True):
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            kept_keys.append(key)
            kept_rows.append(i)
        keys, rows = kept_keys, kept_rows
    return KeyResult(
        keys=keys,
        row_index=rows,
        failures=failures,
        failure_reasons=reasons,
        failed_rows=len(failed),
        duplicate_keys=duplicates,
        total_rows=n,
    )
