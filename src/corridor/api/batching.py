"""Group commit for one-shot payments: an asyncio stage in front of the switch.

The switch pays many payments in one call (`PaymentService.pay_many`): one transaction to
record them, one ledger batch of linked chains, one transaction to record the outcome. Its
cost is mostly per call (a few durable commits), not per payment, so answering concurrent
HTTP requests one call each would spend the disk on tiny batches.

`PayBatcher.pay` queues a request and waits for its own outcome. The first request to
arrive when a writer is free starts a short window (`window_s`, 1 ms by default); when it
closes, or as soon as `batch_max` requests wait, they go to `pay_many` as one batch on a
writer thread. While the writers are busy, new requests gather for the next batch, so
under load batches grow with concurrency and the window costs nothing. Every request still
answers only once its own payment is durable (or refused): each outcome is the payment or
the `SwitchError` for that request alone, as `pay` would give it.

`writers` batches may run at once (1 by default; with more, one batch is recorded while
another waits for its commits, and the ledger's sequencer commits their transfers
together). Two calls must never use one quote at the same time (the switch's quote book
checks and marks a quote used without a lock), so a request whose quote an unfinished
batch or reservation holds waits for the following batch; everything that uses a quote
(`run_with_quote`) goes through here. At most `QUEUED_MAX` payments wait; beyond that
`pay` refuses with 503 ``unavailable`` (back pressure).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from corridor.api.errors import ApiError
from corridor.api.metrics import Metrics
from corridor.switch.errors import SwitchError
from corridor.switch.payments import PAY_BATCH_MAX, Payment, PaymentRequest, PaymentService

__all__ = ["BATCH_WINDOW_S_DEFAULT", "QUEUED_MAX", "WRITERS_DEFAULT", "PayBatcher"]

BATCH_WINDOW_S_DEFAULT: Final = 0.001
"""How long the first request of an idle stage waits for company, in seconds."""
WRITERS_DEFAULT: Final = 1
"""Batches (and reservations) that may run at once. One gave larger batches, less CPU per
payment and as much throughput as two or three on the 2-core machine (docs/BENCHMARKS.md)."""
WRITERS_MAX: Final = 8
QUEUED_MAX: Final = 8 * PAY_BATCH_MAX
"""Payments that may wait for a batch before new ones are refused."""

_log = logging.getLogger("corridor.api")
T = TypeVar("T")


class _Waiting:
    __slots__ = ("future", "queued_at", "request")

    def __init__(
        self, request: PaymentRequest, future: asyncio.Future[Payment | SwitchError]
    ) -> None:
        self.request = request
        self.future = future
        self.queued_at = time.perf_counter()


class PayBatcher:
    """Batches concurrent one-shot payments into `pay_many` calls on writer threads."""

    def __init__(
        self,
        payments: PaymentService,
        metrics: Metrics,
        *,
        window_s: float = BATCH_WINDOW_S_DEFAULT,
        batch_max: int = PAY_BATCH_MAX,
        writers: int = WRITERS_DEFAULT,
    ) -> None:
        if not 0 <= window_s <= 1:
            raise ValueError("the batch window is 0 to 1 s")
        if not 1 <= batch_max <= PAY_BATCH_MAX:
            raise ValueError(f"a batch holds 1 to {PAY_BATCH_MAX} payments")
        if not 1 <= writers <= WRITERS_MAX:
            raise ValueError(f"1 to {WRITERS_MAX} writers")
        self._payments = payments
        self._metrics = metrics
        self._window_s = window_s
        self._batch_max = batch_max
        self._writers = writers
        self._executor = ThreadPoolExecutor(
            max_workers=writers, thread_name_prefix="corridor-writer"
        )
        self._waiting: list[_Waiting] = []
        self._running = 0
        self._timer: asyncio.TimerHandle | None = None
        self._claimed: dict[str, int] = {}
        """Quote id → unfinished batches or reservations that use it."""
        self._released: asyncio.Event | None = None
        self._closed = False

    # -- one-shot payments -------------------------------------------------------------------

    async def pay(self, request: PaymentRequest) -> Payment | SwitchError:
        """Pay `request` in the next batch; its own outcome once durable."""
        if self._closed:
            raise ApiError("unavailable", "the server is shutting down")
        if len(self._waiting) >= QUEUED_MAX:
            raise ApiError("unavailable", "too many payments are waiting; retry shortly")
        loop = asyncio.get_running_loop()
        waiting = _Waiting(request, loop.create_future())
        self._waiting.append(waiting)
        if self._running < self._writers:
            if len(self._waiting) >= self._batch_max:
                self._start(loop)
            elif self._timer is None:
                self._timer = loop.call_later(self._window_s, self._start, loop)
        return await asyncio.shield(waiting.future)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._running >= self._writers or not self._waiting:
            return
        batch: list[_Waiting] = []
        later: list[_Waiting] = []
        for waiting in self._waiting:
            if len(batch) < self._batch_max and waiting.request.quote_id not in self._claimed:
                batch.append(waiting)
            else:
                later.append(waiting)
        if not batch:
            return  # every waiting quote is in use: the batch that holds them restarts us
        self._waiting = later
        quotes = {w.request.quote_id for w in batch}
        self._claim(quotes)
        self._running += 1
        began = time.perf_counter()
        for waiting in batch:
            self._metrics.pay_wait_seconds.observe(began - waiting.queued_at)
        requests = [w.request for w in batch]
        future = loop.run_in_executor(self._executor, self._payments.pay_many, requests)
        future.add_done_callback(lambda done: self._finished(loop, batch, quotes, done, began))

    def _finished(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[_Waiting],
        quotes: set[str],
        done: asyncio.Future[list[Payment | SwitchError]],
        began: float,
    ) -> None:
        self._running -= 1
        self._release(quotes)
        self._metrics.pay_batches.inc()
        self._metrics.pay_batch_size.observe(len(batch))
        self._metrics.pay_batch_seconds.observe(time.perf_counter() - began)
        error = done.exception()
        if error is not None:
            _log.error("a payment batch of %d failed: %r", len(batch), error)
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(error)
        else:
            for waiting, outcome in zip(batch, done.result(), strict=True):
                self._metrics.payments.inc(
                    "committed" if isinstance(outcome, Payment) else outcome.code
                )
                if not waiting.future.done():
                    waiting.future.set_result(outcome)
        if self._waiting:
            # Requests gathered while the batch ran: they have waited long enough.
            self._start(loop)

    # -- other calls that use a quote ------------------------------------------------------------

    async def run_with_quote(self, quote_id: str | None, function: Callable[[], T]) -> T:
        """Run `function` on a writer thread, holding `quote_id` (if any) while it runs."""
        if self._closed:
            raise ApiError("unavailable", "the server is shutting down")
        loop = asyncio.get_running_loop()
        while quote_id is not None and quote_id in self._claimed:
            if self._released is None:
                self._released = asyncio.Event()
            await self._released.wait()
        quotes = set() if quote_id is None else {quote_id}
        self._claim(quotes)
        try:
            return await loop.run_in_executor(self._executor, function)
        finally:
            self._release(quotes)
            if self._waiting and self._running < self._writers:
                self._start(loop)

    def _claim(self, quotes: set[str]) -> None:
        for quote_id in quotes:
            self._claimed[quote_id] = self._claimed.get(quote_id, 0) + 1

    def _release(self, quotes: set[str]) -> None:
        for quote_id in quotes:
            left = self._claimed[quote_id] - 1
            if left:
                self._claimed[quote_id] = left
            else:
                del self._claimed[quote_id]
        if quotes and self._released is not None:
            self._released.set()
            self._released = None

    async def drain(self) -> None:
        """Wait until every queued payment is answered (the stage stays usable)."""
        loop = asyncio.get_running_loop()
        while self._waiting or self._running:
            if self._running < self._writers:
                self._start(loop)
            await asyncio.sleep(0.001)

    def close(self) -> None:
        """Refuse new work and stop the writer threads (after `drain`, or they finish theirs)."""
        self._closed = True
        self._executor.shutdown(wait=True)
