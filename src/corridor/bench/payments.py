"""`corridor bench payments`: one-shot cross-currency payments in-process, durable.

A corridor is set up first (CNY and KRW wallets with customers, an FX provider quoting from
its own bid/ask, Japanese acquirers with merchants, all prefunded). Then N scan-and-pay
payments run end to end through `corridor.switch`: each issues a quote (target amount in JPY,
paid in the wallet's currency) and pays it (one linked chain of posted transfers: payer
wallet to FX provider, FX provider to acquirer, fee to the hub), durably, with compliance
inline unless `compliance` is off. Requests are handed to the switch `batch` payments at a
time (`PaymentService.pay_many`) by `in_flight` client threads. The defaults are the HTTP
layer's own: one writer handing the switch batches of up to 2,048 (`corridor serve`'s
batching stage); more threads share ledger commits but contend for the GIL, which measured
slower here (docs/BENCHMARKS.md). Latency is per batch: from the first quote to the last
payment's durable answer.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from corridor.bench.common import machine, percentile_ms
from corridor.runtime import tune_gc
from corridor.switch.fx import FeeSchedule, PairPrice
from corridor.switch.money import Money
from corridor.switch.payments import PAY_BATCH_MAX, Payment, PaymentRequest
from corridor.switch.service import FxPricing, Switch

WALLETS: Final = (("alipay-cn", "CN", "CNY"), ("kakao-kr", "KR", "KRW"))
PROVIDER: Final = "fx-tokyo"
ACQUIRERS: Final = ("kyoto-bank", "hokkaido-bank", "osaka-pay")
PRICES: Final = (
    PairPrice("CNY", "JPY", Decimal("20.60"), Decimal("20.80")),
    PairPrice("JPY", "KRW", Decimal("9.10"), Decimal("9.20")),
    # For compliance's USD thresholds.
    PairPrice("USD", "CNY", Decimal("7.10"), Decimal("7.20")),
    PairPrice("USD", "KRW", Decimal("1330"), Decimal("1340")),
    PairPrice("USD", "JPY", Decimal("149"), Decimal("150")),
)


class PaymentsBenchError(Exception):
    code = "bench_invalid"


@dataclass(frozen=True)
class PaymentsBenchConfig:
    db: Path
    payments: int = 100_000
    batch: int = 2000
    in_flight: int = 1
    customers: int = 20_000
    merchants: int = 2_000
    seed: int = 42
    compliance: bool = True

    def check(self) -> None:
        if self.payments < 1:
            raise PaymentsBenchError("--payments must be at least 1")
        if not 1 <= self.batch <= PAY_BATCH_MAX:
            raise PaymentsBenchError(f"--batch must be between 1 and {PAY_BATCH_MAX}")
        if not 1 <= self.in_flight <= 16:
            raise PaymentsBenchError("--in-flight must be between 1 and 16")
        if self.customers < 1 or self.merchants < 1:
            raise PaymentsBenchError("--customers and --merchants must be at least 1")


def setup(switch: Switch, config: PaymentsBenchConfig) -> tuple[list[tuple[str, str]], list[str]]:
    """Participants, parties and prefunding; returns (wallet, customer) pairs and merchants."""
    directory = switch.directory
    for wallet_id, country, code in WALLETS:
        directory.register_participant(
            wallet_id, kind="wallet", name=wallet_id, country=country, currencies=[code]
        )
        switch.liquidity.deposit(wallet_id, Money.of(10**15, code), reference="bench-prefund")
    directory.register_participant(
        PROVIDER,
        kind="fx_provider",
        name="Tokyo FX",
        country="JP",
        currencies=["CNY", "JPY", "KRW"],
    )
    switch.liquidity.deposit(PROVIDER, Money.of(10**15, "JPY"), reference="bench-prefund")
    switch.set_fx_pricing(FxPricing(PROVIDER, "prices", prices=PRICES, fees=FeeSchedule(bps=30)))
    for acquirer in ACQUIRERS:
        directory.register_participant(
            acquirer, kind="acquirer", name=acquirer, country="JP", currencies=["JPY"]
        )
    merchants = []
    for m in range(config.merchants):
        merchant_id = f"m-{m:05d}"
        directory.register_merchant(
            merchant_id,
            acquirer_id=ACQUIRERS[m % len(ACQUIRERS)],
            name=f"Shop {m}",
            mcc="5411",
            city="Kyoto",
            region="JP-26",
            currency="JPY",
        )
        merchants.append(merchant_id)
    customers = []
    for c in range(config.customers):
        wallet_id, country, _ = WALLETS[c % len(WALLETS)]
        customer_id = f"c-{c:06d}"
        directory.register_customer(
            customer_id,
            wallet_id=wallet_id,
            name_native="王小明" if country == "CN" else "김민준",
            name_romanized="Wang Xiaoming" if country == "CN" else "Kim Minjun",
            country=country,
            date_of_birth="1990-05-01",
            kyc_tier="T2",
        )
        customers.append((wallet_id, customer_id))
    return customers, merchants


def run(config: PaymentsBenchConfig) -> dict[str, Any]:
    config.check()
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{config.db}{suffix}").unlink(missing_ok=True)
    rng = random.Random(config.seed)
    with Switch.open(config.db, compliance=config.compliance) as switch:
        customers, merchants = setup(switch, config)
        tune_gc()
        wallet_ccy = {w: code for w, _, code in WALLETS}
        jobs = []
        for start in range(0, config.payments, config.batch):
            size = min(config.batch, config.payments - start)
            jobs.append(
                [
                    (
                        f"p-{start + i:09d}",
                        *rng.choice(customers),
                        rng.choice(merchants),
                        rng.randint(300, 30_000),
                    )
                    for i in range(size)
                ]
            )
        latencies: list[float] = []
        counts = {"ok": 0, "failed": 0}
        counts_by_outcome: dict[str, int] = {}
        lock = threading.Lock()
        next_job = iter(jobs)

        def client() -> None:
            while True:
                with lock:
                    job = next(next_job, None)
                if job is None:
                    return
                began = time.perf_counter()
                requests = []
                for payment_id, wallet_id, customer_id, merchant_id, yen in job:
                    quote = switch.quote(
                        provider_id=PROVIDER,
                        source_currency=wallet_ccy[wallet_id],
                        target=Money.of(yen, "JPY"),
                    )
                    requests.append(
                        PaymentRequest(
                            payment_id, wallet_id, customer_id, merchant_id, quote.quote_id
                        )
                    )
                outcomes = switch.payments.pay_many(requests)
                elapsed = time.perf_counter() - began
                ok = sum(isinstance(o, Payment) and o.state.value == "committed" for o in outcomes)
                with lock:
                    for o in outcomes:
                        key = o.state.value if isinstance(o, Payment) else o.code
                        counts_by_outcome[key] = counts_by_outcome.get(key, 0) + 1
                    latencies.append(elapsed)
                    counts["ok"] += ok
                    counts["failed"] += len(outcomes) - ok

        threads = [threading.Thread(target=client) for _ in range(config.in_flight)]
        began = time.perf_counter()
        cpu_began = time.process_time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
        cpu_s = time.process_time() - cpu_began
    return {
        "bench": "payments",
        "ops": config.payments,
        "seconds": round(seconds, 3),
        "ops_per_s": round(config.payments / seconds),
        "ops_per_cpu_s": round(config.payments / cpu_s),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "p50_ms": percentile_ms(latencies, 0.50),
        "p99_ms": percentile_ms(latencies, 0.99),
        "payments_ok": counts["ok"],
        "payments_failed": counts["failed"],
        "batch": config.batch,
        "in_flight": config.in_flight,
        "compliance": config.compliance,
        "verdicts": counts_by_outcome,
        "machine": machine(),
    }
