"""`corridor bench screening`: names screened per second against the full OFAC and UN lists,
and recall / false-positive rate on the labelled cross-script name pairs, beside nomenklatura.

Throughput: the real list files (``../shared/data/sanctions``) are parsed and indexed
(optionally through a database, as `corridor lists load` stores them), then `names` distinct
query names are screened one by one, each timed. The names are generated from a seed, as
the corridor sees them: Chinese names in Han characters, Korean in Hangul, Japanese in kanji
and kana, the same people romanized, and names taken from the lists and misspelt or
reordered (so that some queries hit). Every cache of name normalization is cleared first and
no name repeats, so each query pays for its own romanization: the figure is the cold rate.

Quality: every pair of the labelled set (tests/compliance/data/cjk_names.csv) is scored with
`score_pair`; recall is the share of ``match`` pairs at or above `DEFAULT_THRESHOLD`, the
false-positive rate the share of ``no-match`` pairs at or above it. The same pairs go through
nomenklatura's ``logic-v2`` matcher (two ``Person`` entities with one name each) at yente's
default match threshold, `NOMENKLATURA_THRESHOLD`, when nomenklatura is installed (the
``bench`` extra); otherwise its figures are null with the reason.
"""

from __future__ import annotations

import csv
import gc
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from corridor.bench.common import machine, percentile_ms
from corridor.bench.ledger import BenchError
from corridor.compliance import names
from corridor.compliance.screening import DEFAULT_THRESHOLD, ScreeningIndex, score_pair
from corridor.formats.sanctions import SanctionsEntry, parse_ofac, parse_un

__all__ = [
    "NOMENKLATURA_THRESHOLD",
    "LabelledPair",
    "ScreeningBenchConfig",
    "ScreeningBenchError",
    "default_data_dir",
    "default_pairs_file",
    "evaluate_pairs",
    "read_pairs",
    "run",
]

NOMENKLATURA_THRESHOLD: Final = 0.70
"""yente's default match threshold (``SCORE_THRESHOLD``) for nomenklatura scores."""
NAMES_MAX: Final = 1_000_000
PAIRS_FILE_BYTES_MAX: Final = 1024 * 1024
LABEL_MATCH: Final = "match"
LABEL_NO_MATCH: Final = "no-match"

_REPO: Final = Path(__file__).resolve().parents[3]


class ScreeningBenchError(BenchError):
    """A benchmark argument or input file is refused (code ``bench_invalid``)."""


def default_data_dir() -> Path:
    """``$CORRIDOR_SHARED_DATA/sanctions``, else ``../shared/data/sanctions`` beside the repo."""
    shared = os.environ.get("CORRIDOR_SHARED_DATA")
    base = Path(shared) if shared else _REPO.parent / "shared" / "data"
    return base / "sanctions"


def default_pairs_file() -> Path:
    return _REPO / "tests" / "compliance" / "data" / "cjk_names.csv"


@dataclass(frozen=True, slots=True)
class LabelledPair:
    query: str
    list_name: str
    match: bool
    note: str


@dataclass(frozen=True)
class ScreeningBenchConfig:
    data_dir: Path
    pairs_file: Path
    names: int = 20_000
    seed: int = 42
    db: Path | None = None

    def check(self) -> None:
        if not 1 <= self.names <= NAMES_MAX:
            raise ScreeningBenchError(f"--names must be between 1 and {NAMES_MAX}")
        for file in ("ofac_sdn.csv", "ofac_alt.csv", "un_consolidated.xml"):
            if not (self.data_dir / file).is_file():
                raise ScreeningBenchError(f"{self.data_dir / file}: no such list file")
        if not self.pairs_file.is_file():
            raise ScreeningBenchError(f"{self.pairs_file}: no such labelled pairs file")


def read_pairs(path: Path) -> list[LabelledPair]:
    """The labelled pairs: CSV with header query,list_name,label,note."""
    data = path.read_bytes()
    if len(data) > PAIRS_FILE_BYTES_MAX:
        raise ScreeningBenchError(f"{path} is larger than 1 MiB")
    rows = list(csv.reader(data.decode("utf-8").splitlines()))
    if not rows or rows[0] != ["query", "list_name", "label", "note"]:
        raise ScreeningBenchError(f"{path}: the header must be query,list_name,label,note")
    pairs = []
    for line, row in enumerate(rows[1:], 2):
        if len(row) != 4 or row[2] not in (LABEL_MATCH, LABEL_NO_MATCH) or not all(row[:2]):
            raise ScreeningBenchError(f"{path} line {line}: malformed pair {row!r}")
        pairs.append(LabelledPair(row[0], row[1], row[2] == LABEL_MATCH, row[3]))
    return pairs


def _rates(scored: list[tuple[LabelledPair, float]], threshold: float) -> dict[str, object]:
    positives = [score for pair, score in scored if pair.match]
    negatives = [score for pair, score in scored if not pair.match]
    found = sum(score >= threshold for score in positives)
    false = sum(score >= threshold for score in negatives)
    return {
        "threshold": threshold,
        "pairs": len(scored),
        "positives": len(positives),
        "negatives": len(negatives),
        "recall": round(found / len(positives), 4) if positives else None,
        "false_positive_rate": round(false / len(negatives), 4) if negatives else None,
        "missed": len(positives) - found,
        "false_positives": false,
    }


def _native_script(text: str) -> bool:
    return bool(names.scripts(text) & {"han", "kana", "hangul"})


def _rates_by_script(
    scored: list[tuple[LabelledPair, float]], threshold: float
) -> dict[str, object]:
    """Rates on all pairs, then on native-script and on Latin queries apart."""
    result = _rates(scored, threshold)
    native = [(pair, score) for pair, score in scored if _native_script(pair.query)]
    latin = [(pair, score) for pair, score in scored if not _native_script(pair.query)]
    result["native_script_queries"] = _rates(native, threshold)
    result["latin_queries"] = _rates(latin, threshold)
    return result


def evaluate_pairs(
    pairs: list[LabelledPair], threshold: float = DEFAULT_THRESHOLD
) -> dict[str, object]:
    """Recall and false-positive rate of corridor's matcher on `pairs`."""
    scored = [(pair, score_pair(pair.query, pair.list_name).score) for pair in pairs]
    return _rates_by_script(scored, threshold)


def _nomenklatura_scorer() -> tuple[Callable[[str, str], float] | None, str]:
    try:
        from followthemoney import model
        from nomenklatura.matching import LogicV2
    except ImportError as error:
        return None, f"nomenklatura is not installed (pip install -e '.[bench]'): {error}"
    config = LogicV2.default_config()
    counter = iter(range(1 << 62))

    def score(query: str, listed: str) -> float:
        # nomenklatura caches comparisons by entity id: every entity gets a new one.
        entities = []
        for name in (query, listed):
            entity = model.make_entity("Person")
            entity.id = f"bench-{next(counter)}"
            entity.add("name", name)
            entities.append(entity)
        return float(LogicV2.compare(entities[0], entities[1], config).score)

    return score, ""


def evaluate_nomenklatura(pairs: list[LabelledPair]) -> tuple[dict[str, object] | None, str]:
    """nomenklatura logic-v2 on the same pairs, or (None, why not)."""
    scorer, reason = _nomenklatura_scorer()
    if scorer is None:
        return None, reason
    started = time.perf_counter()
    scored = [(pair, scorer(pair.query, pair.list_name)) for pair in pairs]
    result = _rates_by_script(scored, NOMENKLATURA_THRESHOLD)
    result["matcher"] = "nomenklatura logic-v2"
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result, ""


# --- query names ---------------------------------------------------------------------------

_ZH_FAMILY: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
_ZH_GIVEN: Final = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华建国文辉玲丹萍鹏飞海燕红波宇浩凯佳欣怡晨阳雪梅琳俊峰志新立永春东清云光德庆家玉子安思嘉"  # noqa: E501
_KO_FAMILY: Final = (
    "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허남심노하곽성차주우구민진"
)
_KO_GIVEN: Final = "민준서연지우현수예은도윤하진영철성호동혁재희경숙순미정남일광용석기상태훈규원선"
_JA_FAMILY: Final = (
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田",
    "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "清水", "斎藤", "山崎", "森",
    "池田", "橋本", "阿部", "石川", "山下", "中島", "石井", "小川", "前田", "岡田", "長谷川",
    "藤田", "後藤", "近藤", "村上", "遠藤", "青木", "さとう", "すずき", "たなか",
)  # fmt: skip
_JA_GIVEN: Final = (
    "太郎", "花子", "一郎", "健", "翔平", "陽子", "美咲", "大輔", "直樹", "由美", "ゆうこ",
    "あきら", "ひろし", "さくら", "けんいち", "まさる", "みゆき", "しょうへい", "はると",
    "蓮", "陽翔", "湊", "結衣", "葵", "凛", "誠", "浩", "修", "恵子", "洋子", "和也",
    "拓也", "達也", "愛", "真由美", "智子", "裕子", "健太", "翔太", "大樹",
)  # fmt: skip


def _query_names(count: int, seed: int, entries: list[SanctionsEntry]) -> dict[str, list[str]]:
    """`count` distinct names by kind of script, as the corridor sees them."""
    rng = random.Random(seed)
    listed = [e.name for e in entries]
    shares = (("han", 0.30), ("hangul", 0.15), ("japanese", 0.10), ("latin", 0.30))
    wanted = {kind: int(count * share) for kind, share in shares}
    wanted["listed"] = count - sum(wanted.values())
    made: dict[str, list[str]] = {kind: [] for kind in wanted}
    seen: set[str] = set()

    def latin_from(native: str) -> str:
        variants = names.name_variants(native)
        return variants[0].text if variants else native

    makers: dict[str, Callable[[], str]] = {
        "han": lambda: (
            rng.choice(_ZH_FAMILY)
            + "".join(rng.choice(_ZH_GIVEN) for _ in range(rng.choice((1, 2, 2))))
        ),
        "hangul": lambda: rng.choice(_KO_FAMILY) + "".join(rng.choice(_KO_GIVEN) for _ in range(2)),
        "japanese": lambda: rng.choice(_JA_FAMILY) + rng.choice(("", " ")) + rng.choice(_JA_GIVEN),
        "latin": lambda: latin_from(
            rng.choice((makers["han"], makers["hangul"], makers["japanese"]))()
        ),
        "listed": lambda: _misspell(rng, rng.choice(listed)),
    }
    for kind, number in wanted.items():
        attempts = 0
        while len(made[kind]) < number and attempts < number * 50:
            attempts += 1
            name = makers[kind]()
            if name and name not in seen:
                seen.add(name)
                made[kind].append(name)
    return made


def _misspell(rng: random.Random, name: str) -> str:
    """A listed name as a payment might carry it: reordered, respelt or with a typo."""
    words = name.replace(",", " ").split()
    roll = rng.random()
    if roll < 0.3 and len(words) >= 2:
        words = words[1:] + words[:1]
    elif roll < 0.7 and words:
        word = rng.randrange(len(words))
        letters = list(words[word])
        position = rng.randrange(len(letters))
        letters[position] = rng.choice("aeiouknrst")
        words[word] = "".join(letters)
    return " ".join(words).title()


# --- run -------------------------------------------------------------------------------------


def _load(config: ScreeningBenchConfig) -> tuple[ScreeningIndex, dict[str, object]]:
    data = config.data_dir
    started = time.perf_counter()
    ofac = parse_ofac(
        (data / "ofac_sdn.csv").read_bytes(),
        (data / "ofac_alt.csv").read_bytes(),
        sdn_name="ofac_sdn.csv",
        alt_name="ofac_alt.csv",
    )
    un = parse_un((data / "un_consolidated.xml").read_bytes(), source="un_consolidated.xml")
    parse_s = time.perf_counter() - started
    info: dict[str, object] = {
        "ofac_sdn_entries": len(ofac.entries),
        "ofac_aliases": sum(len(e.aliases) for e in ofac.entries),
        "un_entries": len(un.entries),
        "un_aliases": sum(len(e.aliases) for e in un.entries),
        "parse_s": round(parse_s, 2),
    }
    if config.db is not None:
        from corridor.compliance.lists import SanctionsStore

        with SanctionsStore(config.db) as store:
            store.load([ofac, un])
            started = time.perf_counter()
            index = store.index()
            info["index_from_db_s"] = round(time.perf_counter() - started, 2)
    else:
        index = ScreeningIndex(ofac.entries + un.entries)
    info["names_indexed"] = index.names_indexed
    info["index_build_s"] = round(index.build_seconds, 2)
    return index, info


def run(config: ScreeningBenchConfig) -> dict[str, object]:
    config.check()
    pairs = read_pairs(config.pairs_file)
    index, info = _load(config)
    queries = _query_names(config.names, config.seed, list(index.entries))
    ordered = [(kind, name) for kind, batch in queries.items() for name in batch]
    random.Random(config.seed).shuffle(ordered)

    # Cold: nothing about these names is cached (the index's own names were normalized when
    # it was built; the query generator romanized some names, so clear after it).
    names.name_variants.cache_clear()
    names.clear_piece_cache()
    # The index is a few hundred thousand long-lived objects: a long-running switch keeps it
    # out of the cyclic garbage collector's full passes, and so does the benchmark.
    gc.collect()
    gc.freeze()
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {kind: [] for kind in queries}
    hits = 0
    cpu_started = time.process_time()
    started = time.perf_counter()
    for kind, name in ordered:
        began = time.perf_counter()
        found = index.screen(name).hits
        elapsed = time.perf_counter() - began
        latencies.append(elapsed)
        by_kind[kind].append(elapsed)
        hits += bool(found)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started

    ours = evaluate_pairs(pairs)
    ours["matcher"] = "corridor"
    nomenklatura, reason = evaluate_nomenklatura(pairs)
    result: dict[str, object] = {
        "bench": "screening",
        "ops": len(ordered),
        "seconds": round(seconds, 3),
        "ops_per_s": round(len(ordered) / seconds) if seconds else 0,
        "p50_ms": percentile_ms(latencies, 0.50),
        "p99_ms": percentile_ms(latencies, 0.99),
        "cpu_seconds": round(cpu_seconds, 3),
        "ops_per_cpu_s": round(len(ordered) / cpu_seconds) if cpu_seconds else 0,
        "names_with_hits": hits,
        "threshold": DEFAULT_THRESHOLD,
        "by_script": {
            kind: {
                "names": len(values),
                "names_per_s": round(len(values) / sum(values)) if values else 0,
                "p99_ms": percentile_ms(values, 0.99),
            }
            for kind, values in by_kind.items()
        },
        "lists": info,
        "labelled": ours,
        "nomenklatura": nomenklatura,
        "machine": machine(),
    }
    if nomenklatura is None:
        result["nomenklatura_reason"] = reason
    return result
