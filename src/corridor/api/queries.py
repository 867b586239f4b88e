"""Read-only SQL the API needs and the switch does not offer: payments of a participant.

`PaymentService.list` filters by wallet only; an acquirer or an FX provider also needs the
payments it takes part in. This reads the ``payments`` table (its columns are documented in
`corridor.switch.payments`) for payment ids only; the payments themselves are then read
through the switch, so their shape stays the switch's business.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from corridor.store.sqlite import BUSY_TIMEOUT_MS

__all__ = ["ReadQueries"]


class ReadQueries:
    """A read connection of its own to the ledger file. Thread-safe; close it when done."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def payment_ids_of(self, participant_id: str, *, state: str | None, limit: int) -> list[str]:
        """Ids of the payments `participant_id` is the wallet, acquirer or FX provider of,
        newest first."""
        clauses = "(wallet_id = ? OR acquirer_id = ? OR provider_id = ?)"
        params: list[object] = [participant_id, participant_id, participant_id]
        if state is not None:
            clauses += " AND state = ?"
            params.append(state)
        with self._lock:
            try:
                rows = self._db.execute(
                    f"SELECT payment_id FROM payments WHERE {clauses}"
                    " ORDER BY created_ns DESC, payment_id DESC LIMIT ?",
                    (*params, limit),
                ).fetchall()
            except sqlite3.OperationalError:  # no payments table yet
                return []
        return [str(row[0]) for row in rows]
