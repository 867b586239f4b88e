"""The switch's operator commands: QR make/parse, participants, parties, liquidity, FX
pricing, scan-and-pay, refunds and settlement, and clean errors for bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.cli import app
from corridor.formats import emvqr

runner = CliRunner()


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str) -> tuple[str, str]:
    """Run through main() in a subprocess: (error code, stderr)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run(
        [sys.executable, "-m", "corridor.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("error[")
    return line[len("error[") : line.index("]")], line


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "c.db")
    ok(
        "participants",
        "add",
        "kyoto-acq",
        "--kind",
        "acquirer",
        "--name",
        "Kyoto Bank",
        "--country",
        "JP",
        "--currency",
        "JPY",
        "--db",
        path,
    )
    ok(
        "participants",
        "add",
        "alipay",
        "--kind",
        "wallet",
        "--name",
        "Alipay",
        "--country",
        "CN",
        "--currency",
        "CNY",
        "--db",
        path,
    )
    ok(
        "participants",
        "add",
        "fx1",
        "--kind",
        "fx_provider",
        "--name",
        "FX",
        "--country",
        "JP",
        "--currency",
        "CNY",
        "--currency",
        "JPY",
        "--db",
        path,
    )
    ok(
        "merchants",
        "add",
        "m-tea",
        "--acquirer",
        "kyoto-acq",
        "--name",
        "Kyoto Tea House",
        "--mcc",
        "5812",
        "--city",
        "Kyoto",
        "--region",
        "JP-26",
        "--currency",
        "JPY",
        "--db",
        path,
    )
    ok(
        "customers",
        "add",
        "c1",
        "--wallet",
        "alipay",
        "--name-native",
        "王小明",
        "--name-romanized",
        "Wang Xiaoming",
        "--country",
        "CN",
        "--date-of-birth",
        "1990-01-01",
        "--kyc-tier",
        "T2",
        "--db",
        path,
    )
    ok("liquidity", "deposit", "alipay", "5000", "CNY", "--reference", "r1", "--db", path)
    ok("liquidity", "deposit", "fx1", "1000000", "JPY", "--reference", "r1", "--db", path)
    # The USD pairs give compliance its USD thresholds (it refuses payments without them).
    ok(
        "fx",
        "set-pricing",
        "fx1",
        "--price",
        "CNY/JPY=20:20.2",
        "--price",
        "USD/CNY=7.1:7.2",
        "--price",
        "USD/JPY=149:150",
        "--fee-bps",
        "50",
        "--db",
        path,
    )
    return path


def test_qr_make_prints_a_payload_that_parses_back_to_the_merchant(db: str, tmp_path: Path) -> None:
    png = tmp_path / "qr.png"
    payload = ok("qr", "make", "m-tea", "--amount", "1200", "--png", str(png), "--db", db).strip()
    qr = emvqr.decode(payload)
    assert qr.corridor_merchant_id == "m-tea" and qr.transaction_amount == "1200"
    assert png.read_bytes().startswith(b"\x89PNG")
    fields = json.loads(ok("qr", "parse", payload, "--json"))
    assert fields["merchant_category_code"] == "5812"
    assert fields["currency"] == "JPY" and fields["dynamic"] is True
    static = ok("qr", "make", "m-tea", "--db", db).strip()
    assert emvqr.decode(static).transaction_amount is None


def test_scan_and_pay_then_refund_then_settle(db: str) -> None:
    payload = ok("qr", "make", "m-tea", "--amount", "10000", "--db", db).strip()
    paid = json.loads(
        ok(
            "payments",
            "pay",
            "p-1",
            "--qr",
            payload,
            "--wallet",
            "alipay",
            "--customer",
            "c1",
            "--provider",
            "fx1",
            "--db",
            db,
        )
    )
    assert paid["state"] == "committed"
    assert paid["debit_total"] == {"amount": "502.50", "currency": "CNY", "minor": 50250}
    refund = json.loads(
        ok("refunds", "create", "r-1", "--payment", "p-1", "--amount", "2500", "--db", db)
    )
    assert refund["source"]["amount"] == "125.00"
    listed = json.loads(ok("payments", "list", "--json", "--db", db))
    assert [p["payment_id"] for p in listed] == ["p-1"]
    rows = list(
        csv.DictReader(io.StringIO(ok("settlement", "close", "--format", "csv", "--db", db)))
    )
    nets = {(r["participant_id"], r["currency"]): int(r["net"]) for r in rows}
    assert nets[("kyoto-acq", "JPY")] == 7_500
    assert sum(v for (_, c), v in nets.items() if c == "CNY") == 0
    settled = json.loads(ok("settlement", "settle", "1", "--db", db))
    assert settled["state"] == "settled"
    balance = json.loads(ok("liquidity", "balance", "kyoto-acq", "JPY", "--db", db))
    assert balance["posted"] == "0"


def test_bad_input_gets_a_clean_error_code(db: str, tmp_path: Path) -> None:
    payload = ok("qr", "make", "m-tea", "--db", db).strip()
    assert (
        fails("qr", "parse", payload[:-1] + ("0" if payload[-1] != "0" else "1"))[0] == "invalid_qr"
    )
    assert fails("qr", "parse", "hello")[0] == "invalid_qr"
    assert fails("qr", "make", "nobody", "--db", db)[0] == "unknown_merchant"
    assert fails("qr", "make", "m-tea", "--amount", "12.5", "--db", db)[0] == "invalid_amount"
    assert fails("payments", "show", "nope", "--db", db)[0] == "unknown_payment"
    assert fails("settlement", "settle", "1", "--db", db)[0] == "window_not_closed"
    assert fails("settlement", "show", "--format", "xml", "--db", db)[0] == "invalid_window"
    assert (
        fails("liquidity", "withdraw", "alipay", "9999", "CNY", "--reference", "x", "--db", db)[0]
        == "insufficient_liquidity"
    )
    assert fails("participants", "list", "--db", str(tmp_path / "none.db"))[0] == (
        "database_not_found"
    )
    assert fails("fx", "set-pricing", "fx1", "--db", db)[0] == "invalid_fx_pricing"
    assert (
        fails(
            "participants",
            "add",
            "x1",
            "--kind",
            "bank",
            "--name",
            "B",
            "--country",
            "JP",
            "--currency",
            "JPY",
            "--cap",
            "JPY",
            "--db",
            db,
        )[0]
        == "invalid_participant"
    )
