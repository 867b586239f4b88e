"""What every request of one API app shares: the switch, keys, journal, limits, metrics.

`ApiContext` is built by `corridor.api.app.create_app` and reached from a route through the
`context` dependency. `QuoteOwners` remembers who asked for each quote: the switch's quote
book does not know (a quote is a price, not a party's), but the API lets a participant pay
only with its own quotes, so that quote ids of other wallets are of no use to it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from corridor.api.batching import PayBatcher
from corridor.api.idempotency import Idempotency
from corridor.api.journal import ApiJournal
from corridor.api.keys import ApiKeyStore
from corridor.api.metrics import Metrics
from corridor.api.queries import ReadQueries
from corridor.api.ratelimit import RateLimiter
from corridor.switch.fx import QUOTES_MAX
from corridor.switch.service import Switch

__all__ = ["BODY_BYTES_MAX", "LIST_LIMIT_MAX", "ApiContext", "QuoteOwners"]

BODY_BYTES_MAX: Final = 64 * 1024
"""Largest request body, in bytes (413 ``payload_too_large`` beyond)."""
LIST_LIMIT_MAX: Final = 1000
"""Most items one list request returns."""
QUOTE_OWNERS_MAX: Final = min(QUOTES_MAX, 500_000)
"""Quotes whose owner is remembered (a quote lives its TTL plus the book's retention)."""
OPERATOR_OWNER: Final = ""
"""Owner of the quotes an operator key asks for."""


class QuoteOwners:
    """Quote id → the participant that asked for it (bounded, oldest forgotten first)."""

    def __init__(self, entries_max: int = QUOTE_OWNERS_MAX) -> None:
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._entries_max = entries_max
        self._lock = threading.Lock()

    def add(self, quote_id: str, owner: str) -> None:
        with self._lock:
            self._owners[quote_id] = owner
            while len(self._owners) > self._entries_max:
                self._owners.popitem(last=False)

    def owner(self, quote_id: str) -> str | None:
        with self._lock:
            return self._owners.get(quote_id)


@dataclass(frozen=True)
class ApiContext:
    switch: Switch
    keys: ApiKeyStore
    journal: ApiJournal
    idempotency: Idempotency
    limiter: RateLimiter
    metrics: Metrics
    batcher: PayBatcher
    quotes: QuoteOwners
    queries: ReadQueries
    db_path: Path
    log_key_file: Path | None

    def close(self) -> None:
        """Release the app's threads and connections (not the switch, which is the caller's)."""
        self.batcher.close()
        self.journal.close()
        self.keys.close()
        self.queries.close()
