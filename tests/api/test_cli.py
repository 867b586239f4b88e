"""`corridor api-key ...`, `corridor serve` and `corridor bench http` from the command line."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from corridor.api.keys import ApiKeyStore
from corridor.cli import EXIT_ERROR, app
from corridor.switch.service import Switch
from tests.api.conftest import WALLET, build_corridor

runner = CliRunner()


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "corridor.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "corridor.db"
    with Switch.open(path, compliance=False) as switch:
        build_corridor(switch)
    return path


def _create(db: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["api-key", "create", "--db", str(db), "--json", *args])
    assert result.exit_code == 0, result.output
    created: dict[str, Any] = json.loads(result.output)
    return created


def test_a_key_is_shown_once_and_stored_only_as_a_hash(db: Path) -> None:
    created = _create(db, "--role", "participant", "--participant", WALLET, "--label", "prod")
    secret = created["secret"]
    assert secret.startswith(f"ck_{created['key']['key_id']}_")
    assert created["key"]["participant_id"] == WALLET
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT * FROM api_keys").fetchall()
    assert rows and not any(secret in str(value) for row in rows for value in row)
    with ApiKeyStore.open(db) as store:
        key = store.authenticate(secret)
    assert key is not None and key.role.value == "participant"


def test_list_and_revoke(db: Path) -> None:
    created = _create(db, "--role", "auditor")
    key_id = created["key"]["key_id"]
    listed = runner.invoke(app, ["api-key", "list", "--db", str(db), "--json"])
    assert [k["key_id"] for k in json.loads(listed.output)] == [key_id]
    revoked = runner.invoke(app, ["api-key", "revoke", key_id, "--db", str(db), "--json"])
    assert json.loads(revoked.output)["active"] is False
    with ApiKeyStore.open(db) as store:
        assert store.authenticate(created["secret"]) is None


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["create", "--role", "king"], "invalid_role"),
        (["create", "--role", "participant"], "invalid_participant"),
        (["create", "--role", "participant", "--participant", "nobody"], "unknown_participant"),
        (["create", "--role", "auditor", "--participant", WALLET], "invalid_participant"),
        (["revoke", "000000000000"], "unknown_key"),
    ],
)
def test_refusals_are_one_line_with_a_code(db: Path, args: list[str], code: str) -> None:
    result = cli("api-key", *args, "--db", str(db))
    assert result.returncode == EXIT_ERROR
    assert result.stderr.startswith(f"error[{code}]: ")
    assert "Traceback" not in result.stderr


def test_a_missing_database_is_refused(tmp_path: Path) -> None:
    result = cli("api-key", "list", "--db", str(tmp_path / "nope.db"))
    assert result.returncode == EXIT_ERROR
    assert result.stderr.startswith("error[database_not_found]: ")
    result = cli("serve", "--db", str(tmp_path / "nope.db"))
    assert result.stderr.startswith("error[database_not_found]: ")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_until_interrupted(db: Path) -> None:
    secret = _create(db, "--role", "operator")["secret"]
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "corridor.cli", "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert r.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the server did not start"
                assert server.poll() is None, server.communicate()
                time.sleep(0.1)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/participants",
            headers={"Authorization": f"Bearer {secret}"},
        )
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert WALLET in {p["id"] for p in json.loads(reply.read())}
        second = cli("serve", "--db", str(db), "--port", str(_free_port()))
        assert second.returncode == EXIT_ERROR
        assert second.stderr.startswith("error[")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert server.returncode == 0


def test_bench_http_prints_one_json_object(tmp_path: Path) -> None:
    result = cli(
        "bench",
        "http",
        "--db",
        str(tmp_path / "bench.db"),
        "--payments",
        "200",
        "--warmup",
        "20",
        "--connections",
        "8",
        "--customers",
        "50",
        "--merchants",
        "10",
        "--json",
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"bench", "ops", "seconds", "ops_per_s", "p50_ms", "p99_ms"} <= set(report)
    assert report["bench"] == "http"
    assert report["ops"] == 200
    answered = report["payments_ok"] + report["payments_held_for_review"]
    assert answered + report["payments_failed"] == 200
    assert report["payments_ok"] > 0
    assert report["compliance"] is True
    assert report["where_the_time_goes"]["pay_batches"] >= 1


def test_bench_http_refuses_bad_arguments(tmp_path: Path) -> None:
    result = cli("bench", "http", "--db", str(tmp_path / "b.db"), "--connections", "0")
    assert result.returncode == EXIT_ERROR
    assert result.stderr.startswith("error[bench_invalid]: ")
