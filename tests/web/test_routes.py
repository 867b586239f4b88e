"""The dashboard's pages and JSON, without a browser: what each key gets, and nothing more.

Everything runs against one simulated corridor behind the real API app (`served`); expected
numbers are recomputed here with plain SQL on the same file.
"""

from __future__ import annotations

import copy
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from corridor.analytics.reports import run_report
from corridor.api import create_app
from corridor.api.keys import ApiKeyStore
from corridor.sim.scoring import score_detection
from corridor.switch.service import Switch
from corridor.web import tiles
from corridor.web.routes import STATIC_DIR
from corridor.web.routes import router as dashboard_router
from tests.web.conftest import Served, auth, copy_db, rows, scalar

# -- pages -----------------------------------------------------------------------------------


def test_root_redirects_to_the_dashboard_page(served: Served) -> None:
    response = served.client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/dashboard/"
    assert served.client.get("/dashboard", follow_redirects=False).headers["location"] == (
        "/dashboard/"
    )


def test_dashboard_page_needs_no_key_and_forbids_inline_script(served: Served) -> None:
    response = served.client.get("/dashboard/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert '<script type="module" src="/dashboard/static/js/app.js">' in response.text


def test_static_files_are_served_with_an_etag_and_revalidated(served: Served) -> None:
    response = served.client.get("/dashboard/static/js/app.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    etag = response.headers["etag"]
    again = served.client.get("/dashboard/static/js/app.js", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/static/../routes.py",
        "/dashboard/static/..%2froutes.py",
        "/dashboard/static/%2e%2e/%2e%2e/api/keys.py",
        "/dashboard/static//etc/passwd",
        "/dashboard/static/js/nope.js",
    ],
)
def test_only_indexed_static_files_are_served(served: Served, path: str) -> None:
    response = served.client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_every_page_asset_is_vendored_locally() -> None:
    """No page or module loads anything from another origin (no CDN)."""
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in {".html", ".js", ".css"}:
            text = path.read_text(encoding="utf-8")
            assert "http://" not in text.replace("http://www.w3.org/2000/svg", ""), path
            assert "https://" not in text, path


# -- who am I --------------------------------------------------------------------------------


def test_dashboard_json_needs_an_api_key(served: Served) -> None:
    response = served.get("/v1/dashboard/me", None)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert served.get("/v1/dashboard/me", "ck_000000000000_" + "x" * 43).status_code == 401


def test_me_tells_each_role_its_views_and_actions(served: Served) -> None:
    keys = served.keys
    operator = served.get("/v1/dashboard/me", keys.operator).json()
    assert operator["role"] == "operator" and "sign_checkpoints" in operator["actions"]
    assert "detection" in operator["views"]
    compliance = served.get("/v1/dashboard/me", keys.compliance).json()
    assert compliance["actions"] == ["work_cases", "resolve_holds"]
    auditor = served.get("/v1/dashboard/me", keys.auditor).json()
    assert auditor["actions"] == [] and "cases" in auditor["views"]
    participant = served.get("/v1/dashboard/me", keys.participant).json()
    assert participant["participant_id"] == keys.participant_id
    assert participant["participant_kind"] == "wallet"
    assert "cases" not in participant["views"] and "detection" not in participant["views"]
    assert participant["actions"] == []


# -- reports ---------------------------------------------------------------------------------


def test_operator_reports_are_the_analytics_reports(served: Served) -> None:
    for name in ("volume_by_currency", "fx_volume", "alert_funnel", "spend_per_trip"):
        body = served.get(f"/v1/dashboard/reports/{name}", served.keys.operator).json()
        assert body["scope"] == "all"
        assert body["rows"] == run_report(served.db, name).dicts()


def test_participant_reports_count_only_its_own_payments(served: Served) -> None:
    me = served.keys.participant_id
    body = served.get("/v1/dashboard/reports/volume_by_currency", served.keys.participant).json()
    assert body["scope"] == me
    paid = {r["currency"]: (r["payments_paid"], r["paid_amount"]) for r in body["rows"]}
    expected = rows(
        served.db,
        "SELECT source_currency, count(*), sum(source_amount + fee_amount) FROM payments"
        " WHERE state = 'committed' AND (wallet_id = ? OR acquirer_id = ? OR provider_id = ?)"
        " GROUP BY source_currency",
        (me, me, me),
    )
    assert expected and {c: (n, a) for c, n, a in expected} == {
        c: v for c, v in paid.items() if v[0]
    }
    everyone = run_report(served.db, "volume_by_currency").dicts()
    assert sum(r["payments_paid"] for r in everyone) > sum(v[0] for v in paid.values())


def test_a_wallets_spend_per_trip_is_the_same_for_it_and_the_operator(served: Served) -> None:
    me = served.keys.participant_id
    mine = served.get("/v1/dashboard/reports/spend_per_trip", served.keys.participant).json()
    everyone = served.get("/v1/dashboard/reports/spend_per_trip", served.keys.operator).json()
    assert [r["wallet_id"] for r in mine["rows"]] == [me]
    assert mine["rows"] == [r for r in everyone["rows"] if r["wallet_id"] == me]


def test_participant_settlement_positions_are_its_own(served: Served) -> None:
    body = served.get("/v1/dashboard/reports/settlement_positions", served.keys.participant).json()
    assert body["rows"]
    assert {r["participant_id"] for r in body["rows"]} == {served.keys.participant_id}


@pytest.mark.parametrize("name", ["alert_funnel", "detection"])
def test_participants_may_not_run_compliance_reports(served: Served, name: str) -> None:
    response = served.get(f"/v1/dashboard/reports/{name}", served.keys.participant)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    listed = served.get("/v1/dashboard/reports", served.keys.participant).json()
    assert name not in {r["name"] for r in listed["reports"]}


def test_unknown_report_is_404(served: Served) -> None:
    response = served.get("/v1/dashboard/reports/nope", served.keys.operator)
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_report"


# -- prefectures -----------------------------------------------------------------------------


def test_tile_grid_has_47_distinct_tiles_inside_the_grid() -> None:
    found = tiles.prefectures()
    assert [p.code for p in found] == [f"JP-{n:02d}" for n in range(1, 48)]
    assert len({(p.column, p.row) for p in found}) == 47
    assert all(0 <= p.column < tiles.GRID_COLUMNS and 0 <= p.row < tiles.GRID_ROWS for p in found)
    assert found[0].name == "Hokkaido" and found[46].name == "Okinawa"


def test_prefectures_list_all_47_with_their_volume(served: Served) -> None:
    body = served.get("/v1/dashboard/prefectures", served.keys.operator).json()
    assert len(body["prefectures"]) == 47
    by_code = {p["code"]: p for p in body["prefectures"]}
    expected = rows(
        served.db,
        "SELECT m.region, count(*), sum(p.target_amount) FROM payments p"
        " JOIN merchants m ON m.id = p.merchant_id"
        " WHERE p.state = 'committed' AND m.region LIKE 'JP-%' GROUP BY m.region",
    )
    assert expected
    for region, payments, volume in expected:
        assert (by_code[region]["payments"], by_code[region]["volume"]) == (payments, volume)
    quiet = set(by_code) - {r[0] for r in expected}
    assert all(by_code[c]["payments"] == 0 for c in quiet)
    assert {r["code"][:2] for r in body["abroad"]} <= {"CN", "KR"}


def test_a_participants_prefectures_count_only_its_payments(served: Served) -> None:
    everyone = served.get("/v1/dashboard/prefectures", served.keys.operator).json()
    mine = served.get("/v1/dashboard/prefectures", served.keys.participant).json()
    me = served.keys.participant_id
    expected = scalar(
        served.db,
        "SELECT count(*) FROM payments p JOIN merchants m ON m.id = p.merchant_id"
        " WHERE p.state = 'committed' AND m.region LIKE 'JP-%' AND p.wallet_id = ?",
        (me,),
    )
    assert sum(p["payments"] for p in mine["prefectures"]) == expected
    assert sum(p["payments"] for p in mine["prefectures"]) < sum(
        p["payments"] for p in everyone["prefectures"]
    )


# -- payments --------------------------------------------------------------------------------


def test_payment_search_filters_by_state_and_region(served: Served) -> None:
    body = served.get(
        "/v1/dashboard/payments?state=committed&region=JP-13&limit=1000", served.keys.operator
    ).json()
    expected = scalar(
        served.db,
        "SELECT count(*) FROM payments p JOIN merchants m ON m.id = p.merchant_id"
        " WHERE p.state = 'committed' AND m.region = 'JP-13'",
    )
    assert body["total"] == expected == len(body["payments"])
    assert all(r["region"] == "JP-13" for r in body["payments"])
    assert all(r["payment"]["state"] == "committed" for r in body["payments"])
    created = [r["payment"]["created_ns"] for r in body["payments"]]
    assert created == sorted(created, reverse=True)


def test_payment_search_by_id_prefix_and_paging(served: Served) -> None:
    first = served.get("/v1/dashboard/payments?limit=5", served.keys.operator).json()
    second = served.get("/v1/dashboard/payments?limit=5&offset=5", served.keys.operator).json()
    ids = [r["payment"]["payment_id"] for r in first["payments"] + second["payments"]]
    assert len(set(ids)) == 10 and first["total"] == scalar(
        served.db, "SELECT count(*) FROM payments"
    )
    one = ids[0]
    found = served.get(f"/v1/dashboard/payments?q={one}", served.keys.operator).json()
    assert [r["payment"]["payment_id"] for r in found["payments"]] == [one]
    wildcard = served.get("/v1/dashboard/payments?q=%25", served.keys.operator).json()
    assert wildcard["total"] == 0  # % is a character, not a wildcard


def test_participant_search_finds_only_its_payments(served: Served) -> None:
    me = served.keys.participant_id
    body = served.get("/v1/dashboard/payments?limit=1000", served.keys.participant).json()
    assert body["total"] == scalar(
        served.db, "SELECT count(*) FROM payments WHERE wallet_id = ?", (me,)
    )
    assert all(me == r["payment"]["wallet_id"] for r in body["payments"])
    other = served.keys.other_participant_id
    theirs = served.get(f"/v1/dashboard/payments?wallet_id={other}", served.keys.participant)
    assert theirs.json()["total"] == 0


def test_payment_search_refuses_a_bad_day(served: Served) -> None:
    response = served.get("/v1/dashboard/payments?day=2018-02-31", served.keys.operator)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_payment_context_shows_alerts_and_hold_to_compliance(served: Served) -> None:
    held = rows(served.db, "SELECT payment_id, case_id FROM case_holds ORDER BY payment_id")
    assert held, "the simulated corridor holds some payments for review"
    payment_id, case_id = held[0]
    body = served.get(f"/v1/dashboard/payments/{payment_id}", served.keys.compliance).json()
    assert body["hold"]["case_id"] == case_id
    assert body["alerts"] and all(a["case_id"] == case_id for a in body["alerts"])
    assert body["merchant"]["region"] == scalar(
        served.db,
        "SELECT m.region FROM payments p JOIN merchants m ON m.id = p.merchant_id"
        " WHERE p.payment_id = ?",
        (payment_id,),
    )


def test_payment_context_hides_compliance_from_and_isolates_participants(served: Served) -> None:
    me = served.keys.participant_id
    mine = scalar(served.db, "SELECT payment_id FROM payments WHERE wallet_id = ? LIMIT 1", (me,))
    body = served.get(f"/v1/dashboard/payments/{mine}", served.keys.participant).json()
    assert body["alerts"] is None and body["hold"] is None and body["merchant"]
    theirs = scalar(
        served.db,
        "SELECT payment_id FROM payments WHERE wallet_id = ? LIMIT 1",
        (served.keys.other_participant_id,),
    )
    response = served.get(f"/v1/dashboard/payments/{theirs}", served.keys.participant)
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_payment"


# -- receipts and the audit log --------------------------------------------------------------


def _first_receipt(served: Served) -> dict[str, object]:
    payment_id = scalar(
        served.db, "SELECT payment_id FROM payments WHERE state = 'committed' ORDER BY created_ns"
    )
    body = served.get(f"/v1/payments/{payment_id}/receipts", served.keys.auditor).json()
    first: dict[str, object] = body["receipts"][0]
    return first


def _verify(served: Served, receipt: object, transfer_id: object = None) -> dict[str, object]:
    response = served.post(
        "/v1/dashboard/receipts/verify",
        served.keys.auditor,
        {"receipt": receipt, "transfer_id": transfer_id},
    )
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def test_a_payments_receipt_verifies_with_the_log_key_and_witnesses(served: Served) -> None:
    item = _first_receipt(served)
    result = _verify(served, item["receipt"], item["transfer_id"])
    assert result["ok"] is True, result
    assert result["kind"] == "transfer"
    assert isinstance(result["leaf"], dict) and result["leaf"]["id"] == item["transfer_id"]
    assert result["witnessed"] is True and len(result["cosigners"]) >= result["quorum"]  # type: ignore[arg-type]


def _tampered(receipt: dict[str, object], field: str) -> dict[str, object]:
    changed = copy.deepcopy(receipt)
    if field == "leaf":
        text = str(changed["leaf"])
        changed["leaf"] = text[:-2] + ("00" if text[-2:] != "00" else "01")
    elif field == "checkpoint":
        note = str(changed["checkpoint"])
        at = note.index(" ", note.index("\n— ") + 3) + 40  # inside the log's signature
        changed["checkpoint"] = note[:at] + ("A" if note[at] != "A" else "B") + note[at + 1 :]
    elif field == "leaf_index":
        changed["leaf_index"] = int(str(changed["leaf_index"])) + 1
    return changed


@pytest.mark.parametrize(
    ("field", "code"),
    [("leaf", "bad_proof"), ("checkpoint", "bad_signature"), ("leaf_index", "bad_proof")],
)
def test_a_tampered_receipt_fails_with_the_check_that_caught_it(
    served: Served, field: str, code: str
) -> None:
    item = _first_receipt(served)
    receipt = item["receipt"]
    assert isinstance(receipt, dict)
    result = _verify(served, _tampered(receipt, field))
    assert result["ok"] is False
    assert result["code"] == code


def test_a_receipt_of_another_transfer_is_a_mismatch(served: Served) -> None:
    item = _first_receipt(served)
    result = _verify(served, item["receipt"], "e" * 32)
    assert (result["ok"], result["code"]) == (False, "receipt_mismatch")


def test_a_malformed_receipt_is_reported_not_raised(served: Served) -> None:
    result = _verify(served, {"format": "corridor-receipt/v1"})
    assert (result["ok"], result["code"]) == (False, "malformed_receipt")


def test_audit_lists_checkpoints_and_witness_status(served: Served) -> None:
    body = served.get("/v1/dashboard/audit", served.keys.participant).json()
    sizes = [c["size"] for c in body["checkpoints"]]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes == [
        r[0] for r in rows(served.db, "SELECT size FROM checkpoints ORDER BY size DESC")
    ]
    assert body["log_size"] >= sizes[0]
    names = {w["name"] for w in body["witnesses"]}
    assert names == {str(r[0]) for r in rows(served.db, "SELECT name FROM witnesses")}
    latest = body["checkpoints"][0]
    cosigned = {
        str(r[0])
        for r in rows(
            served.db, "SELECT witness FROM cosignatures WHERE size = ?", (latest["size"],)
        )
    }
    assert set(latest["cosigners"]) == cosigned & names
    for witness in body["witnesses"]:
        assert witness["cosigned_latest"] == (witness["name"] in latest["cosigners"])


# -- detection -------------------------------------------------------------------------------


def test_detection_scores_are_those_of_the_simulation_scoring(served: Served) -> None:
    body = served.get("/v1/dashboard/detection", served.keys.compliance).json()
    assert body["available"] is True
    with sqlite3.connect(f"file:{served.db}?mode=ro", uri=True) as connection:
        expected = score_detection(connection)
    assert body["scores"] == expected
    assert body["run"]["tourists"] == 40 and body["run"]["days"] == 2
    assert set(body["labels"]) == set(expected["typologies"])


def test_participants_may_not_read_detection(served: Served) -> None:
    response = served.get("/v1/dashboard/detection", served.keys.participant)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_detection_says_why_on_a_database_that_was_not_simulated(tmp_path: Path) -> None:
    db = tmp_path / "plain.db"
    with Switch.open(db) as switch:
        with ApiKeyStore.open(db) as store:
            key = store.create("compliance", label="test", created_by="test").secret
        with TestClient(create_app(switch, extra_routers=(dashboard_router,))) as client:
            response = client.get("/v1/dashboard/detection", headers=auth(key))
    body = response.json()
    assert response.status_code == 200
    assert body["available"] is False and body["scores"] is None and body["run"] is None
    assert "sim_labels" in body["reason"]


# -- corridor serve --------------------------------------------------------------------------


def test_corridor_serve_serves_the_dashboard(simulated_db: Path, tmp_path: Path) -> None:
    """The real command line wires the dashboard's router into the app."""
    db = copy_db(simulated_db, tmp_path / "serve")
    port = _free_port()
    command = Path(sys.executable).with_name("corridor")
    process = subprocess.Popen(
        [str(command), "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, process)
        page = httpx.get(f"{base}/", follow_redirects=True, timeout=5)
        assert page.status_code == 200 and "corridor dashboard" in page.text
        assert httpx.get(f"{base}/v1/dashboard/me", timeout=5).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base: str, process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"corridor serve exited: {error}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("corridor serve did not start")
