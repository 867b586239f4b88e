"""Sanctions list files: strict parsers for OFAC SDN CSV (with its alt.csv) and the UN list XML.

Screening needs the names on the lists, their aliases and what tells two people of the same
name apart (dates of birth, nationalities). This module turns the files the US Treasury
(OFAC) and the UN Security Council publish into immutable `SanctionsEntry` values. It is pure:
bytes in, values out, no I/O but the two ``read_*`` helpers, and no import from the layers
above.

OFAC SDN CSV (``sdn.csv``)
    No header; twelve fields a row: ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign,
    Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks. An empty field is written
    ``-0-`` (OFAC adds a trailing space). SDN_Type is ``individual``, ``vessel``,
    ``aircraft`` or null (an entity). Several programmes share one field as
    ``NPWMD] [IFSR``. Dates of birth (``DOB 18 Mar 1961``, ``alt. DOB circa 1947``,
    ``DOB 1955 to 1958``) and nationalities (``nationality Korea, North``, ``citizen China``)
    are read from Remarks.
OFAC alt.csv
    Five fields: ent_num, alt_num, alt_type (``aka``, ``fka``, ``nka``), alt_name,
    alt_remarks. Each alias must belong to an entry of the SDN file.
UN consolidated list XML
    ``CONSOLIDATED_LIST`` with ``INDIVIDUALS/INDIVIDUAL`` and ``ENTITIES/ENTITY``; a name is
    FIRST_NAME to FOURTH_NAME in order, aliases are ``INDIVIDUAL_ALIAS`` / ``ENTITY_ALIAS``
    ``ALIAS_NAME``, the native-script name is ``NAME_ORIGINAL_SCRIPT``, dates of birth are
    ``INDIVIDUAL_DATE_OF_BIRTH`` (DATE, YEAR, or FROM_YEAR..TO_YEAR) and nationalities
    ``NATIONALITY/VALUE``. The entry id is the UN reference number (``KPi.001``). Parsed with
    defusedxml: DTDs and entity declarations are refused.

Both files are decoded as UTF-8; OFAC's older files are Windows-1252, so an OFAC file that is
not UTF-8 is read as Windows-1252. A trailing DOS end-of-file byte (0x1A, as OFAC writes) and
a byte order mark are tolerated. Anything else malformed is a `SanctionsFormatError` (code
``invalid_list_file``) naming the file and the line or element. Dates keep only what the list
says: ``1961-03-18``, ``1960-01`` or ``1947``; a range of years gives each year (at most
`DOB_RANGE_YEARS_MAX`). Countries are ISO 3166-1 alpha-2 codes; a nationality that names no
country (``Palestinian`` is mapped, ``possibly Palestinian`` is not) is left out.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree
import pycountry

__all__ = [
    "CODE_INVALID_LIST_FILE",
    "DOB_RANGE_YEARS_MAX",
    "ENTRIES_MAX",
    "FILE_BYTES_MAX",
    "KINDS",
    "KIND_AIRCRAFT",
    "KIND_ENTITY",
    "KIND_INDIVIDUAL",
    "KIND_VESSEL",
    "LIST_OFAC_SDN",
    "LIST_UN",
    "NAME_CHARS_MAX",
    "SanctionsEntry",
    "SanctionsFormatError",
    "SanctionsList",
    "SourceFile",
    "parse_ofac",
    "parse_un",
    "read_list_file",
]

CODE_INVALID_LIST_FILE: Final = "invalid_list_file"

LIST_OFAC_SDN: Final = "ofac_sdn"
"""The US Treasury's Specially Designated Nationals and Blocked Persons list."""
LIST_UN: Final = "un_consolidated"
"""The UN Security Council consolidated sanctions list."""

KIND_INDIVIDUAL: Final = "individual"
KIND_ENTITY: Final = "entity"
KIND_VESSEL: Final = "vessel"
"""OFAC lists ships by name; screening treats them as entities that are not people."""
KIND_AIRCRAFT: Final = "aircraft"
KINDS: Final = frozenset({KIND_INDIVIDUAL, KIND_ENTITY, KIND_VESSEL, KIND_AIRCRAFT})

FILE_BYTES_MAX: Final = 64 * 1024 * 1024
"""Largest list file accepted (the full SDN CSV is about 2 MiB, the UN XML about 2 MiB)."""
ENTRIES_MAX: Final = 200_000
NAME_CHARS_MAX: Final = 512
"""Longest name or alias kept (the longest in the real files is about 200 characters)."""
ALIASES_MAX: Final = 500
"""Most aliases one entry may have (the most in the real files is about 100)."""
DOB_RANGE_YEARS_MAX: Final = 12

_OFAC_SDN_FIELDS: Final = 12
_OFAC_ALT_FIELDS: Final = 5
_OFAC_NULL: Final = "-0-"
_OFAC_TYPES: Final = {
    "": KIND_ENTITY,
    "individual": KIND_INDIVIDUAL,
    "vessel": KIND_VESSEL,
    "aircraft": KIND_AIRCRAFT,
}
_DOS_EOF: Final = "\x1a"
_BOM: Final = "\ufeff"

_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_DOB_IN_REMARKS: Final = re.compile(r"\bDOB ([^;]+)")
_NATIONALITY_IN_REMARKS: Final = re.compile(r"\b(?:nationality|citizen) ([^;]+)")
_DAY_MONTH_YEAR: Final = re.compile(r"(\d{1,2}) ([A-Za-z]{3}) (\d{4})")
_MONTH_YEAR: Final = re.compile(r"([A-Za-z]{3}) (\d{4})")
_YEAR: Final = re.compile(r"(\d{4})")
_YEAR_RANGE: Final = re.compile(r"(\d{4}) to (?:\d{1,2} [A-Za-z]{3} )?(\d{4})")
_ISO_DATE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})")

_COUNTRY_ALIASES: Final = {
    "korea, north": "KP",
    "north korea": "KP",
    "korea, south": "KR",
    "south korea": "KR",
    "burma": "MM",
    "russia": "RU",
    "turkey": "TR",
    "türkiye": "TR",
    "palestinian": "PS",
    "state of palestine": "PS",
    "the gambia": "GM",
    "congo, democratic republic of the": "CD",
    "democratic republic of the congo": "CD",
    "macedonia, the former yugoslav republic of": "MK",
    "iran (islamic republic of)": "IR",
    "iran": "IR",
    "syria": "SY",
    "vietnam": "VN",
    "laos": "LA",
    "taiwan": "TW",
    "hong kong": "HK",
    "macau": "MO",
}


class SanctionsFormatError(Exception):
    """A list file is malformed; the message names the file and the line or element."""

    code: str = CODE_INVALID_LIST_FILE

    def __init__(self, source: str, where: str, message: str) -> None:
        location = f"{source} {where}" if where else source
        super().__init__(f"{location}: {message}")
        self.code = CODE_INVALID_LIST_FILE
        self.source = source
        self.where = where


@dataclass(frozen=True, slots=True)
class SanctionsEntry:
    """One listed person, entity, vessel or aircraft, with every name it is listed under."""

    list: str
    """`LIST_OFAC_SDN` or `LIST_UN`."""
    entity_id: str
    """The list's own id: OFAC's ent_num (``12211``), the UN reference number (``KPi.001``)."""
    kind: str
    """One of `KINDS`: ``individual`` or ``entity`` (OFAC also lists vessels and aircraft)."""
    name: str
    """The primary name as written on the list, e.g. ``KIM, Yong Chol``."""
    aliases: tuple[str, ...] = ()
    native_names: tuple[str, ...] = ()
    """Names in their original script (UN NAME_ORIGINAL_SCRIPT)."""
    dates_of_birth: tuple[str, ...] = ()
    """ISO 8601, as precise as the list: ``1944-10-13``, ``1960-01`` or ``1947``."""
    countries: tuple[str, ...] = ()
    """Nationalities and citizenships, ISO 3166-1 alpha-2, sorted."""
    programs: tuple[str, ...] = ()
    """Sanctions programmes, e.g. ``DPRK2`` or ``NPWMD`` (OFAC), ``DPRK`` (UN)."""

    def names(self) -> tuple[str, ...]:
        """Primary name, aliases and native-script names, in that order, without repeats."""
        return tuple(dict.fromkeys((self.name, *self.aliases, *self.native_names)))


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file a list was read from: its name (no directory), SHA-256 and size."""

    name: str
    sha256: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class SanctionsList:
    """One list as published: its name, version, the files it came from and its entries."""

    name: str
    version: str
    """The UN list's ``dateGenerated``; for OFAC (whose CSV carries no date) ``sha256:`` and
    the first 16 hex digits of the SDN file's digest."""
    sources: tuple[SourceFile, ...]
    entries: tuple[SanctionsEntry, ...]


def read_list_file(path: str | os.PathLike[str], what: str) -> tuple[str, bytes]:
    """The bytes of a list file and its name, refusing a missing or oversized file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(FILE_BYTES_MAX + 1)
    except FileNotFoundError:
        raise SanctionsFormatError(str(path), "", f"{what}: no such file") from None
    except IsADirectoryError:
        raise SanctionsFormatError(str(path), "", f"{what}: is a directory") from None
    except OSError as error:
        raise SanctionsFormatError(str(path), "", f"{what}: cannot read: {error}") from None
    if len(data) > FILE_BYTES_MAX:
        raise SanctionsFormatError(
            str(path), "", f"{what}: larger than {FILE_BYTES_MAX // (1024 * 1024)} MiB"
        )
    return path.name, data


def _source(name: str, data: bytes) -> SourceFile:
    return SourceFile(name, hashlib.sha256(data).hexdigest(), len(data))


# --- OFAC ------------------------------------------------------------------------------


def parse_ofac(
    sdn: bytes,
    alt: bytes | None = None,
    *,
    sdn_name: str = "sdn.csv",
    alt_name: str = "alt.csv",
) -> SanctionsList:
    """The OFAC SDN list from the bytes of its sdn.csv and (optionally) alt.csv."""
    sources = [_source(sdn_name, sdn)]
    aliases: dict[str, list[str]] = {}
    rows = list(_ofac_rows(sdn, sdn_name, _OFAC_SDN_FIELDS))
    known = set()
    for line, fields in rows:
        entity_id = _ofac_id(fields[0], sdn_name, line)
        if entity_id in known:
            raise SanctionsFormatError(sdn_name, f"line {line}", f"ent_num {entity_id} repeats")
        known.add(entity_id)
    if alt is not None:
        sources.append(_source(alt_name, alt))
        for line, fields in _ofac_rows(alt, alt_name, _OFAC_ALT_FIELDS):
            entity_id = _ofac_id(fields[0], alt_name, line)
            if entity_id not in known:
                raise SanctionsFormatError(
                    alt_name, f"line {line}", f"alias of ent_num {entity_id}, not in {sdn_name}"
                )
            alt_type = _ofac_value(fields[2]).lower()
            if alt_type not in ("aka", "fka", "nka", ""):
                raise SanctionsFormatError(
                    alt_name, f"line {line}", f"unknown alias type {fields[2]!r}"
                )
            alias = _name(_ofac_value(fields[3]), alt_name, f"line {line}", "alt_name")
            listed = aliases.setdefault(entity_id, [])
            if len(listed) >= ALIASES_MAX:
                raise SanctionsFormatError(
                    alt_name, f"line {line}", f"more than {ALIASES_MAX} aliases for {entity_id}"
                )
            listed.append(alias)

    entries = []
    for line, fields in rows:
        where = f"line {line}"
        entity_id = fields[0].strip()
        name = _name(_ofac_value(fields[1]), sdn_name, where, "SDN_Name")
        sdn_type = _ofac_value(fields[2]).lower()
        kind = _OFAC_TYPES.get(sdn_type)
        if kind is None:
            raise SanctionsFormatError(sdn_name, where, f"unknown SDN_Type {fields[2]!r}")
        remarks = _ofac_value(fields[11])
        entries.append(
            SanctionsEntry(
                list=LIST_OFAC_SDN,
                entity_id=entity_id,
                kind=kind,
                name=name,
                aliases=tuple(a for a in dict.fromkeys(aliases.get(entity_id, ())) if a != name),
                dates_of_birth=_ofac_dates_of_birth(remarks),
                countries=_ofac_countries(remarks),
                programs=_ofac_programs(_ofac_value(fields[3])),
            )
        )
    digest = sources[0].sha256
    return SanctionsList(LIST_OFAC_SDN, f"sha256:{digest[:16]}", tuple(sources), tuple(entries))


def _decode(data: bytes, source: str, *, legacy_ok: bool) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        if not legacy_ok:
            raise SanctionsFormatError(source, f"byte {error.start}", "not UTF-8 text") from None
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as legacy_error:
            raise SanctionsFormatError(
                source, f"byte {legacy_error.start}", "neither UTF-8 nor Windows-1252 text"
            ) from None
    text = text.removeprefix(_BOM).rstrip("\r\n")
    return text.removesuffix(_DOS_EOF).rstrip("\r\n")


def _ofac_rows(data: bytes, source: str, width: int) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of each row; every row has exactly `width` fields."""
    text = _decode(data, source, legacy_ok=True)
    if "\x00" in text:
        raise SanctionsFormatError(source, "", "holds NUL characters: not a CSV text file")
    if not text.strip():
        raise SanctionsFormatError(source, "", "no rows")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    count = 0
    line = 1
    try:
        for fields in reader:
            if not fields:
                raise SanctionsFormatError(source, f"line {line}", "empty line")
            if len(fields) != width:
                raise SanctionsFormatError(
                    source,
                    f"line {line}",
                    f"{len(fields)} fields; a row of this OFAC file has {width}",
                )
            count += 1
            if count > ENTRIES_MAX:
                raise SanctionsFormatError(source, f"line {line}", f"more than {ENTRIES_MAX} rows")
            yield line, fields
            line = reader.line_num + 1
    except csv.Error as error:
        raise SanctionsFormatError(source, f"line {line}", f"not valid CSV: {error}") from None


def _ofac_value(field: str) -> str:
    value = field.strip()
    return "" if value == _OFAC_NULL else value


def _ofac_id(field: str, source: str, line: int) -> str:
    value = field.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise SanctionsFormatError(source, f"line {line}", f"ent_num is not a number: {field!r}")
    return str(int(value))


def _name(value: str, source: str, where: str, what: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise SanctionsFormatError(source, where, f"{what} is empty")
    if len(name) > NAME_CHARS_MAX:
        raise SanctionsFormatError(
            source, where, f"{what} has {len(name)} characters; at most {NAME_CHARS_MAX}"
        )
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise SanctionsFormatError(source, where, f"{what} holds control characters: {name!r}")
    return name


def _ofac_programs(field: str) -> tuple[str, ...]:
    parts = (p.strip(" []") for p in field.split("] ["))
    return tuple(dict.fromkeys(p for p in parts if p))


def _ofac_dates_of_birth(remarks: str) -> tuple[str, ...]:
    found: list[str] = []
    for match in _DOB_IN_REMARKS.finditer(remarks):
        found.extend(_ofac_date(match.group(1).strip().rstrip(".")))
    return tuple(dict.fromkeys(found))


def _ofac_date(text: str) -> list[str]:
    text = text.removeprefix("circa ").strip()
    if (span := _YEAR_RANGE.search(text)) is not None:
        return _year_range(int(span.group(1)), int(span.group(2)))
    if (full := _DAY_MONTH_YEAR.fullmatch(text)) is not None:
        month = _MONTHS.get(full.group(2).lower())
        if month is not None:
            return [_iso_date(int(full.group(3)), month, int(full.group(1)))]
    if (partial := _MONTH_YEAR.fullmatch(text)) is not None:
        month = _MONTHS.get(partial.group(1).lower())
        if month is not None:
            return [f"{int(partial.group(2)):04d}-{month:02d}"]
    if (year := _YEAR.fullmatch(text)) is not None:
        return [year.group(1)]
    return []


def _iso_date(year: int, month: int, day: int) -> str:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        # A date that is not on the calendar still tells the year and month.
        return f"{year:04d}-{month:02d}"


def _year_range(first: int, last: int) -> list[str]:
    if first > last or last - first >= DOB_RANGE_YEARS_MAX:
        return [str(first), str(last)] if first != last else [str(first)]
    return [str(year) for year in range(first, last + 1)]


def _ofac_countries(remarks: str) -> tuple[str, ...]:
    codes = set()
    for match in _NATIONALITY_IN_REMARKS.finditer(remarks):
        code = country_code(match.group(1).strip().rstrip("."))
        if code is not None:
            codes.add(code)
    return tuple(sorted(codes))


@lru_cache(maxsize=1024)
def country_code(name: str) -> str | None:
    """ISO 3166-1 alpha-2 code of a country named as the lists name them, or None."""
    key = " ".join(name.split()).casefold()
    if not key:
        return None
    if key in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[key]
    try:
        country = pycountry.countries.lookup(key)
    except LookupError:
        return None
    return str(country.alpha_2)


# --- UN ----------------------------------------------------------------------------------


def parse_un(data: bytes, *, source: str = "consolidated.xml") -> SanctionsList:
    """The UN Security Council consolidated list from the bytes of its XML file."""
    text = _decode(data, source, legacy_ok=False)
    try:
        root = defusedxml.ElementTree.fromstring(text.encode("utf-8"))
    except ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        raise SanctionsFormatError(
            source, f"line {line} column {column}", f"not well-formed XML: {error}"
        ) from None
    except defusedxml.DefusedXmlException as error:
        raise SanctionsFormatError(source, "", f"refused XML construct: {error}") from None
    if root.tag != "CONSOLIDATED_LIST":
        raise SanctionsFormatError(
            source, f"<{root.tag}>", "the root element is not CONSOLIDATED_LIST"
        )
    version = (root.get("dateGenerated") or "").strip()
    if not version:
        raise SanctionsFormatError(
            source, "<CONSOLIDATED_LIST>", "no dateGenerated attribute (the list's version)"
        )
    entries: list[SanctionsEntry] = []
    seen: dict[str, str] = {}
    for group, tag, kind in (
        ("INDIVIDUALS", "INDIVIDUAL", KIND_INDIVIDUAL),
        ("ENTITIES", "ENTITY", KIND_ENTITY),
    ):
        for container in root.findall(group):
            for number, element in enumerate(container.findall(tag), 1):
                entry = _un_entry(element, kind, source, f"<{tag}> #{number}")
                where = f"<{tag}> #{number}"
                if entry.entity_id in seen:
                    raise SanctionsFormatError(
                        source,
                        where,
                        f"reference number {entry.entity_id} repeats ({seen[entry.entity_id]})",
                    )
                seen[entry.entity_id] = where
                entries.append(entry)
                if len(entries) > ENTRIES_MAX:
                    raise SanctionsFormatError(source, where, f"more than {ENTRIES_MAX} entries")
    if not entries:
        raise SanctionsFormatError(source, "<CONSOLIDATED_LIST>", "no INDIVIDUAL or ENTITY")
    return SanctionsList(LIST_UN, version, (_source(source, data),), tuple(entries))


def _text(element: Element, tag: str) -> str:
    child = element.find(tag)
    if child is None or child.text is None:
        return ""
    return " ".join(child.text.split())


def _un_entry(element: Element, kind: str, source: str, where: str) -> SanctionsEntry:
    data_id = _text(element, "DATAID")
    if not data_id:
        raise SanctionsFormatError(source, where, "no DATAID")
    where = f"{where} (DATAID {data_id})"
    entity_id = _text(element, "REFERENCE_NUMBER") or data_id
    parts = [_text(element, tag) for tag in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME")]
    parts.append(_text(element, "FOURTH_NAME"))
    name = _name(" ".join(p for p in parts if p), source, where, "FIRST_NAME..FOURTH_NAME")
    alias_tag = "INDIVIDUAL_ALIAS" if kind == KIND_INDIVIDUAL else "ENTITY_ALIAS"
    aliases = []
    for alias_element in element.findall(alias_tag):
        alias = _text(alias_element, "ALIAS_NAME")
        if alias:
            aliases.append(_name(alias, source, where, alias_tag))
    if len(aliases) > ALIASES_MAX:
        raise SanctionsFormatError(source, where, f"more than {ALIASES_MAX} aliases")
    native = _text(element, "NAME_ORIGINAL_SCRIPT")
    native_names = (_name(native, source, where, "NAME_ORIGINAL_SCRIPT"),) if native else ()
    programs = tuple(dict.fromkeys(value for value in (_text(element, "UN_LIST_TYPE"),) if value))
    countries = set()
    for nationality in element.findall("NATIONALITY/VALUE"):
        code = country_code(" ".join((nationality.text or "").split()))
        if code is not None:
            countries.add(code)
    dates: list[str] = []
    for birth in element.findall("INDIVIDUAL_DATE_OF_BIRTH"):
        dates.extend(_un_date_of_birth(birth, source, where))
    return SanctionsEntry(
        list=LIST_UN,
        entity_id=entity_id,
        kind=kind,
        name=name,
        aliases=tuple(a for a in dict.fromkeys(aliases) if a != name),
        native_names=native_names,
        dates_of_birth=tuple(dict.fromkeys(dates)),
        countries=tuple(sorted(countries)),
        programs=programs,
    )


def _un_date_of_birth(birth: Element, source: str, where: str) -> list[str]:
    date = _text(birth, "DATE")
    if date:
        found = _ISO_DATE.match(date)
        if found is None:
            raise SanctionsFormatError(
                source, f"{where} <INDIVIDUAL_DATE_OF_BIRTH>", f"DATE is not YYYY-MM-DD: {date!r}"
            )
        return [_iso_date(int(found.group(1)), int(found.group(2)), int(found.group(3)))]
    years = [_text(birth, tag) for tag in ("YEAR", "FROM_YEAR", "TO_YEAR")]
    for year in years:
        if year and (not year.isascii() or not year.isdigit() or len(year) != 4):
            raise SanctionsFormatError(
                source, f"{where} <INDIVIDUAL_DATE_OF_BIRTH>", f"a year is not 4 digits: {year!r}"
            )
    year, first, last = years
    if year:
        return [year]
    if first and last:
        return _year_range(int(first), int(last))
    return [y for y in (first, last) if y]
