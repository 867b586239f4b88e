"""Idempotency-Key: the same key and body get the same answer; nothing happens twice.

Retries are sent one after another, concurrently (threads racing on one key), and after the
server restarts (the stored response is read back from the database).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from corridor.switch.money import Money
from tests.api.conftest import CUSTOMER, MERCHANT, WALLET, Api, MakeApi


def _body(api: Api, payment_id: str) -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "wallet_id": WALLET,
        "customer_id": CUSTOMER,
        "merchant_id": MERCHANT,
        "quote_id": api.quote(),
    }


def _wallet_posted(api: Api) -> Money:
    return api.switch.liquidity.balance(WALLET, "CNY").posted


def test_a_retry_gets_the_stored_response_and_changes_nothing(api: Api) -> None:
    body = _body(api, "p-retry")
    first = api.post(WALLET, "/v1/payments", body, headers={"idempotency-key": "k-1"})
    balance = _wallet_posted(api)
    again = api.post(WALLET, "/v1/payments", body, headers={"idempotency-key": "k-1"})
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _wallet_posted(api) == balance


def test_the_same_key_with_another_body_is_modified_request(api: Api) -> None:
    body = _body(api, "p-mod")
    assert api.post(WALLET, "/v1/payments", body, headers={"idempotency-key": "k-2"}).is_success
    other = {**body, "payment_id": "p-mod-2"}
    response = api.post(WALLET, "/v1/payments", other, headers={"idempotency-key": "k-2"})
    assert response.status_code == 409
    assert response.json()["code"] == "modified_request"
    assert api.get("operator", "/v1/payments/p-mod-2").status_code == 404


def test_the_same_key_on_another_endpoint_is_modified_request(api: Api) -> None:
    quote = {
        "provider_id": "fx-tokyo",
        "source_currency": "CNY",
        "target_amount": {"amount": "100", "currency": "JPY"},
    }
    assert api.post(WALLET, "/v1/quotes", quote, headers={"idempotency-key": "k-3"}).is_success
    response = api.post(
        WALLET, "/v1/payments", _body(api, "p-x"), headers={"idempotency-key": "k-3"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "modified_request"


def test_key_order_and_spacing_of_the_json_body_do_not_matter(api: Api) -> None:
    body = _body(api, "p-order")
    first = api.post(WALLET, "/v1/payments", body, headers={"idempotency-key": "k-4"})
    reordered = "{" + ", ".join(f'"{k}": "{v}"' for k, v in reversed(body.items())) + "}"
    again = api.client.post(
        "/v1/payments",
        content=reordered.encode(),
        headers=api.headers(
            WALLET, **{"idempotency-key": "k-4", "content-type": "application/json"}
        ),
    )
    assert again.status_code == 200
    assert again.content == first.content


def test_keys_are_scoped_to_the_api_key(api: Api) -> None:
    mine = api.post(WALLET, "/v1/payments", _body(api, "p-a"), headers={"idempotency-key": "k-5"})
    quote_kr = api.quote("kakao-kr", source="KRW")
    theirs = api.post(
        "kakao-kr",
        "/v1/payments",
        {
            "payment_id": "p-b",
            "wallet_id": "kakao-kr",
            "customer_id": "c-kim",
            "merchant_id": MERCHANT,
            "quote_id": quote_kr,
        },
        headers={"idempotency-key": "k-5"},
    )
    assert mine.status_code == theirs.status_code == 200
    assert theirs.json()["payment_id"] == "p-b"


def test_refusals_are_replayed_too(api: Api) -> None:
    body = {**_body(api, "p-refused"), "merchant_id": "m-nowhere"}
    first = api.post(WALLET, "/v1/payments", body, headers={"idempotency-key": "k-6"})
    again = api.post(WALLET, "/v1/payments", body, headers={"idempotency-key": "k-6"})
    assert first.status_code == again.status_code == 404
    assert first.json()["code"] == "unknown_merchant"
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"


def test_a_malformed_idempotency_key_is_refused(api: Api) -> None:
    response = api.post(
        WALLET, "/v1/payments", _body(api, "p-k"), headers={"idempotency-key": "has space"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert api.get("operator", "/v1/payments/p-k").status_code == 404


def test_concurrent_retries_pay_once_and_all_get_the_same_answer(api: Api) -> None:
    body = _body(api, "p-race")
    balance = _wallet_posted(api)

    def send(_: int) -> tuple[int, bytes]:
        response = api.post(WALLET, "/v1/payments", body, headers={"idempotency-key": "k-race"})
        return response.status_code, response.content

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, range(24)))
    assert {status for status, _ in answers} == {200}
    assert len({content for _, content in answers}) == 1
    assert api.client.app.state.ctx.metrics.replays.value() == 23  # type: ignore[attr-defined]
    payment = api.switch.payments.get("p-race")
    assert balance - _wallet_posted(api) == payment.debit_total


def test_concurrent_retries_with_different_bodies_run_one_of_them(api: Api) -> None:
    bodies = [_body(api, f"p-rival-{n}") for n in range(6)]

    def send(n: int) -> int:
        response = api.post(
            WALLET, "/v1/payments", bodies[n % 6], headers={"idempotency-key": "k-rivals"}
        )
        assert response.status_code in (200, 409), response.text
        return int(response.status_code)

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(send, range(24)))
    assert 200 in statuses and 409 in statuses
    paid = [
        n for n in range(6) if api.get("operator", f"/v1/payments/p-rival-{n}").status_code == 200
    ]
    assert len(paid) == 1


def test_a_stored_response_survives_a_restart(make_api: MakeApi) -> None:
    api = make_api()
    body = _body(api, "p-restart")
    first = api.post(WALLET, "/v1/payments", body, headers={"idempotency-key": "k-restart"})
    assert first.status_code == 200
    keys = api.keys
    api.close()
    again_api = make_api(fresh=False)
    again_api.keys.update(keys)
    again = again_api.post(WALLET, "/v1/payments", body, headers={"idempotency-key": "k-restart"})
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    changed = again_api.post(
        WALLET,
        "/v1/payments",
        {**body, "payment_id": "p-other"},
        headers={"idempotency-key": "k-restart"},
    )
    assert changed.status_code == 409


def test_a_post_without_a_key_is_still_safe_to_retry_by_payment_id(api: Api) -> None:
    body = _body(api, "p-nokey")
    first = api.post(WALLET, "/v1/payments", body)
    balance = _wallet_posted(api)
    again = api.post(WALLET, "/v1/payments", body)
    assert first.status_code == again.status_code == 200
    assert again.json()["payment_id"] == first.json()["payment_id"]
    assert _wallet_posted(api) == balance
