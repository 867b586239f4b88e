"""`corridor simulate`, `corridor demo` and `corridor report`: the sandbox's commands.

`register(app)` adds them to the `corridor` command line. Refusals raise errors with a `code`
(`SIM_CLI_ERRORS`), which `corridor.cli.main` prints as ``error[code]: message`` with exit
status 2. Progress bars go to stderr and are off with ``--json``, so that stdout holds
exactly one JSON document.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from corridor.analytics.reports import REPORTS, ReportError, run_report
from corridor.sim.calibration import DEFAULT_START
from corridor.sim.errors import SimError

if TYPE_CHECKING:
    from corridor.sim.run import ProgressFn, SimConfig

__all__ = ["DEMO_DAYS", "DEMO_TOURISTS", "SIM_CLI_ERRORS", "register"]

SIM_CLI_ERRORS: Final = (SimError, ReportError)
DEMO_DB: Final = "./demo.db"
DEMO_TOURISTS: Final = 2_000
DEMO_DAYS: Final = 10
"""The demo's size: about 40,000 payments, sized to finish well within a minute here."""
DEMO_SEED: Final = 42
DB_SIDE_FILES: Final = ("-wal", "-shm", ".lock", ".key")
"""Files beside a database that `demo --replace` removes with it."""

console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

DbOption = Annotated[
    str, typer.Option("--db", help="Database file (default ./corridor.db).", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    """Add `simulate`, `demo` and `report` to the `corridor` app."""
    app.command("simulate")(simulate_command)
    app.command("demo")(demo_command)
    app.command("report")(report_command)


def _db_path(db: str) -> Path:
    if "://" in db:
        raise SimError("unsupported_database", f"--db {db!r}: the sandbox needs a SQLite file path")
    path = Path(db)
    if path.is_dir():
        raise SimError("invalid_database", f"{path} is a directory, not a database file")
    return path


def _start(value: str | None) -> dt.date:
    if value is None:
        return DEFAULT_START
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SimError("invalid_start", f"--start {value!r} is not a date (YYYY-MM-DD)") from None


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressFn | None]:
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )
    tasks: dict[str, TaskID] = {}
    titles = {"setup": "registering merchants, customers", "days": "simulating days (events)"}

    def update(phase: str, done: int, total: int) -> None:
        # Started on the first report, so that a refusal before any work prints only itself.
        if not tasks:
            bar.start()
        if phase not in tasks:
            tasks[phase] = bar.add_task(titles.get(phase, phase), total=total)
        bar.update(tasks[phase], completed=done, total=total)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()


def _run(config: SimConfig, *, show_progress: bool) -> dict[str, Any]:
    from corridor.sim.run import simulate  # names and plans load in a fraction of a second

    def warn(message: str) -> None:
        sys.stderr.write(f"warning: {' '.join(message.split())}\n")

    with _progress(show_progress) as progress:
        return simulate(config, progress=progress, warn=warn)


# --- printing ----------------------------------------------------------------------------------


def _ratio(value: object) -> str:
    return "-" if value is None else f"{float(str(value)):.0%}"


def print_summary(report: dict[str, Any]) -> None:
    """The report as a few tables, for people."""
    run = report["run"]
    parties = report["parties"]
    console.print(
        f"[bold]corridor sandbox[/]: seed {run['seed']}, {run['tourists']} tourists, "
        f"{run['days']} days from {run['start']}; {parties['merchants']} merchants, "
        f"{parties['customers']} customers; FX from {report['fx']['source']}"
    )
    states = {row["state"]: 0 for row in report["payments_by_state"]}
    for row in report["payments_by_state"]:
        states[row["state"]] += row["payments"]
    console.print("payments: " + ", ".join(f"{n} {state}" for state, n in sorted(states.items())))

    volume = Table(title="Volume by corridor", title_justify="left")
    for column in ("corridor", "payments", "paid", "received"):
        volume.add_column(column, justify="left" if column == "corridor" else "right")
    for corridor, row in report["volume_by_corridor"].items():
        volume.add_row(
            corridor,
            str(row["payments"]),
            f"{row['source_currency']} {row['paid_decimal']}",
            f"{row['target_currency']} {row['received_decimal']}",
        )
    console.print(volume)

    spend = Table(title="Average wallet spend per trip", title_justify="left")
    for column in ("wallet", "trips", "average", "net of refunds", "calibration target"):
        spend.add_column(column, justify="left" if column == "wallet" else "right")
    for row in report["spend_per_trip"]:
        target = row.get("calibration_target")
        spend.add_row(
            f"{row['wallet_id']} ({row['currency']})",
            str(row["trips"]),
            str(row["average_spend_decimal"]),
            str(row["average_net_spend_decimal"]),
            "-" if target is None else str(target),
        )
    console.print(spend)
    prefectures = report["prefectures"]
    console.print(
        f"prefectures: {prefectures['with_payments']} of {prefectures['with_merchants']} with "
        "payments; top: "
        + ", ".join(f"{p['name']} {p['share_percent']}%" for p in prefectures["top"][:5])
    )

    detection = report["detection"]
    if not detection["available"]:
        console.print(f"alerts and detection: [yellow]unavailable[/] ({detection['reason']})")
    else:
        console.print(
            "alerts by rule: "
            + (", ".join(f"{r} {n}" for r, n in detection["alerts_by_rule"].items()) or "none")
        )
        scores = Table(title="Detection of labelled typologies", title_justify="left")
        for column in ("typology", "payments", "recall", "precision", "parties", "recall "):
            scores.add_column(column, justify="left" if column == "typology" else "right")
        for typology, entry in detection["typologies"].items():
            scores.add_row(
                typology,
                str(entry["labelled_payments"]),
                _ratio(entry["payment_recall"]),
                _ratio(entry["payment_precision"]),
                str(entry["labelled_parties"]),
                _ratio(entry["party_recall"]),
            )
        console.print(scores)
    labels = ", ".join(
        f"{typology} {entry['pattern_payments']} payments / {entry['parties']} parties"
        for typology, entry in report["labels"].items()
    )
    console.print(f"labelled: {labels}")

    nets = Table(title="Settlement nets (all windows)", title_justify="left")
    for column in ("participant", "currency", "net"):
        nets.add_column(column, justify="right" if column == "net" else "left")
    for row in report["settlement"]["nets"]:
        nets.add_row(row["participant_id"], row["currency"], str(row["net_decimal"]))
    console.print(nets)
    windows = report["settlement"]["windows"]
    console.print("settlement windows: " + ", ".join(f"{n} {s}" for s, n in windows.items()))

    audit = report["audit"]
    checkpoint = audit.get("checkpoint")
    if checkpoint is not None:
        witnessed = "witnessed" if checkpoint["witnessed"] else "not witnessed"
        console.print(
            f"audit log: {audit['log_size']} leaves; checkpoint of size {checkpoint['size']}, "
            f"{witnessed} ({len(checkpoint['cosigners'])}/{checkpoint['quorum']}: "
            f"{', '.join(checkpoint['cosigners'])}):"
        )
        print(checkpoint["note"], end="")
    for warning in report.get("warnings", []):
        console.print(f"[yellow]warning[/]: {escape(warning)}")


# --- commands ----------------------------------------------------------------------------------


def simulate_command(
    db: DbOption = "./corridor.db",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same run.")] = 42,
    tourists: Annotated[int, typer.Option(help="Tourists to simulate.")] = 500,
    days: Annotated[int, typer.Option(help="Days to simulate.")] = 7,
    start: Annotated[
        str | None,
        typer.Option(help=f"First day, YYYY-MM-DD (default {DEFAULT_START}).", show_default=False),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Reference data (fx/, sanctions/); default ../shared/data."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Simulate a seeded corridor into a new database through the real switch and audit log."""
    from corridor.sim.run import SimConfig

    config = SimConfig(
        db=_db_path(db),
        seed=seed,
        tourists=tourists,
        days=days,
        start=_start(start),
        data_dir=data_dir,
    )
    report = _run(config, show_progress=not as_json)
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_summary(report)


def demo_command(
    db: Annotated[
        str, typer.Option("--db", help=f"Database file (default {DEMO_DB}).", show_default=False)
    ] = DEMO_DB,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Stop after the summary; serve nothing.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Delete an existing --db (and its key) first.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = DEMO_SEED,
    tourists: Annotated[int, typer.Option(help="Tourists to simulate.")] = DEMO_TOURISTS,
    days: Annotated[int, typer.Option(help="Days to simulate.")] = DEMO_DAYS,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    as_json: JsonOption = False,
) -> None:
    """Init, simulate, settle, checkpoint and summarize a corridor; then serve it.

    Settlement windows close and settle daily and every day ends with a checkpoint cosigned by
    the participants' witnesses, so the finished database passes `corridor ledger verify`
    and `corridor audit verify`.
    """
    path = _db_path(db)
    if not 0 < port < 65536:
        raise SimError("invalid_argument", f"--port {port} is not 1-65535")
    if path.exists():
        if not replace:
            raise SimError(
                "database_exists", f"{path} exists: pass --replace to start over, or another --db"
            )
        for side in ("", *DB_SIDE_FILES):
            Path(f"{path}{side}").unlink(missing_ok=True)
    from corridor.sim.run import SimConfig

    began = time.perf_counter()
    config = SimConfig(db=path, seed=seed, tourists=tourists, days=days)
    report = _run(config, show_progress=not as_json)
    elapsed = round(time.perf_counter() - began, 1)
    serving = "no" if no_serve else "api+dashboard"
    if as_json:
        demo = {
            "db": str(path),
            "seconds": elapsed,
            "serve": serving,
            "dashboard": None if no_serve else f"http://{host}:{port}/dashboard/",
        }
        print(json.dumps({"demo": demo, **report}, indent=2, ensure_ascii=False))
    else:
        print_summary(report)
        console.print(f"demo database: {escape(str(path))} ({elapsed} s)")
    if no_serve:
        return
    _serve(path, host, port)


def _serve(path: Path, host: str, port: int) -> None:
    """Serve the HTTP API and the dashboard until interrupted."""
    from corridor.api.keys import ApiKeyStore
    from corridor.api.server import ServeConfig, serve

    with ApiKeyStore.open(path) as store:
        created = store.create("operator", label="demo", created_by="demo")
    err_console.print(
        f"dashboard: http://{host}:{port}/dashboard/  (HTTP API under /v1, OpenAPI at"
        " /openapi.json). Log in with this operator API key, shown once:"
    )
    sys.stderr.write(f"{created.secret}\n")
    err_console.print("stop with Ctrl-C")
    serve(ServeConfig(db=path, host=host, port=port))


def report_command(
    name: Annotated[
        str | None,
        typer.Argument(help="The report; leave it out to list the reports.", show_default=False),
    ] = None,
    db: DbOption = "./corridor.db",
    as_json: JsonOption = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Run a named SQL report over a corridor database (read-only)."""
    if as_json and as_csv:
        raise ReportError("invalid_argument", "choose one of --json and --csv")
    if name is None:
        if as_json:
            listing = [
                {"name": s.name, "title": s.title, "description": s.description, "tables": s.tables}
                for s in REPORTS.values()
            ]
            print(json.dumps(listing, indent=2))
            return
        for spec in REPORTS.values():
            console.print(f"[bold]{spec.name}[/]: {escape(spec.description)}")
        return
    if name not in REPORTS:
        raise ReportError("unknown_report", f"no report {name!r}; reports: {', '.join(REPORTS)}")
    result = run_report(_db_path(db), name)
    if as_json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    elif as_csv:
        sys.stdout.write(result.to_csv())
    else:
        table = Table(title=result.title, title_justify="left")
        for column in result.columns:
            table.add_column(column)
        for row in result.rows:
            table.add_row(*("" if v is None else escape(str(v)) for v in row))
        console.print(table)
