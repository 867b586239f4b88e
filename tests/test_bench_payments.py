"""`corridor bench payments`: one JSON object whose figures add up, and clean refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corridor.ledger.verify import verify


def corridor(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "corridor.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.mark.parametrize("compliance", ["--compliance", "--no-compliance"])
def test_prints_one_json_object_whose_counts_add_up(tmp_path: Path, compliance: str) -> None:
    db = tmp_path / "bench.db"
    done = corridor(
        "bench", "payments", "--db", str(db), "--payments", "300", "--batch", "100",
        "--customers", "40", "--merchants", "10", compliance, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["bench"] == "payments" and report["ops"] == 300
    assert report["compliance"] is (compliance == "--compliance")
    assert report["payments_ok"] + report["payments_failed"] == 300
    assert sum(report["verdicts"].values()) == 300
    assert report["verdicts"].get("committed", 0) == report["payments_ok"]
    if compliance == "--no-compliance":
        assert report["verdicts"] == {"committed": 300}
    assert report["ops_per_s"] > 0 and 0 < report["p50_ms"] <= report["p99_ms"]
    assert report["batch"] == 100 and report["in_flight"] == 1
    # The payments really are in the ledger, and it balances.
    report_of_ledger = verify(db)
    assert report_of_ledger.ok, report_of_ledger.problems
    assert report_of_ledger.transfers >= 3 * report["payments_ok"]


@pytest.mark.parametrize(
    "args",
    [
        ["--payments", "0"],
        ["--batch", "5000"],
        ["--in-flight", "0"],
    ],
)
def test_bad_arguments_are_refused_cleanly(tmp_path: Path, args: list[str]) -> None:
    done = corridor("bench", "payments", "--db", str(tmp_path / "b.db"), *args, "--json")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error[bench_invalid]")


def test_a_malformed_number_gets_the_usage_error(tmp_path: Path) -> None:
    done = corridor("bench", "payments", "--db", str(tmp_path / "b.db"), "--payments", "many")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "Invalid value" in done.stderr
    assert not (tmp_path / "b.db").exists()
