"""Sanctions lists kept in the ledger's SQLite file, and the screening of stored parties.

Loading a list replaces the previous version of that list in one transaction: readers see
either the old entries or the new ones, never a mix, and a file that fails to parse changes
nothing. After a load, every stored party (the directory's ``customers`` and ``merchants``)
is screened again against all stored lists and the hits replace that party's earlier results.
The in-memory `ScreeningIndex` is built from the stored entries, so the switch screens
against exactly what the database holds.

Tables (side tables beside the ledger's, through a connection of their own, like the
directory's; ``*_ns`` are nanoseconds since the Unix epoch from the clock passed in):

- ``sanctions_lists``: list name, version, loaded_ns, sha256 of its (first) source file,
  entry count, and the source files as JSON (name, sha256, size);
- ``sanctions_entries``: list, entity id, kind, primary name, and aliases, native names,
  dates of birth, countries and programmes as JSON arrays;
- ``screening_results``: party id, list, entity id, score, matched (the explanation),
  screened_ns. A party with no hit has no row.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from corridor.compliance.errors import ComplianceError
from corridor.compliance.screening import DEFAULT_THRESHOLD, Hit, ScreeningIndex
from corridor.compliance.types import PartyInfo
from corridor.formats.sanctions import (
    KINDS,
    SanctionsEntry,
    SanctionsFormatError,
    SanctionsList,
    parse_ofac,
    parse_un,
    read_list_file,
)
from corridor.store.sqlite import BUSY_TIMEOUT_MS
from corridor.store.transactions import (
    immediate_transaction,
    open_side_connection,
    read_transaction,
)

__all__ = [
    "LISTS_SCHEMA",
    "ListInfo",
    "LoadReport",
    "SanctionsStore",
    "StoredResult",
    "format_ns",
    "load_lists",
    "read_lists",
]

LISTS_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS sanctions_lists (
    list TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    loaded_ns INTEGER NOT NULL,
    source_sha256 TEXT NOT NULL,
    entry_count INTEGER NOT NULL,
    sources TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS sanctions_entries (
    list TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    aliases TEXT NOT NULL,
    native_names TEXT NOT NULL,
    dates_of_birth TEXT NOT NULL,
    countries TEXT NOT NULL,
    programs TEXT NOT NULL,
    PRIMARY KEY (list, entity_id)
);

CREATE TABLE IF NOT EXISTS screening_results (
    party_id TEXT NOT NULL,
    list TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    score REAL NOT NULL,
    matched TEXT NOT NULL,
    screened_ns INTEGER NOT NULL,
    PRIMARY KEY (party_id, list, entity_id)
);
"""
"""The sanctions tables, in the ledger's database file."""

RESULTS_BATCH: Final = 1_000
"""Parties screened between two writes of results (each write is one short transaction)."""


@dataclass(frozen=True, slots=True)
class ListInfo:
    """A stored list: which version, when it was loaded, from what."""

    list: str
    version: str
    loaded_ns: int
    source_sha256: str
    entry_count: int
    sources: tuple[dict[str, object], ...]

    def to_json(self) -> dict[str, object]:
        return {
            "list": self.list,
            "version": self.version,
            "loaded_ns": self.loaded_ns,
            "source_sha256": self.source_sha256,
            "entry_count": self.entry_count,
            "sources": list(self.sources),
        }


@dataclass(frozen=True, slots=True)
class StoredResult:
    """One stored screening hit of a party."""

    party_id: str
    list: str
    entity_id: str
    score: float
    matched: str
    screened_ns: int


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What a load did: the lists now stored and the parties screened again."""

    lists: tuple[ListInfo, ...]
    replaced: tuple[str, ...]
    """Lists that had an earlier version, now replaced."""
    parties_screened: int
    parties_hit: int
    hits: int

    def to_json(self) -> dict[str, object]:
        return {
            "lists": [info.to_json() for info in self.lists],
            "replaced": list(self.replaced),
            "parties_screened": self.parties_screened,
            "parties_hit": self.parties_hit,
            "hits": self.hits,
        }


def read_lists(
    *,
    ofac_sdn: str | os.PathLike[str] | None = None,
    ofac_alt: str | os.PathLike[str] | None = None,
    un: str | os.PathLike[str] | None = None,
) -> list[SanctionsList]:
    """Parse the given list files; ``invalid_list_file`` names the file and the line or
    element of the first problem."""
    if ofac_sdn is None and un is None:
        raise ComplianceError("no_list_file", "give an OFAC SDN file, a UN list file or both")
    if ofac_alt is not None and ofac_sdn is None:
        raise ComplianceError("no_list_file", "an OFAC alt.csv needs its SDN file (--ofac-sdn)")
    lists = []
    try:
        if ofac_sdn is not None:
            sdn_name, sdn = read_list_file(ofac_sdn, "OFAC SDN file")
            alt_name, alt = (
                read_list_file(ofac_alt, "OFAC alt file") if ofac_alt is not None else ("", None)
            )
            lists.append(parse_ofac(sdn, alt, sdn_name=sdn_name, alt_name=alt_name))
        if un is not None:
            un_name, un_data = read_list_file(un, "UN list file")
            lists.append(parse_un(un_data, source=un_name))
    except SanctionsFormatError as error:
        raise ComplianceError(error.code, str(error)) from None
    return lists


def _json(values: Sequence[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def _strings(text: str, what: str) -> tuple[str, ...]:
    values = json.loads(text)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ComplianceError("corrupt_lists", f"stored {what} is not a list of strings")
    return tuple(values)


class SanctionsStore:
    """The sanctions tables of one database file, and the screening index over them."""

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], int] = time.time_ns
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        try:
            self._db = open_side_connection(
                self.path, LISTS_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS
            )
        except sqlite3.DatabaseError as error:
            raise ComplianceError("invalid_database", f"{self.path}: {error}") from None
        self._lock = threading.RLock()
        self._index: ScreeningIndex | None = None
        self._index_versions: tuple[tuple[str, str, int], ...] = ()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SanctionsStore:
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

    # -- lists -------------------------------------------------------------------------------

    def load(self, lists: Sequence[SanctionsList]) -> tuple[tuple[ListInfo, ...], tuple[str, ...]]:
        """Store `lists`, each replacing its earlier version, all in one transaction.

        Returns the stored lists and the names of those that were replaced.
        """
        names = [sanctions_list.name for sanctions_list in lists]
        if len(set(names)) != len(names):
            raise ComplianceError("duplicate_list", f"the same list given twice: {names}")
        loaded_ns = self._clock()
        replaced = []
        with self._write():
            for sanctions_list in lists:
                if self._db.execute(
                    "DELETE FROM sanctions_lists WHERE list = ?", (sanctions_list.name,)
                ).rowcount:
                    replaced.append(sanctions_list.name)
                self._db.execute(
                    "DELETE FROM sanctions_entries WHERE list = ?", (sanctions_list.name,)
                )
                self._db.executemany(
                    "INSERT INTO sanctions_entries (list, entity_id, kind, name, aliases,"
                    " native_names, dates_of_birth, countries, programs)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            e.list,
                            e.entity_id,
                            e.kind,
                            e.name,
                            _json(e.aliases),
                            _json(e.native_names),
                            _json(e.dates_of_birth),
                            _json(e.countries),
                            _json(e.programs),
                        )
                        for e in sanctions_list.entries
                    ],
                )
                sources = [
                    {"name": s.name, "sha256": s.sha256, "size_bytes": s.size_bytes}
                    for s in sanctions_list.sources
                ]
                self._db.execute(
                    "INSERT INTO sanctions_lists (list, version, loaded_ns, source_sha256,"
                    " entry_count, sources) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        sanctions_list.name,
                        sanctions_list.version,
                        loaded_ns,
                        sanctions_list.sources[0].sha256,
                        len(sanctions_list.entries),
                        json.dumps(sources),
                    ),
                )
            infos = self._lists()
        return tuple(i for i in infos if i.list in names), tuple(replaced)

    def _lists(self) -> tuple[ListInfo, ...]:
        rows = self._db.execute(
            "SELECT list, version, loaded_ns, source_sha256, entry_count, sources"
            " FROM sanctions_lists ORDER BY list"
        ).fetchall()
        return tuple(
            ListInfo(
                list=str(r[0]),
                version=str(r[1]),
                loaded_ns=int(r[2]),
                source_sha256=str(r[3]),
                entry_count=int(r[4]),
                sources=tuple(json.loads(str(r[5]))),
            )
            for r in rows
        )

    def lists(self) -> tuple[ListInfo, ...]:
        """The stored lists, by name."""
        with self._read():
            return self._lists()

    def entries(self, list_name: str | None = None) -> list[SanctionsEntry]:
        """Stored entries (of one list, or all), by list and entity id."""
        with self._read():
            return self._entries(list_name)

    def _entries(self, list_name: str | None) -> list[SanctionsEntry]:
        query = (
            "SELECT list, entity_id, kind, name, aliases, native_names, dates_of_birth,"
            " countries, programs FROM sanctions_entries"
        )
        params: tuple[str, ...] = ()
        if list_name is not None:
            query += " WHERE list = ?"
            params = (list_name,)
        entries = []
        for row in self._db.execute(query + " ORDER BY list, entity_id", params):
            kind = str(row[2])
            if kind not in KINDS:
                raise ComplianceError("corrupt_lists", f"stored entry has unknown kind {kind!r}")
            entries.append(
                SanctionsEntry(
                    list=str(row[0]),
                    entity_id=str(row[1]),
                    kind=kind,
                    name=str(row[3]),
                    aliases=_strings(str(row[4]), "aliases"),
                    native_names=_strings(str(row[5]), "native names"),
                    dates_of_birth=_strings(str(row[6]), "dates of birth"),
                    countries=_strings(str(row[7]), "countries"),
                    programs=_strings(str(row[8]), "programs"),
                )
            )
        return entries

    def index(self) -> ScreeningIndex:
        """The screening index over every stored entry; rebuilt when a list changes."""
        with self._read():
            versions = tuple((i.list, i.version, i.loaded_ns) for i in self._lists())
            if self._index is not None and versions == self._index_versions:
                return self._index
            entries = self._entries(None)
        index = ScreeningIndex(entries)
        with self._lock:
            self._index, self._index_versions = index, versions
        return index

    # -- parties ------------------------------------------------------------------------------

    def parties(self) -> list[PartyInfo]:
        """Every stored customer and merchant as compliance sees it (none if the directory's
        tables do not exist in this file)."""
        with self._read():
            tables = {
                str(r[0])
                for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            parties: list[PartyInfo] = []
            if "customers" in tables:
                for row in self._db.execute(
                    "SELECT participant_id, customer_id, name_native, name_romanized, country,"
                    " date_of_birth, kyc_tier, created_ns FROM customers"
                    " ORDER BY participant_id, customer_id"
                ):
                    parties.append(
                        PartyInfo(
                            party_id=f"customer:{row[0]}/{row[1]}",
                            name=str(row[3]),
                            name_native=str(row[2]),
                            country=str(row[4]),
                            kind="individual",
                            kyc_tier=str(row[6]),
                            date_of_birth=str(row[5]),
                            created_ns=int(row[7]),
                        )
                    )
            if "merchants" in tables:
                for row in self._db.execute(
                    "SELECT id, name, name_native, mcc, region, created_ns FROM merchants"
                    " ORDER BY id"
                ):
                    parties.append(
                        PartyInfo(
                            party_id=f"merchant:{row[0]}",
                            name=str(row[1]),
                            name_native=None if row[2] is None else str(row[2]),
                            country=str(row[4]).split("-", 1)[0],
                            kind="entity",
                            created_ns=int(row[5]),
                            region=str(row[4]),
                            mcc=str(row[3]),
                        )
                    )
        return parties

    def rescreen_parties(self, *, threshold: float = DEFAULT_THRESHOLD) -> tuple[int, int, int]:
        """Screen every stored party against every stored list and store the hits.

        Each batch of `RESULTS_BATCH` parties replaces those parties' results in one short
        transaction, so the ledger's writer is never held up for long. Returns (parties
        screened, parties with a hit, hits).
        """
        index = self.index()
        parties = self.parties()
        screened_ns = self._clock()
        hit_parties = hits = 0
        for start in range(0, len(parties), RESULTS_BATCH):
            batch = parties[start : start + RESULTS_BATCH]
            rows: list[tuple[str, str, str, float, str, int]] = []
            for party in batch:
                found = index.screen_party(party, threshold=threshold).hits
                hit_parties += bool(found)
                hits += len(found)
                rows.extend(_result_row(party.party_id, hit, screened_ns) for hit in found)
            with self._write():
                self._db.executemany(
                    "DELETE FROM screening_results WHERE party_id = ?",
                    [(party.party_id,) for party in batch],
                )
                self._db.executemany(
                    "INSERT INTO screening_results (party_id, list, entity_id, score, matched,"
                    " screened_ns) VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
        return len(parties), hit_parties, hits

    def screening_results(self, party_id: str | None = None) -> list[StoredResult]:
        """Stored hits (of one party, or all), best first per party."""
        query = (
            "SELECT party_id, list, entity_id, score, matched, screened_ns FROM screening_results"
        )
        params: tuple[str, ...] = ()
        if party_id is not None:
            query += " WHERE party_id = ?"
            params = (party_id,)
        with self._read():
            rows = self._db.execute(
                query + " ORDER BY party_id, score DESC, list, entity_id", params
            ).fetchall()
        return [
            StoredResult(str(r[0]), str(r[1]), str(r[2]), float(r[3]), str(r[4]), int(r[5]))
            for r in rows
        ]


def _result_row(party_id: str, hit: Hit, screened_ns: int) -> tuple[str, str, str, float, str, int]:
    return (party_id, hit.list, hit.entity_id, hit.score, hit.matched, screened_ns)


def load_lists(
    path: str | os.PathLike[str],
    *,
    ofac_sdn: str | os.PathLike[str] | None = None,
    ofac_alt: str | os.PathLike[str] | None = None,
    un: str | os.PathLike[str] | None = None,
    clock: Callable[[], int] = time.time_ns,
) -> LoadReport:
    """Parse the files, store the lists (replacing earlier versions atomically) and screen
    every stored party again. A file that fails to parse changes nothing."""
    lists = read_lists(ofac_sdn=ofac_sdn, ofac_alt=ofac_alt, un=un)
    with SanctionsStore(path, clock=clock) as store:
        infos, replaced = store.load(lists)
        screened, hit_parties, hits = store.rescreen_parties()
    return LoadReport(infos, replaced, screened, hit_parties, hits)


def format_ns(ns: int) -> str:
    """An ISO 8601 UTC time for a nanosecond timestamp (for human-readable output)."""
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).isoformat(timespec="seconds")
