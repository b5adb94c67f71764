"""``petsuite dp``: differentially private statistics with a persistent privacy budget."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from petsuite.cli._shared import console, err_console, home
from petsuite.core.audit import AuditLog
from petsuite.core.errors import InvalidInput
from petsuite.core.store import atomic_write_bytes
from petsuite.dp.api import DpPolicy, DpRelease, private_query
from petsuite.dp.ledger import BudgetKind, BudgetScope, PrivacyLedger
from petsuite.dp.query import Bounds, Contribution

__all__ = ["dp_app"]

dp_app = typer.Typer(
    help="Differential privacy: noisy statistics, with a privacy budget that persists.",
    no_args_is_help=True,
)
budget_app = typer.Typer(help="Create and inspect privacy budgets.", no_args_is_help=True)
dp_app.add_typer(budget_app, name="budget")

LedgerOpt = Annotated[
    Path | None,
    typer.Option(
        "--ledger", help="Privacy ledger (default: $PETSUITE_HOME/privacy-ledger.db)."
    ),
]
AuditOpt = Annotated[
    Path | None, typer.Option("--audit-log", help="Audit log (default: $PETSUITE_HOME/audit.db).")
]


def _ledger(path: Path | None, audit: AuditLog | None, actor: str) -> PrivacyLedger:
    return PrivacyLedger(
        path if path is not None else home() / "privacy-ledger.db", audit=audit, actor=actor
    )


def _audit(path: Path | None) -> AuditLog:
    return AuditLog(path if path is not None else home() / "audit.db")


@budget_app.command("create")
def budget_create(
    epsilon: Annotated[float | None, typer.Option(help="Limit on total ε.")] = None,
    delta: Annotated[float, typer.Option(help="Limit on total δ (approx budgets).")] = 0.0,
    rho: Annotated[float | None, typer.Option(help="Limit on total ρ (zcdp budgets).")] = None,
    kind: Annotated[str, typer.Option(help="pure, approx or zcdp.")] = "pure",
    dataset: Annotated[str | None, typer.Option(help="Budget for one dataset.")] = None,
    analyst: Annotated[str | None, typer.Option(help="Budget for one analyst.")] = None,
    group: Annotated[
        str | None, typer.Option(help="Budget shared by a group of analysts (collusion).")
    ] = None,
    members: Annotated[str | None, typer.Option(help="The group's analysts, a,b,c.")] = None,
    everyone: Annotated[bool, typer.Option(help="One budget over all queries.")] = False,
    note: Annotated[str, typer.Option(help="Why this budget (for the DPIA).")] = "",
    ledger: LedgerOpt = None,
    audit_log: AuditOpt = None,
    actor: Annotated[str, typer.Option(help="Who sets the budget.")] = "dpo",
) -> None:
    """Create a budget for a dataset, an analyst, a group of analysts, or everyone."""
    chosen = [x for x in (dataset, analyst, group) if x is not None] + (["*"] if everyone else [])
    if len(chosen) != 1:
        raise InvalidInput("give exactly one of --dataset, --analyst, --group or --everyone")
    if dataset is not None:
        scope = BudgetScope.dataset(dataset)
    elif analyst is not None:
        scope = BudgetScope.analyst(analyst)
    elif group is not None:
        names = [m.strip() for m in (members or "").split(",") if m.strip()]
        if not names:
            raise InvalidInput("a group budget needs --members")
        scope = BudgetScope.group(group, names)
    else:
        scope = BudgetScope.everyone()
    with _audit(audit_log) as audit, _ledger(ledger, audit, actor) as book:
        budget = book.create_budget(
            scope, BudgetKind(kind) if kind in {k.value for k in BudgetKind} else kind,
            epsilon=epsilon, delta=delta, rho=rho, note=note,
        )  # fmt: skip
    console.print(f"created {budget.kind} budget for {scope.label}: {budget.limit.to_dict()}")


@budget_app.command("show")
def budget_show(
    ledger: LedgerOpt = None,
    at_delta: Annotated[
        float | None, typer.Option(help="Report zCDP budgets as (ε, δ) at this δ.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show every budget: limit, spent and remaining."""
    path = ledger if ledger is not None else home() / "privacy-ledger.db"
    if not path.exists():
        raise InvalidInput(f"no privacy ledger at {path}: create a budget first")
    with PrivacyLedger(path) as book:
        statuses = [book.status(b.scope, at_delta=at_delta) for b in book.budgets()]
    if as_json:
        console.print_json(json.dumps([s.to_dict() for s in statuses], default=str))
        return
    table = RichTable(title=f"privacy budgets in {path}")
    for col in ("scope", "kind", "limit", "spent", "remaining", "queries"):
        table.add_column(col)

    def fmt(amounts: Any) -> str:
        d = amounts.to_dict()
        return ", ".join(f"{k}={v:g}" for k, v in d.items() if v is not None)

    for s in statuses:
        table.add_row(
            s.budget.scope.label, str(s.budget.kind), fmt(s.limit), fmt(s.spent),
            fmt(s.remaining), str(s.spend_count),
        )  # fmt: skip
    console.print(table)


def _pairs(items: list[str] | None, what: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items or []:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise InvalidInput(f"{what} {item!r} must look like COLUMN=a,b,c")
        out[name.strip()] = [v.strip() for v in values.split(",") if v.strip()]
    return out


def _render(release: DpRelease, fmt: str) -> str:
    records = release.records()
    if fmt == "json":
        return json.dumps(release.to_dict(), indent=2, default=str)
    buf = io.StringIO()
    if records:
        writer = csv.DictWriter(buf, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return buf.getvalue()


@dp_app.command("query")
def dp_query(
    data: Annotated[Path, typer.Argument(help="CSV, Parquet, DuckDB or SQLite file.")],
    sql: Annotated[str, typer.Argument(help="SELECT ... FROM t [WHERE ...] [GROUP BY ...]")],
    epsilon: Annotated[float, typer.Option(help="Privacy loss of this release.")],
    unit: Annotated[
        str | None, typer.Option(help="Column identifying the person (privacy unit).")
    ] = None,
    row_is_person: Annotated[
        bool, typer.Option("--row-is-person", help="Each row is a different person.")
    ] = False,
    delta: Annotated[float, typer.Option(help="δ (Gaussian noise, partition selection).")] = 0.0,
    bounds: Annotated[
        list[str] | None, typer.Option("--bounds", help="COLUMN=LOWER:UPPER (repeatable).")
    ] = None,
    groups: Annotated[
        list[str] | None,
        typer.Option("--groups", help="Public keys of a GROUP BY column: COLUMN=a,b,c."),
    ] = None,
    max_groups: Annotated[int, typer.Option(min=1, help="Groups per person.")] = 1,
    max_rows: Annotated[int, typer.Option(min=1, help="Rows per person in each group.")] = 1,
    mechanism: Annotated[str, typer.Option(help="laplace or gaussian.")] = "laplace",
    alpha: Annotated[float, typer.Option(help="1 − confidence of the intervals.")] = 0.05,
    table: Annotated[str | None, typer.Option(help="Table inside a database file.")] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Dataset name in the ledger (default: file name).")
    ] = None,
    analyst: Annotated[str, typer.Option(help="Who asks (charged in the ledger).")] = "analyst",
    max_epsilon: Annotated[float, typer.Option(help="Refuse a query above this ε.")] = 5.0,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    output: Annotated[Path | None, typer.Option(help="Write csv/json here.")] = None,
    ledger: LedgerOpt = None,
    audit_log: AuditOpt = None,
) -> None:
    """Answer an aggregate query with differential privacy, charging the privacy ledger."""
    if (unit is None) == (not row_is_person):
        raise InvalidInput("say who a person is: --unit COLUMN or --row-is-person")
    if fmt not in ("table", "csv", "json"):
        raise InvalidInput("--format must be table, csv or json")
    if mechanism not in ("laplace", "gaussian"):
        raise InvalidInput("--mechanism must be laplace or gaussian")
    declared_bounds = dict(Bounds.parse(b) for b in bounds or [])
    with _audit(audit_log) as audit, _ledger(ledger, audit, analyst) as book:
        release = private_query(
            data, sql, epsilon=epsilon, delta=delta, unit=unit, bounds=declared_bounds,
            contribution=Contribution(max_groups=max_groups, max_rows=max_rows),
            groups=_pairs(groups, "--groups") or None, ledger=book,
            dataset=dataset or data.name, analyst=analyst, alpha=alpha,
            mechanism="gaussian" if mechanism == "gaussian" else "laplace",
            policy=DpPolicy(max_epsilon=max_epsilon), audit=audit, table=table,
        )  # fmt: skip
    for warning in release.warnings:
        err_console.print(f"[yellow]warning[/]: {warning}", soft_wrap=True)
    if output is not None:
        atomic_write_bytes(output, _render(release, "json" if fmt == "json" else "csv").encode())
        console.print(f"wrote {output}")
    if fmt != "table":
        if output is None:
            console.print(_render(release, fmt), end="", markup=False, highlight=False)
        return
    grid = RichTable(
        title=f"{sql}\nε = {release.privacy_loss.epsilon:g}, δ = {release.privacy_loss.delta:g}; "
        f"{int((1 - alpha) * 100)}% intervals; group keys: {release.keys_released_by}"
    )
    for g in release.group_by:
        grid.add_column(g)
    for label in release.labels:
        grid.add_column(label, justify="right")
        grid.add_column(f"{int((1 - alpha) * 100)}% interval", justify="right")
    for key, estimates in release.rows:
        cells = [str(k) for k in key]
        for est in estimates:
            cells.append(f"{est.value:,.2f}")
            cells.append(
                "—" if est.interval is None
                else f"[{est.interval[0]:,.2f}, {est.interval[1]:,.2f}]"
            )  # fmt: skip
        grid.add_row(*cells)
    console.print(grid)
