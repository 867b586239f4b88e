"""`corridor bench http`: one-shot cross-currency payments over HTTP, on loopback.

Three processes, as in production: this one sets a corridor up (the same participants,
parties, FX pricing and prefunding as `corridor bench payments`) and creates an API key per
wallet; a server process runs `corridor serve` on a free loopback port; a load-generator
process (this module run as ``python -m corridor.bench.http LOAD.json``) opens N keep-alive
connections and, on each, makes payments one after another the way a wallet app does:

1. ``POST /v1/quotes``: the merchant's JPY amount, paid in the wallet's currency;
2. ``POST /v1/payments`` with that quote and an ``Idempotency-Key``: answered once the
   payment is durable.

A payment's latency is from sending the quote request to receiving the payment's answer.
The load generator speaks HTTP/1.1 over asyncio streams itself (a few lines, like `wrk`):
a general-purpose client library would use more CPU than the server, and the two share
the machine's cores. The first `warmup` payments are not counted.

Where the time goes comes from the server's own ``/metrics`` (time per route, batch sizes,
time in the switch per batch, time waiting for a batch) and from the CPU time of each
process (Linux ``/proc``). ``compliance`` says whether the switch screened the payments
inline (it does by default: limits, screening, monitoring and the travel rule).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from corridor.bench.common import machine, percentile_ms

__all__ = ["HttpBenchConfig", "HttpBenchError", "run"]

CONNECTIONS_MAX: Final = 1024
SERVER_START_S_MAX: Final = 60.0
LOAD_S_MAX: Final = 600.0
_RESPONSE_HEAD_BYTES_MAX: Final = 16_384


class HttpBenchError(Exception):
    code = "bench_invalid"


@dataclass(frozen=True)
class HttpBenchConfig:
    db: Path
    payments: int = 20_000
    connections: int = 64
    customers: int = 10_000
    merchants: int = 500
    batch_window_ms: float = 1.0
    writers: int = 1
    seed: int = 42
    warmup: int = 1000

    def check(self) -> None:
        if self.payments < 1:
            raise HttpBenchError("--payments must be at least 1")
        if self.warmup < 0:
            raise HttpBenchError("--warmup must be at least 0")
        if not 1 <= self.connections <= CONNECTIONS_MAX:
            raise HttpBenchError(f"--connections must be between 1 and {CONNECTIONS_MAX}")
        if self.customers < 1 or self.merchants < 1:
            raise HttpBenchError("--customers and --merchants must be at least 1")
        if not 0 <= self.batch_window_ms <= 1000:
            raise HttpBenchError("--batch-window-ms is 0 to 1000")
        if not 1 <= self.writers <= 8:
            raise HttpBenchError("--writers is 1 to 8")


# -- the orchestrator --------------------------------------------------------------------------


def run(config: HttpBenchConfig) -> dict[str, Any]:
    config.check()
    from corridor.api.keys import ApiKeyStore
    from corridor.bench.payments import PROVIDER, WALLETS, PaymentsBenchConfig, setup
    from corridor.switch.service import Switch

    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{config.db}{suffix}").unlink(missing_ok=True)
    with Switch.open(config.db) as switch:
        customers, merchants = setup(
            switch,
            PaymentsBenchConfig(
                db=config.db, customers=config.customers, merchants=config.merchants
            ),
        )
        compliance = getattr(switch, "compliance", None) is not None
        if compliance:
            _price_usd(switch, PROVIDER)
    with ApiKeyStore.open(config.db) as keys:
        wallet_keys = {
            wallet: keys.create("participant", participant_id=wallet, label="bench").secret
            for wallet, _, _ in WALLETS
        }
    currencies = {wallet: code for wallet, _, code in WALLETS}
    rng = random.Random(config.seed)
    total = config.payments + config.warmup
    jobs = [
        [
            f"p-{n:09d}",
            wallet,
            customer,
            rng.choice(merchants),
            rng.randint(300, 30_000),
        ]
        for n in range(total)
        for wallet, customer in [rng.choice(customers)]
    ]
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="corridor-bench-http-") as scratch:
        load_file = Path(scratch) / "load.json"
        load_file.write_text(
            json.dumps(
                {
                    "port": port,
                    "connections": config.connections,
                    "warmup": config.warmup,
                    "provider": PROVIDER,
                    "keys": wallet_keys,
                    "currencies": currencies,
                    "jobs": jobs,
                }
            )
        )
        server_log = Path(scratch) / "server.log"
        with server_log.open("wb") as log:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "corridor.cli",
                    "serve",
                    "--db",
                    str(config.db),
                    "--port",
                    str(port),
                    "--rate-per-s",
                    "1000000",
                    "--burst",
                    "1000000",
                    "--batch-window-ms",
                    str(config.batch_window_ms),
                    "--writers",
                    str(config.writers),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_healthy(port, server, server_log)
            before = _scrape(port)
            server_cpu_before = _cpu_s(server.pid)
            load = subprocess.run(
                [sys.executable, "-m", "corridor.bench.http", str(load_file)],
                capture_output=True,
                timeout=LOAD_S_MAX,
                check=False,
            )
            server_cpu = _cpu_s(server.pid) - server_cpu_before
            after = _scrape(port)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if load.returncode != 0:
            raise HttpBenchError(
                f"the load generator failed: {load.stderr.decode(errors='replace')[-2000:]}"
            )
    client = json.loads(load.stdout)
    return _report(config, client, before, after, server_cpu, compliance)


def _report(
    config: HttpBenchConfig,
    client: dict[str, Any],
    before: dict[str, float],
    after: dict[str, float],
    server_cpu_s: float,
    compliance: bool,
) -> dict[str, Any]:
    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    ops = int(client["payments"])
    seconds = float(client["seconds"])
    batches = delta("corridor_pay_batches_total")
    payments_in_batches = delta("corridor_pay_batch_size_sum")
    quote_route = 'corridor_http_request_duration_seconds_{}{{route="/v1/quotes"}}'
    pay_route = 'corridor_http_request_duration_seconds_{}{{route="/v1/payments"}}'

    def mean_ms(template: str) -> float | None:
        count = delta(template.format("count"))
        return None if count == 0 else round(1000 * delta(template.format("sum")) / count, 3)

    made = max(1, ops + config.warmup)  # CPU and server metrics include the warm-up
    return {
        "bench": "http",
        "ops": ops,
        "seconds": round(seconds, 3),
        "ops_per_s": round(ops / seconds) if seconds > 0 else 0,
        "p50_ms": client["p50_ms"],
        "p99_ms": client["p99_ms"],
        "payments_ok": client["ok"],
        "payments_held_for_review": client["held"],
        "payments_failed": client["failed"],
        "failures": client["failures"],
        "connections": config.connections,
        "batch_window_ms": config.batch_window_ms,
        "writers": config.writers,
        "compliance": compliance,
        "http_requests_per_s": round(2 * ops / seconds) if seconds > 0 else 0,
        "where_the_time_goes": {
            "client_quote_p50_ms": client["quote_p50_ms"],
            "client_quote_p99_ms": client["quote_p99_ms"],
            "client_pay_p50_ms": client["pay_p50_ms"],
            "client_pay_p99_ms": client["pay_p99_ms"],
            "server_quote_mean_ms": mean_ms(quote_route),
            "server_pay_mean_ms": mean_ms(pay_route),
            "pay_batches": int(batches),
            "pay_batch_size_mean": round(payments_in_batches / batches, 1) if batches else None,
            "switch_ms_per_batch_mean": round(
                1000 * delta("corridor_pay_batch_seconds_sum") / batches, 3
            )
            if batches
            else None,
            "switch_batches_by_ms": _buckets(before, after, "corridor_pay_batch_seconds"),
            "batch_queue_wait_mean_ms": round(
                1000
                * delta("corridor_pay_queue_seconds_sum")
                / max(1.0, delta("corridor_pay_queue_seconds_count")),
                3,
            ),
            "server_cpu_s": round(server_cpu_s, 3),
            "server_cpu_us_per_payment": round(1e6 * server_cpu_s / made, 1),
            "client_cpu_s": client["cpu_s"],
            "client_cpu_us_per_payment": round(1e6 * client["cpu_s"] / made, 1),
        },
        "machine": machine(),
    }


USD_PRICES: Final = (
    ("USD", "CNY", "7.10", "7.20"),
    ("USD", "JPY", "145.0", "147.0"),
    ("USD", "KRW", "1300", "1320"),
)
"""USD rates the bench's FX provider also quotes: compliance turns amounts into USD."""


def _price_usd(switch: Any, provider_id: str) -> None:
    """Add the USD pairs compliance needs to the provider's pricing (if it lacks them)."""
    from decimal import Decimal

    from corridor.switch.fx import PairPrice
    from corridor.switch.service import FxPricing

    pricing = switch.fx_pricing(provider_id)
    pairs = {(p.base, p.quote) for p in pricing.prices}
    extra = tuple(
        PairPrice(base, quote, Decimal(bid), Decimal(ask))
        for base, quote, bid, ask in USD_PRICES
        if (base, quote) not in pairs
    )
    if extra:
        switch.set_fx_pricing(
            FxPricing(provider_id, "prices", prices=(*pricing.prices, *extra), fees=pricing.fees)
        )


def _buckets(before: dict[str, float], after: dict[str, float], name: str) -> dict[str, int]:
    """How many observations of a histogram fell at or under each bound (ms), in the run."""
    counts: dict[str, int] = {}
    prefix = f'{name}_bucket{{le="'
    for series, value in after.items():
        if series.startswith(prefix):
            bound = series[len(prefix) : -2]
            label = bound if bound == "+Inf" else f"{float(bound) * 1000:g}"
            counts[label] = int(value - before.get(series, 0.0))
    return counts


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S_MAX
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise HttpBenchError(f"the server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise HttpBenchError(f"the server did not answer /healthz within {SERVER_START_S_MAX} s")


_SAMPLE: Final = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$")


def _scrape(port: int) -> dict[str, float]:
    """The server's metrics, by series (name with labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            samples[match.group(1)] = float(match.group(2))
    return samples


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (0 where /proc is not there)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# -- the load generator (a process of its own) ------------------------------------------------


class _Connection:
    """One keep-alive HTTP/1.1 connection: send a JSON POST, read status and body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def post(
        self, path: str, key: str, body: bytes, idempotency_key: str | None
    ) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {key}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        )
        if idempotency_key is not None:
            head += f"idempotency-key: {idempotency_key}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        response_head = await self.reader.readuntil(b"\r\n\r\n")
        if len(response_head) > _RESPONSE_HEAD_BYTES_MAX:
            raise HttpBenchError("response head too large")
        lines = response_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    jobs: list[list[Any]] = spec["jobs"]
    warmup: int = spec["warmup"]
    keys: dict[str, str] = spec["keys"]
    currencies: dict[str, str] = spec["currencies"]
    provider: str = spec["provider"]
    next_job = iter(range(len(jobs)))
    totals: list[float] = []
    quotes: list[float] = []
    pays: list[float] = []
    failures: dict[str, int] = {}
    counted_from: list[float] = []
    ok = 0
    held = 0

    async def client() -> None:
        nonlocal ok, held
        reader, writer = await asyncio.open_connection("127.0.0.1", spec["port"])
        connection = _Connection(reader, writer)
        try:
            for index in next_job:
                if index == warmup:
                    counted_from.append(time.perf_counter())
                payment_id, wallet, customer, merchant, yen = jobs[index]
                key = keys[wallet]
                began = time.perf_counter()
                status, body = await connection.post(
                    "/v1/quotes",
                    key,
                    json.dumps(
                        {
                            "provider_id": provider,
                            "source_currency": currencies[wallet],
                            "target_amount": {"amount": str(yen), "currency": "JPY"},
                        }
                    ).encode(),
                    None,
                )
                quoted = time.perf_counter()
                if status != 200:
                    code = json.loads(body).get("code", str(status))
                    failures[f"quote:{code}"] = failures.get(f"quote:{code}", 0) + 1
                    continue
                quote_id = json.loads(body)["quote_id"]
                status, body = await connection.post(
                    "/v1/payments",
                    key,
                    json.dumps(
                        {
                            "payment_id": payment_id,
                            "wallet_id": wallet,
                            "customer_id": customer,
                            "merchant_id": merchant,
                            "quote_id": quote_id,
                        }
                    ).encode(),
                    payment_id,
                )
                paid = time.perf_counter()
                if index < warmup:
                    continue
                if status == 200:
                    ok += 1
                elif status == 202:
                    held += 1  # compliance holds it for review: answered, not refused
                else:
                    code = json.loads(body).get("code", str(status))
                    failures[f"pay:{code}"] = failures.get(f"pay:{code}", 0) + 1
                totals.append(paid - began)
                quotes.append(quoted - began)
                pays.append(paid - quoted)
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(spec["connections"])))
    ended = time.perf_counter()
    start = counted_from[0] if counted_from else began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "payments": len(totals),
        "seconds": ended - start,
        "ok": ok,
        "held": held,
        "failed": len(totals) - ok - held,
        "failures": failures,
        "p50_ms": percentile_ms(totals, 0.50),
        "p99_ms": percentile_ms(totals, 0.99),
        "quote_p50_ms": percentile_ms(quotes, 0.50),
        "quote_p99_ms": percentile_ms(quotes, 0.99),
        "pay_p50_ms": percentile_ms(pays, 0.50),
        "pay_p99_ms": percentile_ms(pays, 0.99),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
    }


def _load_main(path: str) -> None:
    from corridor.runtime import tune_gc

    spec = json.loads(Path(path).read_text())
    tune_gc()  # the job list is loaded; no collections of it while timing
    result = asyncio.run(asyncio.wait_for(_load(spec), LOAD_S_MAX))
    print(json.dumps(result))


if __name__ == "__main__":
    _load_main(sys.argv[1])
