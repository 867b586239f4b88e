"""The `corridor cases ...` and `corridor reports large-value` commands.

Successful commands run in-process with typer's CliRunner. Refusals run through
`corridor.cli.main` (in-process, argv patched; one in a subprocess, as a user runs it),
because only main() turns an exception into ``error[code]: message`` on stderr with exit
status 2. What they pin: each command's output and effect (a release commits the held
payment, a refusal aborts it, each exactly once), and that every bad input gets its stable
code, exit 2, no traceback, and changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.cli import EXIT_ERROR, app, main
from corridor.compliance.cases import CaseBook
from corridor.compliance.types import Alert, Verdict
from corridor.ledger import Ledger
from corridor.switch.directory import Directory
from corridor.switch.fx import QuoteBook
from corridor.switch.money import Money
from corridor.switch.payments import PaymentService, PaymentState
from tests.compliance.corridor_world import corridor_world

CST = dt.timezone(dt.timedelta(hours=8))
runner = CliRunner()


def alert(alert_id: str, subject: str, payment_id: str, verdict: Verdict = Verdict.REVIEW) -> Alert:
    return Alert(
        alert_id=alert_id,
        rule="monitoring.large_vs_history",
        score=0.9,
        verdict=verdict,
        payment_id=payment_id,
        subject=subject,
        evidence={"ratio": "12.5"},
        at_ns=1_710_000_000_000_000_000,
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corridor with committed large payments and payments held for review.

    Case 1 (c-wang) holds pay-held-1 and case 2 (c-li) pay-held-2, both reserved just now
    for an hour (the commands run on the real clock); case 3 (c-sato) holds pay-old,
    reserved in March 2024 for 300 s, whose holds the ledger has long expired.
    """
    path = tmp_path_factory.mktemp("cli") / "corridor.db"
    start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    with corridor_world(path, start) as world:
        world.pay(
            "cn-large",
            customer="c-wang",
            merchant="m-kyoto-tea",
            at=dt.datetime(2024, 3, 12, 10, tzinfo=CST),
            source=Money.of(20_000_000, "CNY"),
        )
        world.pay(
            "cn-usd",
            customer="c-li",
            merchant="m-kyoto-tea",
            at=dt.datetime(2024, 3, 14, 10, tzinfo=CST),
            source=Money.of(15_000_000, "CNY"),
        )
        world.pay(
            "pay-old",
            customer="c-sato",
            merchant="m-shanghai-silk",
            at=dt.datetime(2024, 3, 15, 10, tzinfo=CST),
            source=Money.of(10_000, "JPY"),
            commit=False,
        )
        now = dt.datetime.now(dt.UTC)
        for pid, customer in (("pay-held-1", "c-wang"), ("pay-held-2", "c-li")):
            world.pay(
                pid,
                customer=customer,
                merchant="m-kyoto-tea",
                at=now,
                source=Money.of(150_000, "CNY"),
                commit=False,
                hold_timeout_s=3600,
            )
    with CaseBook.open(path) as book:
        book.add_alert(alert("a-1", "customer:alipay-cn/c-wang", "pay-held-1"))
        book.add_alert(alert("a-2", "customer:alipay-cn/c-li", "pay-held-2"))
        book.add_alert(alert("a-3", "customer:paypay-jp/c-sato", "pay-old"))
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template database (every file SQLite keeps beside it too)."""
    for file in template.parent.glob(template.name + "*"):
        shutil.copy(file, tmp_path / file.name)
    return tmp_path / template.name


def payment_state(path: Path, payment_id: str) -> PaymentState:
    with (
        Ledger.open(path) as ledger,
        Directory.open(ledger) as directory,
        PaymentService(ledger, directory, QuoteBook()) as service,
    ):
        return service.get(payment_id).state


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def ok_json(*args: str) -> object:
    return json.loads(ok(*args, "--json"))


def fails(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    """Run main() with `args`; the error code it printed (exit 2, one line, no traceback)."""
    monkeypatch.setattr(sys, "argv", ["corridor", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == EXIT_ERROR
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error["), captured.err
    return lines[0][len("error[") : lines[0].index("]")]


def snapshot(path: Path) -> object:
    with CaseBook.open(path) as book:
        return [book.get(case.case_id) for case in book.list_cases()]


# --- cases -----------------------------------------------------------------------------


def test_cases_list_prints_every_case_as_json(db: Path) -> None:
    cases = ok_json("cases", "list", "--db", str(db))

    assert [(c["case_id"], c["subject"], c["state"]) for c in cases] == [  # type: ignore[union-attr, index]
        (1, "customer:alipay-cn/c-wang", "open"),
        (2, "customer:alipay-cn/c-li", "open"),
        (3, "customer:paypay-jp/c-sato", "open"),
    ]


def test_cases_list_filters_by_state_and_subject(db: Path) -> None:
    ok("cases", "transition", "2", "investigating", "--actor", "lee", "--db", str(db))

    by_state = ok_json("cases", "list", "--state", "investigating", "--db", str(db))
    by_subject = ok_json("cases", "list", "--subject", "customer:alipay-cn/c-wang", "--db", str(db))

    assert [c["case_id"] for c in by_state] == [2]  # type: ignore[union-attr, index]
    assert [c["case_id"] for c in by_subject] == [1]  # type: ignore[union-attr, index]
    assert "3 case(s)" in ok("cases", "list", "--db", str(db))


def test_cases_show_prints_alerts_holds_notes_and_trail(db: Path) -> None:
    ok("cases", "note", "1", "Asked the wallet for the invoice.", "--actor", "lee", "--db", str(db))

    detail = ok_json("cases", "show", "1", "--db", str(db))

    assert detail["case"]["subject"] == "customer:alipay-cn/c-wang"  # type: ignore[index]
    assert [a["alert_id"] for a in detail["alerts"]] == ["a-1"]  # type: ignore[index]
    assert detail["holds"] == [  # type: ignore[index]
        {
            "payment_id": "pay-held-1",
            "case_id": 1,
            "state": "pending",
            "resolved_by": None,
            "resolved_ns": None,
        }
    ]
    assert [n["text"] for n in detail["notes"]] == ["Asked the wallet for the invoice."]  # type: ignore[index]
    assert [(e["actor"], e["action"]) for e in detail["events"]] == [  # type: ignore[index]
        ("monitoring", "opened"),
        ("monitoring", "alert_added"),
        ("monitoring", "hold_placed"),
        ("lee", "note_added"),
    ]
    text = ok("cases", "show", "1", "--db", str(db))
    assert "pay-held-1: pending" in text
    assert "note_added" in text


def test_assign_transition_and_close_work_a_case_to_the_end(db: Path) -> None:
    assigned = ok_json("cases", "assign", "1", "park", "--actor", "lee", "--db", str(db))
    moved = ok_json("cases", "transition", "1", "escalated", "--actor", "park", "--db", str(db))
    ok("cases", "release", "1", "pay-held-1", "--actor", "choi", "--db", str(db))
    closed = ok_json(
        "cases", "close", "1", "--disposition", "no_action", "--actor", "choi", "--db", str(db)
    )

    assert assigned["assignee"] == "park"  # type: ignore[index]
    assert moved["state"] == "escalated"  # type: ignore[index]
    assert (closed["state"], closed["disposition"]) == ("closed", "no_action")  # type: ignore[index]
    events = ok_json("cases", "show", "1", "--db", str(db))["events"]  # type: ignore[index]
    assert [(e["actor"], e["action"]) for e in events][-4:] == [
        ("lee", "assigned"),
        ("park", "transitioned"),
        ("choi", "hold_released"),
        ("choi", "closed"),
    ]


def test_release_commits_the_held_payment_once(db: Path) -> None:
    first = ok_json("cases", "release", "1", "pay-held-1", "--actor", "lee", "--db", str(db))
    again = ok_json("cases", "release", "1", "pay-held-1", "--actor", "lee", "--db", str(db))

    assert first == again
    assert (first["state"], first["resolved_by"]) == ("released", "lee")  # type: ignore[index]
    assert payment_state(db, "pay-held-1") is PaymentState.COMMITTED
    events = ok_json("cases", "show", "1", "--db", str(db))["events"]  # type: ignore[index]
    assert [e["action"] for e in events].count("hold_released") == 1


def test_refuse_aborts_the_held_payment(db: Path) -> None:
    hold = ok_json("cases", "refuse", "2", "pay-held-2", "--actor", "lee", "--db", str(db))

    assert hold["state"] == "refused"  # type: ignore[index]
    assert payment_state(db, "pay-held-2") is PaymentState.ABORTED
    assert payment_state(db, "pay-held-1") is PaymentState.RESERVED


# --- reports ---------------------------------------------------------------------------


def ecb_file(tmp_path: Path, cny_per_eur: str = "25", usd_per_eur: str = "1") -> Path:
    """A small ECB history CSV (newest first): 1 CNY = usd/cny USD on 2024-03-01..20."""
    days = [dt.date(2024, 3, 20) - dt.timedelta(days=n) for n in range(20)]
    lines = ["Date,USD,JPY,CNY,KRW,"]
    lines += [f"{d.isoformat()},{usd_per_eur},160,{cny_per_eur},1450," for d in days]
    path = tmp_path / "eurofxref-hist.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_large_value_report_prints_json(db: Path, tmp_path: Path) -> None:
    rates = ecb_file(tmp_path)
    document = json.loads(
        ok(
            "reports",
            "large-value",
            "--jurisdiction",
            "CN",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-31",
            "--rates",
            str(rates),
            "--db",
            str(db),
        )
    )

    assert document["jurisdiction"] == "CN"
    assert document["count"] == 1
    (row,) = document["rows"]
    assert (row["payment_ids"], row["date"], row["observed"]) == (
        ["cn-large"],
        "2024-03-12",
        {"currency": "CNY", "amount": "200000.00"},
    )


def test_the_large_value_report_prints_csv(db: Path, tmp_path: Path) -> None:
    rates = ecb_file(tmp_path)
    text = ok(
        "reports",
        "large-value",
        "--jurisdiction",
        "CN",
        "--from",
        "2024-03-01",
        "--to",
        "2024-03-31",
        "--format",
        "csv",
        "--rates",
        str(rates),
        "--db",
        str(db),
    )

    (record,) = csv.DictReader(io.StringIO(text))
    assert (record["payment_ids"], record["amounts"], record["threshold_amount"]) == (
        "cn-large",
        "CNY 200000.00",
        "200000.00",
    )


def report_days(db: Path, rates: Path, day: str) -> list[list[str]]:
    document = json.loads(
        ok(
            "reports",
            "large-value",
            "--jurisdiction",
            "CN",
            "--from",
            day,
            "--to",
            day,
            "--rates",
            str(rates),
            "--db",
            str(db),
        )
    )
    return [row["payment_ids"] for row in document["rows"]]


def test_the_report_converts_with_the_ecb_rates_file(db: Path, tmp_path: Path) -> None:
    # cn-usd is CNY 150,000.00: below the CNY figure; in USD it is 150,000 / 15 = 10,000.00
    # exactly at 1 EUR = 15 CNY = 1 USD, and USD 9,999.33 at 1 EUR = 15.01 CNY.
    assert report_days(db, ecb_file(tmp_path, cny_per_eur="15"), "2024-03-14") == [["cn-usd"]]
    assert report_days(db, ecb_file(tmp_path, cny_per_eur="15.01"), "2024-03-14") == []


def test_the_report_needs_rates_for_a_usd_figure(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("corridor.compliance_ops_cli.SHARED_ECB_RATES", tmp_path / "missing.csv")
    monkeypatch.delenv("CORRIDOR_ECB_RATES", raising=False)

    code = fails(
        capsys,
        monkeypatch,
        "reports",
        "large-value",
        "--jurisdiction",
        "CN",
        "--from",
        "2024-03-14",
        "--to",
        "2024-03-14",
        "--db",
        str(db),
    )

    assert code == "no_rate"


def test_the_rates_file_can_come_from_the_environment(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORRIDOR_ECB_RATES", str(ecb_file(tmp_path, cny_per_eur="15")))
    document = json.loads(
        ok(
            "reports",
            "large-value",
            "--jurisdiction",
            "CN",
            "--from",
            "2024-03-14",
            "--to",
            "2024-03-14",
            "--db",
            str(db),
        )
    )
    assert document["rows"][0]["observed"] == {"currency": "USD", "amount": "10000.00"}


# --- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["cases", "show", "abc"], "invalid_case_id"),
        (["cases", "show", "0"], "invalid_case_id"),
        (["cases", "show", "99"], "unknown_case"),
        (["cases", "list", "--state", "done"], "invalid_state"),
        (["cases", "list", "--limit", "0"], "invalid_query"),
        (["cases", "list", "--limit", "many"], "invalid_query"),
        (["cases", "transition", "1", "closed", "--actor", "lee"], "disposition_required"),
        (["cases", "transition", "1", "reopened", "--actor", "lee"], "invalid_state"),
        (["cases", "close", "1", "--disposition", "fine", "--actor", "lee"], "invalid_disposition"),
        (["cases", "close", "1", "--disposition", "no_action", "--actor", "lee"], "holds_pending"),
        (["cases", "assign", "1", " ", "--actor", "lee"], "invalid_assignee"),
        (["cases", "assign", "1", "park", "--actor", ""], "invalid_actor"),
        (["cases", "note", "1", "", "--actor", "lee"], "invalid_note"),
        (["cases", "release", "1", "pay-held-2", "--actor", "lee"], "unknown_hold"),
        (["cases", "refuse", "2", "pay-404", "--actor", "lee"], "unknown_hold"),
        (["cases", "release", "x", "pay-held-1", "--actor", "lee"], "invalid_case_id"),
        (["cases", "show"], "missing_argument"),
        (["cases", "assign", "1", "--actor", "lee"], "missing_argument"),
        (["cases", "release", "1", "--actor", "lee"], "missing_argument"),
        (["cases", "close", "1", "--actor", "lee"], "missing_option"),
    ],
)
def test_bad_case_commands_are_refused_and_change_nothing(
    db: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: str,
) -> None:
    before = snapshot(db)

    assert fails(capsys, monkeypatch, *args, "--db", str(db)) == code

    assert snapshot(db) == before
    assert payment_state(db, "pay-held-1") is PaymentState.RESERVED


def test_an_invalid_transition_is_refused(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ok("cases", "transition", "1", "investigating", "--actor", "lee", "--db", str(db))
    before = snapshot(db)

    code = fails(
        capsys, monkeypatch, "cases", "transition", "1", "open", "--actor", "lee", "--db", str(db)
    )

    assert code == "invalid_transition"
    assert snapshot(db) == before


def test_releasing_an_expired_payment_reports_the_switch_code(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # pay-old was held in March 2024 for 300 s: the ledger has expired its holds since.
    code = fails(
        capsys, monkeypatch, "cases", "release", "3", "pay-old", "--actor", "lee", "--db", str(db)
    )

    assert code == "hold_resolution_failed"
    detail = ok_json("cases", "show", "3", "--db", str(db))
    assert detail["holds"][0]["state"] == "pending"  # type: ignore[index]
    last = detail["events"][-1]  # type: ignore[index]
    assert (last["action"], last["detail"]["error"]) == (
        "hold_resolution_failed",
        "payment_expired",
    )
    # Refusing it succeeds: aborting an expired payment leaves it expired.
    hold = ok_json("cases", "refuse", "3", "pay-old", "--actor", "lee", "--db", str(db))
    assert hold["state"] == "refused"  # type: ignore[index]
    assert payment_state(db, "pay-old") is PaymentState.EXPIRED


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--format", "xml"], "invalid_format"),
        (["--from", "2024-13-01"], "invalid_date"),
        (["--from", "20240301"], "invalid_date"),
        (["--to", "2024-02-01"], "invalid_range"),
        (["--to", "2025-12-31"], "invalid_range"),
        (["--jurisdiction", "US"], "unknown_jurisdiction"),
        (["--rates", "/nonexistent/rates.csv"], "invalid_rates"),
        (["--jurisdiction", None], "missing_option"),
        (["--from", None], "missing_option"),
    ],
)
def test_bad_report_commands_are_refused(
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str | None],
    code: str,
) -> None:
    options: dict[str, str | None] = {
        "--jurisdiction": "KR",
        "--from": "2024-03-01",
        "--to": "2024-03-31",
        "--rates": str(ecb_file(tmp_path)),
        "--db": str(db),
    }
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = [
        "reports",
        "large-value",
        *[x for key, value in options.items() if value is not None for x in (key, value)],
    ]

    assert fails(capsys, monkeypatch, *argv) == code


def test_a_missing_database_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = str(tmp_path / "nothing.db")
    assert fails(capsys, monkeypatch, "cases", "list", "--db", missing) == "database_not_found"
    assert not (tmp_path / "nothing.db").exists()
    code = fails(
        capsys,
        monkeypatch,
        "reports",
        "large-value",
        "--jurisdiction",
        "KR",
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-02",
        "--db",
        missing,
    )
    assert code == "database_not_found"


def test_a_refusal_through_the_installed_entry_point(db: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    result = subprocess.run(
        [sys.executable, "-m", "corridor.cli", "cases", "show", "42", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )

    assert result.returncode == EXIT_ERROR
    assert result.stderr == "error[unknown_case]: no case 42\n"
    assert result.stdout == ""
