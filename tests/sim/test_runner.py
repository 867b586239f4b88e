"""The runner on hand-written plans: holds that lapse, captures and releases, late sign-ups."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from corridor.ledger.verify import verify
from corridor.sim.plan import DAY_S, CustomerSpec, Event, MerchantSpec, Plan, PlanSize
from corridor.sim.run import (
    SimClock,
    SimConfig,
    _fx,
    _init_audit,
    _Runner,
    _witnesses,
)
from corridor.switch.service import Switch

HOUR_S = 3_600
NS = 1_000_000_000


def plan(events: list[Event], size: PlanSize) -> Plan:
    merchant = MerchantSpec(
        "m00001", "kanto-acq", "Tokyo Homestay 1", "東京都民泊1号店", "7011", "Tokyo",
        "JP-13", "JPY", "homestay", "JA",
    )  # fmt: skip
    customers = [
        CustomerSpec("c0000001", "panda-wallet", "王小明", "Wang Xiaoming", "CN", "1990-05-01",
                     "T1", None),
        CustomerSpec("c0000002", "panda-wallet", "李娜", "Li Na", "CN", "1988-02-03", "T1",
                     HOUR_S),
    ]  # fmt: skip
    return Plan(size, [merchant], customers, [], events, [])


def execute(tmp_path: Path, data_dir: Path, events: list[Event]) -> tuple[Path, _Runner]:
    db = tmp_path / "runner.db"
    size = PlanSize(seed=1, tourists=1, days=3, start=dt.date(2018, 7, 16))
    config = SimConfig(db=db, seed=1, tourists=1, days=3, data_dir=data_dir)
    fx = _fx(config, data_dir, lambda message: None)
    clock = SimClock(size.start_ns - DAY_S * NS)
    _init_audit(db, 1)
    witnesses = _witnesses(db, 1, clock() // NS)
    with Switch.open(db, clock=clock) as switch:
        runner = _Runner(config, plan(events, size), switch, clock, witnesses, fx.pricing, None)
        runner.setup()
        runner.run()
    return db, runner


def states(db: Path) -> dict[str, str]:
    connection = sqlite3.connect(db)
    try:
        return dict(connection.execute("SELECT payment_id, state FROM payments").fetchall())
    finally:
        connection.close()


def hold(at_s: int, payment_id: str, *, lapses: bool = False) -> Event:
    return Event(
        at_s, 0, "hold", payment_id=payment_id, customer_id="c0000001",
        wallet_id="panda-wallet", merchant_id="m00001", amount=30_000,
        hold_timeout_s=DAY_S, lapses=lapses,
    )  # fmt: skip


def test_holds_are_captured_released_or_lapse_into_expiry(tmp_path: Path, data_dir: Path) -> None:
    events = [
        Event(HOUR_S, 0, "register", customer_id="c0000002", wallet_id="panda-wallet"),
        hold(15 * HOUR_S, "p00000001"),
        hold(16 * HOUR_S, "p00000002"),
        hold(17 * HOUR_S, "p00000003", lapses=True),
        Event(18 * HOUR_S, 0, "release", payment_id="p00000002"),
        Event(DAY_S + 10 * HOUR_S, 0, "capture", payment_id="p00000001"),
        Event(
            DAY_S + 11 * HOUR_S, 0, "purchase", payment_id="p00000004",
            customer_id="c0000002", wallet_id="panda-wallet", merchant_id="m00001",
            amount=5_000,
        ),
    ]  # fmt: skip
    db, runner = execute(tmp_path, data_dir, events)
    assert states(db) == {
        "p00000001": "committed",
        "p00000002": "aborted",
        "p00000003": "expired",  # its day-long hold ran out on the second day
        "p00000004": "committed",  # by the customer who signed up during the run
    }
    counts = runner.stats.to_json()
    assert counts["lapse"] == {"expired": 1}
    assert counts["register"] == {"registered": 1}
    assert counts["settlement"] == {"settled": 3}
    assert len(runner.checkpoints) == 3
    assert verify(db).ok


def test_capturing_a_lapsed_hold_is_counted_as_refused(tmp_path: Path, data_dir: Path) -> None:
    events = [
        hold(15 * HOUR_S, "p00000001"),
        Event(2 * DAY_S + 10 * HOUR_S, 0, "capture", payment_id="p00000001"),
    ]
    db, runner = execute(tmp_path, data_dir, events)
    assert states(db) == {"p00000001": "expired"}
    assert runner.stats.to_json()["capture"] == {"refused:payment_expired": 1}
