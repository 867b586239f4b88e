"""Schemathesis against /openapi.json: generated requests never get a 5xx, and every
response conforms to the schema (status, content type, body, headers).

Bounded for `make test` (a few examples per operation, two keys); the `slow` run tries many
more. Runs in-process over ASGI against a corridor with compliance on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from corridor.api import close_app, create_app
from corridor.api.keys import ApiKeyStore
from corridor.api.ratelimit import RateLimits
from corridor.audit.log import init_log
from corridor.switch.service import Switch
from tests.api.conftest import WALLET, build_corridor

CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES_FAST: Final = 8
EXAMPLES_SLOW: Final = 200


class _Corridor:
    def __init__(self, db: Path) -> None:
        init_log(db)
        self.switch = Switch.open(db, compliance=True)
        build_corridor(self.switch)
        with ApiKeyStore.open(db) as store:
            self.operator = store.create("operator").secret
            self.wallet = store.create("participant", participant_id=WALLET).secret
        limits = RateLimits(rate_per_s=1e6, burst=1_000_000)
        self.app: FastAPI = create_app(self.switch, rate_limits=limits)
        self.client = TestClient(self.app)
        self.client.__enter__()

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        close_app(self.app)
        self.switch.close()


@pytest.fixture(scope="module")
def corridor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Corridor]:
    made = _Corridor(tmp_path_factory.mktemp("schemathesis") / "corridor.db")
    yield made
    made.close()


def _run(corridor: _Corridor, key: str, examples: int) -> None:
    """Every operation, `examples` generated cases each; all failures reported together."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", corridor.app)
    headers = {"Authorization": f"Bearer {key}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except Exception as error:  # report every operation's failure, not just the first
            failures.append(f"{operation.label}: {error}"[:2000])
    assert operations > 40
    assert not failures, "\n\n".join(failures)


def test_operator_requests_get_no_5xx_and_conforming_answers(corridor: _Corridor) -> None:
    _run(corridor, corridor.operator, EXAMPLES_FAST)


def test_wallet_requests_get_no_5xx_and_conforming_answers(corridor: _Corridor) -> None:
    _run(corridor, corridor.wallet, EXAMPLES_FAST)


@pytest.mark.slow
def test_operator_requests_at_length(corridor: _Corridor) -> None:
    _run(corridor, corridor.operator, EXAMPLES_SLOW)
