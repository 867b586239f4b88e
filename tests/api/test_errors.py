"""Bad input gets a problem+json answer with a stable code, changes nothing, and is never 5xx."""

from __future__ import annotations

from typing import Any

import pytest

from corridor.api.context import BODY_BYTES_MAX
from corridor.api.ratelimit import RateLimits
from tests.api.conftest import CUSTOMER, MERCHANT, WALLET, Api, MakeApi


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"] == f"urn:corridor:problem:{code}"
    assert "Traceback" not in response.text
    return body


def _payments(api: Api) -> int:
    return len(api.get("operator", "/v1/payments").json()["payments"])


def test_malformed_json_is_malformed_json(api: Api) -> None:
    response = api.client.post(
        "/v1/payments",
        content=b'{"payment_id": "p-1",',
        headers=api.headers(WALLET, **{"content-type": "application/json"}),
    )
    _problem(response, 400, "malformed_json")
    assert _payments(api) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        "a string",
        {
            "payment_id": 17,
            "wallet_id": WALLET,
            "customer_id": CUSTOMER,
            "merchant_id": MERCHANT,
            "quote_id": "q",
        },
        {"payment_id": "p", "wallet_id": WALLET, "customer_id": CUSTOMER, "merchant_id": MERCHANT},
        {
            "payment_id": "p",
            "wallet_id": WALLET,
            "customer_id": CUSTOMER,
            "merchant_id": MERCHANT,
            "quote_id": "q",
            "extra": 1,
        },
        {
            "payment_id": "",
            "wallet_id": WALLET,
            "customer_id": CUSTOMER,
            "merchant_id": MERCHANT,
            "quote_id": "q",
        },
        {
            "payment_id": "p",
            "wallet_id": WALLET,
            "customer_id": None,
            "merchant_id": MERCHANT,
            "quote_id": "q",
        },
    ],
)
def test_wrong_shapes_and_types_are_invalid_request(api: Api, body: Any) -> None:
    problem = _problem(api.post(WALLET, "/v1/payments", body), 400, "invalid_request")
    assert problem["errors"], problem
    assert _payments(api) == 0


def test_an_amount_that_would_round_is_refused(api: Api) -> None:
    response = api.post(
        "operator",
        f"/v1/participants/{WALLET}/deposits",
        {"amount": {"amount": "1.001", "currency": "CNY"}, "reference": "r-1"},
    )
    _problem(response, 400, "too_many_decimals")


def test_an_unknown_currency_is_refused(api: Api) -> None:
    response = api.post(
        WALLET,
        "/v1/quotes",
        {
            "provider_id": "fx-tokyo",
            "source_currency": "CNY",
            "target_amount": {"amount": "1", "currency": "XYZ"},
        },
    )
    _problem(response, 400, "unknown_currency")


def test_an_oversized_body_is_payload_too_large(api: Api) -> None:
    huge = b'{"payload": "' + b"x" * BODY_BYTES_MAX + b'"}'
    response = api.client.post(
        "/v1/qr/scan",
        content=huge,
        headers=api.headers(WALLET, **{"content-type": "application/json"}),
    )
    _problem(response, 413, "payload_too_large")


def test_a_body_that_is_not_json_is_unsupported_media_type(api: Api) -> None:
    response = api.client.post(
        "/v1/qr/scan",
        content=b"payload=abc",
        headers=api.headers(WALLET, **{"content-type": "application/x-www-form-urlencoded"}),
    )
    _problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/v1/payments/p-missing", "unknown_payment"),
        ("/v1/participants/nobody-here", "unknown_participant"),
        ("/v1/merchants/m-missing", "unknown_merchant"),
        (f"/v1/customers/{WALLET}/c-missing", "unknown_customer"),
        ("/v1/refunds/r-missing", "unknown_refund"),
        ("/v1/quotes/quote-999999", "unknown_quote"),
        ("/v1/settlement/windows/999", "unknown_window"),
        ("/v1/fx-pricing/nobody-here", "unknown_fx_provider"),
        ("/v1/ledger/transfers/" + "ab" * 16, "unknown_transfer"),
        ("/v1/ledger/accounts/" + "ab" * 16, "unknown_account"),
        ("/v1/nothing/here", "not_found"),
    ],
)
def test_unknown_things_are_404_with_their_code(api: Api, path: str, code: str) -> None:
    _problem(api.get("operator", path), 404, code)


def test_a_malformed_ledger_id_is_invalid_id(api: Api) -> None:
    _problem(api.get("operator", "/v1/ledger/transfers/not-hex"), 400, "invalid_id")


def test_a_wrong_method_is_method_not_allowed(api: Api) -> None:
    response = api.client.delete("/v1/payments/p-1", headers=api.headers("operator"))
    _problem(response, 405, "method_not_allowed")


def test_a_list_limit_beyond_the_maximum_is_refused(api: Api) -> None:
    _problem(api.get("operator", "/v1/payments", params={"limit": 100_000}), 400, "invalid_request")


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer nope", "Basic abc", "Bearer ck_000000000000_" + "A" * 43],
)
def test_requests_without_an_active_key_are_unauthenticated(
    api: Api, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    response = api.client.get("/v1/payments", headers=headers)
    _problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_revoked_key_is_refused_at_once(api: Api) -> None:
    created = api.post("operator", "/v1/api-keys", {"role": "auditor", "label": "temp"}).json()
    secret, key_id = created["secret"], created["key"]["key_id"]
    assert api.client.get("/v1/payments", headers={"authorization": f"Bearer {secret}"}).is_success
    revoked = api.post("operator", f"/v1/api-keys/{key_id}/revoke")
    assert revoked.json()["active"] is False
    response = api.client.get("/v1/payments", headers={"authorization": f"Bearer {secret}"})
    _problem(response, 401, "unauthenticated")


def test_the_rate_limit_answers_429_with_retry_after(make_api: MakeApi) -> None:
    api = make_api(rate_limits=RateLimits(rate_per_s=1.0, burst=3))
    statuses = [api.get("auditor", "/v1/payments").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    response = api.get("auditor", "/v1/payments")
    _problem(response, 429, "rate_limited")
    assert int(response.headers["retry-after"]) >= 1
    # Another key has its own bucket.
    assert api.get("operator", "/v1/payments").status_code == 200


def test_refused_payments_name_the_switch_code(api: Api) -> None:
    quote_id = api.quote()
    body = {
        "payment_id": "p-short",
        "wallet_id": WALLET,
        "customer_id": "c-nobody",
        "merchant_id": MERCHANT,
        "quote_id": quote_id,
    }
    _problem(api.post(WALLET, "/v1/payments", body), 404, "unknown_customer")
    used = {**body, "customer_id": CUSTOMER, "payment_id": "p-used-1"}
    assert api.post(WALLET, "/v1/payments", used).status_code == 200
    _problem(
        api.post(WALLET, "/v1/payments", {**used, "payment_id": "p-used-2"}), 409, "quote_used"
    )
    _problem(
        api.post(WALLET, "/v1/payments", {**used, "merchant_id": "m-osaka-ramen"}),
        409,
        "modified_request",
    )


def test_insufficient_liquidity_is_422_and_moves_nothing(api: Api) -> None:
    before = api.get("operator", f"/v1/participants/{WALLET}/liquidity").json()
    quote = api.post(
        WALLET,
        "/v1/quotes",
        {
            "provider_id": "fx-tokyo",
            "source_currency": "CNY",
            "target_amount": {"amount": "90000000", "currency": "JPY"},
        },
    ).json()
    body = {
        "payment_id": "p-big",
        "wallet_id": WALLET,
        "customer_id": CUSTOMER,
        "merchant_id": MERCHANT,
        "quote_id": quote["quote_id"],
    }
    _problem(api.post(WALLET, "/v1/payments", body), 422, "insufficient_liquidity")
    after = api.get("operator", f"/v1/participants/{WALLET}/liquidity").json()
    assert after == before


def test_errors_from_services_keep_their_codes_in_problem_documents(api: Api) -> None:
    response = api.post(
        "operator",
        "/v1/participants",
        {"id": "X", "kind": "bank", "name": "x", "country": "JP", "currencies": ["JPY"]},
    )
    _problem(response, 400, "invalid_participant")
