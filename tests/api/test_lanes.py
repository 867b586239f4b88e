"""The hot routes' lanes answer exactly as FastAPI's routes do.

`POST /v1/quotes` and `POST /v1/payments` run in the middleware (`corridor.api.middleware`,
Lane). Each case here goes to two identical corridors, one served with lanes and one
without, and the answers must match: status, headers that matter, and the body, once the
values that differ by nature (quote ids, times) are set aside.
"""

from __future__ import annotations

from typing import Any

import pytest

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

_VARYING = {
    "quote_id",
    "expires_at",
    "created_at",
    "updated_at",
    "created_ns",
    "updated_ns",
    "expires_ns",
}


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VARYING}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _answer(response: Any) -> tuple[int, str, Any]:
    body = response.json() if response.content else None
    return response.status_code, response.headers.get("content-type", ""), _stable(body)


@pytest.fixture
def pair(make_api: MakeApi) -> tuple[Api, Api]:
    return make_api(name="lanes.db"), make_api(name="plain.db", lanes=False)


QUOTE = {
    "provider_id": PROVIDER,
    "source_currency": "CNY",
    "target_amount": {"amount": "1200", "currency": "JPY"},
}


@pytest.mark.parametrize(
    ("who", "body"),
    [
        (WALLET, QUOTE),
        (WALLET, {**QUOTE, "provider_id": "nobody"}),
        (WALLET, {**QUOTE, "target_amount": {"amount": "-5", "currency": "JPY"}}),
        (WALLET, {**QUOTE, "target_amount": {"amount": "1.5", "currency": "JPY"}}),
        (WALLET, {**QUOTE, "source_amount": {"amount": "10", "currency": "CNY"}}),
        (WALLET, {**QUOTE, "extra": 1}),
        (WALLET, {"provider_id": PROVIDER}),
        (WALLET, [1, 2]),
        (ACQUIRER, QUOTE),
        ("auditor", QUOTE),
        ("operator", QUOTE),
    ],
)
def test_quotes_answer_alike(pair: tuple[Api, Api], who: str, body: Any) -> None:
    with_lanes, plain = pair
    first = with_lanes.post(who, "/v1/quotes", body)
    second = plain.post(who, "/v1/quotes", body)
    assert _answer(first) == _answer(second)


def _pay_body(api: Api, **changes: str) -> dict[str, str]:
    body = {
        "payment_id": "p-1",
        "wallet_id": WALLET,
        "customer_id": CUSTOMER,
        "merchant_id": MERCHANT,
        "quote_id": api.quote(),
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("who", "changes"),
    [
        (WALLET, {}),
        (WALLET, {"merchant_id": "m-nowhere"}),
        (WALLET, {"customer_id": "c-nobody"}),
        (WALLET, {"quote_id": "q-unknown"}),
        (WALLET, {"payment_id": ""}),
        (WALLET_KR, {}),  # another wallet's quote and customer: refused
        (ACQUIRER, {}),
    ],
)
def test_payments_answer_alike(pair: tuple[Api, Api], who: str, changes: dict[str, str]) -> None:
    answers = []
    for api in pair:
        body = _pay_body(api, **changes)
        answers.append(_answer(api.post(who, "/v1/payments", body)))
    assert answers[0] == answers[1]


def test_a_used_quote_and_a_replay_answer_alike(pair: tuple[Api, Api]) -> None:
    answers = []
    for api in pair:
        body = _pay_body(api)
        key = {"idempotency-key": "k-1"}
        first = api.post(WALLET, "/v1/payments", body, headers=key)
        replay = api.post(WALLET, "/v1/payments", body, headers=key)
        assert replay.headers.get("idempotent-replayed") == "true"
        assert replay.content == first.content
        again = api.post(WALLET, "/v1/payments", {**body, "payment_id": "p-2"})
        answers.append((_answer(first), _answer(again)))
    assert answers[0] == answers[1]
    assert answers[0][0][0] == 200 and answers[0][1][2]["code"] == "quote_used"


def test_lane_requests_are_counted_under_their_route(pair: tuple[Api, Api]) -> None:
    with_lanes, _ = pair
    with_lanes.post(WALLET, "/v1/quotes", QUOTE)
    metrics = with_lanes.get("operator", "/metrics").text
    line = 'corridor_http_requests_total{method="POST",route="/v1/quotes",status="200"} 1'
    assert line in metrics
