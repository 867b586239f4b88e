"""/v1/compliance with compliance inline: screening, alerts and cases over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from corridor.formats.sanctions import SanctionsEntry, SanctionsList, SourceFile
from tests.api.conftest import MERCHANT, PROVIDER, WALLET, WALLET_KR, Api, MakeApi

LISTED = SanctionsEntry(
    list="test",
    entity_id="KP-001",
    kind="individual",
    name="KIM, Yong Chol",
    dates_of_birth=("1946",),
    countries=("KP",),
)


@pytest.fixture
def compliance_api(make_api: MakeApi) -> Api:
    api = make_api(compliance=True)
    gate = api.switch.compliance
    assert gate is not None
    source = SourceFile("test.csv", "00" * 32, 1)
    gate.sanctions.load([SanctionsList("test", "v1", (source,), (LISTED,))])
    return api


def _pay_as_listed_customer(api: Api) -> Any:
    registered = api.post(
        WALLET_KR,
        "/v1/customers",
        {
            "wallet_id": WALLET_KR,
            "customer_id": "c-listed",
            "name_native": "김용철",
            "name_romanized": "Kim Yong Chol",
            "country": "KR",
            "date_of_birth": "1946-01-01",
            "kyc_tier": "T1",
        },
    )
    assert registered.status_code == 200, registered.text
    quote = api.post(
        WALLET_KR,
        "/v1/quotes",
        {
            "provider_id": PROVIDER,
            "source_currency": "KRW",
            "target_amount": {"amount": "5000", "currency": "JPY"},
        },
    ).json()
    return api.post(
        WALLET_KR,
        "/v1/payments",
        {
            "payment_id": "p-listed",
            "wallet_id": WALLET_KR,
            "customer_id": "c-listed",
            "merchant_id": MERCHANT,
            "quote_id": quote["quote_id"],
        },
    )


def test_screening_finds_a_listed_name(compliance_api: Api) -> None:
    response = compliance_api.post(
        "compliance", "/v1/compliance/screening", {"name": "Kim Yong Chol"}
    )
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert hits and hits[0]["entity_id"] == "KP-001"
    clean = compliance_api.post("compliance", "/v1/compliance/screening", {"name": "Sato Hanako"})
    assert clean.json()["hits"] == []
    lists = compliance_api.get("auditor", "/v1/compliance/screening/lists").json()["lists"]
    assert [item["list"] for item in lists] == ["test"]


def test_a_listed_payer_is_stopped_and_its_alerts_open_a_case(compliance_api: Api) -> None:
    api = compliance_api
    response = _pay_as_listed_customer(api)
    assert response.status_code in (409, 422), response.text
    assert response.json()["code"] in ("compliance_blocked", "payment_under_review")
    alerts = api.get("compliance", "/v1/compliance/alerts").json()["alerts"]
    assert any(a["payment_id"] == "p-listed" for a in alerts)
    cases = api.get("compliance", "/v1/compliance/cases").json()["cases"]
    assert cases
    case_id = cases[0]["case_id"]
    assigned = api.post(
        "compliance", f"/v1/compliance/cases/{case_id}/assign", {"assignee": "officer-lee"}
    )
    assert assigned.json()["assignee"] == "officer-lee"
    note = api.post("compliance", f"/v1/compliance/cases/{case_id}/notes", {"text": "on it"})
    assert note.status_code == 200
    detail = api.get("auditor", f"/v1/compliance/cases/{case_id}").json()
    for hold in detail["holds"]:
        if hold["state"] == "pending":
            refused = api.post(
                "compliance",
                f"/v1/compliance/cases/{case_id}/holds/{hold['payment_id']}/refuse",
            )
            assert refused.json()["state"] == "refused"
            assert api.get(WALLET_KR, f"/v1/payments/{hold['payment_id']}").json()["state"] in (
                "aborted",
                "expired",
            )
    closed = api.post(
        "compliance",
        f"/v1/compliance/cases/{case_id}/transition",
        {"state": "closed", "disposition": "suspicious_reported"},
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"
    again = api.post("compliance", f"/v1/compliance/cases/{case_id}/notes", {"text": "late"})
    assert again.status_code == 409
    assert again.json()["code"] == "case_closed"
    trail = api.get("compliance", f"/v1/compliance/cases/{case_id}").json()["events"]
    assert {e["actor"] for e in trail} >= {f"api:{_key_id(api, 'compliance')}"}


def test_participants_may_not_work_cases_and_auditors_only_read(compliance_api: Api) -> None:
    api = compliance_api
    for path in ("/v1/compliance/alerts", "/v1/compliance/cases"):
        assert api.get(WALLET, path).status_code == 403
        assert api.get("auditor", path).status_code == 200
    assert api.post(WALLET, "/v1/compliance/screening", {"name": "x"}).status_code == 403
    assert api.post("auditor", "/v1/compliance/screening", {"name": "x"}).status_code == 403
    assigned = api.post("auditor", "/v1/compliance/cases/1/assign", {"assignee": "me"})
    assert assigned.status_code == 403


def test_unknown_cases_and_bad_transitions_have_codes(compliance_api: Api) -> None:
    api = compliance_api
    missing = api.get("compliance", "/v1/compliance/cases/4242")
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_case"
    bad = api.post("compliance", "/v1/compliance/cases/1/transition", {"state": "sideways"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_request"


def test_a_payment_held_for_review_is_released_or_refused_from_its_case(
    compliance_api: Api,
) -> None:
    api = compliance_api
    # A customer registered today paying over USD 1,000: new_account_large holds it.
    first = api.pay("p-large-1", yen=150_000)
    second = api.pay("p-large-2", yen=160_000)
    for response in (first, second):
        assert response.status_code == 202, response.text
        assert response.json()["state"] == "reserved"
    commit = api.post(WALLET, "/v1/payments/p-large-1/commit")
    assert commit.status_code == 409
    assert commit.json()["code"] == "payment_under_review"
    (case,) = api.get("compliance", "/v1/compliance/cases", params={"state": "open"}).json()[
        "cases"
    ]
    holds = api.get("compliance", f"/v1/compliance/cases/{case['case_id']}").json()["holds"]
    assert {h["payment_id"] for h in holds} == {"p-large-1", "p-large-2"}
    base = f"/v1/compliance/cases/{case['case_id']}/holds"
    released = api.post("compliance", f"{base}/p-large-1/release")
    assert released.json()["state"] == "released"
    assert api.post("compliance", f"{base}/p-large-1/release").json()["state"] == "released"
    refused = api.post("compliance", f"{base}/p-large-2/refuse")
    assert refused.json()["state"] == "refused"
    assert api.get(WALLET, "/v1/payments/p-large-1").json()["state"] == "committed"
    assert api.get(WALLET, "/v1/payments/p-large-2").json()["state"] == "aborted"
    conflict = api.post("compliance", f"{base}/p-large-2/release")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "hold_resolved"


def test_an_ordinary_payment_goes_through_with_compliance_on(compliance_api: Api) -> None:
    response = compliance_api.pay("p-ok", yen=1500)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "committed"
    assert compliance_api.get(WALLET, "/v1/payments/p-ok").json()["state"] == "committed"


def _key_id(api: Api, who: str) -> str:
    return api.keys[who].split("_")[1]
