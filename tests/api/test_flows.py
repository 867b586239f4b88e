"""What the API does, end to end: payments in both flows, refunds, QR codes, settlement,
the audit log (checkpoints, receipts checked offline, witness cosignatures), the ledger,
batching, /healthz, /metrics and the OpenAPI document."""

from __future__ import annotations

import base64
import csv
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from corridor.audit.keys import parse_log_vkey, read_witness_key, write_key_file
from corridor.audit.note import generate_cosigner
from corridor.audit.receipt import Receipt, verify_receipt
from corridor.audit.registry import AuditStore, WitnessRecord, now
from corridor.audit.witness import witness_checkpoint
from corridor.formats import emvqr
from corridor.switch.directory import liquidity_account_id
from tests.api.conftest import (
    ACQUIRER,
    CUSTOMER,
    MERCHANT,
    PROVIDER,
    WALLET,
    WALLET_KR,
    Api,
    MakeApi,
)

OP = "operator"


def _reserve(api: Api, payment_id: str, **extra: Any) -> Any:
    return api.post(
        WALLET,
        "/v1/payments/reservations",
        {
            "payment_id": payment_id,
            "wallet_id": WALLET,
            "customer_id": CUSTOMER,
            "merchant_id": MERCHANT,
            "quote_id": api.quote(),
            **extra,
        },
    )


def test_a_one_shot_payment_commits_and_moves_the_money(api: Api) -> None:
    before = api.get(WALLET, f"/v1/participants/{WALLET}/liquidity").json()["balances"][0]
    response = api.pay("p-1", yen=1200)
    assert response.status_code == 200, response.text
    payment = response.json()
    assert payment["state"] == "committed"
    assert payment["flow"] == "direct"
    assert payment["target"] == {"amount": "1200", "currency": "JPY", "minor": 1200}
    after = api.get(WALLET, f"/v1/participants/{WALLET}/liquidity").json()["balances"][0]
    paid = before["posted"]["minor"] - after["posted"]["minor"]
    assert paid == payment["debit_total"]["minor"]
    assert api.get(ACQUIRER, "/v1/payments/p-1").json() == payment


def test_two_phase_reserve_then_commit(api: Api) -> None:
    reserved = _reserve(api, "p-2", hold_timeout_s=60)
    assert reserved.status_code == 200, reserved.text
    assert reserved.json()["state"] == "reserved"
    held = api.get(WALLET, f"/v1/participants/{WALLET}/liquidity").json()["balances"][0]
    assert held["held"]["minor"] == reserved.json()["debit_total"]["minor"]
    committed = api.post(WALLET, "/v1/payments/p-2/commit")
    assert committed.json()["state"] == "committed"
    assert api.post(WALLET, "/v1/payments/p-2/commit").json()["state"] == "committed"
    aborted = api.post(WALLET, "/v1/payments/p-2/abort")
    assert aborted.status_code == 409
    assert aborted.json()["code"] == "payment_not_reserved"


def test_two_phase_reserve_then_abort_releases_the_hold(api: Api) -> None:
    assert _reserve(api, "p-3").status_code == 200
    assert api.post(WALLET, "/v1/payments/p-3/abort").json()["state"] == "aborted"
    balance = api.get(WALLET, f"/v1/participants/{WALLET}/liquidity").json()["balances"][0]
    assert balance["held"]["minor"] == 0
    assert api.post(WALLET, "/v1/payments/p-3/commit").json()["code"] == "payment_not_reserved"


def test_refunds_at_the_original_rate_up_to_the_amount_paid(api: Api) -> None:
    assert api.pay("p-4", yen=1000).status_code == 200
    half = {"refund_id": "r-1", "amount": {"amount": "500", "currency": "JPY"}}
    refund = api.post(ACQUIRER, "/v1/payments/p-4/refunds", half)
    assert refund.status_code == 200, refund.text
    assert refund.json()["state"] == "completed"
    assert api.get(WALLET, "/v1/refunds/r-1").json() == refund.json()
    too_much = {"refund_id": "r-2", "amount": {"amount": "501", "currency": "JPY"}}
    response = api.post(ACQUIRER, "/v1/payments/p-4/refunds", too_much)
    assert response.json()["code"] == "refund_exceeds_payment"
    listed = api.get(ACQUIRER, "/v1/payments/p-4/refunds").json()["refunds"]
    assert [r["refund_id"] for r in listed] == ["r-1"]


def test_merchant_qr_as_payload_png_and_svg(api: Api) -> None:
    qr = api.get(ACQUIRER, f"/v1/merchants/{MERCHANT}/qr", params={"amount": "1500"}).json()
    decoded = emvqr.decode(qr["payload"])
    assert decoded.corridor_merchant_id == MERCHANT
    assert decoded.transaction_amount == "1500"
    assert qr["dynamic"] is True
    png = api.get(ACQUIRER, f"/v1/merchants/{MERCHANT}/qr", params={"format": "png"})
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    svg = api.get(ACQUIRER, f"/v1/merchants/{MERCHANT}/qr", params={"format": "svg"})
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text
    scanned = api.post(WALLET, "/v1/qr/scan", {"payload": qr["payload"]}).json()
    assert scanned["merchant_id"] == MERCHANT
    assert scanned["amount"]["minor"] == 1500
    assert api.post(WALLET, "/v1/qr/scan", {"payload": "000201"}).json()["code"] == "invalid_qr"


def test_scan_and_pay_from_a_dynamic_qr(api: Api) -> None:
    payload = api.get(ACQUIRER, f"/v1/merchants/{MERCHANT}/qr", params={"amount": "800"})
    response = api.post(
        WALLET,
        "/v1/payments/scan",
        {
            "payment_id": "p-scan",
            "qr_payload": payload.json()["payload"],
            "wallet_id": WALLET,
            "customer_id": CUSTOMER,
            "provider_id": PROVIDER,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["target"]["minor"] == 800
    assert response.json()["state"] == "committed"


def test_settlement_close_report_and_settle(api: Api) -> None:
    assert api.pay("p-5", yen=2000).status_code == 200
    closed = api.post(OP, "/v1/settlement/windows/close")
    assert closed.status_code == 200, closed.text
    window = closed.json()
    assert window["state"] == "closed"
    assert set(window["net_sum_by_currency"].values()) == {0}
    window_id = window["window_id"]
    report = api.get(OP, f"/v1/settlement/windows/{window_id}", params={"format": "csv"})
    assert report.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert {row["participant_id"] for row in rows} >= {WALLET, PROVIDER, ACQUIRER}
    mine = api.get(WALLET, f"/v1/settlement/windows/{window_id}", params={"format": "csv"})
    assert {row["participant_id"] for row in csv.DictReader(io.StringIO(mine.text))} == {WALLET}
    settled = api.post(OP, f"/v1/settlement/windows/{window_id}/settle")
    assert settled.status_code == 200, settled.text
    assert settled.json()["state"] == "settled"
    assert settled.json()["settlement_transfer_ids"]


def test_receipts_verify_offline_with_the_log_key(api: Api) -> None:
    payment = api.pay("p-6").json()
    not_yet = api.get(WALLET, "/v1/payments/p-6/receipts")
    assert not_yet.status_code == 409
    assert not_yet.json()["code"] == "not_checkpointed"
    signed = api.post(OP, "/v1/audit/checkpoints")
    assert signed.status_code == 200, signed.text
    receipts = api.get(WALLET, "/v1/payments/p-6/receipts").json()["receipts"]
    assert [r["transfer_id"] for r in receipts] == payment["transfer_ids"]
    with AuditStore.open(api.db) as store:
        info = store.require_log_info()
    for item in receipts:
        verified = verify_receipt(Receipt.from_json(item["receipt"]), parse_log_vkey(info.vkey))
        assert f"{verified.leaf.fields['id']:032x}" == item["transfer_id"]


def test_a_witness_cosigns_over_http(api: Api, tmp_path: Path) -> None:
    api.pay("p-7")
    assert api.post(OP, "/v1/audit/checkpoints").status_code == 200
    secret, vkey = generate_cosigner("witness.alipay")
    write_key_file(tmp_path / "w.key", secret)
    with AuditStore.open(api.db, writable=True) as store:
        store.update_witnesses(add=WitnessRecord("witness.alipay", vkey, now()))
        log_vkey = store.require_log_info().vkey
    checkpoint = api.get(WALLET, "/v1/audit/checkpoint").json()
    assert checkpoint["witnessed"] is False

    def proof(first: int, second: int) -> list[bytes]:
        got = api.get(WALLET, "/v1/audit/consistency", params={"first": first, "second": second})
        return [bytes.fromhex(h) for h in got.json()["proof"]]

    result = witness_checkpoint(
        None, checkpoint["note"], proof, read_witness_key(tmp_path / "w.key"), log_vkey=log_vkey
    )
    submitted = api.post(WALLET, "/v1/audit/cosignatures", {"note": result.cosigned_note})
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["accepted"] == ["witness.alipay"]
    assert submitted.json()["witnessed"] is True
    assert api.get(WALLET, "/v1/audit/checkpoint").json()["cosigners"] == ["witness.alipay"]
    forged = result.cosigned_note.replace(checkpoint["root"], base64.b64encode(b"x" * 32).decode())
    assert api.post(WALLET, "/v1/audit/cosignatures", {"note": forged}).status_code == 400


def test_ledger_accounts_and_transfers_read_back(api: Api) -> None:
    payment = api.pay("p-8").json()
    account_id = f"{liquidity_account_id(WALLET, 'CNY'):032x}"
    account = api.get(WALLET, f"/v1/ledger/accounts/{account_id}").json()
    assert account["id"] == account_id
    assert account["credits_posted"] - account["debits_posted"] > 0
    transfers = api.get(WALLET, f"/v1/ledger/accounts/{account_id}/transfers").json()["transfers"]
    assert payment["transfer_ids"][0] in {t["id"] for t in transfers}
    leg = api.get(WALLET, f"/v1/ledger/transfers/{payment['transfer_ids'][0]}").json()
    assert leg["debit_account_id"] == account_id
    assert leg["amount"] == payment["source"]["minor"]


def test_concurrent_payments_share_batches_and_each_gets_its_own_outcome(api: Api) -> None:
    bodies = [
        {
            "payment_id": f"p-batch-{n}",
            "wallet_id": WALLET,
            "customer_id": CUSTOMER if n != 5 else "c-nobody",
            "merchant_id": MERCHANT,
            "quote_id": api.quote(),
        }
        for n in range(24)
    ]

    def send(body: dict[str, Any]) -> tuple[str, int, str]:
        response = api.post(WALLET, "/v1/payments", body)
        return body["payment_id"], response.status_code, response.json().get("code", "")

    with ThreadPoolExecutor(max_workers=24) as pool:
        outcomes = list(pool.map(send, bodies))
    assert [o for o in outcomes if o[1] != 200] == [("p-batch-5", 404, "unknown_customer")]
    metrics = api.client.app.state.ctx.metrics  # type: ignore[attr-defined]
    total, batches = metrics.pay_batch_size.totals()
    assert total == 24
    assert batches < 24  # some requests shared a batch


def test_one_quote_pays_once_even_with_parallel_writers(make_api: MakeApi) -> None:
    api = make_api(writers=3)
    quote_id = api.quote()

    def send(n: int) -> tuple[int, str]:
        body = {
            "payment_id": f"p-same-quote-{n}",
            "wallet_id": WALLET,
            "customer_id": CUSTOMER,
            "merchant_id": MERCHANT,
            "quote_id": quote_id,
        }
        response = api.post(WALLET, "/v1/payments", body)
        return response.status_code, response.json().get("code", "")

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(send, range(12)))
    assert sorted(outcomes)[0] == (200, "")
    assert sorted(outcomes)[1:] == [(409, "quote_used")] * 11


def test_healthz_and_metrics(api: Api) -> None:
    health = api.client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    api.pay("p-9")
    text = api.client.get("/metrics").text
    assert api.client.get("/metrics").headers["content-type"].startswith("text/plain")
    assert 'corridor_http_requests_total{method="POST",route="/v1/payments",status="200"} 1' in text
    assert 'corridor_payments_total{outcome="committed"} 1' in text
    assert "# TYPE corridor_http_request_duration_seconds histogram" in text
    assert 'corridor_http_request_duration_seconds_bucket{route="/v1/quotes",le="+Inf"} 1' in text


def test_openapi_documents_keys_problems_idempotency_and_examples(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    pay = document["paths"]["/v1/payments"]["post"]
    assert pay["security"] == [{"ApiKey": []}]
    assert any(p["name"] == "Idempotency-Key" for p in pay["parameters"])
    assert "application/problem+json" in pay["responses"]["422"]["content"]
    body_ref = pay["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body_schema = document["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert body_schema["examples"]
    assert "/healthz" in document["paths"]
    assert "security" not in document["paths"]["/healthz"]["get"]


def test_a_kr_wallet_pays_in_won(api: Api) -> None:
    response = api.pay("p-kr", who=WALLET_KR, yen=3000)
    assert response.status_code == 200, response.text
    assert response.json()["source"]["currency"] == "KRW"
