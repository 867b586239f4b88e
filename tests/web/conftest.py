"""Fixtures of the dashboard tests: one small simulated corridor, copied per server.

The corridor is simulated once per session (through the real switch, compliance and audit
log, from the small reference data of tests/sim/fixtures.py, so ../shared/data is not
needed); each server gets its own copy of the database file and its log key, because a
served database has exactly one writer.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import pytest
from fastapi.testclient import TestClient

from corridor.api import create_app
from corridor.api.keys import ApiKeyStore
from corridor.switch.service import Switch
from corridor.web.routes import router as dashboard_router
from tests.sim.fixtures import make_data_dir, run

SEED: Final = 5
TOURISTS: Final = 40
DAYS: Final = 2


@dataclass(frozen=True)
class Keys:
    operator: str
    compliance: str
    auditor: str
    participant: str
    participant_id: str
    other_participant: str
    other_participant_id: str


@pytest.fixture(scope="session")
def simulated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated corridor (a few hundred payments, alerts, cases, holds, windows)."""
    data = make_data_dir(tmp_path_factory.mktemp("web-data"))
    db = tmp_path_factory.mktemp("web-sim") / "corridor.db"
    run(db, data, seed=SEED, tourists=TOURISTS, days=DAYS)
    return db


def copy_db(source: Path, folder: Path) -> Path:
    """The database and the files beside it (log key), in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    for suffix in ("", "-wal", ".key"):
        found = Path(f"{source}{suffix}")
        if found.exists():
            shutil.copy2(found, Path(f"{target}{suffix}"))
    return target


def scalar(db: Path, sql: str, params: tuple[object, ...] = ()) -> object:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        row = connection.execute(sql, params).fetchone()
    return None if row is None else row[0]


def rows(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return connection.execute(sql, params).fetchall()


def make_keys(db: Path) -> Keys:
    wallets = [
        str(r[0]) for r in rows(db, "SELECT id FROM participants WHERE kind = 'wallet' ORDER BY id")
    ]
    assert len(wallets) >= 2, wallets
    with ApiKeyStore.open(db) as store:

        def key(role: str, participant: str | None = None) -> str:
            return store.create(
                role, participant_id=participant, label="test", created_by="test"
            ).secret

        return Keys(
            operator=key("operator"),
            compliance=key("compliance"),
            auditor=key("auditor"),
            participant=key("participant", wallets[0]),
            participant_id=wallets[0],
            other_participant=key("participant", wallets[1]),
            other_participant_id=wallets[1],
        )


@dataclass(frozen=True)
class Served:
    client: TestClient
    db: Path
    keys: Keys

    def get(self, path: str, key: str | None) -> httpx.Response:
        return self.client.get(path, headers=auth(key))

    def post(self, path: str, key: str | None, body: object) -> httpx.Response:
        return self.client.post(path, headers=auth(key), json=body)


def auth(key: str | None) -> dict[str, str]:
    return {} if key is None else {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def served(simulated_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The API with the dashboard's router, in process, over a copy of the corridor."""
    db = copy_db(simulated_db, tmp_path_factory.mktemp("web-served"))
    keys = make_keys(db)
    with Switch.open(db) as switch:
        app = create_app(switch, extra_routers=(dashboard_router,))
        with TestClient(app) as client:
            yield Served(client, db, keys)
