"""Parsing and exact bounded evaluation: what a DP query may say, and how contributions are bounded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pytest

from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.dp.query import Bounds, Contribution, Source, compute_exact, parse_query


def test_parse_accepts_the_supported_forms() -> None:
    q = parse_query(
        "SELECT region, sex, COUNT(*) AS n, SUM(income) total, AVG(age), VARIANCE(age), "
        "MEDIAN(age) AS med, QUANTILE(age, 0.9) FROM people "
        "WHERE age >= 18 AND lower(region) IN ('north', 'south') GROUP BY region, sex"
    )
    assert q.group_by == ("region", "sex")
    assert [a.kind for a in q.aggregates] == [
        "count", "sum", "mean", "variance", "quantile", "quantile",
    ]
    assert q.aggregates[0].label == "n" and q.aggregates[4].q == 0.5
    assert q.aggregates[5].q == pytest.approx(0.9)
    assert q.where_sql is not None and "age" in q.where_sql
    assert q.columns == {"region", "sex", "income", "age"}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT COUNT(*) FROM t WHERE id IN (SELECT id FROM t)",
        "SELECT COUNT(*) FROM a JOIN b ON a.x = b.x",
        "SELECT COUNT(*) FROM t ORDER BY 1",
        "SELECT COUNT(*) FROM t LIMIT 3",
        "SELECT max(age) FROM t",
        "SELECT COUNT(DISTINCT age) FROM t",
        "SELECT COUNT(*) FROM t WHERE random() < 0.5",
        "SELECT COUNT(*) FROM t WHERE getenv('HOME') = 'x'",
        "SELECT COUNT(*) FROM t GROUP BY ROLLUP (a, b)",
        "SELECT COUNT(*) FROM t HAVING COUNT(*) > 3",
        "WITH x AS (SELECT * FROM t) SELECT COUNT(*) FROM x",
        "SELECT COUNT(*) FROM read_csv('/etc/passwd')",
        "SELECT age FROM t",
        "SELECT region, COUNT(*) FROM t",
        "DELETE FROM t",
        "SELECT COUNT(*) FROM t; SELECT COUNT(*) FROM t",
        "SELEC COUNT(*) FROM t",
        "SELECT QUANTILE(age, 2) FROM t",
        "",
    ],
)
def test_parse_refuses(sql: str) -> None:
    with pytest.raises(InvalidInput):
        parse_query(sql)


def _people(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    lines = ["pid,region,age,income"]
    # person 1 has 5 rows in north; person 2 has rows in three regions; others one row each
    lines += [f"1,north,40,{1000 * i}" for i in range(5)]
    lines += ["2,north,30,10", "2,south,30,20", "2,east,30,30"]
    lines += [f"{p},south,{20 + p},{p}" for p in range(3, 13)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_contribution_bounding_per_person(tmp_path: Path) -> None:
    q = parse_query("SELECT region, COUNT(*), SUM(income) FROM t GROUP BY region")
    with Source(_people(tmp_path)) as src:
        exact = compute_exact(
            src, q, unit="pid", bounds={"income": Bounds(0, 2500)},
            contribution=Contribution(max_groups=1, max_rows=2), scale_bits={"income": 0},
            salt=b"\x00" * 16,
        )  # fmt: skip
    # person 1: 2 of 5 north rows; person 2: one region only
    assert sum(exact.counts.values()) == 2 + 1 + 10
    assert exact.units[("north",)] in (1, 2)
    total = sum(exact.sums["income"].values())
    assert total <= 2 * 2500 + 30 + sum(range(3, 13))  # clamped and truncated


def test_rows_are_people_when_no_unit(tmp_path: Path) -> None:
    q = parse_query("SELECT COUNT(*) FROM t")
    with Source(_people(tmp_path)) as src:
        exact = compute_exact(
            src, q, unit=None, bounds={}, contribution=Contribution(), scale_bits={},
            salt=b"\x01" * 16,
        )  # fmt: skip
    assert exact.counts[()] == 18


def test_nulls_and_missing_bounds_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "nulls.csv"
    path.write_text("pid,age\n1,30\n,40\n3,\n")
    with Source(path) as src:
        for sql, unit, bounds in [
            ("SELECT COUNT(*) FROM t", "pid", {}),
            ("SELECT SUM(age) FROM t WHERE pid IS NOT NULL", "pid", {"age": Bounds(0, 100)}),
            ("SELECT SUM(age) FROM t WHERE age IS NOT NULL", "pid", {}),
            ("SELECT SUM(nope) FROM t", None, {"nope": Bounds(0, 1)}),
        ]:
            with pytest.raises(InvalidInput):
                compute_exact(
                    src, parse_query(sql), unit=unit, bounds=bounds, contribution=Contribution(),
                    scale_bits={"age": 0, "nope": 0}, salt=b"\x02" * 16,
                )  # fmt: skip
        ok = compute_exact(
            src, parse_query("SELECT SUM(age) FROM t WHERE pid IS NOT NULL AND age IS NOT NULL"),
            unit="pid", bounds={"age": Bounds(0, 100)}, contribution=Contribution(),
            scale_bits={"age": 0}, salt=b"\x02" * 16,
        )  # fmt: skip
        assert ok.sums["age"][()] == 30


def test_sources_of_every_kind(tmp_path: Path) -> None:
    csv_path = _people(tmp_path)
    parquet = tmp_path / "people.parquet"
    duck = tmp_path / "people.duckdb"
    lite = tmp_path / "people.sqlite"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{csv_path}')) TO '{parquet}' (FORMAT parquet)")
    con.close()
    dcon = duckdb.connect(str(duck))
    dcon.execute(f"CREATE TABLE people AS SELECT * FROM read_csv('{csv_path}')")
    dcon.close()
    with sqlite3.connect(lite) as s:
        s.execute("CREATE TABLE people (pid INTEGER, region TEXT, age INTEGER, income REAL)")
        s.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?)",
            [(1, "north", 40, 1.5), (2, "south", 30, 2.5)],
        )
    for path, table, n in [(csv_path, None, 18), (parquet, None, 18), (duck, "people", 18),
                           (lite, "people", 2)]:
        with Source(path, table=table) as src:
            assert set(src.columns) == {"pid", "region", "age", "income"}
            assert src.numeric("age") and not src.numeric("region")
            exact = compute_exact(
                src, parse_query("SELECT COUNT(*) FROM t"), unit=None, bounds={},
                contribution=Contribution(), scale_bits={}, salt=b"\x03" * 16,
            )  # fmt: skip
            assert exact.counts[()] == n
    with pytest.raises(InvalidInput):
        Source(duck)  # a database needs a table
    with pytest.raises(InvalidInput):
        Source(lite, table="nope")
    with pytest.raises(InvalidInput):
        Source(tmp_path / "missing.csv")
    (tmp_path / "people.xlsx").write_text("x")
    with pytest.raises(InvalidInput):
        Source(tmp_path / "people.xlsx")


def test_bounds_parse_and_validate() -> None:
    assert Bounds.parse("income=0:150000") == ("income", Bounds(0, 150000))
    assert Bounds.parse("t = -5.5 : 2e3") == ("t", Bounds(-5.5, 2000))
    for bad in ("income", "x=1", "x=a:b", "x=5:1"):
        with pytest.raises(InvalidInput):
            Bounds.parse(bad)
    with pytest.raises(InvalidInput):
        Bounds(float("nan"), 1)
    with pytest.raises(InvalidInput):
        Contribution(max_rows=0)
    with pytest.raises(UnsupportedParameter):
        Contribution(max_groups=100_000)
