"""Tests for corridor.compliance.names: romanization of Han, kana and Hangul, and phonetic keys
that make the spellings of one name meet."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.compliance.names import (
    SYSTEM_KOREAN_MR,
    SYSTEM_KOREAN_RR,
    SYSTEM_PINYIN,
    SYSTEM_WADE_GILES,
    VARIANTS_MAX,
    hangul_to_mccune_reischauer,
    hangul_to_revised,
    hanja_to_hangul,
    name_keys,
    name_variants,
    phonetic_piece,
    scripts,
)


def keys(name: str) -> set[str]:
    return set(name_keys(name))


def same_key(*spellings: str) -> bool:
    """Every spelling shares a key with the first."""
    first = keys(spellings[0])
    return all(first & keys(other) for other in spellings[1:])


def texts(name: str) -> dict[str, str]:
    return {variant.system: variant.text for variant in name_variants(name)}


def test_han_name_without_space_meets_its_pinyin() -> None:
    assert "xichinpink" in keys("习近平")
    assert same_key("习近平", "Xi Jinping", "XI, Jinping", "Jinping Xi", "XiJinping", "Xi Jin-ping")


def test_han_name_gives_pinyin_and_wade_giles() -> None:
    found = texts("毛泽东")
    assert found[SYSTEM_PINYIN] == "Mao Zedong"
    assert found[SYSTEM_WADE_GILES] == "Mao Tse-tung"
    assert same_key("毛泽东", "Mao Tse-tung")


def test_wade_giles_keeps_syllables_spelled_alike() -> None:
    # pypinyin's own converter turns lai into lei; Zhou Enlai is Chou En-lai.
    assert texts("周恩来")[SYSTEM_WADE_GILES] == "Chou En-lai"


def test_chinese_family_name_readings() -> None:
    assert texts("曾庆红")[SYSTEM_PINYIN] == "Zeng Qinghong"
    assert texts("单雄信")[SYSTEM_PINYIN] == "Shan Xiongxin"
    assert texts("欧阳修")[SYSTEM_PINYIN] == "Ouyang Xiu"


def test_hangul_gives_revised_romanization_and_mccune_reischauer() -> None:
    variants = name_variants("김정은")
    assert variants[0].system == SYSTEM_KOREAN_RR
    assert variants[0].text == "Gim Jeongeun"
    assert hangul_to_revised("윤석열") == ["yun", "seok", "yeol"]
    assert hangul_to_mccune_reischauer("정은") == ["chŏng", "ŭn"]
    assert hangul_to_mccune_reischauer("대중") == ["tae", "jung"]
    assert same_key("김정은", "Kim Chŏng-ŭn", "KIM, Jong Un", "Gim Jeong-eun", "Kim Jong-un")
    assert SYSTEM_KOREAN_MR  # dedupe keeps MR only when its key differs from RR's


@pytest.mark.parametrize(
    "spellings",
    [
        ("Lee Min-ho", "Yi Min-ho", "Rhee Min-ho", "Ri Min-ho", "I Min-ho", "Li Min-ho"),
        ("Park Ji-sung", "Pak Ji-sung", "Bak Ji-sung"),
        ("Choi Ji-sung", "Choe Ji-sung"),
        ("Kim Ji-sung", "Gim Ji-sung"),
        ("Jung Ho-seok", "Jeong Ho-seok", "Chung Ho-seok", "Jong Ho-seok", "Chong Ho-sok"),
        ("Lim Ji-hyun", "Im Ji-hyeon", "Rim Ji-hyon"),
        ("Ryu Hyun-jin", "Yoo Hyun-jin", "Yu Hyeon-jin"),
        ("Roh Moo-hyun", "No Mu-hyon"),
        ("Yoon Suk-yeol", "Yun Seok-yeol", "Yun Sok-yol"),
        ("Kim Yong Chol", "Kim Young-chul", "Kim Yeong-cheol"),
    ],
)
def test_korean_spellings_of_one_name_share_a_key(spellings: tuple[str, ...]) -> None:
    assert same_key(*spellings), [name_keys(s) for s in spellings]


@pytest.mark.parametrize(
    "spellings",
    [
        ("Satō Tarō", "Satou Tarou", "Satoh Taroh", "Sato Taro"),
        ("Ōno Yūko", "Ohno Yuko", "Oono Yuuko", "Ono Yuko"),
        ("Kōno", "Kohno", "Kouno", "Kono"),
        ("Ken'ichi", "Kenichi"),
    ],
)
def test_japanese_long_vowels_share_a_key(spellings: tuple[str, ...]) -> None:
    assert same_key(*spellings), [name_keys(s) for s in spellings]


def test_kana_and_kanji_give_hepburn() -> None:
    assert same_key("さとうたろう", "Sato Taro")
    assert same_key("佐藤太郎", "Taro Sato")
    assert same_key("サトウ タロウ", "Satou Tarou")


def test_hanja_are_read_in_korean() -> None:
    assert hanja_to_hangul("金正恩") == "김정은"
    assert hanja_to_hangul("金") == "김"
    assert hanja_to_hangul("李明博") == "리명박"
    assert hanja_to_hangul("𠀀") is None
    assert same_key("金正恩", "KIM, Jong Un")
    assert same_key("李明博", "Lee Myung-bak")
    assert same_key("崔龙海", "Choe Ryong Hae")


def test_different_names_do_not_share_a_key() -> None:
    assert not same_key("Kim Jong Un", "Kim Jong Il")
    assert not same_key("Zhou Jianshu", "Zhu Jianshu")
    assert not same_key("佐藤太郎", "Saito Taro")


def test_phonetic_piece_handles_oo_both_ways() -> None:
    assert set(phonetic_piece("moon")) == {"mon"} | set(phonetic_piece("mun"))
    assert "ono" in phonetic_piece("oono")


def test_scripts_are_told_apart() -> None:
    assert scripts("Kim") == {"latin"}
    assert scripts("김 Kim") == {"hangul", "latin"}
    assert scripts("佐藤さとう") == {"han", "kana"}
    assert scripts("صدام") == {"other"}


def test_a_name_without_letters_has_no_variant() -> None:
    assert name_variants("") == ()
    assert name_variants(" - , ") == ()


def test_other_scripts_are_kept_as_written() -> None:
    assert name_keys("صدام حسين") == name_keys("صدام  حسين")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_gives_a_bounded_set_of_variants(text: str) -> None:
    variants = name_variants(text)
    assert len(variants) <= VARIANTS_MAX
    for variant in variants:
        assert variant.parts and all(part for part in variant.parts)
