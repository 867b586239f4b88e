"""Tests for corridor.compliance.cases: grouping, states, notes, holds and the audit trail.

What they pin: alerts join their subject's open case (or open one); every allowed transition
works and every other one is refused with ``invalid_transition`` and changes nothing; closing
needs a disposition and no pending hold; a closed case is read only; every change appends
exactly one trail entry naming who, what and when; release and refuse call the resolver
exactly once (a retry calls nothing), resolver refusals are recorded and the hold stays
pending; with the real payment service a release commits the held payment and a refusal
aborts it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from corridor.compliance.cases import (
    LIST_LIMIT_MAX,
    NOTE_CHARS_MAX,
    TRANSITIONS,
    CaseBook,
    CaseState,
    Disposition,
    HoldState,
)
from corridor.compliance.errors import ComplianceError
from corridor.compliance.types import Alert, Verdict
from corridor.switch.errors import SwitchError
from corridor.switch.money import Money
from corridor.switch.payments import PaymentState
from tests.compliance.corridor_world import corridor_world

T0 = 1_710_504_000_000_000_000  # 2024-03-15 12:00 UTC, in ns
SUBJECT = "customer:alipay-cn/c-wang"
OTHER = "merchant:m-kyoto-tea"


class StepClock:
    """Each call is one second after the previous: every event has its own time."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        self.now += 1_000_000_000
        return self.now


class RecordingResolver:
    """The switch's side of a hold, recorded: which calls were made, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_with: Exception | None = None

    def release(self, payment_id: str) -> object:
        self.calls.append(("release", payment_id))
        if self.fail_with is not None:
            raise self.fail_with
        return None

    def refuse(self, payment_id: str) -> object:
        self.calls.append(("refuse", payment_id))
        if self.fail_with is not None:
            raise self.fail_with
        return None


def alert(
    alert_id: str = "a-1",
    *,
    subject: str = SUBJECT,
    verdict: Verdict = Verdict.REVIEW,
    payment_id: str = "pay-1",
    rule: str = "monitoring.velocity",
    at_ns: int = T0,
) -> Alert:
    return Alert(
        alert_id=alert_id,
        rule=rule,
        score=0.75,
        verdict=verdict,
        payment_id=payment_id,
        subject=subject,
        evidence={"payments_1h": "12", "limit": "10"},
        at_ns=at_ns,
    )


@pytest.fixture
def resolver() -> RecordingResolver:
    return RecordingResolver()


@pytest.fixture
def book(tmp_path: Path, resolver: RecordingResolver) -> Iterator[CaseBook]:
    with CaseBook.open(tmp_path / "corridor.db", resolver=resolver, clock=StepClock()) as cases:
        yield cases


def trail(book: CaseBook, case_id: int) -> list[tuple[str, str, dict[str, str]]]:
    return [(e.actor, e.action, dict(e.detail)) for e in book.get(case_id).events]


def case_in(book: CaseBook, state: CaseState, *, alert_id: str = "a-1") -> int:
    """A case brought to `state` through allowed moves (closed: as a false positive)."""
    case = book.add_alert(alert(alert_id, verdict=Verdict.ALLOW))
    path = {
        CaseState.OPEN: [],
        CaseState.INVESTIGATING: [CaseState.INVESTIGATING],
        CaseState.ESCALATED: [CaseState.ESCALATED],
        CaseState.CLOSED: [CaseState.CLOSED],
    }[state]
    for step in path:
        disposition = Disposition.FALSE_POSITIVE if step is CaseState.CLOSED else None
        book.transition(case.case_id, step, actor="officer", disposition=disposition)
    assert book.case(case.case_id).state is state
    return case.case_id


# --- grouping --------------------------------------------------------------------------


def test_a_first_alert_opens_a_case_for_its_subject(book: CaseBook) -> None:
    case = book.add_alert(alert())

    assert (case.subject, case.state, case.assignee, case.disposition) == (
        SUBJECT,
        CaseState.OPEN,
        None,
        None,
    )
    detail = book.get(case.case_id)
    assert detail.alerts == (alert(),)
    assert [e.action for e in detail.events] == ["opened", "alert_added", "hold_placed"]


def test_alerts_on_the_same_subject_join_its_open_case(book: CaseBook) -> None:
    first = book.add_alert(alert("a-1"))
    second = book.add_alert(alert("a-2", payment_id="pay-2", at_ns=T0 + 5))
    other = book.add_alert(alert("a-3", subject=OTHER))

    assert second.case_id == first.case_id
    assert other.case_id != first.case_id
    assert [a.alert_id for a in book.get(first.case_id).alerts] == ["a-1", "a-2"]
    assert [a.alert_id for a in book.get(other.case_id).alerts] == ["a-3"]


def test_an_alert_after_closing_opens_a_new_case(book: CaseBook) -> None:
    closed = case_in(book, CaseState.CLOSED)

    fresh = book.add_alert(alert("a-2", verdict=Verdict.ALLOW))

    assert fresh.case_id != closed
    assert fresh.state is CaseState.OPEN
    assert [c.case_id for c in book.list_cases(subject=SUBJECT)] == [closed, fresh.case_id]


def test_adding_the_same_alert_again_changes_nothing(book: CaseBook) -> None:
    case = book.add_alert(alert())
    before = book.get(case.case_id)

    again = book.add_alert(alert())

    assert again.case_id == case.case_id
    assert book.get(case.case_id) == before


def test_the_same_alert_id_with_other_data_is_refused(book: CaseBook) -> None:
    case = book.add_alert(alert())
    before = book.get(case.case_id)

    with pytest.raises(ComplianceError) as error:
        book.add_alert(dataclasses.replace(alert(), score=0.5))

    assert error.value.code == "alert_conflict"
    assert book.get(case.case_id) == before


@pytest.mark.parametrize(
    "bad",
    [
        dataclasses.replace(alert(), score=1.5),
        dataclasses.replace(alert(), score=float("nan")),
        dataclasses.replace(alert(), subject=""),
        dataclasses.replace(alert(), alert_id=" a-1"),
        dataclasses.replace(alert(), at_ns=-1),
        dataclasses.replace(alert(), evidence={"k": 1}),  # type: ignore[dict-item]
        dataclasses.replace(alert(), verdict="review"),  # type: ignore[arg-type]
    ],
    ids=["score", "nan", "subject", "spaces", "time", "evidence", "verdict"],
)
def test_a_malformed_alert_is_refused_and_nothing_is_stored(book: CaseBook, bad: Alert) -> None:
    with pytest.raises(ComplianceError) as error:
        book.add_alert(bad)

    assert error.value.code == "invalid_alert"
    assert book.list_alerts() == []
    assert book.list_cases() == []


def test_a_batch_of_alerts_is_all_or_nothing(book: CaseBook) -> None:
    with pytest.raises(ComplianceError):
        book.add_alerts([alert("a-1"), dataclasses.replace(alert("a-2"), score=2.0)])
    assert book.list_alerts() == []

    cases = book.add_alerts([alert("a-1"), alert("a-2", subject=OTHER), alert("a-3")])
    assert cases[0].case_id == cases[2].case_id != cases[1].case_id


def test_only_a_review_alert_holds_its_payment(book: CaseBook) -> None:
    book.add_alert(alert("a-1", verdict=Verdict.ALLOW, payment_id="pay-allow"))
    book.add_alert(alert("a-2", verdict=Verdict.BLOCK, payment_id="pay-block"))
    case = book.add_alert(alert("a-3", verdict=Verdict.REVIEW, payment_id="pay-review"))

    assert book.hold("pay-allow") is None
    assert book.hold("pay-block") is None
    hold = book.hold("pay-review")
    assert hold is not None
    assert (hold.case_id, hold.state, hold.resolved_by) == (case.case_id, HoldState.PENDING, None)


def test_a_payment_is_held_once_by_the_first_case(book: CaseBook) -> None:
    first = book.add_alert(alert("a-1", payment_id="pay-1"))
    book.add_alert(alert("a-2", subject=OTHER, payment_id="pay-1"))

    hold = book.hold("pay-1")
    assert hold is not None and hold.case_id == first.case_id


# --- states ----------------------------------------------------------------------------

ALL_MOVES = list(itertools.product(CaseState, CaseState))


@pytest.mark.parametrize(
    ("start", "target"),
    [m for m in ALL_MOVES if m[1] in TRANSITIONS[m[0]]],
    ids=[f"{a.value}->{b.value}" for a, b in ALL_MOVES if b in TRANSITIONS[a]],
)
def test_every_allowed_transition_moves_the_case_and_is_in_the_trail(
    book: CaseBook, start: CaseState, target: CaseState
) -> None:
    case_id = case_in(book, start)
    disposition = Disposition.NO_ACTION if target is CaseState.CLOSED else None

    moved = book.transition(case_id, target, actor="lee", disposition=disposition)

    assert moved.state is target
    actor, action, detail = trail(book, case_id)[-1]
    assert actor == "lee"
    if target is CaseState.CLOSED:
        assert action == "closed"
        assert detail == {"from": start.value, "to": "closed", "disposition": "no_action"}
        assert moved.disposition is Disposition.NO_ACTION
        assert moved.closed_ns == moved.updated_ns
    else:
        assert (action, detail) == ("transitioned", {"from": start.value, "to": target.value})


@pytest.mark.parametrize(
    ("start", "target"),
    [m for m in ALL_MOVES if m[1] not in TRANSITIONS[m[0]]],
    ids=[f"{a.value}->{b.value}" for a, b in ALL_MOVES if b not in TRANSITIONS[a]],
)
def test_every_other_transition_is_refused_and_changes_nothing(
    book: CaseBook, start: CaseState, target: CaseState
) -> None:
    case_id = case_in(book, start)
    before = book.get(case_id)
    disposition = Disposition.NO_ACTION if target is CaseState.CLOSED else None

    with pytest.raises(ComplianceError) as error:
        book.transition(case_id, target, actor="lee", disposition=disposition)

    expected = "case_closed" if start is CaseState.CLOSED else "invalid_transition"
    assert error.value.code == expected
    assert book.get(case_id) == before


def test_the_transition_table_is_the_documented_one() -> None:
    assert {s: sorted(t.value for t in ts) for s, ts in TRANSITIONS.items()} == {
        CaseState.OPEN: ["closed", "escalated", "investigating"],
        CaseState.INVESTIGATING: ["closed", "escalated"],
        CaseState.ESCALATED: ["closed", "investigating"],
        CaseState.CLOSED: [],
    }


def test_closing_needs_a_disposition(book: CaseBook) -> None:
    case_id = case_in(book, CaseState.INVESTIGATING)

    with pytest.raises(ComplianceError) as missing:
        book.transition(case_id, "closed", actor="lee")
    with pytest.raises(ComplianceError) as unknown:
        book.close_case(case_id, "fine", actor="lee")
    with pytest.raises(ComplianceError) as misplaced:
        book.transition(case_id, "escalated", actor="lee", disposition="no_action")

    assert missing.value.code == "disposition_required"
    assert unknown.value.code == "invalid_disposition"
    assert misplaced.value.code == "invalid_disposition"
    assert book.case(case_id).state is CaseState.INVESTIGATING


@pytest.mark.parametrize("disposition", list(Disposition))
def test_every_disposition_closes_a_case(book: CaseBook, disposition: Disposition) -> None:
    case_id = case_in(book, CaseState.OPEN)

    closed = book.close_case(case_id, disposition.value, actor="lee")

    assert (closed.state, closed.disposition) == (CaseState.CLOSED, disposition)


def test_an_unknown_state_is_refused(book: CaseBook) -> None:
    case_id = case_in(book, CaseState.OPEN)
    with pytest.raises(ComplianceError) as error:
        book.transition(case_id, "resolved", actor="lee")
    assert error.value.code == "invalid_state"


def test_a_closed_case_is_read_only(book: CaseBook) -> None:
    case_id = case_in(book, CaseState.CLOSED)
    before = book.get(case_id)

    for attempt in (
        lambda: book.assign(case_id, "park", actor="lee"),
        lambda: book.note(case_id, "late note", author="lee"),
        lambda: book.transition(case_id, "investigating", actor="lee"),
    ):
        with pytest.raises(ComplianceError) as error:
            attempt()
        assert error.value.code == "case_closed"
    assert book.get(case_id) == before


def test_closing_with_a_pending_hold_is_refused(book: CaseBook) -> None:
    case = book.add_alert(alert(payment_id="pay-held"))

    with pytest.raises(ComplianceError) as error:
        book.close_case(case.case_id, "false_positive", actor="lee")

    assert error.value.code == "holds_pending"
    assert "pay-held" in str(error.value)
    book.release(case.case_id, "pay-held", actor="lee")
    assert book.close_case(case.case_id, "false_positive", actor="lee").state is CaseState.CLOSED


# --- assignee, notes, trail ------------------------------------------------------------


def test_assigning_records_the_previous_and_new_assignee(book: CaseBook) -> None:
    case_id = case_in(book, CaseState.OPEN)

    book.assign(case_id, "park", actor="lee")
    reassigned = book.assign(case_id, "choi", actor="park")

    assert reassigned.assignee == "choi"
    assert trail(book, case_id)[-2:] == [
        ("lee", "assigned", {"from": "", "to": "park"}),
        ("park", "assigned", {"from": "park", "to": "choi"}),
    ]
    assert [c.case_id for c in book.list_cases(assignee="choi")] == [case_id]


def test_notes_are_kept_in_order_with_their_author(book: CaseBook) -> None:
    case_id = case_in(book, CaseState.OPEN)

    first = book.note(case_id, "Called the wallet.", author="lee")
    second = book.note(case_id, "会员确认了交易。", author="wang")

    notes = book.get(case_id).notes
    assert [(n.author, n.text) for n in notes] == [
        ("lee", "Called the wallet."),
        ("wang", "会员确认了交易。"),
    ]
    assert notes == (first, second)
    assert trail(book, case_id)[-1] == ("wang", "note_added", {"note_id": str(second.note_id)})


@pytest.mark.parametrize("text", ["", "   ", "x" * (NOTE_CHARS_MAX + 1)])
def test_an_empty_or_too_long_note_is_refused(book: CaseBook, text: str) -> None:
    case_id = case_in(book, CaseState.OPEN)
    before = book.get(case_id)

    with pytest.raises(ComplianceError) as error:
        book.note(case_id, text, author="lee")

    assert error.value.code == "invalid_note"
    assert book.get(case_id) == before


@pytest.mark.parametrize("actor", ["", " lee", "lee\n", "x" * 129])
def test_a_change_needs_a_proper_actor(book: CaseBook, actor: str) -> None:
    case_id = case_in(book, CaseState.OPEN)
    with pytest.raises(ComplianceError) as error:
        book.assign(case_id, "park", actor=actor)
    assert error.value.code == "invalid_actor"


def test_the_trail_records_who_did_what_and_when_for_a_whole_case(
    tmp_path: Path, resolver: RecordingResolver
) -> None:
    clock = StepClock()
    with CaseBook.open(tmp_path / "c.db", resolver=resolver, clock=clock) as book:
        case = book.add_alert(alert(payment_id="pay-9"), actor="monitoring")
        book.assign(case.case_id, "park", actor="lee")
        book.transition(case.case_id, "investigating", actor="park")
        note = book.note(case.case_id, "Customer confirmed the purchase.", author="park")
        book.transition(case.case_id, "escalated", actor="park")
        book.release(case.case_id, "pay-9", actor="choi")
        book.close_case(case.case_id, "false_positive", actor="choi")

        events = book.get(case.case_id).events

    assert [(e.actor, e.action, dict(e.detail)) for e in events] == [
        ("monitoring", "opened", {"subject": SUBJECT}),
        (
            "monitoring",
            "alert_added",
            {
                "alert_id": "a-1",
                "rule": "monitoring.velocity",
                "verdict": "review",
                "payment_id": "pay-9",
                "score": "0.75",
            },
        ),
        ("monitoring", "hold_placed", {"payment_id": "pay-9"}),
        ("lee", "assigned", {"from": "", "to": "park"}),
        ("park", "transitioned", {"from": "open", "to": "investigating"}),
        ("park", "note_added", {"note_id": str(note.note_id)}),
        ("park", "transitioned", {"from": "investigating", "to": "escalated"}),
        ("choi", "hold_released", {"payment_id": "pay-9"}),
        (
            "choi",
            "closed",
            {"from": "escalated", "to": "closed", "disposition": "false_positive"},
        ),
    ]
    times = [e.at_ns for e in events]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(T0 < t <= clock.now for t in times)


def test_the_trail_and_alerts_are_append_only(book: CaseBook, tmp_path: Path) -> None:
    case = book.add_alert(alert())
    book.note(case.case_id, "a note", author="lee")

    with sqlite3.connect(tmp_path / "corridor.db") as connection:
        for statement in (
            "UPDATE case_events SET actor = 'someone else'",
            "DELETE FROM case_events",
            "UPDATE alerts SET score = 0",
            "DELETE FROM case_alerts",
            "DELETE FROM case_notes",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                connection.execute(statement)


def test_cases_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "corridor.db"
    with CaseBook.open(path, clock=StepClock()) as book:
        case = book.add_alert(alert())
        book.note(case.case_id, "kept", author="lee")
        saved = book.get(case.case_id)
    with CaseBook.open(path) as book:
        assert book.get(case.case_id) == saved


# --- holds -----------------------------------------------------------------------------


def test_release_calls_the_resolver_once_even_when_retried(
    book: CaseBook, resolver: RecordingResolver
) -> None:
    case = book.add_alert(alert(payment_id="pay-1"))

    first = book.release(case.case_id, "pay-1", actor="lee")
    again = book.release(case.case_id, "pay-1", actor="park")

    assert resolver.calls == [("release", "pay-1")]
    assert first == again
    assert (first.state, first.resolved_by) == (HoldState.RELEASED, "lee")
    assert [a for _, a, _ in trail(book, case.case_id)].count("hold_released") == 1


def test_refuse_calls_the_resolver_once_even_when_retried(
    book: CaseBook, resolver: RecordingResolver
) -> None:
    case = book.add_alert(alert(payment_id="pay-1"))

    first = book.refuse(case.case_id, "pay-1", actor="lee")
    again = book.refuse(case.case_id, "pay-1", actor="lee")

    assert resolver.calls == [("refuse", "pay-1")]
    assert first == again
    assert first.state is HoldState.REFUSED
    assert trail(book, case.case_id)[-1] == ("lee", "hold_refused", {"payment_id": "pay-1"})


def test_a_resolved_hold_cannot_be_resolved_the_other_way(
    book: CaseBook, resolver: RecordingResolver
) -> None:
    case = book.add_alert(alert(payment_id="pay-1"))
    book.refuse(case.case_id, "pay-1", actor="lee")

    with pytest.raises(ComplianceError) as error:
        book.release(case.case_id, "pay-1", actor="park")

    assert error.value.code == "hold_resolved"
    assert resolver.calls == [("refuse", "pay-1")]


def test_only_the_holding_case_can_resolve_a_hold(
    book: CaseBook, resolver: RecordingResolver
) -> None:
    holder = book.add_alert(alert("a-1", payment_id="pay-1"))
    other = book.add_alert(alert("a-2", subject=OTHER, payment_id="pay-2"))

    with pytest.raises(ComplianceError) as wrong_case:
        book.release(other.case_id, "pay-1", actor="lee")
    with pytest.raises(ComplianceError) as no_hold:
        book.release(holder.case_id, "pay-404", actor="lee")

    assert wrong_case.value.code == "unknown_hold"
    assert f"held by case {holder.case_id}" in str(wrong_case.value)
    assert no_hold.value.code == "unknown_hold"
    assert resolver.calls == []


def test_a_resolver_refusal_is_recorded_and_the_hold_stays_pending(
    book: CaseBook, resolver: RecordingResolver
) -> None:
    case = book.add_alert(alert(payment_id="pay-1"))
    resolver.fail_with = SwitchError("payment_expired", "the holds of payment pay-1 expired")

    with pytest.raises(ComplianceError) as error:
        book.release(case.case_id, "pay-1", actor="lee")

    assert error.value.code == "hold_resolution_failed"
    assert "payment_expired" in str(error.value)
    hold = book.hold("pay-1")
    assert hold is not None and hold.state is HoldState.PENDING
    assert trail(book, case.case_id)[-1] == (
        "lee",
        "hold_resolution_failed",
        {
            "payment_id": "pay-1",
            "action": "release",
            "error": "payment_expired",
            "message": "the holds of payment pay-1 expired",
        },
    )
    resolver.fail_with = None
    assert book.refuse(case.case_id, "pay-1", actor="lee").state is HoldState.REFUSED
    assert resolver.calls == [("release", "pay-1"), ("refuse", "pay-1")]


def test_a_resolver_bug_propagates_unchanged(book: CaseBook, resolver: RecordingResolver) -> None:
    case = book.add_alert(alert(payment_id="pay-1"))
    resolver.fail_with = RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        book.release(case.case_id, "pay-1", actor="lee")
    hold = book.hold("pay-1")
    assert hold is not None and hold.state is HoldState.PENDING


def test_resolving_without_a_resolver_is_refused(tmp_path: Path) -> None:
    with CaseBook.open(tmp_path / "c.db") as book:
        case = book.add_alert(alert(payment_id="pay-1"))
        with pytest.raises(ComplianceError) as error:
            book.release(case.case_id, "pay-1", actor="lee")
    assert error.value.code == "no_resolver"


class PaymentResolver:
    """The switch's payment service as the hold resolver (release = commit, refuse = abort)."""

    def __init__(self, service: object) -> None:
        self.service = service

    def release(self, payment_id: str) -> object:
        return self.service.commit(payment_id)  # type: ignore[attr-defined]

    def refuse(self, payment_id: str) -> object:
        return self.service.abort(payment_id)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("release", "final"), [(True, PaymentState.COMMITTED), (False, PaymentState.ABORTED)]
)
def test_with_the_payment_service_a_hold_is_committed_or_aborted(
    tmp_path: Path, release: bool, final: PaymentState
) -> None:
    start = dt.datetime(2024, 3, 15, 3, tzinfo=dt.UTC)
    with corridor_world(tmp_path / "corridor.db", start) as world:
        held = world.pay(
            "pay-held",
            customer="c-wang",
            merchant="m-kyoto-tea",
            at=start,
            source=Money.of(150_000, "CNY"),
            commit=False,
        )
        assert held.state is PaymentState.RESERVED
        with CaseBook.open(world.path, resolver=PaymentResolver(world.service)) as book:
            case = book.add_alert(alert(payment_id="pay-held"))
            if release:
                book.release(case.case_id, "pay-held", actor="lee")
            else:
                book.refuse(case.case_id, "pay-held", actor="lee")
        assert world.service.get("pay-held").state is final


# --- queries ---------------------------------------------------------------------------


def test_cases_are_listed_by_state_and_subject(book: CaseBook) -> None:
    a = book.add_alert(alert("a-1", verdict=Verdict.ALLOW)).case_id
    b = book.add_alert(alert("a-2", subject=OTHER, verdict=Verdict.ALLOW)).case_id
    book.transition(b, "investigating", actor="lee")

    assert [c.case_id for c in book.list_cases()] == [a, b]
    assert [c.case_id for c in book.list_cases(state="open")] == [a]
    assert [c.case_id for c in book.list_cases(state=CaseState.INVESTIGATING)] == [b]
    assert [c.case_id for c in book.list_cases(subject=OTHER)] == [b]
    assert book.list_cases(state="closed") == []
    assert [c.case_id for c in book.list_cases(limit=1)] == [a]


def test_bad_queries_are_refused(book: CaseBook) -> None:
    for call, code in (
        (lambda: book.list_cases(state="done"), "invalid_state"),
        (lambda: book.list_cases(limit=0), "invalid_query"),
        (lambda: book.list_cases(limit=LIST_LIMIT_MAX + 1), "invalid_query"),
        (lambda: book.list_alerts(since_ns=10, until_ns=5), "invalid_query"),
        (lambda: book.get(0), "unknown_case"),
        (lambda: book.get(99), "unknown_case"),
        (lambda: book.case("1"), "unknown_case"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ComplianceError) as error:
            call()
        assert error.value.code == code


def test_alerts_are_listed_by_rule_and_time_range(book: CaseBook) -> None:
    book.add_alerts(
        [
            alert("a-1", rule="monitoring.velocity", at_ns=T0),
            alert("a-2", rule="monitoring.structuring", at_ns=T0 + 10),
            alert("a-3", rule="monitoring.velocity", at_ns=T0 + 20),
        ]
    )

    def ids(**query: object) -> list[str]:
        return [a.alert_id for a in book.list_alerts(**query)]  # type: ignore[arg-type]

    assert ids() == ["a-1", "a-2", "a-3"]
    assert ids(rule="monitoring.velocity") == ["a-1", "a-3"]
    assert ids(since_ns=T0 + 10) == ["a-2", "a-3"]
    assert ids(until_ns=T0 + 20) == ["a-1", "a-2"]  # the end is excluded
    assert ids(rule="monitoring.velocity", since_ns=T0 + 1, until_ns=T0 + 21) == ["a-3"]
    assert ids(limit=2) == ["a-1", "a-2"]
