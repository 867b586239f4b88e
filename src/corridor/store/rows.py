"""Row shapes shared by the ledger engine and the stores, and the batch they commit.

Rows are plain tuples in storage column order: the engine builds them once on the hot path
and every store writes them without another conversion. 128-bit ids and user data are Python
ints here; stores encode them (SQLite: 16-byte big-endian BLOBs, so byte order is numeric
order).
"""

from __future__ import annotations

from typing import Final

TransferRow = tuple[int, int, int, int, int, int, int, int, int, int, int, int, int, int, int]
"""(timestamp, id, debit_account_id, credit_account_id, amount, pending_id, user_data_128,
user_data_64, user_data_32, timeout, ledger, code, flags, debit_previous_timestamp,
credit_previous_timestamp). The two previous timestamps link each account's transfers into a
list, newest first, which is how an account's transfers are found without a secondary index."""

R_TIMESTAMP: Final = 0
R_ID: Final = 1
R_DEBIT: Final = 2
R_CREDIT: Final = 3
R_AMOUNT: Final = 4
R_PENDING_ID: Final = 5
R_USER_DATA_128: Final = 6
R_USER_DATA_64: Final = 7
R_USER_DATA_32: Final = 8
R_TIMEOUT: Final = 9
R_LEDGER: Final = 10
R_CODE: Final = 11
R_FLAGS: Final = 12
R_DEBIT_PREVIOUS: Final = 13
R_CREDIT_PREVIOUS: Final = 14

AccountRow = tuple[int, int, int, int, int, int, int, int]
"""(timestamp, id, ledger, code, flags, user_data_128, user_data_64, user_data_32)."""

AccountBalanceRow = tuple[int, int, int, int, int, int, int]
"""(account timestamp, flags, debits_pending, debits_posted, credits_pending, credits_posted,
last_transfer_timestamp): an account's mutable columns, keyed by its creation timestamp."""

AccountStateRow = tuple[int, int, int, int, int, int, int, int, int, int, int, int, int]
"""(timestamp, id, ledger, code, flags, user_data_128, user_data_64, user_data_32,
debits_pending, debits_posted, credits_pending, credits_posted, last_transfer_timestamp)."""

HistoryRow = tuple[int, int, int, int, int, int]
"""(account_id, timestamp, debits_pending, debits_posted, credits_pending, credits_posted)."""

ExpiryRow = tuple[int, int]
"""(pending_id, timestamp): a pending transfer that timed out and was voided."""

DocumentRow = tuple[bytes, int]
"""(sha256 digest, timestamp): a notarized document."""

LogRowKey = tuple[int, int]
"""(level, row) of the audit log's stored hashes; see corridor.audit.tiles."""


class LedgerBatch:
    """Everything one sequencer batch changed, in commit order; one storage transaction."""

    __slots__ = (
        "accounts",
        "balances",
        "documents",
        "expiries",
        "history",
        "last_timestamp",
        "log_first_index",
        "log_rows",
        "log_size",
        "transfer_leaves",
        "transfers",
    )

    def __init__(self) -> None:
        self.accounts: list[AccountRow] = []
        self.transfers: list[TransferRow] = []
        self.history: list[HistoryRow] = []
        self.expiries: list[ExpiryRow] = []
        self.documents: list[DocumentRow] = []
        self.balances: list[AccountBalanceRow] = []
        self.last_timestamp = 0
        # The audit log: leaves are appended in this order (expiries, transfers, documents),
        # numbered from log_first_index; transfer_leaves[k] is the leaf of transfers[k] and
        # its bytes 2..82 are the transfer's five ids as stored.
        self.transfer_leaves: list[bytes] = []
        self.log_first_index = 0
        self.log_size = 0
        self.log_rows: dict[LogRowKey, bytes] = {}

    def __len__(self) -> int:
        return len(self.accounts) + len(self.transfers) + len(self.expiries) + len(self.documents)
