"""Parsing and exact evaluation of aggregate queries, with contribution bounding inside DuckDB.

This module computes the *exact* bounded aggregates that a DP release then perturbs; it never
releases anything itself. :mod:`petsuite.dp.api` checks the budget, draws the noise and releases.

Queries are SQL in a restricted form, parsed by DuckDB's own parser (``json_serialize_sql``) and
checked node by node::

    SELECT [group columns,] agg [AS name] [, agg ...] FROM <table> [WHERE <row filter>]
    [GROUP BY column [, column ...]]

with ``agg`` one of ``COUNT(*)``, ``COUNT(col)``, ``SUM(col)``, ``AVG(col)``, ``VARIANCE(col)``,
``MEDIAN(col)``, ``QUANTILE(col, q)``. The WHERE clause may use columns, constants, comparisons,
``AND``/``OR``/``NOT``, ``IN``/``BETWEEN``/``IS NULL``, ``CASE``, casts and an allow-list of scalar
functions; subqueries, window functions and anything else are refused, because a filter must look at
one row at a time for the sensitivity analysis to hold.

Contribution bounding (per privacy unit: the person): each person contributes to at most
``max_groups`` groups and at most ``max_rows`` rows in each group; which rows are kept depends only
on that person's own rows (a keyed hash), so bounding does not leak across people. Values are
clamped to declared bounds. Bounds are never read from the data.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from petsuite.core.errors import InvalidInput, UnsupportedParameter

__all__ = [
    "Aggregate",
    "Bounds",
    "Contribution",
    "ExactAggregates",
    "ParsedQuery",
    "Source",
    "compute_exact",
    "parse_query",
]

AggregateKind = Literal["count", "sum", "mean", "variance", "quantile"]

_AGGREGATES: dict[str, AggregateKind] = {
    "count_star": "count",
    "count": "count",
    "sum": "sum",
    "avg": "mean",
    "mean": "mean",
    "variance": "variance",
    "var_samp": "variance",
    "var_pop": "variance",
    "median": "quantile",
    "quantile": "quantile",
    "quantile_cont": "quantile",
    "quantile_disc": "quantile",
}

#: Scalar functions a row filter may use: each looks at one value of one row.
_ALLOWED_FUNCTIONS = frozenset(
    {
        "lower", "upper", "trim", "ltrim", "rtrim", "length", "abs", "round", "floor", "ceil",
        "year", "month", "day", "date_part", "coalesce", "substr", "substring", "starts_with",
        "ends_with", "contains", "prefix", "suffix", "isnan", "isfinite", "strftime", "concat",
        "regexp_matches", "least", "greatest", "+", "-", "*", "/", "%", "~~", "!~~", "~~*",
        "!~~*", "like_escape",
    }
)  # fmt: skip
_ALLOWED_CLASSES = frozenset(
    {"CONJUNCTION", "COMPARISON", "COLUMN_REF", "CONSTANT", "OPERATOR", "BETWEEN", "CAST", "CASE",
     "FUNCTION"}
)  # fmt: skip
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_ \-]{0,127}$")


@dataclass(frozen=True, slots=True)
class Bounds:
    """Declared bounds of a numeric column: values are clamped into ``[lower, upper]``."""

    lower: float
    upper: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
            raise InvalidInput("bounds must be finite numbers")
        if self.lower > self.upper:
            raise InvalidInput("the lower bound must not exceed the upper bound")

    @property
    def magnitude(self) -> float:
        return max(abs(self.lower), abs(self.upper))

    @classmethod
    def parse(cls, text: str) -> tuple[str, Bounds]:
        """``"income=0:150000"`` → ``("income", Bounds(0, 150000))``."""
        m = re.fullmatch(r"\s*([^=]+?)\s*=\s*(-?[0-9.eE+]+)\s*:\s*(-?[0-9.eE+]+)\s*", text)
        if m is None:
            raise InvalidInput(f"bounds {text!r} must look like COLUMN=LOWER:UPPER, e.g. age=0:120")
        try:
            return m.group(1), cls(float(m.group(2)), float(m.group(3)))
        except ValueError as exc:
            raise InvalidInput(f"bounds {text!r}: not numbers") from exc


@dataclass(frozen=True, slots=True)
class Contribution:
    """How much one person may contribute: ``max_groups`` groups, ``max_rows`` rows in each."""

    max_groups: int = 1
    max_rows: int = 1

    def __post_init__(self) -> None:
        if self.max_groups < 1 or self.max_rows < 1:
            raise InvalidInput("contribution bounds must be at least 1")
        if self.max_groups > 10_000 or self.max_rows > 10_000:
            raise UnsupportedParameter("contribution bounds above 10,000 give useless noise")


@dataclass(frozen=True, slots=True)
class Aggregate:
    kind: AggregateKind
    column: str | None
    label: str
    q: float | None = None


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    aggregates: tuple[Aggregate, ...]
    group_by: tuple[str, ...]
    where_sql: str | None
    table: str

    @property
    def columns(self) -> set[str]:
        cols = {a.column for a in self.aggregates if a.column is not None}
        return cols | set(self.group_by)


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    con.execute("SET autoload_known_extensions = false")
    return con


def _ast(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    raw = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    doc: dict[str, Any] = json.loads(raw[0]) if raw else {"error": True}
    if doc.get("error"):
        raise InvalidInput(f"query is not valid SQL: {doc.get('error_message', 'parse error')}")
    statements = doc.get("statements", [])
    if len(statements) != 1:
        raise InvalidInput("exactly one SELECT statement is allowed")
    node: dict[str, Any] = statements[0]["node"]
    return node


def _column(expr: dict[str, Any], where: str) -> str:
    if expr.get("class") != "COLUMN_REF":
        raise UnsupportedParameter(f"{where} must be a plain column name")
    names = expr.get("column_names", [])
    return str(names[-1])


def _constant_number(expr: dict[str, Any]) -> float:
    if expr.get("class") != "CONSTANT":
        raise InvalidInput("the quantile must be a number")
    literal = expr.get("value") or expr.get("literal") or {}
    text = literal.get("text", literal.get("value"))
    if text is None:
        raise InvalidInput("the quantile must be a number")
    try:
        return float(text)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("the quantile must be a number") from exc


def _check_filter(expr: Any, columns: set[str]) -> None:
    if isinstance(expr, list):
        for item in expr:
            _check_filter(item, columns)
        return
    if not isinstance(expr, dict):
        return
    cls = expr.get("class")
    if cls is not None:
        if cls not in _ALLOWED_CLASSES:
            raise UnsupportedParameter(
                f"the WHERE clause may not use {str(cls).lower()} expressions: a filter must look "
                "at one row at a time"
            )
        if cls == "FUNCTION":
            name = str(expr.get("function_name", "")).lower()
            if name not in _ALLOWED_FUNCTIONS:
                raise UnsupportedParameter(f"function {name!r} is not allowed in a DP filter")
        if cls == "COLUMN_REF":
            columns.add(str(expr.get("column_names", [""])[-1]))
    for key, value in expr.items():
        if key not in ("class", "type"):
            _check_filter(value, columns)


def parse_query(sql: str, *, con: duckdb.DuckDBPyConnection | None = None) -> ParsedQuery:
    """Parse and check ``sql``; raises :class:`InvalidInput` saying what is not allowed.

    ``con`` reuses an open connection (opening one costs about 20 ms)."""
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInput("the query is empty")
    own = con is None
    con = _connect() if con is None else con
    try:
        node = _ast(con, sql)
        if node.get("type") != "SELECT_NODE":
            raise UnsupportedParameter("only SELECT queries can be answered privately")
        if node.get("modifiers") or len(node.get("group_sets") or []) > 1:
            raise UnsupportedParameter(
                "ORDER BY, LIMIT, DISTINCT, ROLLUP, CUBE and GROUPING SETS are not supported"
            )
        if node.get("having") or node.get("qualify") or node.get("sample"):
            raise UnsupportedParameter("HAVING, QUALIFY and SAMPLE are not supported")
        if node.get("cte_map", {}).get("map"):
            raise UnsupportedParameter("WITH clauses are not supported")
        from_table = node.get("from_table") or {}
        if from_table.get("type") != "BASE_TABLE":
            raise UnsupportedParameter("FROM must name one table (joins and subqueries are refused)")
        table = str(from_table.get("table_name"))
        group_by = tuple(_column(e, "GROUP BY") for e in node.get("group_expressions", []))
        aggregates: list[Aggregate] = []
        for item in node.get("select_list", []):
            cls = item.get("class")
            if cls == "COLUMN_REF":
                name = _column(item, "a selected column")
                if name not in group_by:
                    raise InvalidInput(f"column {name!r} is selected but not in GROUP BY")
                continue
            if cls != "FUNCTION":
                raise UnsupportedParameter("select only group columns and aggregates")
            fname = str(item.get("function_name", "")).lower()
            kind = _AGGREGATES.get(fname)
            if kind is None:
                known = "COUNT, SUM, AVG, VARIANCE, MEDIAN, QUANTILE"
                raise UnsupportedParameter(f"aggregate {fname!r} is not supported: use {known}")
            if item.get("distinct") or item.get("filter"):
                raise UnsupportedParameter("DISTINCT and FILTER inside aggregates are not supported")
            args = [a.get("expression", a) for a in item.get("arguments", [])]
            column = None
            q = None
            if fname != "count_star":
                if not args:
                    raise InvalidInput(f"{fname} needs a column")
                column = _column(args[0], f"the argument of {fname}")
            if kind == "quantile":
                q = 0.5 if fname == "median" else _constant_number(args[1]) if len(args) > 1 else None
                if q is None or not 0 <= q <= 1:
                    raise InvalidInput("a quantile must be between 0 and 1")
            label = str(item.get("alias") or (f"{fname}({column})" if column else "count"))
            aggregates.append(Aggregate(kind, column, label, q))
        if not aggregates:
            raise InvalidInput("the query computes no aggregate")
        where_sql = None
        where = node.get("where_clause")
        if where is not None:
            _check_filter(where, set())
            template = _ast(con, "SELECT * FROM src WHERE true")
            template["where_clause"] = where
            doc = {"error": False, "statements": [{"node": template}]}
            rendered = con.execute("SELECT json_deserialize_sql(?)", [json.dumps(doc)]).fetchone()
            if not rendered:
                raise InvalidInput("could not render the WHERE clause")
            where_sql = str(rendered[0]).split(" WHERE ", 1)[1]
        return ParsedQuery(tuple(aggregates), group_by, where_sql, table)
    except duckdb.Error as exc:
        raise InvalidInput(f"query rejected: {exc}") from exc
    finally:
        if own:
            con.close()


class Source:
    """A table to query: CSV, Parquet, or a table in a DuckDB or SQLite file, as DuckDB view ``src``."""

    def __init__(self, path: str | Path, *, table: str | None = None) -> None:
        self.path = Path(path)
        self.table = table
        if not self.path.exists():
            raise InvalidInput(f"{self.path} does not exist")
        self.con = _connect()
        name = self.path.name.lower()
        p = str(self.path)
        try:
            if name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")):
                self.con.execute(f"CREATE VIEW src AS SELECT * FROM read_csv({_lit(p)}, header = true)")  # noqa: S608
            elif name.endswith(".parquet"):
                self.con.execute(f"CREATE VIEW src AS SELECT * FROM read_parquet({_lit(p)})")  # noqa: S608
            elif name.endswith((".duckdb", ".ddb")):
                self._attach_duckdb(p)
            elif name.endswith((".sqlite", ".sqlite3", ".db")):
                self._copy_sqlite(p)
            else:
                raise InvalidInput(
                    f"{self.path}: unknown file type (use .csv, .parquet, .duckdb or .sqlite)"
                )
            self.columns = {
                str(r[0]): str(r[1]) for r in self.con.execute("DESCRIBE src").fetchall()
            }
        except duckdb.Error as exc:
            self.con.close()
            raise InvalidInput(f"{self.path}: cannot be read: {exc}") from exc
        self.label = self.path.name if table is None else f"{self.path.name}:{table}"

    def _need_table(self) -> str:
        if self.table is None or not _IDENT.match(self.table):
            raise InvalidInput(f"{self.path} is a database: name a table (--table)")
        return self.table

    def _attach_duckdb(self, path: str) -> None:
        table = self._need_table()
        self.con.execute(f"ATTACH {_lit(path)} AS db (READ_ONLY)")
        names = {str(r[0]) for r in self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'db'"
        ).fetchall()}  # fmt: skip
        if table not in names:
            raise InvalidInput(f"no table {table!r} in {self.path}: it has {sorted(names)}")
        self.con.execute(f"CREATE VIEW src AS SELECT * FROM db.{_q(table)}")  # noqa: S608

    def _copy_sqlite(self, path: str) -> None:
        table = self._need_table()
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as lite:
                names = {r[0] for r in lite.execute("SELECT name FROM sqlite_master")}
                if table not in names:
                    raise InvalidInput(f"no table {table!r} in {self.path}")
                cur = lite.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - name checked above
                cols = [d[0] for d in cur.description]
                rows = cur.fetchall()
        except sqlite3.DatabaseError as exc:
            raise InvalidInput(f"{self.path}: not a SQLite database: {exc}") from exc
        types = []
        for i, _ in enumerate(cols):
            sample = [r[i] for r in rows if r[i] is not None]
            if sample and all(isinstance(v, int) for v in sample):
                types.append("BIGINT")
            elif sample and all(isinstance(v, int | float) for v in sample):
                types.append("DOUBLE")
            else:
                types.append("VARCHAR")
        decl = ", ".join(f'"{c}" {t}' for c, t in zip(cols, types, strict=True))
        self.con.execute(f"CREATE TABLE src ({decl})")
        if rows:
            marks = ", ".join("?" for _ in cols)
            self.con.executemany(f"INSERT INTO src VALUES ({marks})", rows)  # noqa: S608

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def require(self, names: Sequence[str]) -> None:
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise InvalidInput(
                f"unknown column(s) {missing} in {self.label}; it has {sorted(self.columns)}"
            )

    def numeric(self, name: str) -> bool:
        t = self.columns[name].upper()
        return any(k in t for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC"))


@dataclass(frozen=True, slots=True)
class ExactAggregates:
    """Exact bounded aggregates per group; private to the API layer, never released as is."""

    keys: list[tuple[Any, ...]]
    counts: dict[tuple[Any, ...], int]
    sums: dict[str, dict[tuple[Any, ...], int]]  # column -> key -> fixed-point integer sum
    squares: dict[str, dict[tuple[Any, ...], int]]
    values: dict[str, dict[tuple[Any, ...], list[int]]]  # quantile columns: scaled, sorted
    units: dict[tuple[Any, ...], int]  # distinct privacy units per group (partition selection)


def _lit(text: str) -> str:
    """A SQL string literal (DuckDB cannot bind parameters in CREATE VIEW or ATTACH)."""
    return "'" + text.replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def compute_exact(
    source: Source,
    query: ParsedQuery,
    *,
    unit: str | None,
    bounds: Mapping[str, Bounds],
    contribution: Contribution,
    scale_bits: Mapping[str, int],
    salt: bytes,
    need_units: bool = True,
) -> ExactAggregates:
    """Bounded exact aggregates (fixed-point integers) per group.

    ``unit`` is the privacy-unit column (``None``: each row is a person). NULLs in the unit, the group
    columns or an aggregated column, and non-finite numbers, are errors: filter them in WHERE.
    """
    squared = {a.column for a in query.aggregates if a.kind == "variance"}
    needed = sorted(query.columns | ({unit} if unit else set()))
    source.require(needed)
    value_cols = sorted({a.column for a in query.aggregates if a.column and a.kind != "count"})
    for col in value_cols:
        if not source.numeric(col):
            raise InvalidInput(f"column {col!r} is not numeric ({source.columns[col]})")
        if col not in bounds:
            raise InvalidInput(
                f"declare bounds for {col!r} (for example --bounds {col}=LOWER:UPPER): "
                "bounds are never read from the data"
            )
    where = f"WHERE {query.where_sql}" if query.where_sql else ""
    unit_expr = _q(unit) if unit else "__row"
    checks = [f"{_q(c)} IS NULL" for c in needed]
    checks += [f"NOT isfinite({_q(c)}::DOUBLE)" for c in value_cols]
    groups = ", ".join(_q(g) for g in query.group_by)
    group_sel = (groups + ", ") if groups else ""
    salt_hex = salt.hex()
    con = source.con
    try:
        bad = con.execute(
            f"SELECT {', '.join(f'bool_or({c})' for c in checks) or 'false'} "  # noqa: S608
            f"FROM (SELECT * FROM src {where})"
        ).fetchone()
        if bad:
            for check, flag in zip(checks, bad, strict=False):
                if flag:
                    what = check.split(" ")[0] if "IS NULL" in check else check
                    raise InvalidInput(
                        f"{what} has NULL or non-finite values among the selected rows: "
                        "filter them out in WHERE (or clean the data) before a DP query"
                    )
        clamp = {
            c: (
                f"round(least(greatest({_q(c)}::DOUBLE, {bounds[c].lower!r}), {bounds[c].upper!r})"
                f" * {1 << scale_bits[c]})::HUGEINT"
            )
            for c in value_cols
        }
        value_sel = "".join(f", {clamp[c]} AS {_q('v_' + c)}" for c in value_cols)
        # Which groups a person keeps is a keyed hash of (person, group): it depends on that
        # person's own rows only, and differs between people (no group is favoured).
        group_key = f"hash(__unit, {groups}, '{salt_hex}')" if groups else "0"
        partition = f"__unit, {groups}" if groups else "__unit"
        bounded = f"""
            WITH base AS (
                SELECT {unit_expr} AS __unit, {group_sel}row_number() OVER () AS __rid {value_sel}
                FROM (SELECT *, row_number() OVER () AS __row FROM src {where})
            ),
            ranked AS (
                SELECT *,
                    dense_rank() OVER (PARTITION BY __unit ORDER BY {group_key}) AS __g,
                    row_number() OVER (PARTITION BY {partition}
                                       ORDER BY hash(__rid, '{salt_hex}')) AS __r
                FROM base
            )
            SELECT * FROM ranked
            WHERE __g <= {contribution.max_groups} AND __r <= {contribution.max_rows}
        """  # noqa: S608 - identifiers quoted, numbers formatted by us, salt is hex
        # Only what the query needs: distinct people per group for partition selection, squares
        # for variances (each extra aggregate costs a pass; measured 10-15% at 10M rows).
        aggs = ["count(*)", "count(DISTINCT __unit)" if need_units else "0"]
        for c in value_cols:
            v = _q("v_" + c)
            aggs += [f"sum({v})", f"sum({v} * {v})" if c in squared else "0"]
        rows = con.execute(
            f"SELECT {group_sel}{', '.join(aggs)} FROM ({bounded}) "  # noqa: S608
            f"{'GROUP BY ' + groups if groups else ''}"
        ).fetchall()
        ng = len(query.group_by)
        counts: dict[tuple[Any, ...], int] = {}
        units: dict[tuple[Any, ...], int] = {}
        sums: dict[str, dict[tuple[Any, ...], int]] = {c: {} for c in value_cols}
        squares: dict[str, dict[tuple[Any, ...], int]] = {c: {} for c in value_cols}
        for row in rows:
            key = tuple(row[:ng])
            counts[key] = int(row[ng])
            units[key] = int(row[ng + 1])
            for i, c in enumerate(value_cols):
                sums[c][key] = int(row[ng + 2 + 2 * i])
                squares[c][key] = int(row[ng + 3 + 2 * i])
        values: dict[str, dict[tuple[Any, ...], list[int]]] = {}
        for c in sorted({a.column for a in query.aggregates if a.kind == "quantile" and a.column}):
            per: dict[tuple[Any, ...], list[int]] = {}
            for row in con.execute(
                f"SELECT {group_sel}{_q('v_' + c)} FROM ({bounded}) "  # noqa: S608
                f"ORDER BY {_q('v_' + c)}"
            ).fetchall():
                per.setdefault(tuple(row[:ng]), []).append(int(row[ng]))
            values[c] = per
    except duckdb.Error as exc:
        raise InvalidInput(f"query failed on {source.label}: {exc}") from exc
    return ExactAggregates(list(counts), counts, sums, squares, values, units)
