"""The audit commands end to end: init, checkpoint, prove, verify-receipt, notarize, witness.

Successful runs go through typer's CliRunner in-process; error paths run
`python -m corridor.cli` in a subprocess, because only `main()` turns an `AuditError` into
``error[code]: message`` on stderr with exit status 2 and no traceback.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from corridor.audit.errors import AuditError
from corridor.cli import app
from tests.audit.test_log_build import RICH_ID, Built, build_ledger, built, template

__all__ = ["built", "template"]

runner = CliRunner()


def run(*args: str) -> str:
    """Run a command in-process; it must succeed. Returns its stdout."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--json"))


def refused_in_process(code: str, *args: str) -> AuditError:
    result = runner.invoke(app, list(args))
    assert isinstance(result.exception, AuditError), (result.output, result.exception)
    assert result.exception.code == code, result.exception
    return result.exception


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "corridor.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        input=stdin,
    )


def assert_error(result: subprocess.CompletedProcess[str], code: str, *words: str) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == 2, output
    assert result.stderr.startswith(f"error[{code}]: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


def one_line(text: str) -> str:
    return " ".join(text.split())


# -- init, checkpoint, status --------------------------------------------------------------


def test_init_prints_the_vkey_and_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    first = run_json("init", "--db", str(db))
    assert first["created"] and first["origin"] == "corridor.local/shop"
    assert first["vkey"].startswith("corridor.local/shop+")
    key_file = Path(first["key_file"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    text = run("init", "--db", str(db))
    assert "already initialized" in one_line(text)
    assert first["vkey"] in text.splitlines()
    status = run_json("audit", "status", "--db", str(db))
    assert (status["origin"], status["vkey"], status["log_size"]) == (
        first["origin"], first["vkey"], 0
    )  # fmt: skip
    checkpoint = run_json("audit", "checkpoint", "--db", str(db))
    assert checkpoint["size"] == 0 and checkpoint["new"] and not checkpoint["witnessed"]


def test_checkpoint_and_verify_through_the_cli(built: Built) -> None:
    again = run_json("audit", "checkpoint", "--db", str(built.db))
    assert again["size"] == built.size and not again["new"]
    assert again["note"].startswith(f"{built.origin}\n{built.size}\n")
    report = run_json("audit", "verify", "--db", str(built.db), "--key", built.vkey)
    assert report["ok"] and report["leaves"] == built.size
    assert one_line(run("audit", "verify", "--db", str(built.db))).endswith(" ok")
    with sqlite3.connect(built.db) as c:
        c.execute("UPDATE transfers SET code = 8 WHERE id = ?", (RICH_ID.to_bytes(16, "big"),))
    c.close()
    result = runner.invoke(app, ["audit", "verify", "--db", str(built.db)])
    assert result.exit_code == 1
    assert f"transfer {hex(RICH_ID)}): recomputed hash differs" in one_line(result.stdout)
    result = runner.invoke(app, ["audit", "verify", "--db", str(built.db), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problem"]["code"] == "leaf_mismatch"


# -- receipts ------------------------------------------------------------------------------


def test_prove_and_verify_receipt_round_trip(built: Built, tmp_path: Path) -> None:
    receipt = tmp_path / "receipt.json"
    receipt.write_text(run("audit", "prove", hex(RICH_ID), "--db", str(built.db), "--json"))
    data = json.loads(receipt.read_text())
    assert data["tree_size"] == built.size and data["leaf"].startswith("0101")
    by_decimal = run("audit", "prove", str(RICH_ID), "--db", str(built.db), "--json")
    assert json.loads(by_decimal) == data
    out = tmp_path / "out.json"
    run(
        "audit",
        "prove",
        "--index",
        str(data["leaf_index"]),
        "--db",
        str(built.db),
        "--out",
        str(out),
    )
    assert json.loads(out.read_text()) == data
    verified = run_json("audit", "verify-receipt", str(receipt), "--key", built.vkey)
    assert verified["kind"] == "transfer" and verified["leaf"]["id"] == RICH_ID
    text = one_line(run("audit", "verify-receipt", str(receipt), "--key", built.vkey))
    assert text.startswith("ok: transfer at log index") and f"id={hex(RICH_ID)}" in text
    assert "amount=12345" in text
    key_file = tmp_path / "log.vkey"
    key_file.write_text(built.vkey + "\n")
    assert run_json("audit", "verify-receipt", str(receipt), "--key", str(key_file))["ok"]


def test_tampered_receipts_fail_through_main(built: Built, tmp_path: Path) -> None:
    receipt = json.loads(run("audit", "prove", hex(RICH_ID), "--db", str(built.db), "--json"))
    cases = {
        "bad_proof": {**receipt, "leaf": receipt["leaf"][:-2] + "ff"},
        "bad_signature": {
            **receipt,
            "checkpoint": receipt["checkpoint"].replace("=\n\n", "=\nx\n\n"),
        },
    }
    for code, data in cases.items():
        path = tmp_path / f"{code}.json"
        path.write_text(json.dumps(data))
        assert_error(cli("audit", "verify-receipt", str(path), "--key", built.vkey), code)
    assert_error(
        cli("audit", "verify-receipt", "-", "--key", built.vkey, stdin="{not json"),
        "malformed_receipt",
    )


def test_notarize_round_trip(built: Built, tmp_path: Path) -> None:
    document = tmp_path / "licence.pdf"
    document.write_bytes(b"%PDF-1.7 a licence\n")
    result = run_json("notarize", str(document), "--db", str(built.db))
    receipt = tmp_path / "licence.pdf.receipt.json"
    assert result["receipt"] == str(receipt) and result["leaf_index"] == built.size
    assert result["tree_size"] == built.size + 1
    verified = run_json(
        "audit", "verify-receipt", str(receipt), "--key", built.vkey, "--file", str(document)
    )
    assert verified["kind"] == "document" and verified["leaf"]["sha256"] == result["sha256"]
    refused_in_process("file_exists", "notarize", str(document), "--db", str(built.db))
    document.write_bytes(b"%PDF-1.7 a forged licence\n")
    refused_in_process(
        "document_mismatch",
        "audit", "verify-receipt", str(receipt), "--key", built.vkey, "--file", str(document),
    )  # fmt: skip
    assert run_json("audit", "verify", "--db", str(built.db))["documents"] == 2


# -- witnesses -----------------------------------------------------------------------------


def test_witness_flow_with_a_quorum(built: Built, tmp_path: Path) -> None:
    db = str(built.db)
    keys = {}
    for name in ("alice", "bob"):
        made = run_json("audit", "witness-key", name, "--out", str(tmp_path / f"{name}.key"))
        assert stat.S_IMODE(Path(made["key_file"]).stat().st_mode) == 0o600
        keys[name] = made
        run("audit", "witnesses", "add", name, made["vkey"], "--db", db)
    assert run_json("audit", "witnesses", "quorum", "2", "--db", db)["quorum"] == 2

    def witness(name: str, *extra: str) -> Any:
        state = str(tmp_path / f"{name}.state.json")
        return run_json(
            "audit", "witness", "--db", db, "--state", state, "--key", keys[name]["key_file"],
            "--log-key", built.vkey, *extra,
        )  # fmt: skip

    first = witness("alice")
    assert first["size"] == built.size and first["previous_size"] is None
    assert first["cosigners"] == ["alice"] and not first["witnessed"]
    assert witness("bob")["witnessed"]
    status = run_json("audit", "status", "--db", db)["latest_checkpoint"]
    assert status["witnessed"] and status["cosigners"] == ["alice", "bob"]

    run("notarize", str(_file(tmp_path, "doc.txt")), "--db", db)
    grown = witness("alice")
    assert grown["previous_size"] == built.size and grown["size"] == built.size + 1
    receipt = run("audit", "prove", "--index", str(built.size), "--db", db, "--json")
    path = tmp_path / "witnessed.json"
    path.write_text(receipt)
    args = ["audit", "verify-receipt", str(path), "--key", built.vkey]
    witnesses = ["--witness", keys["alice"]["vkey"], "--witness", keys["bob"]["vkey"]]
    assert run_json(*args, *witnesses, "--quorum", "1")["cosigners"] == ["alice"]
    refused_in_process("not_witnessed", *args, *witnesses)
    assert run_json("audit", "verify", "--db", db)["cosignatures"] == 3

    old = tmp_path / "old.note"
    old.write_text(note_of(db, built.size))
    refused_in_process(
        "rollback", *_witness_args(db, tmp_path, keys, "alice"), "--checkpoint", str(old)
    )


def note_of(db: str, size: int) -> str:
    with sqlite3.connect(db) as c:
        (note,) = c.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()
    c.close()
    return str(note)


def _witness_args(db: str, tmp_path: Path, keys: dict[str, Any], name: str) -> list[str]:
    return [
        "audit", "witness", "--db", db, "--state", str(tmp_path / f"{name}.state.json"),
        "--key", keys[name]["key_file"],
    ]  # fmt: skip


def _file(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text(f"the document {name}\n")
    return path


def test_a_forked_operator_is_refused_by_the_witness(built: Built, tmp_path: Path) -> None:
    made = run_json("audit", "witness-key", "carol", "--out", str(tmp_path / "carol.key"))
    state = str(tmp_path / "carol.json")
    args = ["--state", state, "--key", made["key_file"], "--log-key", built.vkey]
    run("audit", "witnesses", "add", "carol", made["vkey"], "--db", str(built.db))
    run("audit", "witness", "--db", str(built.db), *args)
    twin = tmp_path / "twin" / "ledger.db"
    twin.parent.mkdir()
    build_ledger(twin, transfers=32)
    run(
        "init",
        "--db",
        str(twin),
        "--origin",
        built.origin,
        "--key-file",
        str(built.key_file),
        "--reuse-key",
    )
    run("audit", "checkpoint", "--db", str(twin))
    result = cli("audit", "witness", "--db", str(twin), *args)
    assert_error(result, "fork", f"size {built.size} this witness saw")
    assert json.loads(Path(state).read_text())["size"] == built.size  # state unchanged


# -- bad input everywhere ------------------------------------------------------------------


def test_bad_input_gives_clean_errors(built: Built, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.db")
    assert_error(cli("audit", "verify", "--db", missing), "database_not_found")
    assert not Path(missing).exists()
    assert_error(
        cli("audit", "prove", "0xdead", "--db", str(built.db)), "transfer_not_found", "0xdead"
    )
    refused_in_process("bad_transfer_id", "audit", "prove", "xyz", "--db", str(built.db))
    refused_in_process("bad_arguments", "audit", "prove", "--db", str(built.db))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("[1, 2]")
    assert_error(cli("audit", "verify-receipt", str(garbage), "--key", "not-a-key"), "bad_key")
    refused_in_process(
        "malformed_receipt", "audit", "verify-receipt", str(garbage), "--key", built.vkey
    )
    refused_in_process(
        "file_not_found",
        "audit",
        "verify-receipt",
        str(tmp_path / "none.json"),
        "--key",
        built.vkey,
    )
    other = run_json("init", "--db", str(tmp_path / "other.db"))
    receipt = tmp_path / "r.json"
    receipt.write_text(run("audit", "prove", hex(RICH_ID), "--db", str(built.db), "--json"))
    refused_in_process(
        "bad_signature", "audit", "verify-receipt", str(receipt), "--key", other["vkey"]
    )
    refused_in_process(
        "key_exists", "init", "--db", str(tmp_path / "third.db"), "--key-file", other["key_file"]
    )
    refused_in_process(
        "already_initialized", "init", "--db", str(built.db), "--origin", "x.example/y"
    )
    plain = tmp_path / "plain.db"
    build_ledger(plain, transfers=1)
    assert_error(cli("audit", "checkpoint", "--db", str(plain)), "not_initialized", "corridor init")
    refused_in_process("not_checkpointed", "audit", "prove", "10", "--db", str(plain))
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as c:
        c.execute("CREATE TABLE pets (name)")
    c.close()
    assert_error(cli("audit", "status", "--db", str(foreign)), "not_a_corridor_database")
    state = tmp_path / "state.json"
    state.write_text("{}")
    made = run_json("audit", "witness-key", "dave", "--out", str(tmp_path / "dave.key"))
    refused_in_process(
        "bad_state", "audit", "witness", "--db", str(built.db), "--state", str(state),
        "--key", made["key_file"],
    )  # fmt: skip
    refused_in_process("key_exists", "audit", "witness-key", "dave", "--out", made["key_file"])
    refused_in_process(
        "bad_key", "audit", "witnesses", "add", "erin", made["vkey"], "--db", str(built.db)
    )
