"""Sanctions screening: which listed entries a name (in any script) may belong to, and why.

The index holds every name of every entry (primary names, aliases, native-script names) as
the phonetic variants of `corridor.compliance.names`. A query is never compared with every
entry:

1. Blocking. Each indexed variant's key (its pieces joined, so spacing does not matter) is
   cut into trigrams, with ``^`` and ``$`` marking its ends, in written order and with its
   first or last part moved to the other end; the index maps a trigram to the variants
   holding it. For each variant of the query, its rarest trigrams are looked up (at most
   `RARE_GRAMS`, at most `POSTINGS_BUDGET` postings), and the variants sharing at least two
   of them are the candidates (at most `CANDIDATES_MAX`, those sharing most), with every
   variant whose key equals the query's. A listed name that is the query respelled shares
   nearly all its trigrams, the rarest included, so it is among them; a name sharing one
   common trigram is not.
2. Scoring. A candidate's score is the rapidfuzz Indel similarity (``fuzz.ratio`` / 100, in
   0..1) of the two keys, the best of: written order; the listed name's first or last part
   moved to the other end (family name first on one side, last on the other); and, for
   queries of `SORTED_PARTS_MIN` or more parts, both sides' parts sorted (words in any
   order).
3. Short pieces must agree. A romanized Chinese, Japanese or Korean name is made of short
   syllables, and one letter more or less there is another name (Kim Yong Chol, Kim Yong
   Chon), not a misspelling: every piece of at most `SHORT_PIECE_CHARS` letters that an edit
   touches costs `SHORT_PIECE_PENALTY`. Respellings that *are* the same name (Jong/Jeong/
   Chung, Sato/Satou/Satoh) already have the same key, so they are not edits.
4. Date of birth and country. When the query gives a date of birth and the entry lists some,
   a matching year adds `DOB_MATCH_BONUS` (a full date `DOB_EXACT_BONUS`) and years more
   than one apart subtract `DOB_MISMATCH_PENALTY`; a country the entry names as a
   nationality adds `COUNTRY_MATCH_BONUS`. A different country subtracts nothing: a
   sanctioned person may live and bank anywhere.

Hits at or above the threshold (`DEFAULT_THRESHOLD` unless given) are returned best first,
at most `HITS_MAX`, each with `matched`: which variant of the query met which name of the
entry, and how.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from corridor.compliance.errors import ComplianceError
from corridor.compliance.names import SYSTEM_LATIN, SYSTEM_NATIVE, NameVariant, name_variants
from corridor.compliance.types import PartyInfo
from corridor.formats.sanctions import KIND_AIRCRAFT, KIND_VESSEL, SanctionsEntry

__all__ = [
    "CANDIDATES_MAX",
    "COUNTRY_MATCH_BONUS",
    "DEFAULT_THRESHOLD",
    "DOB_EXACT_BONUS",
    "DOB_MATCH_BONUS",
    "DOB_MISMATCH_PENALTY",
    "HITS_MAX",
    "POSTINGS_BUDGET",
    "QUERY_CHARS_MAX",
    "SHORT_PIECE_CHARS",
    "SHORT_PIECE_PENALTY",
    "Hit",
    "PairScore",
    "ScreeningIndex",
    "ScreeningResult",
    "score_pair",
]

DEFAULT_THRESHOLD: Final = 0.88
"""Score from which a name is reported as a hit; chosen on the labelled cross-script set
(tests/compliance/data/cjk_names.csv): see docs/COMPLIANCE.md."""
SHORT_PIECE_CHARS: Final = 6
SHORT_PIECE_PENALTY: Final = 0.10
DOB_MATCH_BONUS: Final = 0.03
DOB_EXACT_BONUS: Final = 0.05
DOB_MISMATCH_PENALTY: Final = 0.10
DOB_YEARS_APART_MAX: Final = 1
COUNTRY_MATCH_BONUS: Final = 0.02
POSTINGS_BUDGET: Final = 400
"""Most index postings read per query variant while blocking."""
CANDIDATES_MAX: Final = 64
"""Most indexed variants scored per query variant (beside exact keys)."""
SORTED_PARTS_MIN: Final = 3
"""Queries of this many parts are also compared word-sorted (two parts: the rotations
already cover both orders)."""
RARE_GRAMS: Final = 6
"""Most trigrams of a query key used for blocking (the rarest)."""
HITS_MAX: Final = 50
QUERY_CHARS_MAX: Final = 512
_NO_ENTITY_PARTY_KINDS: Final = frozenset({KIND_VESSEL, KIND_AIRCRAFT})
"""Entry kinds a person is never screened against: ships and aircraft are not people."""

_ORDER_WRITTEN: Final = "written order"
_ORDER_FAMILY_MOVED: Final = "family name at the other end"
_ORDER_SORTED: Final = "words reordered"


@dataclass(frozen=True, slots=True)
class Hit:
    """A listed entry the screened name may belong to."""

    list: str
    entity_id: str
    name: str
    """The entry's primary name on the list."""
    score: float
    """0..1, rounded to 4 places."""
    matched: str
    """Which variant of the query met which of the entry's names, and how."""

    def to_json(self) -> dict[str, object]:
        return {
            "list": self.list,
            "entity_id": self.entity_id,
            "name": self.name,
            "score": self.score,
            "matched": self.matched,
        }


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    """The hits for one screened name, best first."""

    query: str
    threshold: float
    hits: tuple[Hit, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "query": self.query,
            "threshold": self.threshold,
            "hits": [hit.to_json() for hit in self.hits],
        }


@dataclass(frozen=True, slots=True)
class PairScore:
    """How well a query name matches one listed name (no index, no date of birth)."""

    score: float
    matched: str


@dataclass(slots=True)
class _Best:
    score: float
    raw: float
    record: int
    query_variant: NameVariant
    order: str
    penalty_note: str


Parts = tuple[tuple[str, ...], ...]


def _compact(parts: Sequence[Sequence[str]]) -> str:
    return "".join(piece for part in parts for piece in part)


def _pieces(parts: Sequence[Sequence[str]]) -> list[str]:
    return [piece for part in parts for piece in part]


def _sorted_parts(parts: Parts) -> Parts:
    return tuple(sorted(parts, key=lambda part: "".join(part)))


def _listed_forms(parts: Parts) -> list[tuple[str, Parts]]:
    """A listed name's part orders that the query's written order is compared with: as
    written, first part moved to the end, last part moved to the front (family name first
    or last on either side)."""
    forms = [(_ORDER_WRITTEN, parts)]
    if len(parts) >= 2:
        forms.append((_ORDER_FAMILY_MOVED, parts[1:] + parts[:1]))
        if len(parts) >= 3:
            forms.append((_ORDER_FAMILY_MOVED, parts[-1:] + parts[:-1]))
    return forms


def _grams(key: str) -> set[str]:
    padded = f"^{key}$"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def _short_piece_edits(query_parts: Parts, listed_parts: Parts) -> list[tuple[str, str]]:
    """Short pieces (syllables) that differ between two keys: (query piece, listed piece)."""
    query_pieces, listed_pieces = _pieces(query_parts), _pieces(listed_parts)
    query_ends = _ends(query_pieces)
    listed_ends = _ends(listed_pieces)
    touched_query: set[int] = set()
    touched_listed: set[int] = set()
    # An edit touches the piece it is in on its own side and the piece at the same place
    # on the other side (a syllable dropped from one name changes the other's too).
    for op in Indel.editops("".join(query_pieces), "".join(listed_pieces)):
        touched_query.add(min(bisect.bisect_left(query_ends, op.src_pos), len(query_ends) - 1))
        touched_listed.add(min(bisect.bisect_left(listed_ends, op.dest_pos), len(listed_ends) - 1))
    short_query = [i for i in sorted(touched_query) if len(query_pieces[i]) <= SHORT_PIECE_CHARS]
    short_listed = [i for i in sorted(touched_listed) if len(listed_pieces[i]) <= SHORT_PIECE_CHARS]
    # One changed syllable shows as a deletion on one side and an insertion on the other
    # (chol / chon), or on one side only (chol / cho): count pairs, not touched pieces.
    pairs = []
    for n in range(max(len(short_query), len(short_listed))):
        query_piece = query_pieces[short_query[n]] if n < len(short_query) else ""
        listed_piece = listed_pieces[short_listed[n]] if n < len(short_listed) else ""
        pairs.append((query_piece, listed_piece))
    return pairs


def _ends(pieces: Sequence[str]) -> list[int]:
    ends, total = [], 0
    for piece in pieces:
        total += len(piece)
        ends.append(total - 1)
    return ends


@dataclass(frozen=True, slots=True)
class _Raw:
    """A raw similarity and the two sides' parts, in the order that gave it."""

    score: float
    order: str
    query_parts: Parts
    listed_parts: Parts


def _compare(query: NameVariant, listed: NameVariant) -> _Raw:
    """Best raw similarity (0..1) of two variants over the orders the index compares."""
    best = _Raw(-1.0, _ORDER_WRITTEN, query.parts, listed.parts)
    query_key = query.key
    for order, listed_parts in _listed_forms(listed.parts):
        score = fuzz.ratio(query_key, _compact(listed_parts)) / 100
        if score > best.score:
            best = _Raw(score, order, query.parts, listed_parts)
    if len(query.parts) >= SORTED_PARTS_MIN and len(listed.parts) >= 2:
        query_sorted = _sorted_parts(query.parts)
        listed_sorted = _sorted_parts(listed.parts)
        score = fuzz.ratio(_compact(query_sorted), _compact(listed_sorted)) / 100
        if score > best.score:
            best = _Raw(score, _ORDER_SORTED, query_sorted, listed_sorted)
    return best


def _adjust(raw: _Raw) -> tuple[float, str]:
    """Score after the short-piece rule, and its note for the explanation."""
    if raw.score >= 1.0:
        return 1.0, ""
    pairs = _short_piece_edits(raw.query_parts, raw.listed_parts)
    if not pairs:
        return raw.score, ""
    penalty = SHORT_PIECE_PENALTY * len(pairs)
    shown = ", ".join(f"{q or '-'}/{c or '-'}" for q, c in pairs)
    return max(0.0, raw.score - penalty), f"; short syllables differ ({shown}): -{penalty:.2f}"


def _describe(best: _Best, listed: NameVariant, role: str, name: str) -> str:
    variant = best.query_variant
    how = "same phonetic key" if best.raw >= 1.0 else f"similarity {best.raw:.2f}"
    if best.order != _ORDER_WRITTEN:
        how += f", {best.order}"
    source = f"{variant.system} {variant.text!r}"
    if listed.system not in (SYSTEM_LATIN, SYSTEM_NATIVE):
        target = f"{role} {name!r} read as {listed.system} {listed.text!r}"
    else:
        target = f"{role} {name!r}"
    sign = "=" if best.raw >= 1.0 else "~"
    return f"{source} {sign} {target} ({how}){best.penalty_note}"


def score_pair(query: str, listed_name: str) -> PairScore:
    """How well `query` matches one listed name, by the same rules as the index (steps 2
    and 3), without blocking, dates of birth or countries; for labelled-pair evaluation."""
    best: _Best | None = None
    best_listed: NameVariant | None = None
    for listed in name_variants(listed_name):
        for variant in name_variants(query):
            raw = _compare(variant, listed)
            score, note = _adjust(raw)
            if best is None or score > best.score:
                best = _Best(score, raw.score, 0, variant, raw.order, note)
                best_listed = listed
    if best is None or best_listed is None:
        return PairScore(0.0, "no letters to compare")
    return PairScore(round(best.score, 4), _describe(best, best_listed, "name", listed_name))


class ScreeningIndex:
    """An immutable index over list entries; `screen` and `screen_party` are thread-safe."""

    def __init__(self, entries: Iterable[SanctionsEntry]) -> None:
        started = time.perf_counter()
        self.entries: tuple[SanctionsEntry, ...] = tuple(entries)
        self._record_entry: list[int] = []
        self._record_name: list[str] = []
        self._record_role: list[str] = []
        self._record_variant: list[NameVariant] = []
        self._record_sorted: list[str] = []
        # Every listed form of every record, flat: compared with a query's written order.
        self._form_key: list[str] = []
        self._form_record: list[int] = []
        self._form_order: list[str] = []
        self._form_parts: list[Parts] = []
        self._record_forms: list[tuple[int, ...]] = []
        postings: dict[str, set[int]] = {}
        exact: dict[str, list[int]] = {}
        for entry_index, entry in enumerate(self.entries):
            seen: set[str] = set()
            roles = [("name", entry.name)]
            roles += [("alias", alias) for alias in entry.aliases]
            roles += [("native name", native) for native in entry.native_names]
            for role, name in roles:
                for variant in name_variants(name):
                    if not variant.key or variant.key in seen:
                        continue
                    seen.add(variant.key)
                    self._add(entry_index, role, name, variant, postings, exact)
        self._postings = {gram: frozenset(records) for gram, records in postings.items()}
        self._exact = exact
        self.build_seconds = time.perf_counter() - started

    def _add(
        self,
        entry_index: int,
        role: str,
        name: str,
        variant: NameVariant,
        postings: dict[str, set[int]],
        exact: dict[str, list[int]],
    ) -> None:
        record = len(self._record_entry)
        self._record_entry.append(entry_index)
        self._record_name.append(name)
        self._record_role.append(role)
        self._record_variant.append(variant)
        sorted_key = _compact(_sorted_parts(variant.parts)) if len(variant.parts) >= 2 else ""
        self._record_sorted.append(sorted_key)
        forms = []
        for order, parts in _listed_forms(variant.parts):
            key = _compact(parts)
            forms.append(len(self._form_key))
            self._form_key.append(key)
            self._form_record.append(record)
            self._form_order.append(order)
            self._form_parts.append(parts)
            exact.setdefault(key, []).append(len(self._form_key) - 1)
            for gram in _grams(key):
                postings.setdefault(gram, set()).add(record)
        self._record_forms.append(tuple(forms))

    @property
    def names_indexed(self) -> int:
        """Indexed name variants (primary names, aliases and native names, all readings)."""
        return len(self._record_entry)

    def _candidates(self, key: str) -> set[int]:
        """Records sharing at least two of the query key's rarest trigrams (step 1)."""
        postings = self._postings
        lists = sorted((found for gram in _grams(key) if (found := postings.get(gram))), key=len)
        selected: list[frozenset[int]] = []
        read = 0
        for found in lists:
            if selected and (read + len(found) > POSTINGS_BUDGET or len(selected) >= RARE_GRAMS):
                break
            selected.append(found)
            read += len(found)
        if len(selected) == 1:
            # A key of one or two letters, or whose every trigram is common: the rarest
            # list alone, if it is short; exact keys are looked up apart.
            return set(selected[0]) if len(selected[0]) <= CANDIDATES_MAX else set()
        candidates: set[int] = set()
        for first, second in itertools.combinations(selected, 2):
            candidates |= first & second
        if len(candidates) > CANDIDATES_MAX:
            shared = {r: sum(r in found for found in selected) for r in candidates}
            ranked = sorted(shared, key=shared.__getitem__, reverse=True)
            candidates = set(ranked[:CANDIDATES_MAX])
        return candidates

    def screen(
        self,
        name: str,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        date_of_birth: str | None = None,
        country: str | None = None,
        exclude_kinds: frozenset[str] = frozenset(),
    ) -> ScreeningResult:
        """Screen one name (any script); hits at or above `threshold`, best first.

        `date_of_birth` is ISO 8601 (``1961-03-18`` or ``1961``); `country` ISO 3166-1
        alpha-2. Entries of a kind in `exclude_kinds` are skipped.
        """
        if not isinstance(name, str):
            raise ComplianceError("invalid_query", f"a name to screen must be text: {name!r}")
        if not 0.0 <= threshold <= 1.0:
            raise ComplianceError(
                "invalid_threshold", f"threshold {threshold} is not between 0 and 1"
            )
        if len(name) > QUERY_CHARS_MAX:
            raise ComplianceError(
                "invalid_query", f"name has {len(name)} characters; at most {QUERY_CHARS_MAX}"
            )
        birth_year = _year(date_of_birth)
        best_by_entry = self._best_by_entry(name, threshold, exclude_kinds)
        hits = []
        for entry_index, best in best_by_entry.items():
            entry = self.entries[entry_index]
            score, note = best.score, best.penalty_note
            if birth_year is not None and entry.dates_of_birth:
                delta, dob_note = _dob_adjustment(date_of_birth or "", birth_year, entry)
                score += delta
                note += dob_note
            if country and country in entry.countries:
                score += COUNTRY_MATCH_BONUS
                note += f"; nationality {country} listed: +{COUNTRY_MATCH_BONUS:.2f}"
            score = round(min(1.0, max(0.0, score)), 4)
            if score < threshold:
                continue
            record = best.record
            best.penalty_note = note
            matched = _describe(
                best,
                self._record_variant[record],
                self._record_role[record],
                self._record_name[record],
            )
            hits.append(Hit(entry.list, entry.entity_id, entry.name, score, matched))
        hits.sort(key=lambda hit: (-hit.score, hit.list, hit.entity_id))
        return ScreeningResult(name, threshold, tuple(hits[:HITS_MAX]))

    def _best_by_entry(
        self, name: str, threshold: float, exclude_kinds: frozenset[str]
    ) -> dict[int, _Best]:
        # A date of birth and a country may add up to DOB_EXACT_BONUS + COUNTRY_MATCH_BONUS:
        # keep names that could reach the threshold with them.
        floor = max(0.0, threshold - DOB_EXACT_BONUS - COUNTRY_MATCH_BONUS)
        best_by_entry: dict[int, _Best] = {}
        for variant in name_variants(name):
            for found_record, raw in self._raw_scores(variant, floor):
                entry_index = self._record_entry[found_record]
                if self.entries[entry_index].kind in exclude_kinds:
                    continue
                adjusted, note = _adjust(raw)
                if adjusted < floor:
                    continue
                current = best_by_entry.get(entry_index)
                if current is None or adjusted > current.score:
                    best_by_entry[entry_index] = _Best(
                        adjusted, raw.score, found_record, variant, raw.order, note
                    )
        return best_by_entry

    def _raw_scores(self, variant: NameVariant, floor: float) -> list[tuple[int, _Raw]]:
        """(record, best raw similarity) of the candidates at or above `floor` (step 2)."""
        key = variant.key
        records = self._candidates(key)
        best: dict[int, _Raw] = {}
        forms = [f for r in records for f in self._record_forms[r]]
        forms.extend(self._exact.get(key, ()))
        choices = [self._form_key[f] for f in forms]
        for _, score, position in process.extract(
            key, choices, scorer=fuzz.ratio, score_cutoff=floor * 100, limit=None
        ):
            form = forms[position]
            record = self._form_record[form]
            similarity = score / 100
            if record not in best or similarity > best[record].score:
                best[record] = _Raw(
                    similarity, self._form_order[form], variant.parts, self._form_parts[form]
                )
        if len(variant.parts) >= SORTED_PARTS_MIN:
            query_sorted = _sorted_parts(variant.parts)
            sorted_key = _compact(query_sorted)
            multi = [r for r in records if self._record_sorted[r]]
            for _, score, position in process.extract(
                sorted_key,
                [self._record_sorted[r] for r in multi],
                scorer=fuzz.ratio,
                score_cutoff=floor * 100,
                limit=None,
            ):
                record = multi[position]
                similarity = score / 100
                if record not in best or similarity > best[record].score:
                    listed_sorted = _sorted_parts(self._record_variant[record].parts)
                    best[record] = _Raw(similarity, _ORDER_SORTED, query_sorted, listed_sorted)
        return list(best.items())

    def screen_party(
        self, party: PartyInfo, *, threshold: float = DEFAULT_THRESHOLD
    ) -> ScreeningResult:
        """Screen a customer or merchant by its romanized and native names together.

        Both names are screened (with the party's date of birth and country); an entry hit
        by both keeps its better score. People are not screened against vessels and
        aircraft.
        """
        exclude = _NO_ENTITY_PARTY_KINDS if party.kind == "individual" else frozenset()
        names = [party.name]
        if party.name_native and party.name_native != party.name:
            names.append(party.name_native)
        by_entity: dict[tuple[str, str], Hit] = {}
        for name in names:
            result = self.screen(
                name,
                threshold=threshold,
                date_of_birth=party.date_of_birth,
                country=party.country,
                exclude_kinds=exclude,
            )
            for hit in result.hits:
                key = (hit.list, hit.entity_id)
                if key not in by_entity or hit.score > by_entity[key].score:
                    by_entity[key] = hit
        hits = sorted(by_entity.values(), key=lambda hit: (-hit.score, hit.list, hit.entity_id))
        query = " / ".join(names)
        return ScreeningResult(query, threshold, tuple(hits[:HITS_MAX]))


def _year(date_of_birth: str | None) -> int | None:
    if not date_of_birth:
        return None
    head = date_of_birth[:4]
    if len(head) != 4 or not head.isdigit():
        raise ComplianceError(
            "invalid_query", f"date of birth must be ISO 8601 (YYYY[-MM-DD]): {date_of_birth!r}"
        )
    return int(head)


def _dob_adjustment(date_of_birth: str, year: int, entry: SanctionsEntry) -> tuple[float, str]:
    listed_years = []
    for listed in entry.dates_of_birth:
        if listed == date_of_birth and len(listed) == 10:
            return DOB_EXACT_BONUS, f"; date of birth {listed} listed: +{DOB_EXACT_BONUS:.2f}"
        if listed[:4].isdigit():
            listed_years.append(int(listed[:4]))
    if year in listed_years:
        return DOB_MATCH_BONUS, f"; year of birth {year} listed: +{DOB_MATCH_BONUS:.2f}"
    if listed_years and all(abs(year - y) > DOB_YEARS_APART_MAX for y in listed_years):
        shown = ", ".join(entry.dates_of_birth[:3])
        return (
            -DOB_MISMATCH_PENALTY,
            f"; born {year}, listed {shown}: -{DOB_MISMATCH_PENALTY:.2f}",
        )
    return 0.0, ""
