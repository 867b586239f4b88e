"""The `corridor` command line: operators' and auditors' entry point.

Every command takes `--db` (a file path; `postgresql://` URLs arrive with the PostgreSQL
backend) and prints machine-readable output with `--json`. Errors print one line
`error[code]: message` on stderr and exit with status 2; nothing prints a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console

from corridor.audit.errors import AuditError
from corridor.audit_cli import audit_app, init_command, notarize_command
from corridor.bench.audit import AuditBenchError
from corridor.bench.ledger import BenchError, LedgerBenchConfig
from corridor.ledger import BATCH_EVENTS_MAX, LedgerError
from corridor.ledger.verify import VerifyError, verify
from corridor.store.sqlite import StoreError

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
app.command("init")(init_command)
app.command("notarize")(notarize_command)

console = Console(soft_wrap=True)


class CliError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


DbOption = Annotated[
    str, typer.Option("--db", help="Database file (default ./corridor.db).", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _db_path(db: str, *, must_exist: bool) -> Path:
    if "://" in db:
        if db.startswith(("postgresql://", "postgres://")):
            raise CliError(
                "unsupported_database", "PostgreSQL is not supported yet; use a SQLite file path"
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
    report = verify(_db_path(db, must_exist=True))
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
    as_json: JsonOption = False,
) -> None:
    """Create accounts, then N random transfers in batches; durable throughput."""
    from corridor.bench import ledger as bench

    config = LedgerBenchConfig(
        db=_db_path(db, must_exist=False),
        transfers=transfers,
        accounts=accounts,
        batch=batch,
        hot_percent=hot_percent,
        hot_accounts=hot_accounts if hot_accounts is not None else min(10, max(2, accounts)),
        in_flight=in_flight,
        seed=seed,
        id_order=id_order,
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
