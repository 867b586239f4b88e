"""The storage protocol: what the ledger asks of a store, whichever database holds it.

`corridor.ledger` (the `Ledger` facade and its sequencer) talks to storage only through these
methods, so the SQLite store (`corridor.store.sqlite`) and the PostgreSQL store
(`corridor.store.postgres`) are interchangeable and the engine never knows which one runs.
The row shapes are in `corridor.store.rows`; every id is a Python int, every amount an int of
minor units.

Three groups of methods:

- the write path, called by the sequencer only: `prepare` encodes a sealed batch (on the
  sequencer thread, while the previous batch is being committed), `commit` writes it in one
  durable transaction, all of it or nothing;
- recovery, called once by `Ledger.open` before the writer starts: every account, every
  transfer id, the open pending transfers, the last timestamp handed out and the audit log's
  size and stored tree rows;
- reads, from any thread, never blocking the writer, seeing committed data only.

Both stores hold an exclusive writer lock for their lifetime (one sequencer per database)
and raise `WriterBusy` (code ``database_busy``) when another process holds it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from corridor.store.rows import AccountStateRow, HistoryRow, LedgerBatch, TransferRow


class StoreError(Exception):
    """The database cannot be opened or used (not a corridor database, newer schema...)."""

    code = "invalid_database"


class WriterBusy(StoreError):
    """Another process (or handle) already writes this database."""

    code = "database_busy"


class LedgerStore(Protocol):
    """Storage of one ledger: the write path, recovery and reads."""

    @property
    def path(self) -> Path:
        """The SQLite file that also holds the side tables of the switch and the audit
        registry (they open their own connections to it). Stores without such a file raise
        `StoreError` with code ``unsupported_database``."""
        ...

    # -- the write path (the sequencer's threads only) -------------------------------------

    def prepare(self, batch: LedgerBatch) -> Any:
        """Encode a sealed batch into whatever `commit` writes."""
        ...

    def commit(self, prepared: Any) -> None:
        """Write one prepared batch in one durable transaction; all of it or nothing."""
        ...

    # -- recovery --------------------------------------------------------------------------

    def iter_accounts(self) -> Iterator[AccountStateRow]: ...

    def iter_transfer_ids(self) -> Iterator[int]: ...

    def iter_open_pending(self) -> Iterator[TransferRow]:
        """Pending transfers neither posted, voided nor expired, oldest first."""
        ...

    def last_timestamp(self) -> int:
        """The newest timestamp ever handed out (stored or found in the data)."""
        ...

    def log_size(self) -> int:
        """Leaves in the durable audit log."""
        ...

    def log_row(self, level: int, row: int) -> bytes | None:
        """One stored row of the audit log's tree (corridor.audit.tiles)."""
        ...

    # -- reads -----------------------------------------------------------------------------

    def transfer_row(self, id: int) -> TransferRow | None: ...

    def pending_status_code(self, pending_id: int) -> str | None:
        """'pending', 'posted', 'voided' or 'expired' for a pending transfer, else None."""
        ...

    def account_rows(self, ids: Sequence[int]) -> list[AccountStateRow | None]:
        """One entry per id, in order; None where the account does not exist."""
        ...

    def transfer_rows(self, ids: Sequence[int]) -> list[TransferRow | None]:
        """One entry per id, in order; None where the transfer does not exist."""
        ...

    def account_transfer_rows(
        self,
        account_id: int,
        *,
        timestamp_min: int,
        timestamp_max: int,
        limit: int,
        debits: bool,
        credits: bool,
        newest_first: bool,
    ) -> list[TransferRow]:
        """An account's transfers with timestamps in [min, max] (max 0: no bound), at most
        `limit`, oldest first unless `newest_first`."""
        ...

    def balance_rows(
        self,
        account_id: int,
        *,
        timestamp_min: int,
        timestamp_max: int,
        limit: int,
        newest_first: bool,
    ) -> list[HistoryRow]:
        """Balances after each change of an account with the history flag."""
        ...

    def close(self) -> None:
        """Release the writer lock and every connection."""
        ...
