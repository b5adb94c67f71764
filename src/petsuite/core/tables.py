"""Reading and writing tables of personal records for PSI: CSV, Parquet, DuckDB and SQLite.

Every value is read as text (``str``) or ``None`` for NULL, so identifiers such as ``0123`` or
``07700 900123`` keep their leading zeros and normalisation (:mod:`petsuite.psi.matching`) sees what
the file holds. DuckDB does the parsing; no extension is installed or loaded.

What leaks: error messages name files, tables and columns but never a value (DuckDB's own CSV
messages quote the offending line, so they are cut before it). Written files are created with mode
0600 because they usually hold personal data.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from petsuite.core.errors import InvalidInput

__all__ = ["READ_EXTENSIONS", "WRITE_EXTENSIONS", "Table", "read_table", "write_table"]

_CSV = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
_PARQUET = (".parquet",)
_DUCKDB = (".duckdb", ".ddb")
_SQLITE = (".sqlite", ".sqlite3", ".db")
#: File name endings :func:`read_table` understands.
READ_EXTENSIONS = _CSV + _PARQUET + _DUCKDB + _SQLITE
#: File name endings :func:`write_table` writes.
WRITE_EXTENSIONS = (".csv", ".csv.gz", ".tsv", ".parquet")

_HEADER_PROBE_BYTES = 1 << 16
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class Table:
    """Columns of text values (``None`` is NULL), all ``n_rows`` long, and where they came from."""

    columns: dict[str, list[str | None]]
    n_rows: int
    source: str

    def __post_init__(self) -> None:
        if self.n_rows < 0:
            raise InvalidInput("a table cannot have a negative number of rows")
        for name, values in self.columns.items():
            if len(values) != self.n_rows:
                raise InvalidInput(f"column {name!r} has {len(values)} values, not {self.n_rows}")

    @property
    def column_names(self) -> list[str]:
        """The column names in order."""
        return list(self.columns)

    def column(self, name: str) -> list[str | None]:
        """The values of column ``name``.

        Raises
        ------
        InvalidInput
            No such column; the message lists the available ones.
        """
        try:
            return self.columns[name]
        except KeyError:
            raise InvalidInput(
                f"no column {name!r} in {self.source}; available: {_listing(self.columns)}"
            ) from None


def _listing(names: Sequence[str] | Mapping[str, object]) -> str:
    return ", ".join(repr(n) for n in names) or "(none)"


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for ext in sorted(READ_EXTENSIONS + WRITE_EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return ext
    return path.suffix.lower()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _safe_reason(exc: BaseException) -> str:
    """The first line of a third-party error, cut before anything that may quote the data."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for marker in ("Original Line", "original line", '"', "'"):
        cut = text.find(marker)
        if cut != -1:
            text = text[:cut].rstrip(" :,(")
    return text[:200] or type(exc).__name__


def _pick_columns(available: list[str], wanted: Sequence[str] | None, source: str) -> list[str]:
    if wanted is None:
        return available
    if isinstance(wanted, str):
        raise InvalidInput("columns must be a sequence of names, not one string")
    missing = [c for c in wanted if c not in available]
    if missing:
        raise InvalidInput(
            f"no column {_listing(missing)} in {source}; available: {_listing(available)}"
        )
    if len(set(wanted)) != len(wanted):
        raise InvalidInput("a column is requested twice")
    return list(wanted)


def _to_table(names: list[str], rows: list[tuple[object, ...]], source: str) -> Table:
    columns: dict[str, list[str | None]] = {}
    for i, name in enumerate(names):
        columns[name] = [r[i] for r in rows]  # type: ignore[misc]  # VARCHAR: str | None
    return Table(columns=columns, n_rows=len(rows), source=source)


def _sniff_delimiter(path: Path, gz: bool) -> str:
    """The delimiter of a CSV, chosen from its header line: the commonest of ``, ; | TAB``."""
    if gz:
        import gzip  # noqa: PLC0415 - only for compressed files

        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(_HEADER_PROBE_BYTES)
        except (OSError, EOFError) as exc:
            raise InvalidInput(f"{path.name} is not a readable gzip file") from exc
    else:
        with path.open("rb") as fh:
            head = fh.read(_HEADER_PROBE_BYTES)
    line = head.split(b"\n", 1)[0]
    counts = {d: 0 for d in (",", ";", "\t", "|")}
    quoted = False
    for byte in line:
        ch = chr(byte)
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(path: Path, columns: Sequence[str] | None, tsv: bool, gz: bool) -> Table:
    if not gz and path.stat().st_size == 0:
        raise InvalidInput(f"{path.name} is empty")
    delim = "\t" if tsv else _sniff_delimiter(path, gz)
    source = (
        "read_csv(?, all_varchar=true, header=true, delim=?, quote='\"', escape='\"', skip=0, "
        "strict_mode=true, null_padding=false, ignore_errors=false, allow_quoted_nulls=false)"
    )
    params = [str(path), delim]
    con = duckdb.connect()
    try:
        desc = con.execute(f"SELECT * FROM {source} LIMIT 0", params).description  # noqa: S608
        names = [d[0] for d in desc or []]
        if not names:
            raise InvalidInput(f"{path.name} has no columns")
        wanted = _pick_columns(names, columns, path.name)
        select = ", ".join(_quote(c) for c in wanted)
        rows = con.execute(f"SELECT {select} FROM {source}", params).fetchall()  # noqa: S608
    except duckdb.Error as exc:
        raise InvalidInput(f"cannot read {path.name} as CSV: {_safe_reason(exc)}") from exc
    finally:
        con.close()
    return _to_table(wanted, rows, str(path))


def _read_parquet(path: Path, columns: Sequence[str] | None) -> Table:
    con = duckdb.connect()
    try:
        desc = con.execute("SELECT * FROM read_parquet(?) LIMIT 0", [str(path)]).description
        names = [d[0] for d in desc or []]
        wanted = _pick_columns(names, columns, path.name)
        if not wanted:
            raise InvalidInput(f"{path.name} has no columns")
        select = ", ".join(f"CAST({_quote(c)} AS VARCHAR)" for c in wanted)
        rows = con.execute(f"SELECT {select} FROM read_parquet(?)", [str(path)]).fetchall()  # noqa: S608
    except duckdb.Error as exc:
        raise InvalidInput(f"cannot read {path.name} as Parquet: {_safe_reason(exc)}") from exc
    finally:
        con.close()
    return _to_table(wanted, rows, str(path))


def _read_duckdb(path: Path, columns: Sequence[str] | None, table: str) -> Table:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise InvalidInput(
            f"cannot open {path.name} as a DuckDB database: {_safe_reason(exc)}"
        ) from exc
    try:
        listed = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY table_schema, table_name"
        ).fetchall()
        known: dict[str, tuple[str, str]] = {}
        for schema, name in listed:
            known[f"{schema}.{name}"] = (str(schema), str(name))
            if schema == "main":
                known[str(name)] = (str(schema), str(name))
        if table not in known:
            shown = sorted(k for k in known if "." not in k or not k.startswith("main."))
            raise InvalidInput(f"no table {table!r} in {path.name}; tables: {_listing(shown)}")
        schema, name = known[table]
        qualified = f"{_quote(schema)}.{_quote(name)}"
        desc = con.execute(f"SELECT * FROM {qualified} LIMIT 0").description  # noqa: S608
        names = [d[0] for d in desc or []]
        wanted = _pick_columns(names, columns, f"{path.name}:{table}")
        if not wanted:
            raise InvalidInput(f"table {table!r} has no columns")
        select = ", ".join(f"CAST({_quote(c)} AS VARCHAR)" for c in wanted)
        rows = con.execute(f"SELECT {select} FROM {qualified}").fetchall()  # noqa: S608
    except duckdb.Error as exc:
        raise InvalidInput(
            f"cannot read table {table!r} of {path.name}: {_safe_reason(exc)}"
        ) from exc
    finally:
        con.close()
    return _to_table(wanted, rows, f"{path}:{table}")


def _sqlite_text(value: object, column: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"column {column!r} holds binary data that is not UTF-8") from None
    return str(value)


def _read_sqlite(path: Path, columns: Sequence[str] | None, table: str) -> Table:
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise InvalidInput(f"cannot open {path.name} as a SQLite database: {exc}") from exc
    try:
        con.execute("PRAGMA query_only = ON")
        known = [
            str(r[0])
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
            )
        ]
        if table not in known:
            raise InvalidInput(f"no table {table!r} in {path.name}; tables: {_listing(known)}")
        cursor = con.execute(f"SELECT * FROM {_quote(table)} LIMIT 0")  # noqa: S608
        names = [d[0] for d in cursor.description or []]
        wanted = _pick_columns(names, columns, f"{path.name}:{table}")
        if not wanted:
            raise InvalidInput(f"table {table!r} has no columns")
        select = ", ".join(_quote(c) for c in wanted)
        raw = con.execute(f"SELECT {select} FROM {_quote(table)}").fetchall()  # noqa: S608
    except sqlite3.Error as exc:
        raise InvalidInput(
            f"cannot read table {table!r} of {path.name}: {_safe_reason(exc)}"
        ) from exc
    finally:
        con.close()
    out: dict[str, list[str | None]] = {}
    for i, c in enumerate(wanted):
        out[c] = [_sqlite_text(r[i], c) for r in raw]
    return Table(columns=out, n_rows=len(raw), source=f"{path}:{table}")


def read_table(
    source: str | Path,
    *,
    columns: Sequence[str] | None = None,
    table: str | None = None,
) -> Table:
    """Read a table of records as text, chosen by file name ending.

    ``.csv``, ``.csv.gz``, ``.tsv``, ``.tsv.gz``: header row required; the delimiter of a CSV is the
    commonest of ``, ; | TAB`` in its header line; ragged rows are an error; an empty field is NULL
    and a quoted empty field (``""``) the empty string. ``.parquet``: every
    column cast to text. ``.duckdb``/``.ddb`` (opened read-only) and ``.sqlite``/``.sqlite3``/``.db``
    (opened read-only) need ``table``, which must be one of the database's tables or views.

    Parameters
    ----------
    columns:
        Read only these columns, in this order (default: all).
    table:
        The table of a database file; refused for CSV and Parquet.

    Raises
    ------
    InvalidInput
        Missing or empty file, unknown ending, unknown table or column, or a malformed file.
    """
    path = Path(source)
    ext = _suffix(path)
    if ext not in READ_EXTENSIONS:
        raise InvalidInput(
            f"cannot read {path.name}: unknown file type; expected one of {', '.join(READ_EXTENSIONS)}"
        )
    if not path.exists():
        raise InvalidInput(f"file not found: {path}")
    if not path.is_file():
        raise InvalidInput(f"not a file: {path}")
    if path.stat().st_size == 0:
        raise InvalidInput(f"{path.name} is empty")
    if ext in _CSV or ext in _PARQUET:
        if table is not None:
            raise InvalidInput("table= applies only to database files (.duckdb, .sqlite, .db)")
        if ext in _PARQUET:
            return _read_parquet(path, columns)
        return _read_csv(path, columns, tsv=ext.startswith(".tsv"), gz=ext.endswith(".gz"))
    if table is None or not isinstance(table, str) or not table:
        raise InvalidInput(f"{path.name} is a database: say which table to read with table=")
    if ext in _DUCKDB:
        return _read_duckdb(path, columns, table)
    return _read_sqlite(path, columns, table)


def _column_sql(name: str, values: Sequence[object]) -> tuple[str, list[object]]:
    """The SQL type of a column and its values converted for DuckDB (ints, floats, bools or text)."""
    kinds: set[str] = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int):
            kinds.add("int" if _INT64_MIN <= v <= _INT64_MAX else "text")
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise InvalidInput(f"column {name!r} holds NaN or an infinity")
            kinds.add("float")
        elif isinstance(v, str | _dt.date):
            kinds.add("text")
        else:
            raise InvalidInput(
                f"column {name!r} holds a {type(v).__name__}; write text, numbers, booleans or dates"
            )
        if len(kinds) > 1 and "text" in kinds:
            break
    if kinds == {"bool"}:
        return "BOOLEAN", list(values)
    if kinds == {"int"}:
        return "BIGINT", list(values)
    if kinds and kinds <= {"int", "float"}:
        return "DOUBLE", [None if v is None else float(v) for v in values]  # type: ignore[arg-type]
    return "VARCHAR", [_as_text(v) for v in values]


def _as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_table(path: str | Path, columns: Mapping[str, Sequence[object]]) -> None:
    """Write columns to a CSV (``.csv``, ``.csv.gz``, ``.tsv``) or Parquet file, atomically.

    The file is written next to ``path`` under a temporary name and renamed over it, so readers see
    the old file or the new one. Columns of ints, floats or booleans keep their type in Parquet; any
    other column (strings, dates, mixtures) is written as text. ``None`` is NULL (an empty field in
    CSV). The file gets mode 0600.

    Raises
    ------
    InvalidInput
        Another file ending, no columns, columns of different lengths, or an unsupported value type.
    """
    p = Path(path)
    ext = _suffix(p)
    if ext not in WRITE_EXTENSIONS:
        raise InvalidInput(f"cannot write {p.name}: expected one of {', '.join(WRITE_EXTENSIONS)}")
    if not isinstance(columns, Mapping) or not columns:
        raise InvalidInput("write_table needs at least one column")
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise InvalidInput("all columns must have the same number of values")
    specs: list[tuple[str, str, list[object]]] = []
    for name, values in columns.items():
        if not isinstance(name, str) or not name:
            raise InvalidInput("column names must be non-empty strings")
        if isinstance(values, str | bytes):
            raise InvalidInput(f"column {name!r} must be a sequence of values, not one string")
        sql_type, converted = _column_sql(name, values)
        specs.append((name, sql_type, converted))
    if not p.parent.is_dir():
        raise InvalidInput(f"folder not found: {p.parent}")

    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    con = duckdb.connect()
    try:
        select = ", ".join(
            f"unnest(?::{sql_type}[]) AS {_quote(name)}" for name, sql_type, _ in specs
        )
        con.execute(f"CREATE TEMP TABLE out AS SELECT {select}", [v for _, _, v in specs])
        rel = con.table("out")
        if ext == ".parquet":
            rel.write_parquet(tmp)
        else:
            rel.write_csv(
                tmp,
                header=True,
                sep="\t" if ext == ".tsv" else ",",
                compression="gzip" if ext.endswith(".gz") else "none",
            )
        os.chmod(tmp, 0o600)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except duckdb.Error as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise InvalidInput(f"cannot write {p.name}: {_safe_reason(exc)}") from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        con.close()
    dir_fd = os.open(p.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
