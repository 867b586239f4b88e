"""The `corridor` command line: operators' and auditors' entry point.

Every command takes `--db` (a file path; the ledger's commands, `init` and `bench ledger` also
take a `postgresql://` URL) and prints machine-readable output with `--json`. Errors print one line
`error[code]: message` on stderr and exit with status 2; nothing prints a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console

from corridor.api.cli import API_CLI_ERRORS
from corridor.api.cli import register as register_api_commands
from corridor.audit.errors import AuditError
from corridor.audit_cli import audit_app, init_command, notarize_command
from corridor.bench.audit import AuditBenchError
from corridor.bench.ledger import BenchError, LedgerBenchConfig
from corridor.bench.monitoring import MonitoringBenchError
from corridor.bench.payments import PaymentsBenchError
from corridor.compliance.errors import ComplianceError
from corridor.compliance_cli import bench_screening_command, lists_app, screen_command
from corridor.compliance_ops_cli import cases_app, reports_app
from corridor.ledger import BATCH_EVENTS_MAX, LedgerError
from corridor.ledger.verify import VerifyError, verify
from corridor.sim.cli import SIM_CLI_ERRORS
from corridor.sim.cli import register as register_sim_commands
from corridor.store import is_postgres_url
from corridor.store.sqlite import StoreError
from corridor.switch.errors import SwitchError
from corridor.switch_cli import SwitchCliError
from corridor.switch_cli import register as register_switch_commands

DEFAULT_DB: Final = "./corridor.db"
EXIT_PROBLEMS: Final = 1
EXIT_ERROR: Final = 2

app = typer.Typer(
    name="corridor",
    help="Cross-border payment network for the China-Japan-Korea corridor.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print one JSON object.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(bench_app, name="bench")
app.add_typer(audit_app, name="audit")
app.add_typer(cases_app, name="cases")
app.add_typer(reports_app, name="reports")
app.add_typer(lists_app, name="lists")
app.command("screen")(screen_command)
bench_app.command("screening")(bench_screening_command)
app.command("init")(init_command)
app.command("notarize")(notarize_command)
register_switch_commands(app)
register_api_commands(app, bench_app)
register_sim_commands(app)

console = Console(soft_wrap=True)


class CliError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


DbOption = Annotated[
    str, typer.Option("--db", help="Database file (default ./corridor.db).", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _db_target(db: str, *, must_exist: bool) -> str | Path:
    """A SQLite file path, or a PostgreSQL URL for the commands that take one."""
    if is_postgres_url(db):
        return db
    return _db_path(db, must_exist=must_exist)


def _db_path(db: str, *, must_exist: bool) -> Path:
    if "://" in db:
        if is_postgres_url(db):
            raise CliError(
                "unsupported_database",
                "this command needs a SQLite file path; PostgreSQL URLs are taken by "
                "`ledger verify`, `bench ledger` and `init` (docs/SCALING.md)",
            )
        raise CliError("invalid_database", f"--db {db!r} is neither a file path nor a known URL")
    path = Path(db)
    if path.is_dir():
        raise CliError("invalid_database", f"{path} is a directory, not a database file")
    if must_exist and not path.is_file():
        raise CliError("database_not_found", f"{path}: no such database file")
    return path


@ledger_app.command("verify")
def ledger_verify(db: DbOption = DEFAULT_DB, as_json: JsonOption = False) -> None:
    """Recompute every balance from stored transfers and check double entry per ledger."""
    report = verify(_db_target(db, must_exist=True))
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        console.print(
            f"[bold]{report.path}[/]: {report.accounts} accounts, {report.transfers} transfers"
        )
        for ledger, sums in report.ledgers.items():
            console.print(
                f"  ledger {ledger}: debits posted {sums['debits_posted']} = credits posted "
                f"{sums['credits_posted']}; pending {sums['debits_pending']} / "
                f"{sums['credits_pending']}"
            )
        for problem in report.problems:
            console.print(f"[red]{problem.kind}[/]: {problem.count}")
            for example in problem.examples:
                console.print(f"  {example}", highlight=False)
        console.print("[green]ok[/]" if report.ok else "[red]FAILED[/]")
    if not report.ok:
        raise typer.Exit(EXIT_PROBLEMS)


@bench_app.command("ledger")
def bench_ledger(
    db: DbOption = "./bench.db",
    transfers: Annotated[int, typer.Option(help="Transfers to create.")] = 1_000_000,
    accounts: Annotated[int, typer.Option(help="Accounts to create first.")] = 10_000,
    batch: Annotated[int, typer.Option(help=f"Events per request (<= {BATCH_EVENTS_MAX}).")] = (
        BATCH_EVENTS_MAX
    ),
    hot_percent: Annotated[
        float, typer.Option(help="Share of transfers (%) between the hot accounts.")
    ] = 0.0,
    hot_accounts: Annotated[
        int | None, typer.Option(help="How many accounts are hot (default 10).")
    ] = None,
    in_flight: Annotated[int, typer.Option(help="Requests outstanding at once.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    id_order: Annotated[str, typer.Option(help="sequential or random transfer ids.")] = (
        "sequential"
    ),
    baseline: Annotated[
        int, typer.Option(help="Then N transfers one per request (one transaction each).")
    ] = 0,
    as_json: JsonOption = False,
) -> None:
    """Create accounts, then N random transfers in batches; durable throughput."""
    from corridor.bench import ledger as bench

    config = LedgerBenchConfig(
        db=_db_target(db, must_exist=False),
        transfers=transfers,
        accounts=accounts,
        batch=batch,
        hot_percent=hot_percent,
        hot_accounts=hot_accounts if hot_accounts is not None else min(10, max(2, accounts)),
        in_flight=in_flight,
        seed=seed,
        id_order=id_order,
        baseline=baseline,
    )
    result = bench.run(config)
    if as_json:
        print(json.dumps(result))
    else:
        console.print(
            f"ledger: {result['ops']} transfers in {result['seconds']} s = "
            f"[bold]{result['ops_per_s']}[/] transfers/s durable; per request p50 "
            f"{result['p50_ms']} ms, p99 {result['p99_ms']} ms ({result['transfers_ok']} ok)"
        )
        if "baseline_ops_per_s" in result:
            console.print(
                f"baseline: {result['baseline_ops']} transfers one per request = "
                f"[bold]{result['baseline_ops_per_s']}[/] transfers/s; p50 "
                f"{result['baseline_p50_ms']} ms, p99 {result['baseline_p99_ms']} ms"
            )


@bench_app.command("audit")
def bench_audit(
    db: DbOption = "./bench-audit.db",
    leaves: Annotated[int, typer.Option(help="Leaves to append.")] = 1_000_000,
    batch: Annotated[int, typer.Option(help="Leaves per transaction.")] = BATCH_EVENTS_MAX,
    proofs: Annotated[int, typer.Option(help="Inclusion proofs to time.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    as_json: JsonOption = False,
) -> None:
    """Append leaves to the stored Merkle log, then time inclusion proofs (cold and warm)."""
    from corridor.bench import audit as bench

    config = bench.AuditBenchConfig(
        db=_db_path(db, must_exist=False), leaves=leaves, batch=batch, proofs=proofs, seed=seed
    )
    result = bench.run(config)
    if as_json:
        print(json.dumps(result))
    else:
        console.print(
            f"audit: {result['ops']} leaves in {result['seconds']} s = "
            f"[bold]{result['ops_per_s']}[/] leaves/s durable; inclusion proof p50 "
            f"{result['proof_p50_ms']} ms / p99 {result['proof_p99_ms']} ms cold, "
            f"{result['proof_warm_p50_ms']} / {result['proof_warm_p99_ms']} ms warm"
        )


@bench_app.command("payments")
def bench_payments(
    db: DbOption = "./bench-payments.db",
    payments: Annotated[int, typer.Option(help="One-shot payments to make.")] = 100_000,
    batch: Annotated[int, typer.Option(help="Payments per pay_many call.")] = 2000,
    in_flight: Annotated[int, typer.Option(help="Client threads.")] = 1,
    customers: Annotated[int, typer.Option(help="Customers to register.")] = 20_000,
    merchants: Annotated[int, typer.Option(help="Merchants to register.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    compliance: Annotated[
        bool, typer.Option("--compliance/--no-compliance", help="Compliance inline (default on).")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """One-shot cross-currency payments in-process (quote + pay), durable, compliance inline."""
    from corridor.bench import payments as bench

    config = bench.PaymentsBenchConfig(
        db=_db_path(db, must_exist=False),
        payments=payments,
        batch=batch,
        in_flight=in_flight,
        customers=customers,
        merchants=merchants,
        seed=seed,
        compliance=compliance,
    )
    result = bench.run(config)
    if as_json:
        print(json.dumps(result))
    else:
        console.print(
            f"payments: {result['ops']} in {result['seconds']} s = "
            f"[bold]{result['ops_per_s']}[/] payments/s durable; per batch p50 "
            f"{result['p50_ms']} ms, p99 {result['p99_ms']} ms ({result['payments_ok']} ok)"
        )


@bench_app.command("monitoring")
def bench_monitoring(
    decisions: Annotated[int, typer.Option(help="Payments to decide.")] = 200_000,
    customers: Annotated[int, typer.Option(help="Distinct customers.")] = 20_000,
    merchants: Annotated[int, typer.Option(help="Distinct merchants.")] = 2_000,
    days: Annotated[float, typer.Option(help="Simulated days the stream spans.")] = 7.0,
    suspicious_percent: Annotated[
        float, typer.Option(help="Share of customers (%) who behave suspiciously.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    db: Annotated[
        str | None, typer.Option("--db", help="Persist the aggregates to this new file.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Monitoring decisions/s with every rule on, over a seeded synthetic payment stream."""
    from corridor.bench import monitoring as bench

    config = bench.MonitoringBenchConfig(
        decisions=decisions,
        customers=customers,
        merchants=merchants,
        days=days,
        suspicious_percent=suspicious_percent,
        seed=seed,
        db=None if db is None else _db_path(db, must_exist=False),
    )
    result = bench.run(config)
    if as_json:
        print(json.dumps(result))
    else:
        console.print(
            f"monitoring: {result['ops']} decisions in {result['seconds']} s = "
            f"[bold]{result['ops_per_s']}[/] decisions/s; p50 {result['p50_ms']} ms, "
            f"p99 {result['p99_ms']} ms ({result['rules']} rules, verdicts {result['verdicts']})"
        )


def main() -> None:
    """Console entry point: run the app, turn every known failure into a clear message."""
    try:
        app()
    except CliError as error:
        _fail(error.code, str(error))
    except (LedgerError, BenchError, AuditBenchError, VerifyError, AuditError) as error:
        _fail(error.code, str(error))
    except StoreError as error:
        _fail(error.code, str(error))
    except (SwitchError, SwitchCliError, PaymentsBenchError, MonitoringBenchError) as error:
        _fail(error.code, str(error))
    except ComplianceError as error:
        _fail(error.code, str(error))
    except API_CLI_ERRORS as error:
        _fail(error.code, str(error))
    except SIM_CLI_ERRORS as error:
        _fail(error.code, str(error))
    except KeyboardInterrupt:
        _fail("interrupted", "interrupted")
    except OSError as error:
        _fail("os_error", str(error))


def _fail(code: str, message: str) -> None:
    # Plain write, not rich: an error is one line however long, for scripts to parse.
    one_line = " ".join(message.split())
    sys.stderr.write(f"error[{code}]: {one_line}\n")
    sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()
