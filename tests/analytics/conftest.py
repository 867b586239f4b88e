"""Fixtures of the analytics tests: a simulated database to report on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.sim.fixtures import make_data_dir, run


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, Any]:
    """One run shared by the tests that only read it: (database, report)."""
    db = tmp_path_factory.mktemp("sim") / "sim.db"
    return db, run(db, data_dir, seed=11, tourists=160, days=4)
