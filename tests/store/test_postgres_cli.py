"""`corridor` with `--db postgresql://...`: init, ledger verify, bench ledger, and the
commands that stay SQLite-only saying so cleanly.

Commands that succeed run in-process (typer's CliRunner); error paths run `python -m
corridor.cli` in a subprocess, because only `main()` turns exceptions into one-line errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from corridor.cli import app
from corridor.ledger import Account, Ledger, Transfer
from corridor.store.postgres import migrations

EXIT_ERROR = 2
EXIT_PROBLEMS = 1
BENCH_KEYS = {"bench", "ops", "seconds", "ops_per_s", "p50_ms", "p99_ms"}

runner = CliRunner()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "corridor.cli", *args],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip


def assert_error(result: subprocess.CompletedProcess[str], code: str) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == EXIT_ERROR, result.stderr
    assert result.stderr.startswith(f"error[{code}]: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


def test_init_applies_the_migrations_once(pg_database: str) -> None:
    first = runner.invoke(app, ["init", "--db", pg_database, "--json"])
    assert first.exit_code == 0, first.output
    applied = json.loads(first.stdout)
    assert applied["migrations_applied"] == [m.version for m in migrations()]
    assert applied["schema"] == "public" and applied["schema_version"] == len(migrations())
    assert "audit log" in first.stderr  # says what init does not do on PostgreSQL
    again = runner.invoke(app, ["init", "--db", pg_database, "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["migrations_applied"] == []


def test_init_refuses_audit_log_options_on_postgresql(pg_target: str, tmp_path: Path) -> None:
    result = cli("init", "--db", pg_target, "--key-file", str(tmp_path / "k"))
    assert_error(result, "unsupported_database")
    assert not (tmp_path / "k").exists()


def test_ledger_verify_reports_ok_then_the_tampered_account(pg_target: str) -> None:
    with Ledger.open(pg_target) as ledger:
        ledger.create_accounts([Account(id=i, ledger=700, code=1) for i in (1, 2)])
        ledger.create_transfers(
            [Transfer(id=5, debit_account_id=1, credit_account_id=2, amount=9, ledger=700,
                      code=1)]
        )  # fmt: skip
    ok = runner.invoke(app, ["ledger", "verify", "--db", pg_target, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True
    with psycopg.connect(pg_target, autocommit=True) as db:
        db.execute(
            "UPDATE accounts SET debits_posted = 8 WHERE id = %s", ((1).to_bytes(16, "big"),)
        )
    bad = runner.invoke(app, ["ledger", "verify", "--db", pg_target])
    assert bad.exit_code == EXIT_PROBLEMS, bad.output
    assert "balance_mismatch" in bad.stdout and "FAILED" in bad.stdout


def test_bench_ledger_on_postgresql_reports_batched_and_baseline_rates(pg_target: str) -> None:
    result = runner.invoke(app, ["bench", "ledger", "--db", pg_target, "--transfers", "3000",
                                 "--accounts", "50", "--batch", "500", "--baseline", "30",
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= BENCH_KEYS
    assert report["transfers_ok"] == 3000 and report["baseline_transfers_ok"] == 30
    assert report["baseline_ops"] == 30 and report["baseline_ops_per_s"] > 0
    assert "synchronous_commit=on" in report["durability"]
    assert report["machine"]["postgresql"]
    assert runner.invoke(app, ["ledger", "verify", "--db", pg_target]).exit_code == 0


def test_audit_commands_refuse_postgresql_without_a_traceback(pg_target: str) -> None:
    secret = pg_target.replace("postgresql://?", "postgresql://?password=s3cret&")
    for args in (["audit", "status"], ["bench", "audit"]):
        result = cli(*args, "--db", secret)
        assert_error(result, "unsupported_database")
        assert "s3cret" not in result.stderr
