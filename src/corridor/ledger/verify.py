"""Recompute a ledger database from its transfers and report every discrepancy.

`corridor ledger verify` runs this against storage only, never against the engine's memory,
so it also checks a database that was written by another process, restored from a backup or
edited by hand. Each check is plain SQL an auditor can rerun:

- balances: every account's four balances equal the sums of its transfers (posted: plain and
  post transfers; pending: pending transfers neither posted, voided nor expired);
- double entry: per ledger, the sum of debits equals the sum of credits, posted and pending;
- references: every transfer's accounts exist and share the transfer's ledger; every post or
  void names a pending transfer, resolves it once and never posts more than it reserved;
- limits: accounts flagged debits_must_not_exceed_credits or credits_must_not_exceed_debits
  respect their flag;
- links: each transfer's previous-transfer pointers are the account's previous transfer, and
  each account's last_transfer_timestamp is its newest transfer.

The same SQL runs on a SQLite file and on a PostgreSQL database (``postgresql://`` URL): both
stores keep the same tables, columns and NULL conventions. PostgreSQL sums bigints as numeric,
so those sums are turned back into ints here.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from corridor.store import is_postgres_url

Query = Callable[[str], Iterable[Sequence[Any]]]
"""Runs one statement of the verification and returns its rows."""

PROBLEMS_LISTED_MAX: Final = 50
"""Most discrepancies of one kind that the report lists (all are counted)."""

_UNRESOLVED: Final = """
    SELECT t.* FROM transfers AS t
    WHERE (t.flags & 2) != 0
      AND NOT EXISTS (SELECT 1 FROM transfers AS r WHERE r.pending_id = t.id)
      AND NOT EXISTS (SELECT 1 FROM expirations AS x WHERE x.pending_id = t.id)
"""

_RECOMPUTED: Final = f"""
WITH unresolved AS ({_UNRESOLVED}),
movements (account_id, debits_posted, credits_posted, debits_pending, credits_pending) AS (
    SELECT debit_account_id, amount, 0, 0, 0 FROM transfers WHERE (flags & 10) = 0
    UNION ALL SELECT credit_account_id, 0, amount, 0, 0 FROM transfers WHERE (flags & 10) = 0
    UNION ALL SELECT debit_account_id, 0, 0, amount, 0 FROM unresolved
    UNION ALL SELECT credit_account_id, 0, 0, 0, amount FROM unresolved
)
SELECT account_id, sum(debits_posted), sum(credits_posted), sum(debits_pending),
       sum(credits_pending)
FROM movements GROUP BY account_id
"""


@dataclass
class Problem:
    kind: str
    count: int
    examples: list[str] = field(default_factory=list)


@dataclass
class VerifyReport:
    path: str
    accounts: int = 0
    transfers: int = 0
    ledgers: dict[int, dict[str, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "ok": self.ok,
            "accounts": self.accounts,
            "transfers": self.transfers,
            "ledgers": {str(k): v for k, v in sorted(self.ledgers.items())},
            "problems": [
                {"kind": p.kind, "count": p.count, "examples": p.examples} for p in self.problems
            ],
        }


class VerifyError(Exception):
    """The file cannot be verified at all (missing, not SQLite, not a corridor ledger)."""

    code = "not_a_ledger"


def _plain(value: Any) -> Any:
    """A PostgreSQL numeric sum as an int; anything else as it is."""
    return int(value) if isinstance(value, Decimal) else value


def _hex(value: bytes | None) -> str:
    return value.hex() if value is not None else "NULL"


def verify(path: str | os.PathLike[str]) -> VerifyReport:
    """Recompute everything from stored transfers; never writes.

    `path`: a SQLite file, or a ``postgresql://`` URL (read in one REPEATABLE READ, READ ONLY
    transaction).
    """
    if is_postgres_url(path):
        return _verify_postgres(str(path))
    path = Path(path)
    if not path.is_file():
        raise VerifyError(f"{path}: no such database file")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as error:
        raise VerifyError(f"{path}: not a SQLite database ({error})") from None
    try:
        if (
            not {"meta", "accounts", "transfers", "expirations"} <= tables
            or not db.execute("SELECT 1 FROM meta WHERE key = 'schema_version'").fetchone()
        ):
            raise VerifyError(f"{path}: not a corridor ledger (no corridor schema)")
        # One read transaction: every check sees the same snapshot, even with a live writer.
        db.execute("BEGIN")
        try:
            return _verify(db.execute, str(path))
        finally:
            db.execute("COMMIT")
    except sqlite3.DatabaseError as error:
        raise VerifyError(f"{path}: not a readable corridor ledger ({error})") from None
    finally:
        db.close()


def _verify_postgres(dsn: str) -> VerifyReport:
    import psycopg

    from corridor.store.postgres import connect, redact

    location = redact(dsn)
    connection = connect(dsn, role="verify", read_only=True)
    try:
        tables = {
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }
        if not {"schema_migrations", "meta", "accounts", "transfers", "expirations"} <= tables:
            raise VerifyError(f"{location}: not a corridor ledger (no corridor schema)")
        # One snapshot for every check, even with a live writer.
        with connection.transaction():
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            with connection.cursor(binary=True) as cursor:
                return _verify(cursor.execute, location)
    except psycopg.Error as error:
        message = " ".join(str(error).split())
        raise VerifyError(f"{location}: not a readable corridor ledger ({message})") from None
    finally:
        connection.close()


def _verify(query: Query, path: str) -> VerifyReport:
    def scalar(statement: str) -> int:
        for row in query(statement):
            return int(row[0])
        raise AssertionError(f"no row from {statement}")

    report = VerifyReport(path=path)
    report.accounts = scalar("SELECT count(*) FROM accounts")
    report.transfers = scalar("SELECT count(*) FROM transfers")

    def problem(kind: str, found: Iterable[Sequence[object]], describe: object) -> None:
        rows = list(found)
        if rows:
            examples = [describe(*row) for row in rows[:PROBLEMS_LISTED_MAX]]  # type: ignore[operator]
            report.problems.append(Problem(kind, len(rows), examples))

    recomputed = {r[0]: tuple(_plain(total) for total in r[1:]) for r in query(_RECOMPUTED)}
    mismatched: list[tuple[object, ...]] = []
    for id, dp, dpo, cp, cpo in query(
        "SELECT id, debits_pending, debits_posted, credits_pending, credits_posted FROM accounts"
    ):
        sums = recomputed.pop(id, (0, 0, 0, 0))
        expected = (sums[2], sums[0], sums[3], sums[1])
        if (dp, dpo, cp, cpo) != expected:
            mismatched.append((id, (dp, dpo, cp, cpo), expected))
    problem(
        "balance_mismatch",
        mismatched,
        lambda id, stored, expected: (
            f"account {_hex(id)}: stored (debits_pending, debits_posted, credits_pending, "
            f"credits_posted) = {stored}, transfers give {expected}"
        ),
    )
    problem(
        "unknown_account",
        [(id,) for id in recomputed],
        lambda id: f"account {_hex(id)} appears in transfers but not in accounts",
    )

    for ledger, dp, dpo, cp, cpo in query(
        "SELECT ledger, sum(debits_pending), sum(debits_posted), sum(credits_pending),"
        " sum(credits_posted) FROM accounts GROUP BY ledger ORDER BY ledger"
    ):
        report.ledgers[ledger] = {
            "debits_pending": _plain(dp),
            "debits_posted": _plain(dpo),
            "credits_pending": _plain(cp),
            "credits_posted": _plain(cpo),
        }
    problem(
        "unbalanced_ledger",
        [
            (ledger, s)
            for ledger, s in report.ledgers.items()
            if s["debits_posted"] != s["credits_posted"]
            or s["debits_pending"] != s["credits_pending"]
        ],
        lambda ledger, s: f"ledger {ledger}: debits and credits differ: {s}",
    )

    problem(
        "ledger_mismatch",
        query(
            "SELECT t.id, t.ledger, d.ledger, c.ledger FROM transfers AS t"
            " JOIN accounts AS d ON d.id = t.debit_account_id"
            " JOIN accounts AS c ON c.id = t.credit_account_id"
            " WHERE t.ledger != d.ledger OR t.ledger != c.ledger"
        ),
        lambda id, t, d, c: f"transfer {_hex(id)}: ledger {t}, accounts on {d} and {c}",
    )
    problem(
        "bad_pending_reference",
        query(
            "SELECT r.id, r.pending_id FROM transfers AS r"
            " LEFT JOIN transfers AS p ON p.id = r.pending_id"
            " WHERE (r.flags & 12) != 0 AND (p.id IS NULL OR (p.flags & 2) = 0"
            "   OR p.debit_account_id != r.debit_account_id"
            "   OR p.credit_account_id != r.credit_account_id"
            "   OR r.amount > p.amount OR r.timestamp <= p.timestamp)"
        ),
        lambda id, pending: f"transfer {_hex(id)} resolves {_hex(pending)}, which it may not",
    )
    problem(
        "pending_resolved_twice",
        query(
            "SELECT pending_id, count(*) FROM ("
            " SELECT pending_id FROM transfers WHERE pending_id IS NOT NULL"
            " UNION ALL SELECT pending_id FROM expirations) AS resolutions"
            " GROUP BY pending_id HAVING count(*) > 1"
        ),
        lambda id, n: f"pending transfer {_hex(id)} was resolved {n} times",
    )
    problem(
        "limit_exceeded",
        query(
            "SELECT id, flags, debits_pending + debits_posted, credits_pending + credits_posted,"
            " debits_posted, credits_posted FROM accounts"
            " WHERE ((flags & 2) != 0 AND debits_pending + debits_posted > credits_posted)"
            "    OR ((flags & 4) != 0 AND credits_pending + credits_posted > debits_posted)"
        ),
        lambda id, flags, debits, credits, *_: (
            f"account {_hex(id)} (flags {flags}) has debits {debits} and credits {credits}"
        ),
    )
    problem(
        "broken_account_link",
        query(
            "WITH legs (account_id, ts, previous) AS ("
            " SELECT debit_account_id, timestamp, coalesce(debit_previous_timestamp, 0)"
            " FROM transfers UNION ALL"
            " SELECT credit_account_id, timestamp, coalesce(credit_previous_timestamp, 0)"
            " FROM transfers),"
            " ordered AS (SELECT account_id, ts, previous,"
            " coalesce(lag(ts) OVER (PARTITION BY account_id ORDER BY ts), 0) AS expected"
            " FROM legs)"
            " SELECT account_id, ts, previous, expected FROM ordered WHERE previous != expected"
        ),
        lambda account, ts, previous, expected: (
            f"transfer at {ts} of account {_hex(account)} links to {previous}, "
            f"its previous transfer is at {expected}"
        ),
    )
    problem(
        "stale_last_transfer",
        query(
            "SELECT a.id, a.last_transfer_timestamp, coalesce(max(l.ts), 0) FROM accounts AS a"
            " LEFT JOIN (SELECT debit_account_id AS account_id, timestamp AS ts FROM transfers"
            "  UNION ALL SELECT credit_account_id, timestamp FROM transfers) AS l"
            " ON l.account_id = a.id GROUP BY a.id, a.last_transfer_timestamp"
            " HAVING a.last_transfer_timestamp != coalesce(max(l.ts), 0)"
        ),
        lambda id, stored, newest: (
            f"account {_hex(id)}: last_transfer_timestamp {stored}, newest transfer {newest}"
        ),
    )
    return report
