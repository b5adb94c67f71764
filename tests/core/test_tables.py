"""Reading and writing tables: CSV, Parquet, DuckDB and SQLite, and every bad input."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import sqlite3
import stat
from pathlib import Path

import duckdb
import pytest

from petsuite.core.errors import InvalidInput
from petsuite.core.tables import Table, read_table, write_table
from petsuite.psi.matching import KeySpec, build_keys

ADULT = Path("/work/shared/data/adult/arx/adult.csv")

TRICKY: dict[str, list[object]] = {
    "id": ["0123", "0007", None, "", "42"],
    "phone": ["07911 123456", "+44 20 7946 0018", None, "020 7946 0018", "00"],
    "name": ['O"Brien, Jr', "multi\nline", "Zoë", None, "semi;colon\ttab"],
}


def test_table_checks_lengths_and_names_columns() -> None:
    table = Table(columns={"a": ["1", None], "b": ["x", "y"]}, n_rows=2, source="mem")
    assert table.column("a") == ["1", None]
    assert table.column_names == ["a", "b"]
    with pytest.raises(InvalidInput, match=r"no column 'c' in mem; available: 'a', 'b'"):
        table.column("c")
    with pytest.raises(InvalidInput):
        Table(columns={"a": ["1"]}, n_rows=2, source="mem")


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.tsv", "t.parquet"])
def test_round_trip_keeps_leading_zeros_and_nulls(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_table(path, TRICKY)
    table = read_table(path)
    assert table.n_rows == 5
    assert table.column_names == ["id", "phone", "name"]
    assert table.columns == TRICKY
    assert table.source == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


def test_parquet_keeps_types_and_reads_them_as_text(tmp_path: Path) -> None:
    path = tmp_path / "typed.parquet"
    write_table(
        path,
        {
            "n": [1, None, -3],
            "x": [1.5, 2, None],
            "ok": [True, False, None],
            "day": [dt.date(1990, 1, 31), None, dt.date(2000, 2, 29)],
            "mixed": [1, "a", 2.5],
            "big": [2**70, 1, 2],
        },
    )
    types = {d[0]: str(d[1]) for d in duckdb.read_parquet(str(path)).description}
    assert types == {
        "n": "BIGINT",
        "x": "DOUBLE",
        "ok": "BOOLEAN",
        "day": "VARCHAR",
        "mixed": "VARCHAR",
        "big": "VARCHAR",
    }
    table = read_table(path, columns=["day", "n", "x", "ok", "mixed", "big"])
    assert table.column("n") == ["1", None, "-3"]
    assert table.column("x") == ["1.5", "2.0", None]
    assert table.column("ok") == ["true", "false", None]
    assert table.column("day") == ["1990-01-31", None, "2000-02-29"]
    assert table.column("mixed") == ["1", "a", "2.5"]
    assert table.column("big") == [str(2**70), "1", "2"]
    assert table.column_names == ["day", "n", "x", "ok", "mixed", "big"]


def test_parquet_from_duckdb_with_native_types(tmp_path: Path) -> None:
    path = tmp_path / "native.parquet"
    con = duckdb.connect()
    rel = con.sql(
        "SELECT 1::INTEGER AS i, DATE '1990-01-31' AS d, NULL::VARCHAR AS s, "
        "'0123' AS z UNION ALL SELECT 2, NULL, 'x', '0456'"
    )
    assert rel is not None
    rel.write_parquet(str(path))
    con.close()
    table = read_table(path)
    assert table.columns == {
        "i": ["1", "2"],
        "d": ["1990-01-31", None],
        "s": [None, "x"],
        "z": ["0123", "0456"],
    }


def test_csv_reading(tmp_path: Path) -> None:
    semi = tmp_path / "semi.csv"
    semi.write_text('id;name;dob\n0123;"Smith; J";01/02/1980\n0456;;\n', encoding="utf-8")
    table = read_table(semi)
    assert table.columns == {
        "id": ["0123", "0456"],
        "name": ["Smith; J", None],
        "dob": ["01/02/1980", None],
    }
    assert read_table(semi, columns=["dob", "id"]).columns == {
        "dob": ["01/02/1980", None],
        "id": ["0123", "0456"],
    }
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfid,name\r\n1,a\r\n")
    assert read_table(bom).columns == {"id": ["1"], "name": ["a"]}
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,name\n", encoding="utf-8")
    assert read_table(header_only).n_rows == 0
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\n01\tx,y\n", encoding="utf-8")
    assert read_table(tsv).columns == {"a": ["01"], "b": ["x,y"]}
    gz = tmp_path / "t.csv.gz"
    gz.write_bytes(gzip.compress(b"a,b\n007,x\n"))
    assert read_table(gz).columns == {"a": ["007"], "b": ["x"]}
    upper = tmp_path / "UPPER.CSV"
    upper.write_text("a\n1\n", encoding="utf-8")
    assert read_table(upper).columns == {"a": ["1"]}


def test_real_adult_csv() -> None:
    if not ADULT.is_file():
        pytest.skip("shared Adult data set not present")
    with ADULT.open(encoding="utf-8") as fh:
        header = fh.readline()
    assert header.count(";") > header.count(",")  # semicolon-separated
    table = read_table(ADULT, columns=["sex", "age", "race", "native-country"])
    assert table.n_rows > 30_000
    assert table.column("sex")[0] == "Male"
    assert table.column("age")[0] == "39"
    spec = KeySpec.parse("sex,age:exact,race,native-country")
    result = build_keys(table, spec)
    assert result.total_rows == table.n_rows
    assert len(result.keys) + result.failed_rows + result.duplicate_keys == table.n_rows
    assert result.duplicate_keys > 0  # quasi-identifiers, not identifiers: many people share them


def _duckdb_file(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE people (id VARCHAR, n INTEGER, dob DATE, note VARCHAR)")
    con.execute(
        "INSERT INTO people VALUES ('0123', 1, DATE '1990-01-31', NULL), ('0456', NULL, NULL, 'x')"
    )
    con.execute('CREATE SCHEMA other; CREATE TABLE other."odd ""name" (v VARCHAR)')
    con.execute('INSERT INTO other."odd ""name" VALUES (\'007\')')
    con.execute("CREATE VIEW adults AS SELECT id FROM people")
    con.close()


@pytest.mark.parametrize("ext", [".duckdb", ".ddb"])
def test_duckdb_tables(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"db{ext}"
    _duckdb_file(path)
    table = read_table(path, table="people")
    assert table.columns == {
        "id": ["0123", "0456"],
        "n": ["1", None],
        "dob": ["1990-01-31", None],
        "note": [None, "x"],
    }
    assert table.source == f"{path}:people"
    assert read_table(path, table="main.people", columns=["note"]).column("note") == [None, "x"]
    assert read_table(path, table='other.odd "name').columns == {"v": ["007"]}
    assert read_table(path, table="adults").column("id") == ["0123", "0456"]
    with pytest.raises(InvalidInput, match=r"no table 'nope'.*'people'"):
        read_table(path, table="nope")
    with pytest.raises(InvalidInput, match=r"no column 'zz'.*'id', 'n'"):
        read_table(path, table="people", columns=["id", "zz"])
    with pytest.raises(InvalidInput, match="which table"):
        read_table(path)
    # read-only: a writer can still open the file afterwards and nothing was changed
    con = duckdb.connect(str(path))
    assert con.execute("SELECT count(*) FROM people").fetchall() == [(2,)]
    con.close()


def _sqlite_file(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE people (id TEXT, n INTEGER, x REAL, blob BLOB)")
    con.executemany(
        "INSERT INTO people VALUES (?, ?, ?, ?)",
        [("0123", 7, 1.5, b"abc"), (None, None, None, None), ("0456", 0, 2.0, "txt")],
    )
    con.execute("CREATE TABLE secret (v TEXT)")
    con.execute("CREATE VIEW ids AS SELECT id FROM people")
    con.execute('CREATE TABLE "we""ird" (v TEXT)')
    con.execute('INSERT INTO "we""ird" VALUES (\'1\')')
    con.commit()
    con.close()


@pytest.mark.parametrize("ext", [".sqlite", ".sqlite3", ".db"])
def test_sqlite_tables(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"data{ext}"
    _sqlite_file(path)
    table = read_table(path, table="people")
    assert table.columns == {
        "id": ["0123", None, "0456"],
        "n": ["7", None, "0"],
        "x": ["1.5", None, "2.0"],
        "blob": ["abc", None, "txt"],
    }
    assert read_table(path, table="ids").column("id") == ["0123", None, "0456"]
    assert read_table(path, table='we"ird').column("v") == ["1"]
    for injected in ("people; DROP TABLE secret", "people --", "sqlite_master", '"people"'):
        with pytest.raises(InvalidInput, match="no table"):
            read_table(path, table=injected)
    with pytest.raises(InvalidInput, match=r"no column 'zz'"):
        read_table(path, table="people", columns=["zz"])
    con = sqlite3.connect(path)
    assert con.execute("SELECT count(*) FROM secret").fetchone() == (0,)
    con.close()


def test_sqlite_binary_that_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "bin.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (b BLOB)")
    con.execute("INSERT INTO t VALUES (?)", (b"\xff\xfe",))
    con.commit()
    con.close()
    with pytest.raises(InvalidInput, match="binary"):
        read_table(path, table="t")


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        read_table(tmp_path / "absent.csv")
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(InvalidInput, match="unknown file type"):
        read_table(tmp_path / "x.xlsx")
    (tmp_path / "noext").write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="unknown file type"):
        read_table(tmp_path / "noext")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InvalidInput, match="not a file"):
        read_table(tmp_path / "dir.csv")
    for name in ("empty.csv", "empty.parquet", "empty.duckdb", "empty.sqlite"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(InvalidInput, match="empty"):
            read_table(tmp_path / name, table=None if name.endswith(("csv", "parquet")) else "t")
    good = tmp_path / "good.csv"
    good.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="only to database"):
        read_table(good, table="t")
    with pytest.raises(InvalidInput, match=r"no column 'c'.*'a', 'b'"):
        read_table(good, columns=["c"])
    with pytest.raises(InvalidInput, match="not one string"):
        read_table(good, columns="a")
    with pytest.raises(InvalidInput, match="twice"):
        read_table(good, columns=["a", "a"])


@pytest.mark.parametrize(
    ("name", "content", "table"),
    [
        ("ragged.csv", b"id,name\n1,Ann\n2,PERSONALVALUE,extra\n3,Cy\n", None),
        ("short.csv", b"id,name\n1,Ann\n2\n3,Cy\n", None),
        ("quote.csv", b'id,name\n1,"PERSONALVALUE\n', None),
        ("latin1.csv", b"id,name\n1,PERSONALVALUE\xe9\xff\n", None),
        ("bad.csv.gz", b"not gzip PERSONALVALUE", None),
        ("bad.parquet", b"PAR1 PERSONALVALUE", None),
        ("bad.duckdb", b"PERSONALVALUE" * 500, "t"),
        ("bad.sqlite", b"PERSONALVALUE" * 500, "t"),
    ],
)
def test_malformed_files(tmp_path: Path, name: str, content: bytes, table: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as info:
        read_table(path, table=table)
    assert "PERSONALVALUE" not in str(info.value)
    assert name in str(info.value)


def test_ragged_row_after_the_sniffer_sample(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    lines = ["id,name"] + [f"{i},n{i}" for i in range(30_000)] + ["7,PERSONALVALUE,extra"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="Line") as info:
        read_table(path)
    assert "PERSONALVALUE" not in str(info.value)
    assert isinstance(info.value.__cause__, duckdb.Error)


def test_write_refusals(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    write_table(target, {"a": ["old"]})
    bad_cases: list[tuple[Path, dict[str, list[object]], str]] = [
        (tmp_path / "out.json", {"a": [1]}, "expected one of"),
        (tmp_path / "out.xlsx", {"a": [1]}, "expected one of"),
        (target, {}, "at least one column"),
        (target, {"a": [1, 2], "b": [1]}, "same number"),
        (target, {"a": [b"raw"]}, "bytes"),
        (target, {"a": [float("nan")]}, "NaN"),
        (target, {"": [1]}, "non-empty"),
        (tmp_path / "missing" / "out.csv", {"a": [1]}, "folder not found"),
    ]
    for path, columns, message in bad_cases:
        with pytest.raises(InvalidInput, match=message):
            write_table(path, columns)
    with pytest.raises(InvalidInput, match="not one string"):
        write_table(target, {"a": "abc"})
    assert read_table(target).columns == {"a": ["old"]}  # untouched by the refused writes
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]


def test_write_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    write_table(target, {"a": ["1", "2"]})
    write_table(target, {"b": [None, "x", "y"]})
    assert read_table(target).columns == {"b": [None, "x", "y"]}
    write_table(target, {"empty": []})
    assert read_table(target).n_rows == 0
    assert sorted(os.listdir(tmp_path)) == ["out.parquet"]
