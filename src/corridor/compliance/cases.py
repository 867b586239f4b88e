"""Cases: alerts grouped by subject, worked by compliance officers, with an audit trail.

Monitoring raises `Alert`s (`corridor.compliance.types`); a compliance officer works them as
cases. This module stores alerts, groups them into cases, moves cases through their states,
keeps notes and an append-only trail of every change (who, what, when), and releases or
refuses the payments that a REVIEW verdict holds pending.

Grouping. An alert joins the subject's case that is not closed (``customer:...`` or
``merchant:...``, `Alert.subject`); when the subject has none, a new case is opened for it.
A subject has at most one case that is not closed at a time (a unique index says so). An
alert belongs to exactly one case. Adding an alert again with the same data returns its case
and changes nothing; with other data under the same id it is ``alert_conflict``.

States (`TRANSITIONS`)::

    open           → investigating, escalated, closed
    investigating  → escalated, closed
    escalated      → investigating (back from a senior officer), closed
    closed         → nothing

Any other move (including to the same state) is ``invalid_transition``; any move out of
``closed`` is ``case_closed``. Closing needs a `Disposition`
(``false_positive``, ``no_action``, ``suspicious_reported``, ``duplicate``;
``disposition_required`` / ``invalid_disposition``) and no pending hold (``holds_pending``:
release or refuse them first, or the payment would stay reserved until its hold expires). A
closed case is read only (``case_closed`` for assign, note and transitions); a new alert on
its subject opens a new case.

Holds. An alert with verdict REVIEW holds its payment pending; the hold belongs to the case
of the first such alert on that payment. `CaseBook.release` and `CaseBook.refuse` resolve it
through a `HoldResolver`, which the switch implements (release = commit the payment, refuse
= abort it). Each is idempotent: a hold already resolved the same way is returned without
calling the resolver again; one resolved the other way is ``hold_resolved``. Resolutions are
serialized within the process; the resolver itself must be idempotent (the switch's commit
and abort are), because a crash between its call and the recording of the result makes a
retry call it again. A resolver failure that carries a ``code`` (the switch's errors do) is
recorded in the trail and raised as ``hold_resolution_failed`` naming that code, the hold
staying pending (an expired payment cannot be released; refusing it succeeds).

Audit trail. Every change appends a `CaseEvent` (``opened``, ``alert_added``,
``hold_placed``, ``assigned``, ``note_added``, ``transitioned``, ``closed``,
``hold_released``, ``hold_refused``, ``hold_resolution_failed``) with the actor, the time
from the clock passed in, and details as strings. Triggers refuse UPDATE and DELETE on
``alerts``, ``case_alerts``, ``case_notes`` and ``case_events``; only ``cases`` (state,
assignee, disposition, times) and ``case_holds`` (state of the hold) change, and every such
change has its event.

Storage: tables ``alerts``, ``cases``, ``case_alerts``, ``case_holds``, ``case_notes`` and
``case_events`` in the ledger's SQLite file, through a connection of its own, in short
``BEGIN IMMEDIATE`` transactions. Refused requests change nothing.
"""

from __future__ import annotations

import enum
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final, Protocol

from corridor.compliance.errors import ComplianceError
from corridor.compliance.types import Alert, Verdict
from corridor.store.transactions import (
    immediate_transaction,
    open_side_connection,
    read_transaction,
)

__all__ = [
    "ALERTS_PER_CALL_MAX",
    "CASES_SCHEMA",
    "LIST_LIMIT_MAX",
    "NOTE_CHARS_MAX",
    "TRANSITIONS",
    "Case",
    "CaseBook",
    "CaseDetail",
    "CaseEvent",
    "CaseState",
    "Disposition",
    "Hold",
    "HoldResolver",
    "HoldState",
    "Note",
]

BUSY_TIMEOUT_MS: Final = 5_000
"""How long a write waits for the ledger's writer before failing, in milliseconds."""
LIST_LIMIT_MAX: Final = 1000
ALERTS_PER_CALL_MAX: Final = 8189
"""Alerts stored in one `CaseBook.add_alerts` transaction."""
NOTE_CHARS_MAX: Final = 4000
NAME_CHARS_MAX: Final = 128
"""Longest actor, assignee, subject, rule, alert or payment id."""
EVIDENCE_ITEMS_MAX: Final = 64
EVIDENCE_VALUE_CHARS_MAX: Final = 1000
ERROR_CHARS_MAX: Final = 500
"""Longest resolver error message kept in the trail."""


class CaseState(enum.StrEnum):
    OPEN = "open"
    """Opened by an alert; nobody has started on it."""
    INVESTIGATING = "investigating"
    ESCALATED = "escalated"
    """Handed to a senior officer or the MLRO."""
    CLOSED = "closed"
    """Done, with a disposition; read only."""


class Disposition(enum.StrEnum):
    """Why a case was closed."""

    FALSE_POSITIVE = "false_positive"
    NO_ACTION = "no_action"
    """A true alert that needed nothing further."""
    SUSPICIOUS_REPORTED = "suspicious_reported"
    """A suspicious transaction report was filed with the financial intelligence unit."""
    DUPLICATE = "duplicate"


class HoldState(enum.StrEnum):
    PENDING = "pending"
    RELEASED = "released"
    REFUSED = "refused"


TRANSITIONS: Final[Mapping[CaseState, frozenset[CaseState]]] = {
    CaseState.OPEN: frozenset({CaseState.INVESTIGATING, CaseState.ESCALATED, CaseState.CLOSED}),
    CaseState.INVESTIGATING: frozenset({CaseState.ESCALATED, CaseState.CLOSED}),
    CaseState.ESCALATED: frozenset({CaseState.INVESTIGATING, CaseState.CLOSED}),
    CaseState.CLOSED: frozenset(),
}
"""The allowed moves from each state."""


class HoldResolver(Protocol):
    """What releases or refuses a payment held for review (the switch implements it).

    Each call either succeeds or raises; an exception with a ``code`` attribute is a
    refusal the case book records, any other is a bug and propagates.
    """

    def release(self, payment_id: str) -> object:
        """Let the held payment go ahead (commit it)."""
        ...

    def refuse(self, payment_id: str) -> object:
        """Refuse the held payment (abort it, releasing its holds)."""
        ...


@dataclass(frozen=True, slots=True)
class Case:
    case_id: int
    subject: str
    state: CaseState
    disposition: Disposition | None
    assignee: str | None
    opened_ns: int
    updated_ns: int
    closed_ns: int | None


@dataclass(frozen=True, slots=True)
class Note:
    note_id: int
    case_id: int
    author: str
    text: str
    at_ns: int


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One entry of a case's audit trail."""

    event_id: int
    case_id: int
    at_ns: int
    actor: str
    action: str
    detail: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True, slots=True)
class Hold:
    """A payment held pending by a REVIEW alert, and what became of it."""

    payment_id: str
    case_id: int
    state: HoldState
    resolved_by: str | None
    resolved_ns: int | None


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """A case with everything in it."""

    case: Case
    alerts: tuple[Alert, ...]
    """By time, then id."""
    holds: tuple[Hold, ...]
    notes: tuple[Note, ...]
    events: tuple[CaseEvent, ...]
    """The audit trail, oldest first."""


_APPEND_ONLY: Final = ("alerts", "case_alerts", "case_notes", "case_events")

CASES_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    score REAL NOT NULL,
    verdict TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    evidence TEXT NOT NULL,
    at_ns INTEGER NOT NULL,
    stored_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_rule ON alerts (rule, at_ns);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (at_ns);

CREATE TABLE IF NOT EXISTS cases (
    case_id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    state TEXT NOT NULL,
    disposition TEXT,
    assignee TEXT,
    opened_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    closed_ns INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS cases_one_open_per_subject
    ON cases (subject) WHERE state != 'closed';
CREATE INDEX IF NOT EXISTS cases_by_state ON cases (state, case_id);
CREATE INDEX IF NOT EXISTS cases_by_subject ON cases (subject, case_id);

CREATE TABLE IF NOT EXISTS case_alerts (
    case_id INTEGER NOT NULL REFERENCES cases (case_id),
    alert_id TEXT NOT NULL UNIQUE REFERENCES alerts (alert_id),
    PRIMARY KEY (case_id, alert_id)
);

CREATE TABLE IF NOT EXISTS case_holds (
    payment_id TEXT PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (case_id),
    state TEXT NOT NULL,
    resolved_by TEXT,
    resolved_ns INTEGER
);
CREATE INDEX IF NOT EXISTS case_holds_by_case ON case_holds (case_id, state);

CREATE TABLE IF NOT EXISTS case_notes (
    note_id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (case_id),
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    at_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS case_notes_by_case ON case_notes (case_id, note_id);

CREATE TABLE IF NOT EXISTS case_events (
    event_id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (case_id),
    at_ns INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_events_by_case ON case_events (case_id, event_id);
""" + "".join(
    f"""
CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()}
BEFORE {verb} ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;
"""
    for table in _APPEND_ONLY
    for verb in ("UPDATE", "DELETE")
)
"""The case book's tables, in the ledger's database file."""


# --- validation ------------------------------------------------------------------------


def _check_name(value: object, what: str, code: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ComplianceError(code, f"{what} must be non-empty text, not {value!r}")
    if len(value) > NAME_CHARS_MAX:
        raise ComplianceError(code, f"{what} has {len(value)} characters; at most {NAME_CHARS_MAX}")
    if value != value.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ComplianceError(code, f"{what} has surrounding spaces or control characters")
    return value


def _check_actor(actor: object) -> str:
    return _check_name(actor, "actor", "invalid_actor")


def _check_case_id(case_id: object) -> int:
    if not isinstance(case_id, int) or isinstance(case_id, bool) or case_id <= 0:
        raise ComplianceError("unknown_case", f"a case id is a positive integer, not {case_id!r}")
    return case_id


def _check_limit(limit: object) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= LIST_LIMIT_MAX:
        raise ComplianceError("invalid_query", f"limit is 1 to {LIST_LIMIT_MAX}, not {limit!r}")
    return limit


def _state(value: object) -> CaseState:
    try:
        return CaseState(str(value))
    except ValueError:
        states = ", ".join(s.value for s in CaseState)
        raise ComplianceError("invalid_state", f"no case state {value!r} ({states})") from None


def _disposition(value: object) -> Disposition:
    try:
        return Disposition(str(value))
    except ValueError:
        names = ", ".join(d.value for d in Disposition)
        raise ComplianceError(
            "invalid_disposition", f"no disposition {value!r} ({names})"
        ) from None


def _check_alert(alert: object) -> Alert:
    code = "invalid_alert"
    if not isinstance(alert, Alert):
        raise ComplianceError(code, f"not an Alert: {alert!r}")
    _check_name(alert.alert_id, "alert id", code)
    _check_name(alert.rule, "alert rule", code)
    _check_name(alert.payment_id, "alert payment id", code)
    _check_name(alert.subject, "alert subject", code)
    score = alert.score
    if not isinstance(score, float | int) or isinstance(score, bool) or not math.isfinite(score):
        raise ComplianceError(code, f"alert score must be a number in 0..1, not {score!r}")
    if not 0 <= score <= 1:
        raise ComplianceError(code, f"alert score must be in 0..1, not {score!r}")
    if not isinstance(alert.verdict, Verdict):
        raise ComplianceError(code, f"alert verdict must be a Verdict, not {alert.verdict!r}")
    if not isinstance(alert.at_ns, int) or isinstance(alert.at_ns, bool) or alert.at_ns < 0:
        raise ComplianceError(code, f"alert time must be ns since the epoch, not {alert.at_ns!r}")
    evidence = alert.evidence
    if not isinstance(evidence, Mapping) or len(evidence) > EVIDENCE_ITEMS_MAX:
        raise ComplianceError(
            code, f"evidence must map at most {EVIDENCE_ITEMS_MAX} names to text values"
        )
    for key, value in evidence.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ComplianceError(code, f"evidence {key!r} must map text to text")
        if len(key) > NAME_CHARS_MAX or len(value) > EVIDENCE_VALUE_CHARS_MAX:
            raise ComplianceError(code, f"evidence {key!r} is too long")
    return alert


def _json(detail: Mapping[str, str]) -> str:
    return json.dumps(dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _detail(text: object) -> dict[str, str]:
    loaded = json.loads(str(text))
    assert isinstance(loaded, dict)
    return {str(k): str(v) for k, v in loaded.items()}


# --- rows ------------------------------------------------------------------------------

_CASE_COLUMNS: Final = (
    "case_id, subject, state, disposition, assignee, opened_ns, updated_ns, closed_ns"
)
_ALERT_COLUMNS: Final = "alert_id, rule, score, verdict, payment_id, subject, evidence, at_ns"


def _case(row: Sequence[object]) -> Case:
    return Case(
        case_id=int(str(row[0])),
        subject=str(row[1]),
        state=CaseState(str(row[2])),
        disposition=None if row[3] is None else Disposition(str(row[3])),
        assignee=None if row[4] is None else str(row[4]),
        opened_ns=int(str(row[5])),
        updated_ns=int(str(row[6])),
        closed_ns=None if row[7] is None else int(str(row[7])),
    )


def _alert(row: Sequence[object]) -> Alert:
    score = row[2]
    assert isinstance(score, float | int)
    return Alert(
        alert_id=str(row[0]),
        rule=str(row[1]),
        score=float(score),
        verdict=Verdict(str(row[3])),
        payment_id=str(row[4]),
        subject=str(row[5]),
        evidence=_detail(row[6]),
        at_ns=int(str(row[7])),
    )


def _hold(row: Sequence[object]) -> Hold:
    return Hold(
        payment_id=str(row[0]),
        case_id=int(str(row[1])),
        state=HoldState(str(row[2])),
        resolved_by=None if row[3] is None else str(row[3]),
        resolved_ns=None if row[4] is None else int(str(row[4])),
    )


# --- the case book ---------------------------------------------------------------------


class CaseBook:
    """Alerts, cases, notes, holds and the audit trail of one database. Thread-safe."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        resolver: HoldResolver | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._db = connection
        self._resolver = resolver
        self._clock = clock
        self._lock = threading.RLock()
        self._resolving = threading.Lock()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        resolver: HoldResolver | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> CaseBook:
        """The case book in the database file at `path`, creating its tables if missing.

        `resolver` releases and refuses held payments (needed only by `release` and
        `refuse`); `clock` gives nanoseconds since the Unix epoch for every timestamp.
        """
        connection = open_side_connection(path, CASES_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS)
        return cls(connection, resolver=resolver, clock=clock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> CaseBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock, immediate_transaction(self._db):
            yield

    @contextmanager
    def _read(self) -> Iterator[None]:
        with self._lock, read_transaction(self._db):
            yield

    def _event(
        self,
        case_id: int,
        actor: str,
        action: str,
        detail: Mapping[str, str],
        now: int | None = None,
    ) -> None:
        """Append to the trail and touch the case (inside a write transaction)."""
        if now is None:
            now = self._clock()
        self._db.execute(
            "INSERT INTO case_events (case_id, at_ns, actor, action, detail)"
            " VALUES (?, ?, ?, ?, ?)",
            (case_id, now, actor, action, _json(detail)),
        )
        self._db.execute("UPDATE cases SET updated_ns = ? WHERE case_id = ?", (now, case_id))

    # -- alerts --------------------------------------------------------------------------

    def add_alert(self, alert: Alert, *, actor: str = "monitoring") -> Case:
        """Store `alert` and put it in its subject's open case (opened if needed)."""
        return self.add_alerts([alert], actor=actor)[0]

    def add_alerts(self, alerts: Sequence[Alert], *, actor: str = "monitoring") -> list[Case]:
        """`add_alert` for many alerts in one transaction; the case of each, in order.

        All or nothing: one refused alert (``invalid_alert``, ``alert_conflict``) stores none.
        """
        actor = _check_actor(actor)
        if len(alerts) > ALERTS_PER_CALL_MAX:
            raise ComplianceError(
                "invalid_alert", f"{len(alerts)} alerts; at most {ALERTS_PER_CALL_MAX} per call"
            )
        checked = [_check_alert(alert) for alert in alerts]
        case_ids: list[int] = []
        with self._write():
            for alert in checked:
                case_ids.append(self._store_alert(alert, actor))
            found = {i: self._find_case(i) for i in set(case_ids)}
        cases = [found[i] for i in case_ids]
        assert all(case is not None for case in cases)
        return [case for case in cases if case is not None]

    def _store_alert(self, alert: Alert, actor: str) -> int:
        existing = self._db.execute(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE alert_id = ?", (alert.alert_id,)
        ).fetchone()
        if existing is not None:
            stored = _alert(existing)
            if stored != alert:
                raise ComplianceError(
                    "alert_conflict", f"alert {alert.alert_id!r} is stored with other data"
                )
            row = self._db.execute(
                "SELECT case_id FROM case_alerts WHERE alert_id = ?", (alert.alert_id,)
            ).fetchone()
            assert row is not None, "every stored alert is in a case"
            return int(row[0])
        now = self._clock()
        self._db.execute(
            f"INSERT INTO alerts ({_ALERT_COLUMNS}, stored_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                alert.alert_id,
                alert.rule,
                float(alert.score),
                alert.verdict.value,
                alert.payment_id,
                alert.subject,
                _json(alert.evidence),
                alert.at_ns,
                now,
            ),
        )
        row = self._db.execute(
            "SELECT case_id FROM cases WHERE subject = ? AND state != ?",
            (alert.subject, CaseState.CLOSED.value),
        ).fetchone()
        if row is None:
            case_id = self._db.execute(
                "INSERT INTO cases (subject, state, opened_ns, updated_ns) VALUES (?, ?, ?, ?)",
                (alert.subject, CaseState.OPEN.value, now, now),
            ).lastrowid
            assert case_id is not None
            self._event(case_id, actor, "opened", {"subject": alert.subject})
        else:
            case_id = int(row[0])
        self._db.execute(
            "INSERT INTO case_alerts (case_id, alert_id) VALUES (?, ?)", (case_id, alert.alert_id)
        )
        self._event(
            case_id,
            actor,
            "alert_added",
            {
                "alert_id": alert.alert_id,
                "rule": alert.rule,
                "verdict": alert.verdict.value,
                "payment_id": alert.payment_id,
                "score": repr(float(alert.score)),
            },
        )
        if alert.verdict is Verdict.REVIEW:
            placed = self._db.execute(
                "INSERT INTO case_holds (payment_id, case_id, state) VALUES (?, ?, ?)"
                " ON CONFLICT (payment_id) DO NOTHING",
                (alert.payment_id, case_id, HoldState.PENDING.value),
            ).rowcount
            if placed:
                self._event(case_id, actor, "hold_placed", {"payment_id": alert.payment_id})
        return case_id

    def list_alerts(
        self,
        *,
        rule: str | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts by time (then id), optionally of one rule, with since ≤ at_ns < until."""
        limit = _check_limit(limit)
        clauses: list[str] = []
        params: list[object] = []
        if rule is not None:
            clauses.append("rule = ?")
            params.append(_check_name(rule, "rule", "invalid_query"))
        for bound, clause in ((since_ns, "at_ns >= ?"), (until_ns, "at_ns < ?")):
            if bound is None:
                continue
            if not isinstance(bound, int) or isinstance(bound, bool):
                raise ComplianceError("invalid_query", f"a time bound is ns, not {bound!r}")
            clauses.append(clause)
            params.append(bound)
        if since_ns is not None and until_ns is not None and since_ns > until_ns:
            raise ComplianceError("invalid_query", "the time range ends before it starts")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts{where} ORDER BY at_ns, alert_id LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [_alert(row) for row in rows]

    # -- reading cases -------------------------------------------------------------------

    def _find_case(self, case_id: int) -> Case | None:
        row = self._db.execute(
            f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id = ?", (case_id,)
        ).fetchone()
        return None if row is None else _case(row)

    def case(self, case_id: int) -> Case:
        """The case with this id; ``unknown_case`` if none."""
        case_id = _check_case_id(case_id)
        with self._lock:
            found = self._find_case(case_id)
        if found is None:
            raise ComplianceError("unknown_case", f"no case {case_id}")
        return found

    def get(self, case_id: int) -> CaseDetail:
        """The case with its alerts, holds, notes and audit trail; ``unknown_case``."""
        case_id = _check_case_id(case_id)
        with self._read():
            case = self._find_case(case_id)
            if case is None:
                raise ComplianceError("unknown_case", f"no case {case_id}")
            alerts = self._db.execute(
                f"SELECT {', '.join('a.' + c for c in _ALERT_COLUMNS.split(', '))}"
                " FROM alerts a JOIN case_alerts ca ON ca.alert_id = a.alert_id"
                " WHERE ca.case_id = ? ORDER BY a.at_ns, a.alert_id",
                (case_id,),
            ).fetchall()
            holds = self._db.execute(
                "SELECT payment_id, case_id, state, resolved_by, resolved_ns FROM case_holds"
                " WHERE case_id = ? ORDER BY payment_id",
                (case_id,),
            ).fetchall()
            notes = self._db.execute(
                "SELECT note_id, case_id, author, text, at_ns FROM case_notes"
                " WHERE case_id = ? ORDER BY note_id",
                (case_id,),
            ).fetchall()
            events = self._db.execute(
                "SELECT event_id, case_id, at_ns, actor, action, detail FROM case_events"
                " WHERE case_id = ? ORDER BY event_id",
                (case_id,),
            ).fetchall()
        return CaseDetail(
            case=case,
            alerts=tuple(_alert(row) for row in alerts),
            holds=tuple(_hold(row) for row in holds),
            notes=tuple(Note(int(r[0]), int(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in notes),
            events=tuple(
                CaseEvent(int(r[0]), int(r[1]), int(r[2]), str(r[3]), str(r[4]), _detail(r[5]))
                for r in events
            ),
        )

    def list_cases(
        self,
        *,
        state: CaseState | str | None = None,
        subject: str | None = None,
        assignee: str | None = None,
        limit: int = 100,
    ) -> list[Case]:
        """Cases oldest first (a work queue), filtered by state, subject and assignee."""
        limit = _check_limit(limit)
        clauses: list[str] = []
        params: list[object] = []
        if state is not None:
            clauses.append("state = ?")
            params.append(_state(state).value)
        if subject is not None:
            clauses.append("subject = ?")
            params.append(_check_name(subject, "subject", "invalid_query"))
        if assignee is not None:
            clauses.append("assignee = ?")
            params.append(_check_name(assignee, "assignee", "invalid_query"))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_CASE_COLUMNS} FROM cases{where} ORDER BY case_id LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [_case(row) for row in rows]

    # -- working a case ------------------------------------------------------------------

    def _open_case(self, case_id: int) -> Case:
        """The case, inside a write transaction; refused if unknown or closed."""
        case = self._find_case(case_id)
        if case is None:
            raise ComplianceError("unknown_case", f"no case {case_id}")
        if case.state is CaseState.CLOSED:
            raise ComplianceError("case_closed", f"case {case_id} is closed; it is read only")
        return case

    def assign(self, case_id: int, assignee: str, *, actor: str) -> Case:
        """Give the case to `assignee` (an officer's name); ``case_closed`` when closed."""
        case_id = _check_case_id(case_id)
        assignee = _check_name(assignee, "assignee", "invalid_assignee")
        actor = _check_actor(actor)
        with self._write():
            case = self._open_case(case_id)
            self._db.execute("UPDATE cases SET assignee = ? WHERE case_id = ?", (assignee, case_id))
            self._event(case_id, actor, "assigned", {"from": case.assignee or "", "to": assignee})
            updated = self._find_case(case_id)
        assert updated is not None
        return updated

    def note(self, case_id: int, text: str, *, author: str) -> Note:
        """Add a note (at most `NOTE_CHARS_MAX` characters); ``case_closed`` when closed."""
        case_id = _check_case_id(case_id)
        author = _check_actor(author)
        if not isinstance(text, str) or not text.strip():
            raise ComplianceError("invalid_note", "a note is non-empty text")
        if len(text) > NOTE_CHARS_MAX:
            raise ComplianceError(
                "invalid_note", f"a note has at most {NOTE_CHARS_MAX} characters, not {len(text)}"
            )
        with self._write():
            self._open_case(case_id)
            now = self._clock()
            note_id = self._db.execute(
                "INSERT INTO case_notes (case_id, author, text, at_ns) VALUES (?, ?, ?, ?)",
                (case_id, author, text, now),
            ).lastrowid
            assert note_id is not None
            self._event(case_id, author, "note_added", {"note_id": str(note_id)}, now)
        return Note(note_id, case_id, author, text, now)

    def transition(
        self,
        case_id: int,
        state: CaseState | str,
        *,
        actor: str,
        disposition: Disposition | str | None = None,
    ) -> Case:
        """Move the case to `state` (see `TRANSITIONS`); closing needs a disposition.

        Refusals: ``invalid_state``, ``invalid_transition``, ``disposition_required``,
        ``invalid_disposition`` (a disposition given for a state other than closed),
        ``holds_pending``, ``unknown_case``, ``case_closed``.
        """
        case_id = _check_case_id(case_id)
        target = _state(state)
        actor = _check_actor(actor)
        chosen = None if disposition is None else _disposition(disposition)
        if target is CaseState.CLOSED and chosen is None:
            raise ComplianceError(
                "disposition_required",
                "closing a case needs a disposition ("
                + ", ".join(d.value for d in Disposition)
                + ")",
            )
        if target is not CaseState.CLOSED and chosen is not None:
            raise ComplianceError(
                "invalid_disposition", "a disposition is given only when closing a case"
            )
        with self._write():
            case = self._open_case(case_id)
            if target not in TRANSITIONS[case.state]:
                allowed = ", ".join(sorted(s.value for s in TRANSITIONS[case.state]))
                raise ComplianceError(
                    "invalid_transition",
                    f"case {case_id} is {case.state.value}; it can move to {allowed},"
                    f" not {target.value}",
                )
            if target is CaseState.CLOSED:
                assert chosen is not None
                pending = [
                    str(row[0])
                    for row in self._db.execute(
                        "SELECT payment_id FROM case_holds WHERE case_id = ? AND state = ?"
                        " ORDER BY payment_id",
                        (case_id, HoldState.PENDING.value),
                    )
                ]
                if pending:
                    raise ComplianceError(
                        "holds_pending",
                        f"case {case_id} still holds payment(s) {', '.join(pending)}:"
                        " release or refuse them before closing",
                    )
                now = self._clock()
                self._db.execute(
                    "UPDATE cases SET state = ?, disposition = ?, closed_ns = ? WHERE case_id = ?",
                    (target.value, chosen.value, now, case_id),
                )
                self._event(
                    case_id,
                    actor,
                    "closed",
                    {"from": case.state.value, "to": target.value, "disposition": chosen.value},
                    now,
                )
            else:
                self._db.execute(
                    "UPDATE cases SET state = ? WHERE case_id = ?", (target.value, case_id)
                )
                self._event(
                    case_id, actor, "transitioned", {"from": case.state.value, "to": target.value}
                )
            updated = self._find_case(case_id)
        assert updated is not None
        return updated

    def close_case(self, case_id: int, disposition: Disposition | str, *, actor: str) -> Case:
        """Close the case with `disposition` (`transition` to closed)."""
        return self.transition(case_id, CaseState.CLOSED, actor=actor, disposition=disposition)

    # -- holds ---------------------------------------------------------------------------

    def hold(self, payment_id: str) -> Hold | None:
        """The hold on a payment, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT payment_id, case_id, state, resolved_by, resolved_ns FROM case_holds"
                " WHERE payment_id = ?",
                (payment_id,),
            ).fetchone()
        return None if row is None else _hold(row)

    def release(self, case_id: int, payment_id: str, *, actor: str) -> Hold:
        """Let the held payment go ahead (the resolver commits it); idempotent."""
        return self._resolve(case_id, payment_id, actor, HoldState.RELEASED)

    def refuse(self, case_id: int, payment_id: str, *, actor: str) -> Hold:
        """Refuse the held payment (the resolver aborts it); idempotent."""
        return self._resolve(case_id, payment_id, actor, HoldState.REFUSED)

    def _resolve(self, case_id: int, payment_id: str, actor: str, target: HoldState) -> Hold:
        case_id = _check_case_id(case_id)
        payment_id = _check_name(payment_id, "payment id", "unknown_hold")
        actor = _check_actor(actor)
        verb = "release" if target is HoldState.RELEASED else "refuse"
        with self._resolving:
            case = self.case(case_id)
            hold = self.hold(payment_id)
            if hold is None or hold.case_id != case_id:
                where = "" if hold is None else f" (it is held by case {hold.case_id})"
                raise ComplianceError(
                    "unknown_hold", f"case {case_id} holds no payment {payment_id!r}{where}"
                )
            if hold.state is target:
                return hold
            if hold.state is not HoldState.PENDING:
                raise ComplianceError(
                    "hold_resolved",
                    f"payment {payment_id} was already {hold.state.value} by {hold.resolved_by}",
                )
            assert case.state is not CaseState.CLOSED, "a closed case holds nothing pending"
            if self._resolver is None:
                raise ComplianceError(
                    "no_resolver", "this case book has no hold resolver (the payment service)"
                )
            action = (
                self._resolver.release if target is HoldState.RELEASED else (self._resolver.refuse)
            )
            try:
                action(payment_id)
            except Exception as error:
                code = getattr(error, "code", None)
                if not isinstance(code, str):
                    raise
                message = " ".join(str(error).split())[:ERROR_CHARS_MAX]
                with self._write():
                    self._event(
                        case_id,
                        actor,
                        "hold_resolution_failed",
                        {
                            "payment_id": payment_id,
                            "action": verb,
                            "error": code,
                            "message": message,
                        },
                    )
                raise ComplianceError(
                    "hold_resolution_failed",
                    f"could not {verb} payment {payment_id}: {code}: {message}",
                ) from None
            with self._write():
                now = self._clock()
                changed = self._db.execute(
                    "UPDATE case_holds SET state = ?, resolved_by = ?, resolved_ns = ?"
                    " WHERE payment_id = ? AND state = ?",
                    (target.value, actor, now, payment_id, HoldState.PENDING.value),
                ).rowcount
                if changed:
                    self._event(
                        case_id, actor, f"hold_{target.value}", {"payment_id": payment_id}, now
                    )
        resolved = self.hold(payment_id)
        assert resolved is not None
        if resolved.state is not target:
            raise ComplianceError(
                "hold_resolved",
                f"payment {payment_id} was {resolved.state.value} by {resolved.resolved_by}"
                " meanwhile",
            )
        return resolved
