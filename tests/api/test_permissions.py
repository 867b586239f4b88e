"""The permission matrix: every role and participant against every endpoint family.

Each family is tried with every key: operator, compliance, auditor, and a participant key of
each kind (two wallets, the FX provider, two acquirers, a bank). Another participant's
resource answers 404 (as if it did not exist); a role that may not use an endpoint, 403.
Every refusal is logged in the access log; every operator change is in the audit trail.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient

from corridor.api import close_app, create_app
from corridor.api.keys import ApiKeyStore
from corridor.audit.log import init_log
from corridor.switch.directory import liquidity_account_id
from corridor.switch.service import Switch
from tests.api.conftest import (
    ACQUIRER,
    ACQUIRER_2,
    BANK,
    CUSTOMER,
    MERCHANT,
    PARTICIPANT_KEYS,
    PROVIDER,
    ROLE_KEYS,
    WALLET,
    WALLET_KR,
    Api,
    build_corridor,
)

OP, CO, AU = "operator", "compliance", "auditor"
ALLOWED: Final = 0
"""Expected status meaning: let through the permission checks (not 401/403/404, not 5xx)."""
EVERYONE: Final = (*ROLE_KEYS, *PARTICIPANT_KEYS)
_ids = itertools.count(1)


def fresh(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


@pytest.fixture(scope="module")
def matrix_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One corridor for the whole matrix, with a committed payment P and a refund of it."""
    db: Path = tmp_path_factory.mktemp("matrix") / "corridor.db"
    init_log(db)
    switch = Switch.open(db, compliance=False)
    build_corridor(switch)
    keys: dict[str, str] = {}
    with ApiKeyStore.open(db) as store:
        for role in ROLE_KEYS:
            keys[role] = store.create(role).secret
        for participant in PARTICIPANT_KEYS:
            keys[participant] = store.create("participant", participant_id=participant).secret
    client = TestClient(create_app(switch), raise_server_exceptions=False)
    client.__enter__()
    api = Api(client, switch, db, keys)
    assert api.pay("P").status_code == 200
    refund = api.post(ACQUIRER, "/v1/payments/P/refunds", {"refund_id": "R", "amount": _yen(100)})
    assert refund.status_code == 200, refund.text
    assert api.post(OP, "/v1/audit/checkpoints").status_code == 200
    yield api
    client.__exit__(None, None, None)
    close_app(client.app)  # type: ignore[arg-type]
    switch.close()


def _yen(amount: int) -> dict[str, str]:
    return {"amount": str(amount), "currency": "JPY"}


def expected(default: int, **overrides: int) -> dict[str, int]:
    """Status per key: `default`, except the keys named (by variable name below)."""
    names = {
        "op": OP,
        "co": CO,
        "au": AU,
        "wallet": WALLET,
        "wallet_kr": WALLET_KR,
        "provider": PROVIDER,
        "acquirer": ACQUIRER,
        "acquirer_2": ACQUIRER_2,
        "bank": BANK,
    }
    table = dict.fromkeys(EVERYONE, default)
    for name, status in overrides.items():
        table[names[name]] = status
    return table


Request = Callable[[Api, str], Any]


def _reserve(api: Api, who: str) -> Any:
    quote_id = api.quote()
    return api.post(
        who,
        "/v1/payments/reservations",
        {
            "payment_id": fresh("res"),
            "wallet_id": WALLET,
            "customer_id": CUSTOMER,
            "merchant_id": MERCHANT,
            "quote_id": quote_id,
        },
    )


def _pay(api: Api, who: str) -> Any:
    quote_id = api.quote()
    return api.post(
        who,
        "/v1/payments",
        {
            "payment_id": fresh("pay"),
            "wallet_id": WALLET,
            "customer_id": CUSTOMER,
            "merchant_id": MERCHANT,
            "quote_id": quote_id,
        },
    )


def _commit(api: Api, who: str) -> Any:
    reserved = _reserve(api, OP)
    assert reserved.status_code == 200, reserved.text
    return api.post(who, f"/v1/payments/{reserved.json()['payment_id']}/commit")


def _abort(api: Api, who: str) -> Any:
    reserved = _reserve(api, OP)
    assert reserved.status_code == 200, reserved.text
    return api.post(who, f"/v1/payments/{reserved.json()['payment_id']}/abort")


def _quote_as(api: Api, who: str) -> Any:
    return api.post(
        who,
        "/v1/quotes",
        {"provider_id": PROVIDER, "source_currency": "CNY", "target_amount": _yen(1000)},
    )


def _source_leg(api: Api) -> str:
    return f"{api.switch.payments.get('P').transfer_ids[0]:032x}"


def _wallet_account() -> str:
    return f"{liquidity_account_id(WALLET, 'CNY'):032x}"


FAMILIES: Final[dict[str, tuple[Request, dict[str, int]]]] = {
    "register participant": (
        lambda api, who: api.post(
            who,
            "/v1/participants",
            {
                "id": "seoul-bank",
                "kind": "bank",
                "name": "Seoul Bank",
                "country": "KR",
                "currencies": ["KRW"],
            },
        ),
        expected(403, op=200),
    ),
    "list participants": (lambda api, who: api.get(who, "/v1/participants"), expected(200)),
    "get participant": (
        lambda api, who: api.get(who, f"/v1/participants/{WALLET}"),
        expected(404, op=200, co=200, au=200, wallet=200),
    ),
    "liquidity": (
        lambda api, who: api.get(who, f"/v1/participants/{WALLET}/liquidity"),
        expected(404, op=200, co=403, au=200, wallet=200),
    ),
    "deposit": (
        lambda api, who: api.post(
            who,
            f"/v1/participants/{WALLET}/deposits",
            {"amount": {"amount": "1.00", "currency": "CNY"}, "reference": "matrix-deposit"},
        ),
        expected(403, op=200),
    ),
    "withdrawal": (
        lambda api, who: api.post(
            who,
            f"/v1/participants/{WALLET}/withdrawals",
            {"amount": {"amount": "1.00", "currency": "CNY"}, "reference": "matrix-withdrawal"},
        ),
        expected(403, op=200),
    ),
    "register customer": (
        lambda api, who: api.post(
            who,
            "/v1/customers",
            {
                "wallet_id": WALLET,
                "customer_id": "c-li",
                "name_native": "李雷",
                "name_romanized": "Li Lei",
                "country": "CN",
                "date_of_birth": "1992-07-07",
                "kyc_tier": "T2",
            },
        ),
        expected(404, op=200, co=403, au=403, wallet=200),
    ),
    "get customer": (
        lambda api, who: api.get(who, f"/v1/customers/{WALLET}/{CUSTOMER}"),
        expected(404, op=200, co=200, au=403, wallet=200),
    ),
    "register merchant": (
        lambda api, who: api.post(
            who,
            "/v1/merchants",
            {
                "merchant_id": "m-gion-sweets",
                "acquirer_id": ACQUIRER,
                "name": "Gion Sweets",
                "mcc": "5441",
                "city": "Kyoto",
                "region": "JP-26",
                "currency": "JPY",
            },
        ),
        expected(404, op=200, co=403, au=403, acquirer=200),
    ),
    "get merchant": (
        lambda api, who: api.get(who, f"/v1/merchants/{MERCHANT}"),
        expected(404, op=200, co=200, au=403, acquirer=200),
    ),
    "merchant qr": (
        lambda api, who: api.get(who, f"/v1/merchants/{MERCHANT}/qr", params={"amount": "500"}),
        expected(404, op=200, co=403, au=403, acquirer=200),
    ),
    "scan qr": (
        lambda api, who: api.post(
            who,
            "/v1/qr/scan",
            {"payload": api.get(OP, f"/v1/merchants/{MERCHANT}/qr").json()["payload"]},
        ),
        expected(200, co=403, au=403),
    ),
    "set fx pricing": (
        lambda api, who: api.post(
            who,
            "/v1/fx-pricing",
            api.get(OP, f"/v1/fx-pricing/{PROVIDER}").json(),
        ),
        expected(403, op=200),
    ),
    "get fx pricing": (
        lambda api, who: api.get(who, f"/v1/fx-pricing/{PROVIDER}"),
        expected(404, op=200, co=403, au=200, provider=200),
    ),
    "ask for a quote": (_quote_as, expected(403, op=200, wallet=200, wallet_kr=200)),
    "get a quote": (
        lambda api, who: api.get(who, f"/v1/quotes/{api.quote(WALLET)}"),
        expected(404, op=200, co=403, au=403, wallet=200),
    ),
    "pay": (_pay, expected(403, op=200, wallet=200)),
    "reserve": (_reserve, expected(403, op=200, wallet=200)),
    "commit": (
        _commit,
        expected(404, op=200, co=403, au=403, wallet=200, provider=403, acquirer=403),
    ),
    "abort": (
        _abort,
        expected(404, op=200, co=403, au=403, wallet=200, provider=403, acquirer=403),
    ),
    "get payment": (
        lambda api, who: api.get(who, "/v1/payments/P"),
        expected(404, op=200, co=200, au=200, wallet=200, provider=200, acquirer=200),
    ),
    "list payments": (lambda api, who: api.get(who, "/v1/payments"), expected(200)),
    "refund": (
        lambda api, who: api.post(
            who, "/v1/payments/P/refunds", {"refund_id": fresh("r"), "amount": _yen(1)}
        ),
        expected(404, op=200, co=403, au=403, wallet=403, provider=403, acquirer=200),
    ),
    "get refund": (
        lambda api, who: api.get(who, "/v1/refunds/R"),
        expected(404, op=200, co=200, au=200, wallet=200, provider=200, acquirer=200),
    ),
    "refunds of a payment": (
        lambda api, who: api.get(who, "/v1/payments/P/refunds"),
        expected(404, op=200, co=200, au=200, wallet=200, provider=200, acquirer=200),
    ),
    "settlement windows": (
        lambda api, who: api.get(who, "/v1/settlement/windows"),
        expected(200),
    ),
    "settlement report csv": (
        lambda api, who: api.get(who, "/v1/settlement/windows/open", params={"format": "csv"}),
        expected(200),
    ),
    "close window": (
        lambda api, who: api.post(who, "/v1/settlement/windows/close"),
        expected(403, op=200),
    ),
    "settle window": (
        lambda api, who: api.post(who, "/v1/settlement/windows/1/settle"),
        expected(403, op=ALLOWED),
    ),
    "latest checkpoint": (lambda api, who: api.get(who, "/v1/audit/checkpoint"), expected(200)),
    "sign checkpoint": (
        lambda api, who: api.post(who, "/v1/audit/checkpoints"),
        expected(403, op=200),
    ),
    "submit cosignature": (
        lambda api, who: api.post(who, "/v1/audit/cosignatures", {"note": "not a note"}),
        expected(ALLOWED, co=403),
    ),
    "payment receipts": (
        lambda api, who: api.get(who, "/v1/payments/P/receipts"),
        expected(404, op=200, co=200, au=200, wallet=200, provider=200, acquirer=200),
    ),
    "ledger account": (
        lambda api, who: api.get(who, f"/v1/ledger/accounts/{_wallet_account()}"),
        expected(404, op=200, co=403, au=200, wallet=200),
    ),
    "ledger account transfers": (
        lambda api, who: api.get(who, f"/v1/ledger/accounts/{_wallet_account()}/transfers"),
        expected(404, op=200, co=403, au=200, wallet=200),
    ),
    "ledger transfer": (
        lambda api, who: api.get(who, f"/v1/ledger/transfers/{_source_leg(api)}"),
        expected(404, op=200, co=403, au=200, wallet=200, provider=200),
    ),
    "api keys": (lambda api, who: api.get(who, "/v1/api-keys"), expected(403, op=200)),
    "compliance alerts": (
        lambda api, who: api.get(who, "/v1/compliance/alerts"),
        # Compliance is off in this corridor: the roles that may read get 503.
        expected(403, op=503, co=503, au=503),
    ),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_key_gets_what_its_role_allows(matrix_api: Api, family: str) -> None:
    request, statuses = FAMILIES[family]
    got = {who: request(matrix_api, who) for who in EVERYONE}
    wrong = {
        who: (response.status_code, response.text[:200])
        for who, response in got.items()
        if not _as_expected(response.status_code, statuses[who])
    }
    assert not wrong, f"{family}: expected {statuses}, wrong: {wrong}"
    for who, response in got.items():
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == response.status_code, who


def _as_expected(status: int, wanted: int) -> bool:
    if wanted == ALLOWED:
        return status < 500 and status not in (401, 403, 404)
    return status == wanted


def test_a_participant_lists_only_itself(matrix_api: Api) -> None:
    listed = matrix_api.get(WALLET_KR, "/v1/participants").json()
    assert [p["id"] for p in listed] == [WALLET_KR]


def test_a_participant_lists_only_the_payments_it_takes_part_in(matrix_api: Api) -> None:
    for who in (WALLET, ACQUIRER, PROVIDER):
        ids = {p["payment_id"] for p in matrix_api.get(who, "/v1/payments").json()["payments"]}
        assert "P" in ids, who
    for who in (WALLET_KR, ACQUIRER_2, BANK):
        ids = {p["payment_id"] for p in matrix_api.get(who, "/v1/payments").json()["payments"]}
        assert "P" not in ids, who


def test_a_participant_sees_only_its_own_settlement_positions(matrix_api: Api) -> None:
    report = matrix_api.get(WALLET, "/v1/settlement/windows/open").json()
    assert {p["participant_id"] for p in report["positions"]} <= {WALLET}
    everyone = matrix_api.get(OP, "/v1/settlement/windows/open").json()
    assert len({p["participant_id"] for p in everyone["positions"]}) >= 1


def test_a_wallet_cannot_pay_with_another_wallets_quote(matrix_api: Api) -> None:
    quote_id = matrix_api.quote(WALLET)
    response = matrix_api.post(
        WALLET_KR,
        "/v1/payments",
        {
            "payment_id": fresh("steal"),
            "wallet_id": WALLET_KR,
            "customer_id": "c-kim",
            "merchant_id": MERCHANT,
            "quote_id": quote_id,
        },
    )
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_quote"


def test_refusals_are_in_the_access_log(matrix_api: Api) -> None:
    before = _count(matrix_api.db, "api_access_log")
    assert matrix_api.get(WALLET_KR, "/v1/payments/P").status_code == 404
    assert matrix_api.get(AU, "/v1/api-keys").status_code == 403
    assert matrix_api.client.get("/v1/payments/P").status_code == 401
    rows = _rows(matrix_api.db, "SELECT status, code, path FROM api_access_log ORDER BY id")
    assert _count(matrix_api.db, "api_access_log") == before + 3
    assert rows[-3:] == [
        (404, "unknown_payment", "/v1/payments/P"),
        (403, "forbidden", "/v1/api-keys"),
        (401, "unauthenticated", "/v1/payments/P"),
    ]


def test_operator_changes_are_in_the_audit_trail(matrix_api: Api) -> None:
    response = matrix_api.post(
        OP,
        f"/v1/participants/{WALLET}/deposits",
        {"amount": {"amount": "2.00", "currency": "CNY"}, "reference": "trail-deposit"},
        headers={"idempotency-key": "trail-1"},
    )
    assert response.status_code == 200
    refused = matrix_api.post(OP, "/v1/settlement/windows/99/settle")
    assert refused.status_code == 404
    rows = _rows(
        matrix_api.db,
        "SELECT method, path, idempotency_key, status, code FROM api_audit_trail ORDER BY id",
    )
    assert ("POST", f"/v1/participants/{WALLET}/deposits", "trail-1", 200, None) in rows
    assert ("POST", "/v1/settlement/windows/99/settle", None, 404, "unknown_window") in rows


def test_participant_changes_are_not_in_the_operator_trail(matrix_api: Api) -> None:
    before = _count(matrix_api.db, "api_audit_trail")
    assert _pay(matrix_api, WALLET).status_code == 200
    assert _count(matrix_api.db, "api_audit_trail") == before


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return list(connection.execute(sql).fetchall())


def _count(db: Path, table: str) -> int:
    return int(_rows(db, f"SELECT count(*) FROM {table}")[0][0])
