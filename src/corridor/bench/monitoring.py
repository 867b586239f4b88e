"""`corridor bench monitoring`: monitoring decisions per second with every rule on.

A seeded stream of synthetic payments is generated up front, so that the clock measures the
monitor and not the generator. Tourists of CN, JP and KR pay merchants in the two other
countries. Merchants are chosen with a Zipf-like popularity (the busiest take a few per cent
of the traffic each), and amounts are log-normal around USD 80 (DESIGN.md's CNY 3,900 per trip
over several purchases). Simulated time spans `days` days, with a tenth of the daytime rate at
night. A small share of customers behave suspiciously: bursts of payments, amounts just below
the travel-rule threshold, round amounts. A few payments are refunds, carry a screening score,
or lack travel-rule data, so that rules fire and their alert paths are timed too.

Each decision is `Monitor.evaluate` followed, unless it is a BLOCK, by `Monitor.record` (the
payment goes ahead); latency is per decision. `ops_per_cpu_s` divides by the process's CPU
time instead of the wall clock: what one uncontended core does on a shared machine. With
``--db`` the monitor persists to that file and its flushes are inside the timing. The
generated stream is frozen out of the garbage collector's reach (`gc.freeze`) before timing;
the monitor's own state is not.
"""

from __future__ import annotations

import gc
import math
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from corridor.bench.common import machine, percentile_ms
from corridor.compliance.monitoring import RULES, Monitor
from corridor.compliance.types import PartyInfo, PaymentEvent, Verdict

# Synthetic reference rates, minor units of the currency per US cent (not market data):
# CNY 7.10, JPY 150, KRW 1,380 to the dollar.
_PER_US_CENT: Final = {"CNY": 7.10, "JPY": 1.50, "KRW": 13.80}
_COUNTRIES: Final = ("CN", "JP", "KR")
_CURRENCY: Final = {"CN": "CNY", "JP": "JPY", "KR": "KRW"}
_REGION: Final = {"CN": "CN-SH", "JP": "JP-13", "KR": "KR-11"}
_MCCS: Final = ("5311", "5912", "5812", "7011", "4111", "5411", "5999", "7996")
_RISKY_MCCS: Final = ("6051", "4829", "7995")
_NS_PER_S: Final = 1_000_000_000
_DAY_SHARE: Final = 24 / (17 + 7 * 10)
"""Scales inter-arrival times so that `days` of simulated time hold the stream."""
_START_NS: Final = 1_780_000_000 * _NS_PER_S
"""2026-05-28 UTC: where simulated time starts."""


class MonitoringBenchError(Exception):
    code = "bench_invalid"


@dataclass(frozen=True)
class MonitoringBenchConfig:
    decisions: int = 200_000
    customers: int = 20_000
    merchants: int = 2_000
    days: float = 7.0
    suspicious_percent: float = 1.0
    seed: int = 42
    db: Path | None = None

    def check(self) -> None:
        if not 1 <= self.decisions <= 10_000_000:
            raise MonitoringBenchError("--decisions must be between 1 and 10,000,000")
        if not 1 <= self.customers <= 10_000_000:
            raise MonitoringBenchError("--customers must be between 1 and 10,000,000")
        if not 1 <= self.merchants <= 1_000_000:
            raise MonitoringBenchError("--merchants must be between 1 and 1,000,000")
        if not 0 < self.days <= 365:
            raise MonitoringBenchError("--days must be in (0, 365]")
        if not 0 <= self.suspicious_percent <= 100:
            raise MonitoringBenchError("--suspicious-percent must be between 0 and 100")
        if self.db is not None and self.db.exists():
            raise MonitoringBenchError(f"{self.db} exists; benchmark a new database file")


@dataclass(frozen=True, slots=True)
class _Decision:
    event: PaymentEvent
    screening_score: float | None
    travel_rule_ok: bool


def _to_minor(usd_cents: int, currency: str) -> int:
    return max(1, round(usd_cents * _PER_US_CENT[currency]))


def _stream(config: MonitoringBenchConfig) -> list[_Decision]:
    rng = random.Random(config.seed)
    customers: list[PartyInfo] = []
    for index in range(config.customers):
        country = rng.choice(_COUNTRIES)
        new = rng.random() < 0.02
        created = (
            _START_NS
            - (rng.randrange(0, 3 * 86400) if new else rng.randrange(30, 900) * 86400) * _NS_PER_S
        )
        customers.append(
            PartyInfo(
                party_id=f"customer:wallet-{country.lower()}/c-{index:07d}",
                name=f"Customer {index}",
                name_native=None,
                country=country,
                kind="individual",
                kyc_tier=rng.choice(("T1", "T2", "T2", "T3")),
                created_ns=created,
            )
        )
    merchants: list[PartyInfo] = []
    for index in range(config.merchants):
        country = rng.choice(_COUNTRIES)
        risky = rng.random() < 0.01
        merchants.append(
            PartyInfo(
                party_id=f"merchant:m-{index:06d}",
                name=f"Merchant {index}",
                name_native=None,
                country=country,
                kind="entity",
                created_ns=_START_NS - rng.randrange(1, 2000) * 86400 * _NS_PER_S,
                region=_REGION[country],
                mcc=rng.choice(_RISKY_MCCS if risky else _MCCS),
            )
        )
    # Zipf-like merchant popularity, flattened at the top: weight 1/(rank + 10).
    merchant_weights = [1.0 / (rank + 10) for rank in range(config.merchants)]
    cumulative: list[float] = []
    running = 0.0
    for weight in merchant_weights:
        running += weight
        cumulative.append(running)
    suspicious = {
        i for i in range(config.customers) if rng.random() * 100 < config.suspicious_percent
    }

    span_ns = int(config.days * 86400 * _NS_PER_S)
    step_ns = span_ns // max(1, config.decisions)
    now = _START_NS
    decisions: list[_Decision] = []
    last_purchase: dict[int, PaymentEvent] = {}
    burst: list[int] = []
    for number in range(config.decisions):
        # Diurnal traffic: a tenth of the daytime rate between 00h and 07h in East Asia.
        local_hour = (now // (3600 * _NS_PER_S) + 9) % 24
        night = 10 if local_hour < 7 else 1
        now += max(1, int(rng.expovariate(1.0) * step_ns * night * _DAY_SHARE))
        if burst:
            customer_index = burst.pop()
        else:
            customer_index = rng.randrange(config.customers)
            if customer_index in suspicious and rng.random() < 0.3:
                burst = [customer_index] * rng.randrange(3, 15)
        customer = customers[customer_index]
        merchant = rng.choices(merchants, cum_weights=cumulative)[0]
        while merchant.country == customer.country:
            merchant = merchants[rng.randrange(config.merchants)]
        kind = "purchase"
        usd_cents = max(100, round(math.exp(rng.gauss(math.log(8000), 0.9))))
        if customer_index in suspicious:
            choice = rng.random()
            if choice < 0.3:
                usd_cents = rng.randrange(90_500, 99_999)  # just below USD 1,000
            elif choice < 0.5:
                usd_cents = rng.choice((300_000, 500_000, 1_000_000))
        source_currency = _CURRENCY[customer.country]
        target_currency = _CURRENCY[merchant.country]
        previous = last_purchase.get(customer_index)
        if previous is not None and rng.random() < 0.01:
            kind = "refund"
            customer_party, merchant_party = previous.payer, previous.payee
            usd_cents = previous.usd_cents
            source_currency, target_currency = previous.source_currency, previous.target_currency
        else:
            customer_party, merchant_party = customer, merchant
        source_amount = _to_minor(usd_cents, source_currency)
        if source_currency in ("JPY", "KRW") and customer_index in suspicious:
            source_amount = round(source_amount, -4) or source_amount
        event = PaymentEvent(
            payment_id=f"p-{config.seed}-{number:08d}",
            at_ns=now,
            payer=customer_party,
            payee=merchant_party,
            wallet_id=f"wallet-{customer_party.country.lower()}",
            acquirer_id=f"acq-{merchant_party.country.lower()}",
            source_currency=source_currency,
            source_amount=source_amount,
            target_currency=target_currency,
            target_amount=_to_minor(usd_cents, target_currency),
            usd_cents=usd_cents,
            kind=kind,
        )
        if kind == "purchase":
            last_purchase[customer_index] = event
        screening = rng.random()
        score = None if screening < 0.5 else round(rng.random() * 0.6, 3)
        if screening > 0.9995:
            score = round(0.86 + rng.random() * 0.14, 3)
        decisions.append(_Decision(event, score, rng.random() > 0.005))
    return decisions


def run(config: MonitoringBenchConfig) -> dict[str, object]:
    config.check()
    setup_started = time.perf_counter()
    stream = _stream(config)
    monitor = Monitor() if config.db is None else Monitor.open(config.db)
    setup_s = time.perf_counter() - setup_started

    latencies: list[float] = [0.0] * len(stream)
    verdicts: Counter[str] = Counter()
    alerts: Counter[str] = Counter()
    evaluate, record = monitor.evaluate, monitor.record
    block = Verdict.BLOCK
    clock = time.perf_counter
    # The stream is the benchmark's own data, alive for the whole run: freezing it keeps the
    # collector from rescanning it, as a service freezes what it loaded at start-up.
    gc.collect()
    gc.freeze()
    cpu_started = time.process_time()
    started = clock()
    try:
        for index, item in enumerate(stream):
            begun = clock()
            decision = evaluate(
                item.event,
                screening_score=item.screening_score,
                travel_rule_ok=item.travel_rule_ok,
            )
            if decision.verdict is not block:
                record(item.event)
            latencies[index] = clock() - begun
            verdicts[decision.verdict.value] += 1
            for alert in decision.alerts:
                alerts[alert.rule] += 1
        monitor.flush()
        seconds = clock() - started
        cpu_seconds = time.process_time() - cpu_started
    finally:
        monitor.close()
        gc.unfreeze()
    count = len(stream)
    return {
        "bench": "monitoring",
        "ops": count,
        "seconds": round(seconds, 3),
        "ops_per_s": round(count / seconds),
        "cpu_seconds": round(cpu_seconds, 3),
        "ops_per_cpu_s": round(count / cpu_seconds) if cpu_seconds > 0 else None,
        "p50_ms": percentile_ms(latencies, 0.50),
        "p99_ms": percentile_ms(latencies, 0.99),
        "p999_ms": percentile_ms(latencies, 0.999),
        "max_ms": round(max(latencies) * 1000, 3),
        "rules": sum(1 for rule in RULES if monitor.rules[rule].enabled),
        "verdicts": dict(sorted(verdicts.items())),
        "alerts_by_rule": dict(sorted(alerts.items())),
        "customers": config.customers,
        "merchants": config.merchants,
        "days": config.days,
        "suspicious_percent": config.suspicious_percent,
        "seed": config.seed,
        "persistence": "in memory" if config.db is None else f"sqlite {config.db}",
        "setup_seconds": round(setup_s, 3),
        "machine": machine(),
    }
