"""Read-only database connections for the dashboard, narrowed to what a key may see.

The dashboard's charts are the sandbox's SQL reports (`corridor.analytics.reports`), which
read whole tables. A participant key may see only the payments it takes part in, so for it
the connection shadows those tables with TEMP views of the same names that keep only its
rows: SQLite resolves an unqualified table name in the ``temp`` schema before ``main``, so
every report query reads the narrowed view without knowing it. Which reports a participant
may run at all is an explicit allow-list (`PARTICIPANT_REPORTS`), so that a report added
later over some other table is not shown to participants until someone has decided it may be.

What a participant's connection sees:

- ``payments``: those it is the wallet, acquirer or FX provider of;
- ``refunds``: refunds of those payments;
- ``merchants``: its own merchants (an acquirer's) and the merchants of its payments;
- ``settlement_positions``: its own positions;
- ``alerts``, ``case_alerts``, ``cases``: nothing (compliance data).

Participants, settlement windows and the directory's public names stay as they are, and so
does ``sim_labels``: ``spend_per_trip`` leaves the sandbox's labelled parties out of its
averages, and a wallet's averages must be the same numbers the operator sees for it (no
allowed report shows labels row by row).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

from corridor.analytics.reports import open_readonly, tables

__all__ = ["PARTICIPANT_REPORTS", "open_scoped", "sql_text"]

PARTICIPANT_REPORTS: Final = frozenset(
    {
        "volume_by_corridor_day",
        "volume_by_currency",
        "spend_per_trip",
        "by_prefecture",
        "by_category",
        "fx_volume",
        "settlement_positions",
        "settlement_nets",
        "payments_by_state",
        "top_merchants",
    }
)
"""Reports a participant key may run, over its own rows only."""

_HIDDEN: Final = ("alerts", "case_alerts", "cases")


def sql_text(value: str) -> str:
    """`value` as an SQL string literal (views take no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def open_scoped(db: Path, participant_id: str | None) -> sqlite3.Connection:
    """A read-only connection to `db`; with `participant_id`, narrowed to its rows.

    Raises `corridor.analytics.reports.ReportError` (``database_not_found``,
    ``invalid_database``) when the file cannot be read.
    """
    connection = open_readonly(db)
    if participant_id is None:
        return connection
    try:
        _narrow(connection, participant_id)
    except BaseException:
        connection.close()
        raise
    return connection


def _narrow(connection: sqlite3.Connection, participant_id: str) -> None:
    me = sql_text(participant_id)
    present = tables(connection)
    views: list[str] = []
    if "payments" in present:
        views.append(
            "CREATE TEMP VIEW payments AS SELECT * FROM main.payments"
            f" WHERE wallet_id = {me} OR acquirer_id = {me} OR provider_id = {me}"
        )
    else:  # no payments yet: nothing else can be narrowed by them either
        views.append("CREATE TEMP TABLE payments (payment_id TEXT, merchant_id TEXT)")
    if "refunds" in present:
        views.append(
            "CREATE TEMP VIEW refunds AS SELECT * FROM main.refunds"
            " WHERE payment_id IN (SELECT payment_id FROM temp.payments)"
        )
    if "merchants" in present:
        views.append(
            "CREATE TEMP VIEW merchants AS SELECT * FROM main.merchants"
            f" WHERE acquirer_id = {me} OR id IN (SELECT merchant_id FROM temp.payments)"
        )
    if "settlement_positions" in present:
        views.append(
            "CREATE TEMP VIEW settlement_positions AS SELECT * FROM main.settlement_positions"
            f" WHERE participant_id = {me}"
        )
    views.extend(
        f"CREATE TEMP VIEW {name} AS SELECT * FROM main.{name} WHERE 0"
        for name in _HIDDEN
        if name in present
    )
    for statement in views:
        connection.execute(statement)
