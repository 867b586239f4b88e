"""Personal and company names turned into comparable keys, across Latin, Han, kana and Hangul.

Sanctions lists write people from China, Japan and Korea in Latin letters, each in one of
several romanizations; wallets know their customers by the native-script name. Screening
therefore compares *romanized, phonetically normalized* forms. This module produces, for any
name, a small set of `NameVariant` values: each is one way the name is (or could be) written in
Latin letters, labelled with the system that produced it and split into parts (family name,
given name or words) and pieces (syllables or hyphenated pieces), each piece reduced to a
phonetic key.

Native scripts
    Han: Pinyin (pypinyin, one reading per character, family-name readings for characters
    such as 曾 Zeng or 单 Shan) and Wade–Giles; the Korean reading (Hanja → Hangul, from the
    table in this module) and the Japanese reading (pykakasi), because a name in Han
    characters may be Chinese, Korean or Japanese. Kana (with or without kanji): Hepburn
    (pykakasi). Hangul: Revised Romanization (korean-romanizer, syllable by syllable, as
    names are written) and McCune–Reischauer. A name without spaces is split into family and
    given name (two-character family names such as 欧阳, 南宮 or 남궁 are known).

Latin
    Case-folded, diacritics stripped (ŏ → o, ō → o), apostrophes dropped (Ch'ŏl → chol),
    hyphens and spaces split the name into pieces; company forms are shortened (Limited →
    ltd).

Phonetic key of a piece (`phonetic_piece`)
    The spellings that romanizations disagree on are reduced to one: g/k, d/t, b/p, j/ch, r/l
    and sh/s merge; eo, ŏ → o; eu, ŭ → u; ee → i; ou, ō, oh (before a consonant), uu → one
    vowel; u before a syllable-final n, ng, k, l, m, p or t becomes o, because Korean writes
    ㅓ as eo, ŏ, o or u (Seok, Sŏk, Sok, Suk) while Pinyin has no syllable ending in -ung,
    -uk, -ul or -um, and -on only with g; ck → k; doubled consonants collapse; ``oo``
    gives two keys (Korean Moon = Mun, Japanese Oono = Ono). Whole pieces that are common
    Korean family-name spellings map to
    one key: Lee/Yi/Rhee/Ri/I/Li, Park/Pak/Bak, Choi/Choe, Lim/Im/Rim, Ryu/Yu/Yoo, Roh/Noh/No,
    Ahn/An, Suh/Seo, Hur/Heo, Baek/Paek/Paik (Kim/Gim, Jung/Jeong/Chung/Jong, Yoon/Yun,
    Kang/Gang and most others already meet through the letter rules).

Everything is cached: a piece's key, a Hangul syllable's romanizations, a Han character's
readings and a whole name's variants (`NAMES_CACHED` names), so a payment that screens the
same customer again costs a dictionary lookup.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

__all__ = [
    "NAMES_CACHED",
    "NAME_CHARS_MAX",
    "SYSTEM_HEPBURN",
    "SYSTEM_KOREAN_COMMON",
    "SYSTEM_KOREAN_MR",
    "SYSTEM_KOREAN_RR",
    "SYSTEM_LATIN",
    "SYSTEM_PINYIN",
    "SYSTEM_WADE_GILES",
    "VARIANTS_MAX",
    "NameVariant",
    "clear_piece_cache",
    "hangul_to_mccune_reischauer",
    "hangul_to_revised",
    "hanja_to_hangul",
    "name_keys",
    "name_variants",
    "phonetic_piece",
    "scripts",
]

NAME_CHARS_MAX: Final = 512
"""Longest name normalized; longer input is cut there (lists' longest names are ~200)."""
VARIANTS_MAX: Final = 12
"""Most variants kept for one name (a Han name yields about six)."""
NAMES_CACHED: Final = 65_536
"""Names whose variants stay cached (a few MB)."""
PIECE_KEYS_MAX: Final = 4
"""Most phonetic spellings of one name that ``oo`` ambiguity may multiply into."""

SYSTEM_LATIN: Final = "latin"
SYSTEM_PINYIN: Final = "pinyin"
SYSTEM_WADE_GILES: Final = "wade-giles"
SYSTEM_KOREAN_RR: Final = "revised romanization"
SYSTEM_KOREAN_MR: Final = "mccune-reischauer"
SYSTEM_KOREAN_COMMON: Final = "common korean spelling"
SYSTEM_HEPBURN: Final = "hepburn"
SYSTEM_NATIVE: Final = "native script"
"""A name in a script this module does not romanize (Arabic, Cyrillic...), kept as written."""
HANJA_PREFIX: Final = "korean reading"
KANJI_PREFIX: Final = "japanese reading"


@dataclass(frozen=True, slots=True)
class NameVariant:
    """One way a name is written in Latin letters, with its phonetic key.

    `parts` are the name's parts in written order (family and given name, or words), each a
    tuple of pieces (syllables or hyphen-separated pieces) already reduced to phonetic keys.
    """

    system: str
    """Which romanization produced it, e.g. ``pinyin`` or ``korean reading (김정은),
    mccune-reischauer``; ``latin`` for a name given in Latin letters."""
    text: str
    """The variant as a reader would write it, e.g. ``Xi Jinping``."""
    parts: tuple[tuple[str, ...], ...]

    @property
    def key(self) -> str:
        """All pieces joined in written order: spacing and hyphens do not matter."""
        return "".join(piece for part in self.parts for piece in part)


# --- scripts ------------------------------------------------------------------------------

_HAN_RANGES: Final = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)
_SEPARATORS: Final = frozenset(' \t,;:/\\()[]{}<>"“”‘’«»·・･、，。|&+_=*!?#@')
_APOSTROPHES: Final = frozenset("'`´ʻʼʾʿ’‘ʹ")
_HYPHENS: Final = frozenset("-‐‑‒–—―‐")
_LATIN_SPECIAL: Final = {
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "ı": "i",
    "ħ": "h",
}
_HAN_VARIANTS: Final = {"髙": "高", "﨑": "崎", "德": "徳", "邉": "辺", "邊": "辺"}
"""Japanese variant characters pykakasi does not know, mapped to the form it reads."""


def _is_han(ch: str) -> bool:
    code = ord(ch)
    return ch == "々" or any(low <= code <= high for low, high in _HAN_RANGES)


def _is_kana(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff" or "\u31f0" <= ch <= "\u31ff"


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


_HAN_RE: Final = re.compile("[々\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_KANA_RE: Final = re.compile("[\u3040-\u30ff\u31f0-\u31ff]")
_HANGUL_RE: Final = re.compile("[\uac00-\ud7a3]")
_NON_LATIN_LETTER_RE: Final = re.compile(r"[^\W\d_\u0000-\u024f\u1e00-\u1eff]")


def scripts(name: str) -> frozenset[str]:
    """The scripts a name uses: ``han``, ``kana``, ``hangul``, ``latin``, ``other``."""
    if name.isascii():
        return _LATIN_ONLY if any(ch.isalpha() for ch in name) else frozenset()
    found = set()
    if _HAN_RE.search(name):
        found.add("han")
    if _KANA_RE.search(name):
        found.add("kana")
    if _HANGUL_RE.search(name):
        found.add("hangul")
    rest = _HANGUL_RE.sub("", _KANA_RE.sub("", _HAN_RE.sub("", name)))
    if _NON_LATIN_LETTER_RE.search(rest):
        found.add("other")
    if any((ch.isalpha() and ord(ch) <= 0x24F) or "\u1e00" <= ch <= "\u1eff" for ch in rest):
        found.add("latin")
    return frozenset(found)


_LATIN_ONLY: Final = frozenset({"latin"})


# --- phonetic keys ------------------------------------------------------------------------

_FAMILY_NAME_KEYS: Final = {
    **dict.fromkeys(("lee", "yi", "rhee", "rhie", "ri", "i", "li", "ree", "rie", "yee"), "li"),
    **dict.fromkeys(("park", "pak", "bak", "bark", "pag", "bahk", "parc"), "pak"),
    **dict.fromkeys(("choi", "choe", "choy", "chey"), "choe"),
    **dict.fromkeys(("lim", "im", "rim", "yim", "leem", "rhim", "lym"), "lim"),
    **dict.fromkeys(("ryu", "yu", "yoo", "you", "lyu", "rhyu", "yuh", "liu"), "yu"),
    **dict.fromkeys(("roh", "noh", "no", "ro", "rho", "nho"), "no"),
    **dict.fromkeys(("ra", "na", "rah", "nah"), "na"),
    **dict.fromkeys(("ryang", "yang", "lyang"), "yang"),
    **dict.fromkeys(("ryom", "yeom", "yom", "yum", "youm", "lyom", "yeum"), "yom"),
    **dict.fromkeys(("ryo", "yeo", "yo", "lyeo", "yuh"), "yo"),
    **dict.fromkeys(("ahn", "an"), "an"),
    **dict.fromkeys(("oh", "o"), "o"),
    **dict.fromkeys(("seo", "suh", "so", "sur", "seoh"), "so"),
    **dict.fromkeys(("heo", "hur", "huh", "her", "hoh", "ho"), "ho"),
    **dict.fromkeys(("baek", "paek", "paik", "baik", "back", "baeg", "pack"), "paek"),
    **dict.fromkeys(("bae", "pae", "bai", "pai"), "pae"),
    **dict.fromkeys(("woo", "u", "wu"), "wu"),
    **dict.fromkeys(("um", "eom", "uhm", "ohm", "eum"), "om"),
    **dict.fromkeys(("gu", "koo", "ku", "goo", "gou"), "ku"),
    **dict.fromkeys(("ju", "joo", "chu", "choo", "jou"), "chu"),
}
"""Whole pieces that are spellings of one Korean family name → one key (applied first)."""

_PIECE_RULES: Final = (
    (re.compile(r"^rh"), "r"),
    (re.compile(r"^[rl]y"), "y"),
    (re.compile(r"eo"), "o"),
    (re.compile(r"eu"), "u"),
    (re.compile(r"ee"), "i"),
    (re.compile(r"(?<![csz])hui"), "hi"),
    (re.compile(r"ou"), "o"),
    (re.compile(r"uu"), "u"),
    (re.compile(r"oh(?![aeiouy])"), "o"),
    (re.compile(r"ck"), "k"),
    (re.compile(r"sh"), "s"),
    (re.compile(r"j"), "ch"),
    (re.compile(r"g"), "k"),
    (re.compile(r"d"), "t"),
    (re.compile(r"b"), "p"),
    (re.compile(r"r"), "l"),
    (re.compile(r"u(?=[nklmpt](?:[^aeiou]|$))"), "o"),
    (re.compile(r"m(?=p)"), "n"),
    (re.compile(r"([^aeiou])\1+"), r"\1"),
)
_OO: Final = "oo"
_PIECE_CACHE_MAX: Final = 200_000
_piece_cache: dict[str, tuple[str, ...]] = {}


def phonetic_piece(piece: str) -> tuple[str, ...]:
    """The phonetic key(s) of one lower-case piece (usually one; two when it has ``oo``)."""
    cached = _piece_cache.get(piece)
    if cached is not None:
        return cached
    if _OO in piece and piece not in _FAMILY_NAME_KEYS:
        keys = tuple(
            dict.fromkeys(
                key
                for spelled in (piece.replace(_OO, "u"), piece.replace(_OO, "o"))
                for key in _phonetic_once(spelled)
            )
        )
    else:
        keys = _phonetic_once(piece)
    if len(_piece_cache) < _PIECE_CACHE_MAX:
        _piece_cache[piece] = keys
    return keys


def clear_piece_cache() -> None:
    """Forget the phonetic keys computed so far (for cold-cache measurements)."""
    _piece_cache.clear()


def _phonetic_once(piece: str) -> tuple[str, ...]:
    key = _FAMILY_NAME_KEYS.get(piece, piece)
    if not key.isascii():
        return (key,)
    for pattern, replacement in _PIECE_RULES:
        key = pattern.sub(replacement, key)
    return (key or piece,)


# --- Latin ------------------------------------------------------------------------------

_COMPANY_FORMS: Final = {
    "limited": "ltd",
    "company": "co",
    "corporation": "corp",
    "incorporated": "inc",
    "companies": "cos",
    "international": "intl",
    "trading": "trading",
}


def _fold_latin(text: str) -> str:
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(_LATIN_SPECIAL.get(ch, ch) for ch in decomposed if not unicodedata.combining(ch))


_DROPPED: Final = {ord(ch): None for ch in (*_APOSTROPHES, ".")}
_PART_SPLIT: Final = re.compile(r"[^\w\-‐‑‒–—―]+|_+")
_PIECE_SPLIT: Final = re.compile(r"[\-‐‑‒–—―]+")


def _latin_parts(text: str) -> list[list[str]]:
    """Lower-case parts and pieces of a name written in Latin (or another alphabet):
    apostrophes and periods are dropped, hyphens split pieces, anything else not a letter
    or digit splits parts."""
    parts = []
    for chunk in _PART_SPLIT.split(_fold_latin(text).translate(_DROPPED)):
        pieces = [_COMPANY_FORMS.get(p, p) for p in _PIECE_SPLIT.split(chunk) if p]
        if pieces:
            parts.append(pieces)
    return parts


def _keyed(system: str, text: str, parts: Sequence[Sequence[str]]) -> list[NameVariant]:
    """Variants of `parts` (lower-case pieces) with phonetic keys; several when ``oo``."""
    choices = [[phonetic_piece(piece) for piece in part] for part in parts if part]
    flat = [keys for part in choices for keys in part]
    combos = 1
    for keys in flat:
        combos *= len(keys)
    if combos == 1:
        keyed = tuple(tuple(keys[0] for keys in part) for part in choices)
        return [NameVariant(system, text, keyed)] if keyed else []
    variants = []
    for picked in itertools.islice(itertools.product(*flat), PIECE_KEYS_MAX):
        it = iter(picked)
        keyed = tuple(tuple(next(it) for _ in part) for part in choices)
        variants.append(NameVariant(system, text, keyed))
    return variants


# --- Hangul -------------------------------------------------------------------------------

_HANGUL_BASE: Final = 0xAC00
_MR_INITIALS: Final = (
    "k", "kk", "n", "t", "tt", "r", "m", "p", "pp", "s", "ss", "", "ch", "tch", "ch'", "k'",
    "t'", "p'", "h",
)  # fmt: skip
_MR_VOICED: Final = {"k": "g", "t": "d", "p": "b", "ch": "j"}
_MR_VOWELS: Final = (
    "a", "ae", "ya", "yae", "ŏ", "e", "yŏ", "ye", "o", "wa", "wae", "oe", "yo", "u", "wŏ",
    "we", "wi", "yu", "ŭ", "ŭi", "i",
)  # fmt: skip
_MR_FINALS: Final = (
    "", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p",
    "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t",
)  # fmt: skip
_VOICING_FINALS: Final = frozenset({"", "n", "m", "ng", "l"})

_COMPOUND_KOREAN_FAMILY: Final = frozenset(
    {"남궁", "황보", "제갈", "선우", "독고", "사공", "서문", "동방", "을지", "망절", "어금"}
)
_COMMON_KOREAN_FAMILY: Final = {
    "김": "Kim", "이": "Lee", "리": "Ri", "박": "Park", "최": "Choi", "정": "Jung", "강": "Kang",
    "조": "Cho", "윤": "Yoon", "장": "Jang", "임": "Lim", "림": "Rim", "한": "Han", "오": "Oh",
    "서": "Suh", "신": "Shin", "권": "Kwon", "황": "Hwang", "안": "Ahn", "송": "Song",
    "류": "Ryu", "유": "Yoo", "전": "Jeon", "홍": "Hong", "고": "Ko", "문": "Moon", "양": "Yang",
    "손": "Son", "배": "Bae", "백": "Baek", "허": "Heo", "남": "Nam", "심": "Shim", "노": "Roh",
    "로": "Ro", "하": "Ha", "곽": "Kwak", "성": "Sung", "차": "Cha", "주": "Joo", "우": "Woo",
    "구": "Koo", "민": "Min", "진": "Jin", "지": "Ji", "엄": "Um", "채": "Chae", "원": "Won",
    "천": "Cheon", "방": "Bang", "공": "Kong", "현": "Hyun", "함": "Ham", "변": "Byun",
    "염": "Yeom", "여": "Yeo", "추": "Choo", "도": "Do", "석": "Seok", "선": "Sun", "설": "Seol",
    "마": "Ma", "길": "Gil", "연": "Yeon", "표": "Pyo", "명": "Myung", "기": "Ki", "왕": "Wang",
    "금": "Keum", "옥": "Ok", "육": "Yook", "인": "In", "맹": "Maeng", "탁": "Tak", "국": "Kook",
    "은": "Eun", "용": "Yong", "경": "Kyung", "봉": "Bong", "태": "Tae", "형": "Hyung",
}  # fmt: skip
"""The spelling most Koreans use in passports for a family name, where it differs from RR."""


@lru_cache(maxsize=16_384)
def _rr_syllable(syllable: str) -> str:
    from korean_romanizer.romanizer import Romanizer

    return str(Romanizer(syllable).romanize()).lower()


def hangul_to_revised(syllables: str) -> list[str]:
    """Revised Romanization of each Hangul syllable, as names are written (no sound changes
    across syllables), e.g. 윤석열 → ``yun``, ``seok``, ``yeol``."""
    return [_rr_syllable(s) if _is_hangul(s) else s for s in syllables]


def hangul_to_mccune_reischauer(syllables: str, *, word_start: bool = True) -> list[str]:
    """McCune–Reischauer of each syllable of one word (plain stops voiced inside the word),
    e.g. 정은 → ``chŏng``, ``ŭn``; 대중 → ``tae``, ``jung``."""
    out = []
    previous_final: str | None = None if word_start else "x"
    for syllable in syllables:
        if not _is_hangul(syllable):
            out.append(syllable)
            previous_final = "x"
            continue
        code = ord(syllable) - _HANGUL_BASE
        initial = _MR_INITIALS[code // 588]
        vowel = _MR_VOWELS[(code % 588) // 28]
        final = _MR_FINALS[code % 28]
        if previous_final is not None and previous_final in _VOICING_FINALS:
            initial = _MR_VOICED.get(initial, initial)
            if initial == "r" and previous_final in ("n", "l"):
                initial = "l"
        if initial == "s" and vowel.startswith("wi"):
            initial = "sh"
        out.append(initial + vowel + final)
        previous_final = final
    return out


def _split_korean(word: str) -> tuple[str, str]:
    if len(word) >= 3 and word[:2] in _COMPOUND_KOREAN_FAMILY:
        return word[:2], word[2:]
    return word[:1], word[1:]


def _hangul_variants(segments: list[str], prefix: str) -> list[NameVariant]:
    """Romanizations of a Korean name given as Hangul segments (split family/given if one)."""
    if len(segments) == 1 and len(segments[0]) >= 2:
        family, given = _split_korean(segments[0])
        words = [family, given] if given else [family]
    else:
        words = segments
    label = f"{prefix}, " if prefix else ""
    variants: list[NameVariant] = []

    rr_parts = [hangul_to_revised(word) for word in words]
    rr_text = " ".join("".join(part).capitalize() for part in rr_parts)
    variants += _keyed(label + SYSTEM_KOREAN_RR, rr_text, rr_parts)

    mr_parts = [hangul_to_mccune_reischauer(word) for word in words]
    mr_text = " ".join("-".join(part).capitalize() for part in mr_parts)
    variants += _keyed(
        label + SYSTEM_KOREAN_MR, mr_text, [[_ascii(p) for p in part] for part in mr_parts]
    )

    common = _COMMON_KOREAN_FAMILY.get(words[0])
    if common is not None and len(words) >= 2:
        common_parts = [[common.lower()], *rr_parts[1:]]
        common_text = " ".join([common, *("-".join(part).capitalize() for part in rr_parts[1:])])
        variants += _keyed(label + SYSTEM_KOREAN_COMMON, common_text, common_parts)
    return variants


def _ascii(text: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if ch.isalnum() and ch.isascii()
    )


# --- Han ---------------------------------------------------------------------------------

_CHINESE_COMPOUND_FAMILY: Final = frozenset(
    {
        "欧阳", "歐陽", "司马", "司馬", "诸葛", "諸葛", "上官", "东方", "東方", "皇甫", "令狐",
        "司徒", "夏侯", "慕容", "尉迟", "尉遲", "长孙", "長孫", "宇文", "轩辕", "軒轅", "端木",
        "公孙", "公孫", "独孤", "獨孤", "南宫", "南宮", "西门", "西門", "鲜于", "鮮于", "司空",
    }
)  # fmt: skip
_CHINESE_FAMILY_READINGS: Final = {
    "曾": "zeng", "单": "shan", "單": "shan", "朴": "piao", "区": "ou", "區": "ou", "解": "xie",
    "仇": "qiu", "查": "zha", "盖": "ge", "蓋": "ge", "缪": "miao", "繆": "miao", "乐": "yue",
    "樂": "yue", "覃": "qin", "翟": "zhai", "种": "chong", "種": "chong", "万": "wan",
    "长": "chang", "長": "chang", "重": "chong", "秘": "bi", "繁": "po", "黑": "he", "卜": "bu",
    "沈": "shen", "石": "shi", "燕": "yan", "尉": "yu", "谌": "chen", "晟": "cheng", "员": "yun",
}  # fmt: skip
"""Han characters read differently as Chinese family names than pypinyin's default."""
_HAN_NAME_CHARS_MAX: Final = 4
"""Longer runs of Han are read as words (a company name), not family + given name."""


@lru_cache(maxsize=32_768)
def _pinyin_char(ch: str) -> str:
    from pypinyin import lazy_pinyin

    readings = lazy_pinyin(ch)
    reading = str(readings[0]) if readings else ""
    return reading if reading.isascii() and reading.isalpha() else ""


@lru_cache(maxsize=2_048)
def _wade_giles(syllable: str) -> str:
    from pypinyin.style import wadegiles

    # pypinyin's converter falls through its whole-syllable table when a syllable is
    # spelled the same in both systems (lai → lai) and then mangles it (lai → lei): look
    # the syllable up in its tables first.
    tables = getattr(wadegiles, "_except_table", []) + getattr(wadegiles, "_convert_table", [])
    converted = dict((str(p), str(w)) for p, w in reversed(tables)).get(syllable)
    if converted is None:
        converted = str(wadegiles.to_wade_glides(syllable))
    # pypinyin writes WG's ü as v; WG has no v of its own.
    return converted.replace("v", "ü")


def _pinyin_family(family: str) -> list[str]:
    if len(family) == 1 and family in _CHINESE_FAMILY_READINGS:
        return [_CHINESE_FAMILY_READINGS[family]]
    return [_pinyin_char(ch) for ch in family]


def _split_han(word: str) -> list[str]:
    if len(word) > _HAN_NAME_CHARS_MAX:
        return list(word)
    if len(word) >= 3 and word[:2] in _CHINESE_COMPOUND_FAMILY:
        return [word[:2], word[2:]]
    if len(word) >= 2:
        return [word[:1], word[1:]]
    return [word]


def _han_chinese_variants(segments: list[str]) -> list[NameVariant]:
    words = _split_han(segments[0]) if len(segments) == 1 else segments
    syllables: list[list[str]] = []
    for index, word in enumerate(words):
        read = _pinyin_family(word) if index == 0 and len(words) > 1 else None
        part = read if read is not None else [_pinyin_char(ch) for ch in word]
        if not all(part):
            return []
        syllables.append(part)
    # ü is written u on lists and in older passports, yu in newer PRC passports (Lyu).
    plain = [[s.replace("v", "u") for s in part] for part in syllables]
    variants = _keyed(SYSTEM_PINYIN, " ".join("".join(part).capitalize() for part in plain), plain)
    if any("v" in s for part in syllables for s in part):
        yu = [[s.replace("v", "yu") for s in part] for part in syllables]
        variants += _keyed(SYSTEM_PINYIN, " ".join("".join(p).capitalize() for p in yu), yu)
    wade = [[_wade_giles(s) for s in part] for part in syllables]
    wade_text = " ".join("-".join(part).capitalize() for part in wade)
    variants += _keyed(SYSTEM_WADE_GILES, wade_text, [[_ascii(s) for s in part] for part in wade])
    return variants


def hanja_to_hangul(han: str, *, family_first: bool = True) -> str | None:
    """The Korean (Sino-Korean) reading of Han characters, or None if one is not known.

    Readings come from `_HANJA` (family-name and given-name characters). 金 reads 김 as the
    first character of a name (the family name) and 금 elsewhere.
    """
    out = []
    for index, ch in enumerate(han):
        if ch == "金" and index == 0 and family_first:
            out.append("김")
            continue
        reading = _hanja_table().get(ch)
        if reading is None:
            return None
        out.append(reading)
    return "".join(out)


def _initial_sound_law(syllable: str) -> str:
    """South Korean spelling of a word-initial syllable: 리 → 이, 류 → 유, 로 → 노, 녀 → 여."""
    if not _is_hangul(syllable):
        return syllable
    code = ord(syllable) - _HANGUL_BASE
    initial, vowel, final = code // 588, (code % 588) // 28, code % 28
    ieung, nieun, rieul = 11, 2, 5
    y_or_i = {2, 3, 6, 7, 12, 17, 20}  # ㅑ ㅒ ㅕ ㅖ ㅛ ㅠ ㅣ
    if initial == rieul:
        initial = ieung if vowel in y_or_i else nieun
    elif initial == nieun and vowel in y_or_i:
        initial = ieung
    else:
        return syllable
    return chr(_HANGUL_BASE + initial * 588 + vowel * 28 + final)


def _han_korean_variants(segments: list[str]) -> list[NameVariant]:
    joined = "".join(segments)
    if len(joined) > _HAN_NAME_CHARS_MAX:
        return []
    hangul = hanja_to_hangul(joined)
    if hangul is None:
        return []
    if len(segments) == 1:
        family, given = _split_korean(hangul)
        words = [family, given] if given else [family]
    else:
        words, position = [], 0
        for segment in segments:
            words.append(hangul[position : position + len(segment)])
            position += len(segment)
    variants = _hangul_variants(words, f"{HANJA_PREFIX} {''.join(words)}")
    south = [_initial_sound_law(word[:1]) + word[1:] for word in words]
    if south != words:
        variants += _hangul_variants(south, f"{HANJA_PREFIX} {''.join(south)}")
    return variants


@lru_cache(maxsize=1)
def _kakasi() -> object:
    import pykakasi

    return pykakasi.kakasi()  # type: ignore[no-untyped-call]


def _japanese_variants(segments: list[str], label: str) -> list[NameVariant]:
    converter = _kakasi()
    hepburn_parts: list[list[str]] = []
    passport_parts: list[list[str]] = []
    for segment in segments:
        segment = "".join(_HAN_VARIANTS.get(ch, ch) for ch in segment)
        items = converter.convert(segment)  # type: ignore[attr-defined]
        for item in items:
            hepburn = _ascii(str(item["hepburn"])).lower()
            passport = _ascii(str(item["passport"])).lower()
            if not hepburn:
                if str(item["orig"]).strip(" ・･ー"):
                    return []  # a character pykakasi cannot read
                continue
            hepburn_parts.append([hepburn])
            passport_parts.append([passport or hepburn])
    if not hepburn_parts:
        return []
    variants = _keyed(label, " ".join(p[0].capitalize() for p in passport_parts), passport_parts)
    variants += _keyed(label, " ".join(p[0].capitalize() for p in hepburn_parts), hepburn_parts)
    return variants


# --- names ---------------------------------------------------------------------------------


def _segments(name: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    for ch in name:
        if ch.isspace() or ch in _SEPARATORS or ch in _HYPHENS:
            if current:
                out.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        out.append("".join(current))
    return out


@lru_cache(maxsize=NAMES_CACHED)
def name_variants(name: str) -> tuple[NameVariant, ...]:
    """Every way of writing `name` in Latin letters that screening compares, best first.

    A Latin name gives one variant (two or more when ``oo`` is ambiguous); a Han name gives
    its Pinyin, Wade–Giles, Korean and Japanese readings; Hangul its Revised Romanization,
    McCune–Reischauer and common spelling; kana its Hepburn. Variants with the same phonetic
    key are kept once (the first). Empty for a name with no letters.
    """
    text = unicodedata.normalize("NFKC", name)[:NAME_CHARS_MAX].strip()
    found = scripts(text)
    variants: list[NameVariant] = []
    if found & {"han", "kana", "hangul"}:
        variants += _native_variants(text, found)
        # Latin letters written beside the native script ("김 Jong-un") stay in the
        # native variants; a name that is only partly readable still gets a Latin key.
    if not variants:
        parts = _latin_parts(text)
        system = SYSTEM_NATIVE if "other" in found and "latin" not in found else SYSTEM_LATIN
        variants += _keyed(system, " ".join("-".join(p) for p in parts), parts)
    unique: dict[tuple[tuple[str, ...], ...], NameVariant] = {}
    for variant in variants:
        if variant.parts and variant.parts not in unique:
            unique[variant.parts] = variant
    return tuple(itertools.islice(unique.values(), VARIANTS_MAX))


def _native_variants(text: str, found: frozenset[str]) -> list[NameVariant]:
    segments = _segments(text)
    if not segments:
        return []
    native = [s for s in segments if scripts(s) & {"han", "kana", "hangul"}]
    latin = [s for s in segments if s not in native]
    if latin:
        # Mixed scripts: romanize the native segments; Latin segments are taken as written.
        romanized = _native_variants(" ".join(native), scripts(" ".join(native)))
        latin_parts = [part for segment in latin for part in _latin_parts(segment)]
        latin_keys = tuple(tuple(phonetic_piece(p)[0] for p in part) for part in latin_parts)
        latin_text = " ".join("-".join(part) for part in latin_parts)
        return [
            NameVariant(v.system, f"{v.text} {latin_text}", v.parts + latin_keys) for v in romanized
        ]
    if "kana" in found:
        return _japanese_variants(segments, SYSTEM_HEPBURN)
    if "hangul" in found and "han" not in found:
        return _hangul_variants(segments, "")
    if "hangul" in found:
        # Mixed Hangul and Hanja (older Korean writing): read the Hanja in Korean.
        converted: list[str] = []
        for segment in segments:
            parts: list[str] = []
            for ch in segment:
                reading = hanja_to_hangul(ch, family_first=not converted and not parts)
                parts.append(ch if _is_hangul(ch) else reading or "")
            if not all(parts):
                return []
            converted.append("".join(parts))
        return _hangul_variants(converted, f"{HANJA_PREFIX} {''.join(converted)}")
    variants = _han_chinese_variants(segments)
    variants += _han_korean_variants(segments)
    variants += _japanese_variants(segments, f"{KANJI_PREFIX}, {SYSTEM_HEPBURN}")
    return variants


def name_keys(name: str) -> tuple[str, ...]:
    """The small set of normalized keys of a name: each variant's pieces joined, in written
    order and with the family name moved to the other end, without repeats.

    ``name_keys("习近平")`` holds ``xichinpink`` (Xi Jinping), and so does
    ``name_keys("XI, Jinping")`` and ``name_keys("Jinping Xi")``.
    """
    keys: dict[str, None] = {}
    for variant in name_variants(name):
        keys[variant.key] = None
        if len(variant.parts) >= 2:
            rotated = variant.parts[1:] + variant.parts[:1]
            keys["".join(p for part in rotated for p in part)] = None
            rotated = variant.parts[-1:] + variant.parts[:-1]
            keys["".join(p for part in rotated for p in part)] = None
    return tuple(keys)


def _pairs(text: str) -> Iterable[tuple[str, str]]:
    for token in text.split():
        hangul = token[-1]
        for han in token[:-1]:
            yield han, hangul


@lru_cache(maxsize=1)
def _hanja_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for han, hangul in _pairs(_HANJA):
        assert _is_han(han) and _is_hangul(hangul), (han, hangul)
        table.setdefault(han, hangul)
    return table


# Sino-Korean readings of the Han characters most used in Korean names: each token is one or
# more forms of a character (traditional first, then simplified or Japanese forms) followed by
# its reading. Readings keep the original initial (李 리, 柳 류, 盧 로): `_initial_sound_law`
# gives the South Korean spelling (이, 유, 노) as a second variant.
_HANJA: Final = """
金김 李리 朴박 崔최 鄭郑정 姜강 趙赵조 尹윤 張张장 林림 韓韩한 吳吴呉오 徐서 申신 權权権권
黃黄황 安안 宋송 柳류 全전 洪홍 高髙고 文문 梁량 孫孙손 裵裴배 白백 許许허 劉刘류 南남 沈심
盧卢로 河하 丁정 成성 車车차 具구 郭곽 禹우 朱주 任임 羅罗라 辛신 閔闵민 陳陈진 池지 嚴严厳엄
元원 蔡채 千천 方방 孔공 玄현 咸함 卞변 廉렴 楊杨양 邊边辺변 呂吕려 秋추 魯鲁로 都도 蘇苏소
愼慎신 石석 宣선 薛설 馬马마 吉길 周주 延연 房방 魏위 表표 明명 奇기 潘반 王왕 琴금 玉옥
陸陆륙 印인 孟맹 諸诸제 卓탁 秦진 鞠국 余여 慶庆경 殷은 片편 龍龙竜룡 芮예 景경 奉봉 史사
夫부 太태 睦목 桂계 田전 邢형 杜두 智지 晉晋진 董동 溫温온 程정 康강 兪俞유 陰阴음 彭팽 承승
賓宾빈 昔석 司사 皇황 甫보 宮宫궁 葛갈 鮮鲜선 于우 獨独독 孤고 空공 西서 門门문 東东동 夏하
侯후 歐欧구 陽阳양 正정 恩은 日일 哲철 喆철 澈철 徹彻철 浩호 俊준 峻준 準准준 駿骏준 民민
敏민 珉민 旼민 玟민 賢贤현 鉉铉현 炫현 顯显현 秀수 洙수 壽寿수 守수 樹树수 英영 永영 榮荣栄영
泳영 映영 暎영 瑛영 勇용 容용 鎔镕용 用용 庸용 植식 湜식 軾轼식 男남 光광 廣广広광 國国국
基기 起기 箕기 琪기 麒기 童동 萬万만 滿满満만 錫锡석 碩硕석 善선 先선 仙선 璿선 淑숙 順顺순
淳순 純纯순 舜순 姬姫희 熙희 喜희 希희 禧희 嬉희 虎호 鎬镐호 昊호 好호 皓호 豪호 鍾钟종 鐘종
宗종 琮종 鎭镇鎮진 珍진 眞真진 振진 辰진 昌창 彰창 昶창 春춘 忠충 泰태 台태 兌兑태 赫혁 爀혁
亨형 炯형 衡형 馨형 和화 華华화 花화 化화 煥焕환 桓환 勳勋勲훈 薰훈 熏훈 訓训훈 輝辉휘 仁인
寅인 一일 逸일 在재 載载재 宰재 哉재 才재 材재 允윤 潤润윤 胤윤 源원 遠远원 媛원 苑원 園园원
圓圆원 願愿원 煜욱 旭욱 郁욱 雄웅 宇우 祐우 雨우 佑우 友우 雲云운 運运운 娟연 妍연 然연
淵渊연 燕연 蓮莲련 練练련 彦언 良량 亮량 相상 尙尚상 祥상 常상 商상 瑞서 書书서 敍叙서 序서
舒서 聖圣성 誠诚성 星성 盛성 晟성 世세 昭소 素소 韶소 笑소 松송 頌颂송 昇승 勝胜승 時时시
始시 詩诗시 信신 新신 晨신 實实実실 心심 雅아 娥아 兒儿児아 岳악 愛爱애 揚扬양 如여 麗丽려
烈렬 玲령 令령 領领령 寧宁녕 禮礼례 祿禄록 綠绿록 倫伦륜 律률 利리 理리 里리 麟린 美미 米미
微미 範范범 汎범 炳병 秉병 丙병 柄병 昞병 輔辅보 寶宝보 普보 福복 富부 斌빈 彬빈 士사 思사
山산 三삼 森삼 雪설 燮섭 崇숭 巖岩암 完완 婉완 旺왕 堯尧요 耀요 曜요 蔚울 月월 偉伟위 有유
裕유 儒유 維维유 惟유 唯유 銀银은 乙을 義义의 宜의 誼谊의 二이 伊이 益익 翼익 子자 慈자 紫자
章장 將将장 璋장 赤적 典전 殿전 貞贞정 廷정 庭정 晶정 精정 靜静정 禎祯정 政정 濟济済제
齊齐斉제 朝조 祚조 照조 柱주 珠주 州주 中중 重중 仲중 志지 知지 之지 枝지 芝지 直직 稙직
天천 川천 泉천 淸清청 靑青청 草초 超초 初초 椿춘 翠취 治치 致치 七칠 澤泽沢택 宅택 通통
八팔 平평 坪평 杓표 豊豐丰풍 弼필 必필 學学학 鶴鹤학 漢汉한 翰한 寒한 海해 行행 香향 鄕乡郷향
憲宪헌 軒轩헌 革혁 惠혜 慧혜 蕙혜 弘홍 鴻鸿홍 紅红홍 晃황 煌황 會会회 回회 孝효 曉晓暁효
休휴 興兴흥 欽钦흠 根근 槿근 謹근 勤근 近근 銘铭명 命명 鳴鸣명 模모 茂무 武무 務务무 默묵
彌弥미 博박 發发발 培배 伯백 柏백 卿경 京경 敬경 炅경 暻경 鏡镜경 耕경 啓启계 古고 坤곤
公공 功공 果과 寬宽관 冠관 觀观観관 貫贯관 官관 橋桥교 敎教교 九구 求구 救구 丘구 久구 君군
軍军군 郡군 均균 奎규 圭규 珪규 揆규 規规규 錦锦금 今금 兢긍 洛락 樂乐楽락 蘭兰란 來来래
女녀 年년 念념 農农농 能능 丹단 端단 達达달 潭담 淡담 大대 德徳덕 道도 島岛도 度도 桃도
敦돈 斗두 得득 登등 燈灯등 浪랑 朗랑 凉량 黎려 力력 歷历력 連连련 列렬 靈灵령 路로 露로
鷺鹭로 論论론 樓楼루 流류 留류 六륙 隆륭 陵릉 梨리 莉리 隣린 臨临림 立립 磨마 晩晚만 末말
望망 梅매 勉면 冕면 綿绵면 面면 牧목 木목 夢梦몽 妙묘 戊무 聞闻문 物물 味미 眉미 旻민 密밀
磐반 般반 芳방 邦방 栢백 番번 繁번 凡범 法법 碧벽 璧벽 保보 步보 報报보 本본 鳳凤봉 峰峯봉
逢봉 付부 扶부 芙부 北북 分분 芬분 佛불 朋붕 鵬鹏붕 丕비 飛飞비 氷冰빙 四사 泗사 沙사 師师사
社사 査查사 翔상 象상 想상 霜상 色색 生생 夕석 奭석 晳석 選选선 船선 旋선 卨설 說说설 暹섬
聲声성 省성 性성 城성 洗세 歲岁세 小소 少소 紹绍소 邵소 召소 俗속 率솔 首수 修수 授수 隨随수
水수 須须수 受수 叔숙 熟숙 旬순 洵순 珣순 荀순 述술 瑟슬 習习습 丞승 升승 是시 示시 視视시
市시 式식 息식 神신 身신 臣신 室실 深심 十십 亞亚아 我아 阿아 岸안 顔颜안 晏안 央앙 仰앙
野야 若약 約约약 洋양 養养양 讓让譲양 魚鱼어 御어 億亿억 言언 業业업 汝여 餘여 與与여 亦역
易역 燃연 硏研연 演연 緣缘연 悅悦열 熱热열 炎염 葉叶엽 影영 營营営영 迎영 銳锐예 藝艺예
譽誉예 午오 悟오 梧오 五오 翁옹 外외 要요 瑤瑶요 溶용 牛우 又우 尤우 優优우 昱욱 頊욱 彧욱
韻韵운 原원 院원 員员원 越월 位위 威위 渭위 柔유 由유 幼유 遊游유 悠유 酉유 育육 閏闰윤
鈗윤 融융 垠은 隱隐은 音음 吟음 邑읍 應应応응 衣의 依의 意의 毅의 儀仪의 以이 已이 耳이
怡이 人인 引인 忍인 因인 姻인 壹일 壬임 入입 字자 姿자 資资자 作작 爵작 丈장 壯壮장 莊庄荘장
栽재 財财재 爭争쟁 寂적 笛적 迪적 積积적 績绩적 傳传伝전 前전 展전 錢钱銭전 戰战戦전 電电전
節节절 占점 點点점 接접 亭정 頂顶정 井정 汀정 情정 珽정 婷정 帝제 弟제 提제 兆조 早조 祖조
助조 潮조 足족 族족 存존 尊존 種种종 從从従종 終终종 左좌 佐좌 主주 住주 宙주 舟주 竹죽
遵준 埈준 晙준 浚준 濬준 竣준 衆众중 卽即즉 增増증 曾증 地지 持지 指지 至지 誌지 職职직
織织직 進进진 陣阵진 盡尽진 震진 津진 質质질 集집 執执집 徵征징 澄징 次차 贊赞賛찬 讚찬
燦灿찬 璨찬 察찰 參参참 倉仓창 蒼苍창 暢畅창 菜채 采채 彩채 策책 處处処처 尺척 拓척 淺浅천
薦荐천 鐵铁鉄철 添첨 廳厅庁청 聽听聴청 晴청 體体체 肖초 楚초 礎础초 村촌 寸촌 總总総총 聰聪총
最최 追추 祝축 築筑축 竺축 出출 充충 沖冲충 取취 就취 趣취 層层층 値치 齒齿치 則则칙 親亲친
漆칠 針针침 快쾌 他타 打타 託탁 炭탄 誕诞탄 探탐 塔탑 湯汤탕 態态태 擇择택 吐토 統统통 退퇴
投투 特특 波파 坡파 巴파 派파 板판 版판 判판 貝贝패 便편 篇편 編编편 評评평 布포 包포 浦포
抱포 品품 風风풍 皮피 彼피 匹필 筆笔필 下하 賀贺하 何하 荷하 霞하 廈厦하 限한 閑한 含함
合합 恒恆항 港항 航항 亥해 該该해 核핵 幸행 向향 享향 響响향 虛虚허 獻献헌 驗验험 險险험
縣县県현 峴현 絃현 弦현 現现현 血혈 協协협 兄형 刑형 形형 瀅형 螢萤형 乎호 戶户호 湖호 胡호
護护호 或혹 婚혼 魂혼 混혼 火화 畵画화 貨货화 禾화 確确확 擴扩확 丸환 歡欢歓환 環环환 活활
況况황 荒황 悔회 懷怀懐회 劃划획 橫横횡 效효 候후 厚후 後后후 揮挥휘 徽휘 黑흑 稀희 土토
龜龟구 茶다 拉랍 琳림 雉치 滋자 汝여 叡예 睿예 叶엽 賴赖뢰 雷뢰 磊뢰 了료 遼辽료 龐庞방
"""
