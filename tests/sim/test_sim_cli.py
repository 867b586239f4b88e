"""`corridor simulate`, `corridor demo` and `corridor report` as a user runs them.

Every command runs `python -m corridor.cli` in a subprocess (only `main()` turns errors into
``error[code]: message`` with exit status 2), with ``CORRIDOR_DATA_DIR`` pointing at the
small reference data the tests write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corridor.cli import EXIT_ERROR

TIMEOUT_S = 120


def cli(data_dir: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if data_dir is not None:
        env["CORRIDOR_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "corridor.cli", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
    )


def assert_error(result: subprocess.CompletedProcess[str], code: str) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == EXIT_ERROR, output
    assert result.stderr.startswith(f"error[{code}]: "), result.stderr


def test_simulate_json_is_one_document_with_the_report(tmp_path: Path, data_dir: Path) -> None:
    db = tmp_path / "sim.db"
    result = cli(
        data_dir,
        "simulate",
        "--db",
        str(db),
        "--seed",
        "2",
        "--tourists",
        "40",
        "--days",
        "2",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["run"] == {
        "seed": 2,
        "tourists": 40,
        "days": 2,
        "start": "2018-07-16",
        "end": "2018-07-17",
    }
    assert "━" not in result.stderr  # no progress bar with --json


def test_simulate_prints_a_summary_and_a_progress_bar(tmp_path: Path, data_dir: Path) -> None:
    db = tmp_path / "sim.db"
    result = cli(data_dir, "simulate", "--db", str(db), "--tourists", "30", "--days", "2")
    assert result.returncode == 0, result.stderr
    assert "Average wallet spend per trip" in result.stdout
    assert "simulating days" in result.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--tourists", "0"], "invalid_argument"),
        (["--days", "1000"], "invalid_argument"),
        (["--seed", "-3"], "invalid_argument"),
        (["--start", "2018-13-01"], "invalid_start"),
        (["--start", "1990-01-01"], "invalid_start"),
        (["--db", "postgresql://localhost/x"], "unsupported_database"),
    ],
)
def test_simulate_refuses_bad_input_cleanly(
    tmp_path: Path, data_dir: Path, args: list[str], code: str
) -> None:
    db = tmp_path / "sim.db"
    result = cli(data_dir, "simulate", "--db", str(db), "--tourists", "5", *args)
    assert_error(result, code)
    assert not db.exists()


def test_simulate_refuses_a_non_integer(tmp_path: Path, data_dir: Path) -> None:
    result = cli(data_dir, "simulate", "--db", str(tmp_path / "x.db"), "--tourists", "many")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--tourists" in result.stderr


def test_demo_end_to_end_passes_ledger_and_audit_verify(tmp_path: Path, data_dir: Path) -> None:
    db = tmp_path / "demo.db"
    result = cli(
        data_dir,
        "demo",
        "--db",
        str(db),
        "--no-serve",
        "--json",
        "--tourists",
        "60",
        "--days",
        "2",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["demo"]["serve"] == "no"
    assert summary["audit"]["checkpoint"]["witnessed"]
    assert summary["volume_by_currency"]
    ledger = cli(None, "ledger", "verify", "--db", str(db), "--json")
    assert ledger.returncode == 0, ledger.stdout + ledger.stderr
    audit = cli(None, "audit", "verify", "--db", str(db), "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["ok"] is True

    again = cli(data_dir, "demo", "--db", str(db), "--no-serve", "--tourists", "5")
    assert_error(again, "database_exists")
    replaced = cli(
        data_dir,
        "demo",
        "--db",
        str(db),
        "--no-serve",
        "--replace",
        "--tourists",
        "20",
        "--days",
        "1",
    )
    assert replaced.returncode == 0, replaced.stderr
    assert "demo database" in replaced.stdout


def test_report_lists_runs_and_refuses(tmp_path: Path, data_dir: Path) -> None:
    db = tmp_path / "sim.db"
    made = cli(data_dir, "simulate", "--db", str(db), "--tourists", "30", "--days", "2", "--json")
    assert made.returncode == 0, made.stderr
    listing = cli(None, "report", "--json")
    assert "volume_by_corridor_day" in {r["name"] for r in json.loads(listing.stdout)}
    csv_out = cli(None, "report", "by_prefecture", "--db", str(db), "--csv")
    assert csv_out.returncode == 0, csv_out.stderr
    lines = csv_out.stdout.splitlines()
    assert lines[0].startswith("region,name,currency,merchants")
    assert len(lines) == 1 + 47 + 6  # 47 prefectures, 6 regions abroad
    table = cli(None, "report", "settlement_nets", "--db", str(db))
    assert table.returncode == 0 and "Settlement nets" in table.stdout

    assert_error(cli(None, "report", "nope", "--db", str(db)), "unknown_report")
    assert_error(
        cli(None, "report", "by_category", "--db", str(tmp_path / "missing.db")),
        "database_not_found",
    )
    assert_error(
        cli(None, "report", "by_category", "--db", str(db), "--json", "--csv"), "invalid_argument"
    )
    ledger_only = tmp_path / "ledger.db"
    assert cli(None, "init", "--db", str(ledger_only)).returncode == 0
    assert_error(
        cli(None, "report", "volume_by_currency", "--db", str(ledger_only)), "report_unavailable"
    )
