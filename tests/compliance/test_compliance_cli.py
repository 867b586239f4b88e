"""`corridor lists load`, `corridor lists show`, `corridor screen` and `corridor bench
screening` end to end.

Successful runs go through typer's CliRunner in-process; error paths run `python -m
corridor.cli` in a subprocess, because only `main()` turns a `ComplianceError` into
``error[code]: message`` on stderr with exit status 2 and no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from corridor.cli import app
from corridor.compliance.screening import DEFAULT_THRESHOLD
from tests.formats.test_sanctions import ALT_CSV, SDN_CSV, UN_XML

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "corridor.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def assert_error(result: subprocess.CompletedProcess[str], code: str, *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith(f"error[{code}]: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    written = {}
    for name, text in (("sdn.csv", SDN_CSV), ("alt.csv", ALT_CSV), ("un.xml", UN_XML)):
        written[name] = tmp_path / name
        written[name].write_bytes(text.encode())
    return written


@pytest.fixture
def loaded(tmp_path: Path, files: dict[str, Path]) -> Path:
    db = tmp_path / "corridor.db"
    run(
        "lists", "load", "--db", str(db), "--ofac-sdn", str(files["sdn.csv"]),
        "--ofac-alt", str(files["alt.csv"]), "--un", str(files["un.xml"]),
    )  # fmt: skip
    return db


def test_lists_load_reports_lists_and_parties_as_json(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    db = tmp_path / "corridor.db"
    args = ["lists", "load", "--db", str(db), "--un", str(files["un.xml"]), "--json"]
    report: dict[str, Any] = json.loads(run(*args))
    assert [(i["list"], i["entry_count"]) for i in report["lists"]] == [("un_consolidated", 3)]
    assert report["replaced"] == [] and report["parties_screened"] == 0
    again: dict[str, Any] = json.loads(run(*args))
    assert again["replaced"] == ["un_consolidated"]


def test_lists_show(loaded: Path) -> None:
    shown = json.loads(run("lists", "show", "--db", str(loaded), "--json"))
    assert [i["list"] for i in shown] == ["ofac_sdn", "un_consolidated"]
    assert "6 entries" in run("lists", "show", "--db", str(loaded))


def test_screen_prints_one_json_object_per_name(loaded: Path) -> None:
    out = run("screen", "김영철", "Nobody Special", "--db", str(loaded), "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["query"] for line in lines] == ["김영철", "Nobody Special"]
    first = lines[0]
    assert set(first) == {"query", "threshold", "hits"}
    assert first["threshold"] == DEFAULT_THRESHOLD
    assert [(h["list"], h["entity_id"]) for h in first["hits"]] == [("ofac_sdn", "12211")]
    assert set(first["hits"][0]) == {"list", "entity_id", "name", "score", "matched"}
    assert first["hits"][0]["name"] == "KIM, Yong Chol"
    assert lines[1]["hits"] == []


def test_screen_reads_names_from_a_file(loaded: Path, tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("윤호진\n\nKOMID\n", encoding="utf-8")
    out = run("screen", "--file", str(names), "--db", str(loaded), "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [[h["entity_id"] for h in line["hits"]] for line in lines] == [["KPi.001"], ["9345"]]


def test_screen_threshold_option(loaded: Path) -> None:
    out = run("screen", "Kim Yong Chon", "--db", str(loaded), "--json", "--threshold", "0.7")
    line = json.loads(out)
    assert line["threshold"] == 0.7
    assert [h["entity_id"] for h in line["hits"]] == ["12211"]


def test_screen_prints_a_table(loaded: Path) -> None:
    out = run("screen", "金英哲", "--db", str(loaded))
    assert "KIM, Yong Chol" in out and "12211" in out


def test_a_malformed_list_file_is_an_error_naming_the_line(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    files["sdn.csv"].write_text('1,"A","individual"\r\n')
    result = cli(
        "lists", "load", "--db", str(tmp_path / "x.db"), "--ofac-sdn", str(files["sdn.csv"])
    )
    assert_error(result, "invalid_list_file", "sdn.csv line 1")


def test_screen_errors(tmp_path: Path, loaded: Path) -> None:
    assert_error(cli("screen", "Kim", "--db", str(tmp_path / "none.db")), "database_not_found")
    empty = tmp_path / "empty.db"
    cli("lists", "show", "--db", str(empty))
    run_empty = cli("lists", "load", "--db", str(empty))
    assert_error(run_empty, "no_list_file")
    assert_error(cli("screen", "--db", str(loaded)), "no_names")
    assert_error(cli("screen", "Kim", "--db", str(loaded), "--threshold", "2"), "invalid_threshold")
    assert_error(
        cli("screen", "--file", str(tmp_path / "nope"), "--db", str(loaded)), "file_not_found"
    )


def test_screen_without_lists_is_an_error(tmp_path: Path) -> None:
    db = tmp_path / "corridor.db"
    db.write_bytes(b"")
    assert_error(cli("screen", "Kim", "--db", str(db)), "no_lists")


def test_bench_screening_on_small_files(tmp_path: Path) -> None:
    data = tmp_path / "sanctions"
    data.mkdir()
    (data / "ofac_sdn.csv").write_text(SDN_CSV)
    (data / "ofac_alt.csv").write_text(ALT_CSV)
    (data / "un_consolidated.xml").write_text(UN_XML, encoding="utf-8")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "query,list_name,label,note\n习近平,Xi Jinping,match,zh\n김정은,KIM Jong Il,no-match,ko\n",
        encoding="utf-8",
    )
    out = run(
        "bench", "screening", "--json", "--names", "200", "--data-dir", str(data),
        "--pairs", str(pairs), "--db", str(tmp_path / "bench.db"),
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out)
    assert {"bench", "ops", "seconds", "ops_per_s", "p50_ms", "p99_ms"} <= set(result)
    assert result["bench"] == "screening" and result["ops"] > 150
    assert result["labelled"]["recall"] == 1.0
    assert result["labelled"]["false_positive_rate"] == 0.0
    assert result["lists"]["ofac_sdn_entries"] == 6
    other = result["nomenklatura"]
    if other is None:
        assert "nomenklatura" in result["nomenklatura_reason"]
    else:
        assert other["pairs"] == 2


def test_bench_screening_refuses_a_missing_data_dir(tmp_path: Path) -> None:
    result = cli("bench", "screening", "--json", "--data-dir", str(tmp_path))
    assert_error(result, "bench_invalid", "ofac_sdn.csv")
