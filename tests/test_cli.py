"""The `corridor` command line: verify, bench, and how every failure reaches the user.

Commands that succeed or report problems run in-process with typer's CliRunner. Error paths
run `python -m corridor.cli` in a subprocess, because only `main()` turns exceptions into
`error[code]: message` on stderr with exit status 2.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

from corridor.cli import EXIT_ERROR, EXIT_PROBLEMS, app
from corridor.ledger import Account, CreateTransferResult, Ledger, Transfer, TransferFlags
from corridor.ledger.verify import verify

LEDGER = 700
PENDING = int(TransferFlags.PENDING)
POST = int(TransferFlags.POST_PENDING_TRANSFER)
VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
LINKED = int(TransferFlags.LINKED)

BENCH_SMALL = ["--transfers", "2000", "--accounts", "50", "--batch", "100"]
BENCH_KEYS = {"bench", "ops", "seconds", "ops_per_s", "p50_ms", "p99_ms"}

runner = CliRunner()


# -- helpers -------------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m corridor.cli ARGS` the way a user would (through main())."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "corridor.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def one_line(text: str) -> str:
    """The text with every run of whitespace (rich wraps long lines) made one space."""
    return " ".join(text.split())


def assert_clean_error(
    result: subprocess.CompletedProcess[str], code: str | None, *words: str
) -> None:
    """Exit 2, `error[code]: ...` on stderr naming `words`, no traceback anywhere."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == EXIT_ERROR, output
    message = one_line(result.stderr)
    if code is None:
        assert message, "no message on stderr"
    else:
        assert message.startswith(f"error[{code}]: "), result.stderr
    squeezed = "".join(message.split())  # rich may even fold inside a long word
    for word in words:
        assert "".join(word.split()) in squeezed, (word, result.stderr)


def id_hex(id: int) -> str:
    return id.to_bytes(16, "big").hex()


def blob(id: int) -> bytes:
    return id.to_bytes(16, "big")


# -- a small ledger to verify and tamper with ---------------------------------------------

# Transfers of the small ledger (ids): plain 1..6, a pending 10 posted in part by 11, a
# pending 12 voided by 13, a pending 14 left open, a linked chain 20..21.
PLAIN_MIDDLE = 3
POSTED_PENDING = 10


def build_small_ledger(path: Path) -> None:
    with Ledger.open(path) as ledger:
        ledger.create_accounts([Account(id=i, ledger=LEDGER, code=1) for i in range(1, 5)])
        transfers = [
            Transfer(id=1, debit_account_id=1, credit_account_id=2, amount=100),
            Transfer(id=2, debit_account_id=2, credit_account_id=3, amount=40),
            Transfer(id=3, debit_account_id=1, credit_account_id=3, amount=25),
            Transfer(id=4, debit_account_id=3, credit_account_id=4, amount=10),
            Transfer(id=5, debit_account_id=1, credit_account_id=4, amount=7),
            Transfer(id=6, debit_account_id=4, credit_account_id=1, amount=3),
            Transfer(id=10, debit_account_id=1, credit_account_id=2, amount=50, flags=PENDING),
            Transfer(id=11, pending_id=10, amount=30, flags=POST),
            Transfer(id=12, debit_account_id=2, credit_account_id=4, amount=60, flags=PENDING),
            Transfer(id=13, pending_id=12, flags=VOID),
            Transfer(id=14, debit_account_id=3, credit_account_id=1, amount=5, flags=PENDING),
            Transfer(id=20, debit_account_id=4, credit_account_id=2, amount=8, flags=LINKED),
            Transfer(id=21, debit_account_id=2, credit_account_id=3, amount=9),
        ]
        transfers = [msgspec.structs.replace(t, ledger=LEDGER, code=1) for t in transfers]
        results = ledger.create_transfers(transfers)
        assert all(r is CreateTransferResult.OK for r in results), results


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    build_small_ledger(path)
    assert verify(path).ok
    return path


@pytest.fixture
def ledger_db(template_db: Path, tmp_path: Path) -> Path:
    """A fresh copy of the small ledger (closed, so the WAL is checkpointed)."""
    path = tmp_path / "ledger.db"
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{template_db}{suffix}")
        if source.exists():
            shutil.copy(source, f"{path}{suffix}")
    return path


def tamper(path: Path, sql: str, *params: object) -> None:
    db = sqlite3.connect(path)
    try:
        changed = db.execute(sql, params).rowcount
        db.commit()
    finally:
        db.close()
    assert changed == 1, f"the tampering statement changed {changed} rows"


def verify_json(path: Path) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["ledger", "verify", "--db", str(path), "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def problem_kinds(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    problems = report["problems"]
    assert isinstance(problems, list)
    return {p["kind"]: p for p in problems}


# -- ledger verify ---------------------------------------------------------------------------


def test_verify_healthy_ledger_text(ledger_db: Path) -> None:
    result = runner.invoke(app, ["ledger", "verify", "--db", str(ledger_db)])
    assert result.exit_code == 0, result.output
    text = one_line(result.stdout)  # rich wraps long paths
    assert "4 accounts, 13 transfers" in text
    assert f"ledger {LEDGER}: debits posted 232 = credits posted 232; pending 5 / 5" in text
    assert text.endswith(" ok")


def test_verify_healthy_ledger_json(ledger_db: Path) -> None:
    code, report = verify_json(ledger_db)
    assert code == 0
    assert report["ok"] is True
    assert report["problems"] == []
    assert report["accounts"] == 4
    assert report["transfers"] == 13
    sums = report["ledgers"][str(LEDGER)]
    assert sums["debits_posted"] == sums["credits_posted"] == 100 + 40 + 25 + 10 + 7 + 3 + 30 + 17
    assert sums["debits_pending"] == sums["credits_pending"] == 5


def test_verify_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    assert_clean_error(cli("ledger", "verify", "--db", str(missing)), "database_not_found")
    assert not missing.exists(), "verify must not create the file it checks"


def test_verify_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are not the pages you are looking for\n" * 100)
    assert_clean_error(cli("ledger", "verify", "--db", str(path)), "not_a_ledger", "SQLite")


def test_verify_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    assert_clean_error(cli("ledger", "verify", "--db", str(path)), "not_a_ledger")


def test_verify_sqlite_but_not_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    db.commit()
    db.close()
    result = cli("ledger", "verify", "--db", str(path))
    assert_clean_error(result, "not_a_ledger", "not a corridor ledger")


def test_verify_sqlite_with_ledger_table_names_but_other_columns(tmp_path: Path) -> None:
    path = tmp_path / "lookalike.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE accounts (name TEXT); CREATE TABLE transfers (note TEXT);"
        " CREATE TABLE expirations (x INTEGER);"
    )
    db.commit()
    db.close()
    assert_clean_error(cli("ledger", "verify", "--db", str(path)), "not_a_ledger")


def test_verify_directory(tmp_path: Path) -> None:
    assert_clean_error(cli("ledger", "verify", "--db", str(tmp_path)), None, str(tmp_path))


def test_verify_postgresql_url_of_no_server() -> None:
    result = cli("ledger", "verify", "--db", "postgresql://127.0.0.1:1/ledger")
    assert_clean_error(result, "database_unavailable", "PostgreSQL")


def test_error_is_one_line_even_when_long(tmp_path: Path) -> None:
    missing = tmp_path / ("d" * 120) / ("f" * 120 + ".db")
    result = cli("ledger", "verify", "--db", str(missing))
    assert_clean_error(result, "database_not_found", str(missing))
    assert result.stderr.count("\n") == 1, result.stderr
    assert f" {missing}: " in result.stderr, "the path must be printed intact"


# -- tampering: each edit makes verify exit 1 and name the problem -------------------------


def _change_amount(path: Path) -> None:
    tamper(path, "UPDATE transfers SET amount = amount + 1 WHERE id = ?", blob(PLAIN_MIDDLE))


def _delete_transfer(path: Path) -> None:
    tamper(path, "DELETE FROM transfers WHERE id = ?", blob(PLAIN_MIDDLE))


def _change_balance(path: Path) -> None:
    tamper(path, "UPDATE accounts SET credits_posted = credits_posted + 1 WHERE id = ?", blob(2))


def _change_ledger(path: Path) -> None:
    tamper(path, "UPDATE transfers SET ledger = ledger + 1 WHERE id = ?", blob(PLAIN_MIDDLE))


def _break_link(path: Path) -> None:
    tamper(
        path,
        "UPDATE transfers SET debit_previous_timestamp = debit_previous_timestamp - 1 WHERE id = ?",
        blob(PLAIN_MIDDLE),
    )


def _unresolve_pending(path: Path) -> None:
    tamper(path, "DELETE FROM transfers WHERE pending_id = ?", blob(POSTED_PENDING))


def _overpost_pending(path: Path) -> None:
    tamper(path, "UPDATE transfers SET amount = 51 WHERE id = ?", blob(11))


def _stale_last_transfer(path: Path) -> None:
    tamper(path, "UPDATE accounts SET last_transfer_timestamp = 1 WHERE id = ?", blob(1))


TAMPERS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # name: (edit, problem kind it must cause, text the problem's examples must contain)
    "transfer_amount": (_change_amount, "balance_mismatch", id_hex(1)),
    "transfer_deleted": (_delete_transfer, "balance_mismatch", id_hex(3)),
    "account_balance": (_change_balance, "balance_mismatch", id_hex(2)),
    "account_balance_unbalances_ledger": (_change_balance, "unbalanced_ledger", f"{LEDGER}"),
    "transfer_ledger": (_change_ledger, "ledger_mismatch", id_hex(PLAIN_MIDDLE)),
    "debit_previous_timestamp": (_break_link, "broken_account_link", id_hex(1)),
    "deleted_transfer_breaks_link": (_delete_transfer, "broken_account_link", id_hex(1)),
    "post_deleted": (_unresolve_pending, "balance_mismatch", id_hex(1)),
    "post_exceeds_pending": (_overpost_pending, "bad_pending_reference", id_hex(11)),
    "last_transfer_timestamp": (_stale_last_transfer, "stale_last_transfer", id_hex(1)),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_verify_names_tampering(ledger_db: Path, name: str) -> None:
    edit, kind, example = TAMPERS[name]
    edit(ledger_db)
    code, report = verify_json(ledger_db)
    assert code == EXIT_PROBLEMS
    assert report["ok"] is False
    kinds = problem_kinds(report)
    assert kind in kinds, list(kinds)
    assert kinds[kind]["count"] >= 1
    assert any(example in e for e in kinds[kind]["examples"]), kinds[kind]


def test_verify_tampering_text_output(ledger_db: Path) -> None:
    _change_ledger(ledger_db)
    result = runner.invoke(app, ["ledger", "verify", "--db", str(ledger_db)])
    assert result.exit_code == EXIT_PROBLEMS
    text = one_line(result.stdout)
    assert "ledger_mismatch: 1" in text
    assert f"transfer {id_hex(PLAIN_MIDDLE)}: ledger {LEDGER + 1}" in text
    assert text.endswith(" FAILED")


def test_verify_tampering_through_main(ledger_db: Path) -> None:
    _change_amount(ledger_db)
    result = cli("ledger", "verify", "--db", str(ledger_db), "--json")
    assert result.returncode == EXIT_PROBLEMS, result.stderr
    assert "Traceback" not in result.stderr
    assert "balance_mismatch" in {p["kind"] for p in json.loads(result.stdout)["problems"]}


# -- bench ledger --------------------------------------------------------------------------


def _bench_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    out = json.loads(lines[0])
    assert isinstance(out, dict)
    return out


def test_bench_small_json_then_verify(tmp_path: Path) -> None:
    db = tmp_path / "bench.db"
    out = _bench_json(cli("bench", "ledger", "--db", str(db), *BENCH_SMALL, "--json"))
    assert out.keys() >= BENCH_KEYS
    assert out["bench"] == "ledger"
    assert out["ops"] == 2000
    assert out["transfers_ok"] == 2000
    for key in ("seconds", "ops_per_s", "p50_ms", "p99_ms"):
        assert isinstance(out[key], int | float) and out[key] >= 0, key
    assert out["p50_ms"] <= out["p99_ms"]

    code, report = verify_json(db)
    assert code == 0
    assert report["ok"] is True
    assert report["accounts"] == 50
    assert report["transfers"] == 2000


def test_bench_hot_percent(tmp_path: Path) -> None:
    db = tmp_path / "hot.db"
    result = runner.invoke(
        app, ["bench", "ledger", "--db", str(db), *BENCH_SMALL, "--hot-percent", "10", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out.keys() >= BENCH_KEYS
    assert out["hot_percent"] == 10
    assert out["transfers_ok"] == 2000
    assert verify(db).ok


def test_bench_twice_on_same_db(tmp_path: Path) -> None:
    db = tmp_path / "twice.db"
    _bench_json(cli("bench", "ledger", "--db", str(db), *BENCH_SMALL, "--json"))
    before = verify(db)
    assert_clean_error(
        cli("bench", "ledger", "--db", str(db), *BENCH_SMALL, "--json"),
        "bench_invalid",
        "already holds accounts",
    )
    after = verify(db)
    assert after.ok
    assert (after.accounts, after.transfers) == (before.accounts, before.transfers)


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--transfers", "abc"], None, ["--transfers"]),
        (["--batch", "0"], "bench_invalid", ["--batch"]),
        (["--batch", "9000"], "bench_invalid", ["--batch", "8189"]),
        (["--hot-percent", "150"], "bench_invalid", ["--hot-percent"]),
        (["--hot-percent", "-1"], "bench_invalid", ["--hot-percent"]),
        (["--transfers", "0"], "bench_invalid", ["--transfers"]),
        (["--accounts", "1"], "bench_invalid", ["--accounts"]),
        (["--in-flight", "0"], "bench_invalid", ["--in-flight"]),
        (["--id-order", "shuffled"], "bench_invalid", ["--id-order"]),
        (["--db", "postgresql://127.0.0.1:1/x"], "database_unavailable", ["PostgreSQL"]),
        (["--db", "mysql://x/y"], "invalid_database", ["mysql://x/y"]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_bench_rejects_bad_arguments(
    tmp_path: Path, args: list[str], code: str | None, words: list[str]
) -> None:
    db = tmp_path / "bad.db"
    result = cli("bench", "ledger", "--db", str(db), *BENCH_SMALL, *args)
    assert_clean_error(result, code, *words)
    assert not db.exists(), "a rejected benchmark must not create its database"


def test_bench_db_is_a_directory(tmp_path: Path) -> None:
    result = cli("bench", "ledger", "--db", str(tmp_path), *BENCH_SMALL)
    assert_clean_error(result, "invalid_database", "directory")


def test_bench_db_is_not_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "text.db"
    db.write_text("not a database\n" * 100)
    result = cli("bench", "ledger", "--db", str(db), *BENCH_SMALL)
    assert_clean_error(result, "invalid_database", "not a database")
    assert db.read_text() == "not a database\n" * 100


def test_bench_db_in_missing_directory(tmp_path: Path) -> None:
    db = tmp_path / "no" / "such" / "bench.db"
    result = cli("bench", "ledger", "--db", str(db), *BENCH_SMALL)
    assert_clean_error(result, "invalid_database")


def test_bench_audit_prints_one_json_object_with_proof_latencies(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "corridor.cli", "bench", "audit", "--db", str(tmp_path / "a.db"),
         "--leaves", "3000", "--batch", "500", "--proofs", "50", "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["bench"] == "audit" and result["ops"] == 3000
    assert result["proofs_verified"] == 100
    for key in ("seconds", "ops_per_s", "p50_ms", "p99_ms", "proof_p50_ms", "proof_warm_p99_ms"):
        assert result[key] >= 0
