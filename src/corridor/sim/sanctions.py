"""Real sanctioned people for the sandbox, under native-script names and variant spellings.

The sandbox registers a few people from the real sanctions lists as wallet customers, so that
screening is measured against the names it will meet: the UN Security Council consolidated
list (XML) and OFAC's SDN list (CSV with its alias file), read from ``../shared/data/
sanctions`` beside the project (or ``$CORRIDOR_DATA_DIR/sanctions``). When the files are
absent the typology is left out and the report says so; nothing is made up.

Who is taken:

- individuals of the UN list's DPRK regime (``UN_LIST_TYPE`` DPRK) and OFAC's DPRK programmes
  (``DPRK``, ``DPRK2``...), whose every romanized syllable is in this module's table of
  McCune-Reischauer syllables, so that a Hangul form can be written for them;
- a few listed Chinese and Japanese individuals whose Han or kanji names are well documented
  (`_CURATED`), used only if the files do list them.

The lists carry no native script for these people, so the Hangul is a transliteration (one
McCune-Reischauer spelling can stand for two Hangul syllables; the table takes the common
one). Each registration uses the native-script name and one romanized variant: as listed,
Revised Romanization, South Korean conventional spelling (Kim/Lee/Park/Choi, Young/Chul),
given name first, or one of the list's own aliases. Which one is recorded with the label.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import defusedxml.ElementTree as DefusedET
from korean_romanizer.romanizer import Romanizer

from corridor.sim.errors import SimError

__all__ = [
    "DATA_DIR_ENV",
    "ListedPerson",
    "Registration",
    "default_data_dir",
    "load_listed_people",
    "registration_for",
]

DATA_DIR_ENV: Final = "CORRIDOR_DATA_DIR"
UN_FILE: Final = "un_consolidated.xml"
OFAC_SDN_FILE: Final = "ofac_sdn.csv"
OFAC_ALT_FILE: Final = "ofac_alt.csv"
FILE_BYTES_MAX: Final = 64 * 1024 * 1024
"""Largest sanctions file read (the real ones are about 2 MB)."""
ALIASES_MAX: Final = 8
"""Aliases kept per person."""

# Syllable (McCune-Reischauer as the lists write it, lower case, no apostrophes or breves)
# to Hangul; family names where they differ from the same syllable in a given name.
_GIVEN_SYLLABLES: Final = {
    "bok": "복", "bom": "범", "bong": "봉", "byong": "병", "cha": "차", "chae": "채",
    "chan": "찬", "chang": "창", "chin": "진", "cho": "조", "choe": "최", "chol": "철",
    "chong": "정", "chu": "주", "chul": "철", "chun": "춘", "gon": "건", "guk": "국",
    "ha": "하", "hae": "해", "hak": "학", "han": "한", "ho": "호", "hong": "홍", "hui": "희",
    "hwa": "화", "hwan": "환", "hwi": "휘", "hyok": "혁", "hyon": "현", "hyong": "형",
    "il": "일", "ja": "자", "jae": "재", "je": "제", "ji": "지", "jin": "진", "jo": "조",
    "jong": "정", "jun": "준", "kang": "강", "ki": "기", "kil": "길", "kon": "건", "ku": "구",
    "kuk": "국", "kwang": "광", "kyong": "경", "kyu": "규", "man": "만", "min": "민",
    "mu": "무", "mun": "문", "myong": "명", "nam": "남", "o": "오", "ok": "옥", "pil": "필",
    "pong": "봉", "pu": "부", "pyong": "평", "ro": "로", "ryang": "량", "ryol": "렬",
    "ryong": "룡", "sam": "삼", "san": "산", "sang": "상", "se": "세", "sik": "식",
    "sin": "신", "so": "소", "sok": "석", "son": "선", "song": "성", "sop": "섭", "su": "수",
    "sun": "순", "sung": "승", "tae": "대", "thae": "태", "thaek": "택", "tok": "덕",
    "tong": "동", "u": "우", "uk": "욱", "un": "은", "ung": "웅", "won": "원", "yo": "여",
    "yon": "연", "yong": "영", "yu": "유", "yun": "윤", "yung": "융",
}  # fmt: skip
_FAMILY_SYLLABLES: Final = {
    "chang": "장", "cho": "조", "choe": "최", "chon": "전", "chong": "정", "chu": "주",
    "han": "한", "ho": "허", "hwang": "황", "hyon": "현", "jang": "장", "jo": "조",
    "jon": "전", "jong": "정", "kang": "강", "kil": "길", "kim": "김", "ko": "고",
    "kwak": "곽", "kwon": "권", "li": "리", "mun": "문", "o": "오", "pae": "배", "paek": "백",
    "pak": "박", "pang": "방", "park": "박", "ra": "라", "ri": "리", "ro": "로", "ryom": "렴",
    "ryu": "류", "sin": "신", "so": "서", "son": "손", "song": "송", "to": "도", "tong": "동",
    "u": "우", "yang": "양", "yu": "유", "yun": "윤",
}  # fmt: skip
# South Korean conventional spellings of family names (passports), and of common syllables.
_FAMILY_CONVENTIONAL: Final = {
    "김": ("Kim", "Gim"), "리": ("Lee", "Yi", "Rhee"), "박": ("Park", "Bak"),
    "최": ("Choi", "Choe"), "정": ("Jung", "Jeong", "Chung"), "장": ("Jang", "Chang"),
    "조": ("Cho", "Jo"), "강": ("Kang", "Gang"), "윤": ("Yoon", "Yun"), "한": ("Han",),
    "오": ("Oh", "O"), "황": ("Hwang",), "현": ("Hyun", "Hyeon"), "문": ("Moon", "Mun"),
    "전": ("Jeon", "Chun"), "고": ("Ko", "Go"), "백": ("Baek", "Paik"), "배": ("Bae",),
    "방": ("Bang",), "류": ("Ryu", "Yoo"), "권": ("Kwon",), "신": ("Shin",), "송": ("Song",),
    "손": ("Son",), "서": ("Seo", "Suh"), "허": ("Heo", "Huh"), "라": ("Ra", "Na"),
    "로": ("Ro", "No"), "곽": ("Kwak",), "렴": ("Ryom", "Yeom"), "양": ("Yang",),
    "유": ("Yoo", "Yu"), "우": ("Woo",), "도": ("Do",), "동": ("Dong",), "길": ("Gil",),
}  # fmt: skip
_SYLLABLE_CONVENTIONAL: Final = {
    "yong": "young", "chol": "chul", "kyong": "kyung", "myong": "myung", "hyon": "hyun",
    "song": "sung", "chong": "jung", "jong": "jung", "sok": "seok", "hyok": "hyuk",
    "pyong": "pyung", "byong": "byung", "gon": "geon", "kon": "keon", "tok": "deok",
    "thae": "tae", "un": "eun", "son": "sun",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Curated:
    native: str
    kana: str | None
    nationality: str
    script: str


_CURATED: Final = {
    ("LI", "FANGWEI"): _Curated("李方伟", None, "CN", "han"),
    ("SHINODA", "KENICHI"): _Curated("篠田建市", "しのだ けんいち", "JP", "kanji"),
    ("TAKAYAMA", "KIYOSHI"): _Curated("高山清司", "たかやま きよし", "JP", "kanji"),
}
"""Listed people whose native names are documented in public reporting."""

_MONTHS: Final = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
)}  # fmt: skip
_OFAC_DOB: Final = re.compile(r"DOB (?:(\d{1,2}) ([A-Z][a-z]{2}) )?(\d{4})")
_SPLIT: Final = re.compile(r"[\s\-]+")


@dataclass(frozen=True, slots=True)
class ListedPerson:
    """A listed individual with a native-script name the sandbox can register."""

    source: str
    """``UN`` or ``OFAC``."""
    reference: str
    """The list's id: a UN reference number (``KPi.024``) or ``OFAC <ent_num>``."""
    family: str
    """Family name as listed, upper case (``KIM``)."""
    given: str
    """Given name as listed (``YONG CHOL``)."""
    aliases: tuple[str, ...]
    date_of_birth: dt.date | None
    birth_year: int | None
    nationality: str
    """ISO 3166-1 alpha-2: KP, CN or JP."""
    script: str
    """``hangul``, ``han`` or ``kanji``."""
    native: str
    """The name in its native script, family name first, no space (李方伟, 김영철)."""
    native_kana: str | None = None
    native_source: str = "transliterated"
    """``transliterated`` (Hangul from the table) or ``curated`` (documented)."""

    @property
    def listed_name(self) -> str:
        return f"{self.family} {self.given}"


@dataclass(frozen=True, slots=True)
class Registration:
    """How a listed person is registered as a wallet customer."""

    name_native: str
    name_romanized: str
    variant: str
    """``listed``, ``revised``, ``conventional``, ``given_first`` or ``alias``."""


def default_data_dir() -> Path:
    """``$CORRIDOR_DATA_DIR`` if set, else ``../shared/data`` beside the repository."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > FILE_BYTES_MAX:
            raise SimError("bad_sanctions_file", f"{path} is over {FILE_BYTES_MAX} bytes")
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise SimError("bad_sanctions_file", f"cannot read {path}: {error}") from None


def _plain(text: str) -> str:
    """Upper case ASCII letters and single spaces: apostrophes, breves and hyphens go."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(ch for ch in decomposed if ch.isascii() and (ch.isalpha() or ch in " -"))
    return " ".join(_SPLIT.split(letters.upper())).strip()


def _hangul(family: str, given: str) -> str | None:
    family_syllables = _plain(family).lower().split()
    given_syllables = _plain(given).lower().split()
    if len(family_syllables) != 1 or not 1 <= len(given_syllables) <= 3:
        return None
    head = _FAMILY_SYLLABLES.get(family_syllables[0])
    tail = [_GIVEN_SYLLABLES.get(s) for s in given_syllables]
    if head is None or any(t is None for t in tail):
        return None
    return head + "".join(t for t in tail if t is not None)


def _un_people(path: Path) -> Iterator[ListedPerson]:
    try:
        root = DefusedET.fromstring(_read_text(path))
    except DefusedET.ParseError as error:
        raise SimError("bad_sanctions_file", f"{path}: {error}") from None
    for node in root.iter("INDIVIDUAL"):
        if (node.findtext("UN_LIST_TYPE") or "").strip() != "DPRK":
            continue
        family = (node.findtext("FIRST_NAME") or "").strip()
        given = " ".join(
            (node.findtext(tag) or "").strip() for tag in ("SECOND_NAME", "THIRD_NAME")
        ).strip()
        native = _hangul(family, given)
        if native is None:
            continue
        aliases = tuple(
            alias
            for alias_node in node.findall("INDIVIDUAL_ALIAS")
            if (alias := (alias_node.findtext("ALIAS_NAME") or "").strip())
        )[:ALIASES_MAX]
        born: dt.date | None = None
        year: int | None = None
        for dob in node.findall("INDIVIDUAL_DATE_OF_BIRTH"):
            date_text = (dob.findtext("DATE") or "").strip()
            year_text = (dob.findtext("YEAR") or "").strip()
            if born is None and date_text:
                try:
                    born = dt.date.fromisoformat(date_text[:10])
                except ValueError:
                    born = None
            if year is None and year_text.isdigit():
                year = int(year_text)
        yield ListedPerson(
            source="UN",
            reference=(node.findtext("REFERENCE_NUMBER") or "").strip(),
            family=_plain(family),
            given=_plain(given),
            aliases=aliases,
            date_of_birth=born,
            birth_year=born.year if born else year,
            nationality="KP",
            script="hangul",
            native=native,
        )


def _ofac_aliases(path: Path) -> dict[str, list[str]]:
    aliases: dict[str, list[str]] = {}
    if not path.is_file():
        return aliases
    for row in csv.reader(io.StringIO(_read_text(path))):
        if len(row) >= 4 and row[0].strip().isdigit():
            aliases.setdefault(row[0].strip(), []).append(row[3].strip())
    return aliases


def _ofac_people(sdn: Path, alt: Path) -> Iterator[ListedPerson]:
    aliases = _ofac_aliases(alt)
    for row in csv.reader(io.StringIO(_read_text(sdn))):
        if len(row) < 12 or row[2].strip() != "individual" or "," not in row[1]:
            continue
        ent_num = row[0].strip()
        family_raw, given_raw = (part.strip() for part in row[1].split(",", 1))
        programs = [p.strip(" []") for p in row[3].split("] [")]
        remarks = row[11]
        found = _OFAC_DOB.search(remarks)
        born: dt.date | None = None
        year = int(found.group(3)) if found else None
        if found and found.group(1) and found.group(2) in _MONTHS:
            try:
                born = dt.date(int(found.group(3)), _MONTHS[found.group(2)], int(found.group(1)))
            except ValueError:
                born = None
        key = (_plain(family_raw), _plain(given_raw).replace(" ", ""))
        curated = _CURATED.get(key)
        listed_aliases = tuple(_alias_text(a) for a in aliases.get(ent_num, []))[:ALIASES_MAX]
        if curated is not None:
            yield ListedPerson(
                "OFAC",
                f"OFAC {ent_num}",
                _plain(family_raw),
                _plain(given_raw),
                listed_aliases,
                born,
                year,
                curated.nationality,
                curated.script,
                curated.native,
                curated.kana,
                "curated",
            )
            continue
        if not any(p.startswith("DPRK") for p in programs):
            continue
        native = _hangul(family_raw, given_raw)
        if native is None:
            continue
        yield ListedPerson(
            "OFAC",
            f"OFAC {ent_num}",
            _plain(family_raw),
            _plain(given_raw),
            listed_aliases,
            born,
            year,
            "KP",
            "hangul",
            native,
        )


def _alias_text(alias: str) -> str:
    """OFAC writes aliases ``FAMILY, Given``; turn that into ``Given Family``."""
    if "," in alias:
        family, given = (part.strip() for part in alias.split(",", 1))
        return f"{given} {family}"
    return alias.strip()


def load_listed_people(data_dir: Path | None = None) -> tuple[list[ListedPerson], str | None]:
    """The people the sandbox may register, and a warning when the lists are missing.

    UN entries come first, then OFAC entries for people not already taken from the UN list
    (same family name and given name letters), each list in file order.
    """
    folder = (data_dir if data_dir is not None else default_data_dir()) / "sanctions"
    un, sdn, alt = folder / UN_FILE, folder / OFAC_SDN_FILE, folder / OFAC_ALT_FILE
    if not un.is_file() and not sdn.is_file():
        return [], f"no sanctions lists in {folder}: the sanctioned-party typology is left out"
    people: list[ListedPerson] = []
    seen: set[tuple[str, str]] = set()
    sources = ([_un_people(un)] if un.is_file() else []) + (
        [_ofac_people(sdn, alt)] if sdn.is_file() else []
    )
    for source in sources:
        for person in source:
            key = (person.family, person.given.replace(" ", ""))
            if key not in seen:
                seen.add(key)
                people.append(person)
    return people, None


def _title(text: str) -> str:
    return " ".join(
        "-".join(part.capitalize() for part in word.split("-")) for word in text.split()
    )


def _romanizable(text: str) -> str:
    """Only what a directory accepts in a romanized name: Latin letters, space, -'.,"""
    text = text.replace("’", "'").replace("‘", "'")
    kept = "".join(
        ch
        for ch in text
        if ch in " -'.," or (ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN "))
    )
    return " ".join(kept.split()).strip(" -'.,")


def _korean_variant(person: ListedPerson, variant: str, rng: random.Random) -> str:
    family_hangul, given_hangul = person.native[0], person.native[1:]
    if variant == "revised":
        family = Romanizer(family_hangul).romanize().capitalize()
        return f"{family} {Romanizer(given_hangul).romanize().capitalize()}"
    if variant == "conventional":
        family = rng.choice(_FAMILY_CONVENTIONAL.get(family_hangul, (_title(person.family),)))
        syllables = [_SYLLABLE_CONVENTIONAL.get(s, s) for s in person.given.lower().split()]
        return f"{family} {'-'.join(syllables).capitalize()}"
    if variant == "given_first":
        return f"{_title(person.given)} {_title(person.family)}"
    return _title(person.listed_name)


def registration_for(person: ListedPerson, rng: random.Random) -> Registration:
    """A native-script name and one romanized variant, chosen with `rng`."""
    variants = ["listed", "given_first", "alias"]
    if person.script == "hangul":
        variants += ["revised", "conventional", "conventional"]
    if not person.aliases:
        variants.remove("alias")
    variant = rng.choice(variants)
    if variant == "alias":
        romanized = _romanizable(rng.choice(person.aliases))
    elif person.script == "hangul":
        romanized = _korean_variant(person, variant, rng)
    elif variant == "given_first":
        romanized = f"{_title(person.given)} {_title(person.family)}"
    else:
        romanized = _title(person.listed_name)
    romanized = _romanizable(romanized) or _romanizable(_title(person.listed_name))
    native = person.native
    if person.native_kana is not None and rng.random() < 0.3:
        native = person.native_kana
    return Registration(native, romanized, variant)
