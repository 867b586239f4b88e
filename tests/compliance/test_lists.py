"""Tests for corridor.compliance.lists: lists stored in the ledger's file, replaced
atomically, and stored parties screened again after each load."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from corridor.compliance.errors import ComplianceError
from corridor.compliance.lists import SanctionsStore, load_lists, read_lists
from corridor.formats.sanctions import LIST_OFAC_SDN, LIST_UN, parse_ofac, parse_un
from corridor.ledger import Ledger
from corridor.switch.directory import Directory
from tests.formats.test_sanctions import ALT_CSV, SDN_CSV, UN_XML

NOW_NS = 1_717_200_000 * 1_000_000_000


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW_NS

    def __call__(self) -> int:
        self.now += 1
        return self.now


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    written = {}
    for name, text in (("sdn.csv", SDN_CSV), ("alt.csv", ALT_CSV), ("un.xml", UN_XML)):
        written[name] = tmp_path / name
        written[name].write_bytes(text.encode())
    return written


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "corridor.db"


@pytest.fixture
def store(path: Path) -> Iterator[SanctionsStore]:
    with SanctionsStore(path, clock=FakeClock()) as opened:
        yield opened


def load_all(path: Path, files: dict[str, Path]) -> object:
    return load_lists(
        path, ofac_sdn=files["sdn.csv"], ofac_alt=files["alt.csv"], un=files["un.xml"],
        clock=FakeClock(),
    )  # fmt: skip


def test_loaded_entries_read_back_unchanged(store: SanctionsStore, files: dict[str, Path]) -> None:
    lists = read_lists(ofac_sdn=files["sdn.csv"], ofac_alt=files["alt.csv"], un=files["un.xml"])
    infos, replaced = store.load(lists)
    assert replaced == ()
    assert [(i.list, i.entry_count) for i in infos] == [(LIST_OFAC_SDN, 6), (LIST_UN, 3)]
    ofac = {e.entity_id: e for e in lists[0].entries}
    assert {e.entity_id: e for e in store.entries(LIST_OFAC_SDN)} == ofac
    assert len(store.entries()) == 9
    un_info = next(i for i in store.lists() if i.list == LIST_UN)
    assert un_info.version == "2026-02-27T00:00:09.554Z"
    assert un_info.sources[0]["name"] == "un.xml"
    assert un_info.source_sha256 == un_info.sources[0]["sha256"]


def test_loading_a_list_again_replaces_its_previous_version(store: SanctionsStore) -> None:
    first = parse_ofac(SDN_CSV.encode(), ALT_CSV.encode())
    store.load([first])
    smaller = dataclasses.replace(first, version="v2", entries=first.entries[:2])
    infos, replaced = store.load([smaller])
    assert replaced == (LIST_OFAC_SDN,)
    assert infos[0].version == "v2" and infos[0].entry_count == 2
    assert [e.entity_id for e in store.entries(LIST_OFAC_SDN)] == ["12211", "16318"]


def test_loading_one_list_keeps_the_other(store: SanctionsStore) -> None:
    store.load([parse_ofac(SDN_CSV.encode()), parse_un(UN_XML.encode())])
    store.load([parse_un(UN_XML.encode())])
    assert len(store.entries(LIST_OFAC_SDN)) == 6


def test_a_load_that_fails_midway_changes_nothing(store: SanctionsStore) -> None:
    good = parse_ofac(SDN_CSV.encode())
    store.load([good])
    # The same entity id twice fails on the primary key after the old rows were deleted.
    broken = dataclasses.replace(good, version="bad", entries=good.entries + good.entries[:1])
    with pytest.raises(sqlite3.IntegrityError):
        store.load([parse_un(UN_XML.encode()), broken])
    assert [(i.list, i.version) for i in store.lists()] == [(LIST_OFAC_SDN, good.version)]
    assert len(store.entries()) == 6


def test_a_malformed_file_is_refused_and_changes_nothing(
    path: Path, files: dict[str, Path]
) -> None:
    load_all(path, files)
    files["un.xml"].write_text("<CONSOLIDATED_LIST dateGenerated='x'><INDIVIDUALS>")
    with pytest.raises(ComplianceError) as caught:
        load_all(path, files)
    assert caught.value.code == "invalid_list_file"
    assert "un.xml line 1" in str(caught.value)
    with SanctionsStore(path) as store:
        assert len(store.entries(LIST_UN)) == 3


def test_file_arguments_are_checked(files: dict[str, Path]) -> None:
    for kwargs in ({}, {"ofac_alt": files["alt.csv"]}):
        with pytest.raises(ComplianceError) as caught:
            read_lists(**kwargs)
        assert caught.value.code == "no_list_file"


def test_the_index_follows_the_stored_lists(store: SanctionsStore) -> None:
    store.load([parse_ofac(SDN_CSV.encode(), ALT_CSV.encode())])
    index = store.index()
    assert store.index() is index
    assert [h.entity_id for h in index.screen("윤호진").hits] == []
    store.load([parse_un(UN_XML.encode())])
    rebuilt = store.index()
    assert rebuilt is not index
    assert [h.entity_id for h in rebuilt.screen("윤호진").hits] == ["KPi.001"]


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(ComplianceError) as caught:
        SanctionsStore(junk)
    assert caught.value.code == "invalid_database"


def _register_parties(path: Path) -> None:
    with Ledger.open(path) as ledger, Directory.open(ledger, clock=FakeClock()) as directory:
        directory.register_participant(
            "wallet-kr", kind="wallet", name="Wallet KR", country="KR", currencies=["KRW"]
        )
        directory.register_participant(
            "acq-jp", kind="acquirer", name="Acq JP", country="JP", currencies=["JPY"]
        )
        directory.register_customer(
            "c-1",
            wallet_id="wallet-kr",
            name_native="윤호진",
            name_romanized="Yun Ho Jin",
            country="KR",
            date_of_birth="1944-10-13",
            kyc_tier="T1",
        )
        directory.register_customer(
            "c-2",
            wallet_id="wallet-kr",
            name_native="김민준",
            name_romanized="Kim Min-jun",
            country="KR",
            date_of_birth="1990-01-01",
            kyc_tier="T1",
        )
        directory.register_merchant(
            "m-1",
            acquirer_id="acq-jp",
            name="Komid",
            mcc="5441",
            city="Kyoto",
            region="JP-26",
            currency="JPY",
        )


def test_loading_screens_stored_customers_and_merchants(path: Path, files: dict[str, Path]) -> None:
    _register_parties(path)
    report = load_all(path, files)
    assert report.parties_screened == 3  # type: ignore[attr-defined]
    assert report.parties_hit == 2  # type: ignore[attr-defined]
    with SanctionsStore(path) as store:
        yun = store.screening_results("customer:wallet-kr/c-1")
        assert [(r.list, r.entity_id) for r in yun] == [(LIST_UN, "KPi.001")]
        assert yun[0].score == 1.0 and "Yun Ho Jin" in yun[0].matched.title()
        assert store.screening_results("customer:wallet-kr/c-2") == []
        komid = store.screening_results("merchant:m-1")
        assert [(r.list, r.entity_id) for r in komid] == [(LIST_OFAC_SDN, "9345")]


def test_a_new_version_replaces_earlier_results(path: Path, files: dict[str, Path]) -> None:
    _register_parties(path)
    load_all(path, files)
    files["un.xml"].write_text(UN_XML.replace("HO-JIN", "HO-SOK").replace("Yun Ho-chin", "X Y"))
    load_all(path, files)
    with SanctionsStore(path) as store:
        assert store.screening_results("customer:wallet-kr/c-1") == []
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM screening_results").fetchone()[0] == 1


def test_without_directory_tables_there_is_nobody_to_screen(
    path: Path, files: dict[str, Path]
) -> None:
    report = load_all(path, files)
    assert report.parties_screened == 0  # type: ignore[attr-defined]
