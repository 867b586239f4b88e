"""Names of simulated customers: native script and romanized, as wallets register them.

Screening and the dashboard see customers as a wallet does: a name in its native script
(Chinese Han, Korean Hangul, Japanese kanji or kana) and a romanized name. Romanization is
computed, not tabulated, where a library does it reliably: Hanyu Pinyin with pypinyin,
Revised Romanization of Korean given names with korean-romanizer. Japanese names carry their
kana reading and Hepburn romanization in the table, with and without macrons (passports
leave them out). Surnames use the conventional romanizations people carry in their passports
(Kim, Lee, Park; Sato, Ito), which are not what a mechanical scheme gives.

Every function takes the `random.Random` of the run, so names follow from the seed.
"""

from __future__ import annotations

import random
from typing import Final

from korean_romanizer.romanizer import Romanizer
from pypinyin import Style, lazy_pinyin

__all__ = ["chinese_name", "japanese_name", "korean_name"]

# Surnames in rough order of frequency; readings without heteronyms.
_CN_SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭肖田董袁潘蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴"
    "莫孔向汤"
)
_CN_GIVEN: Final = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉萍红建文辉力晨宇浩欣怡子轩梓涵雨思佳嘉诺俊博"
    "婷雪琳鹏飞凯瑞欢慧颖晓东海波丹宁亮斌琪"
)

_KR_SURNAMES: Final = (
    ("김", "Kim", 22),
    ("이", "Lee", 15),
    ("박", "Park", 9),
    ("최", "Choi", 5),
    ("정", "Jung", 5),
    ("강", "Kang", 3),
    ("조", "Cho", 3),
    ("윤", "Yoon", 2),
    ("장", "Jang", 2),
    ("임", "Lim", 2),
    ("한", "Han", 2),
    ("오", "Oh", 2),
    ("서", "Seo", 2),
    ("신", "Shin", 2),
    ("권", "Kwon", 2),
    ("황", "Hwang", 1),
    ("안", "Ahn", 1),
    ("송", "Song", 1),
    ("류", "Ryu", 1),
    ("홍", "Hong", 1),
)
_KR_GIVEN: Final = (
    "민준", "서연", "지훈", "서윤", "도윤", "하은", "예준", "지우", "시우", "수아",
    "주원", "지아", "하준", "서현", "지호", "민서", "준서", "하윤", "현우", "윤서",
    "건우", "채원", "우진", "지민", "선우", "수빈", "민재", "예은", "현준", "다은",
    "영희", "철수", "성민", "은지", "동현", "혜진", "상우", "미영", "정훈", "유진",
)  # fmt: skip

# (kanji, kana reading, passport Hepburn, Hepburn with macrons)
_JP_SURNAMES: Final = (
    ("佐藤", "さとう", "Sato", "Satō"), ("鈴木", "すずき", "Suzuki", "Suzuki"),
    ("高橋", "たかはし", "Takahashi", "Takahashi"), ("田中", "たなか", "Tanaka", "Tanaka"),
    ("伊藤", "いとう", "Ito", "Itō"), ("渡辺", "わたなべ", "Watanabe", "Watanabe"),
    ("山本", "やまもと", "Yamamoto", "Yamamoto"), ("中村", "なかむら", "Nakamura", "Nakamura"),
    ("小林", "こばやし", "Kobayashi", "Kobayashi"), ("加藤", "かとう", "Kato", "Katō"),
    ("吉田", "よしだ", "Yoshida", "Yoshida"), ("山田", "やまだ", "Yamada", "Yamada"),
    ("佐々木", "ささき", "Sasaki", "Sasaki"), ("山口", "やまぐち", "Yamaguchi", "Yamaguchi"),
    ("松本", "まつもと", "Matsumoto", "Matsumoto"), ("井上", "いのうえ", "Inoue", "Inoue"),
    ("木村", "きむら", "Kimura", "Kimura"), ("林", "はやし", "Hayashi", "Hayashi"),
    ("斎藤", "さいとう", "Saito", "Saitō"), ("清水", "しみず", "Shimizu", "Shimizu"),
)  # fmt: skip
_JP_GIVEN: Final = (
    ("翔太", "しょうた", "Shota", "Shōta"), ("蓮", "れん", "Ren", "Ren"),
    ("大翔", "ひろと", "Hiroto", "Hiroto"), ("陽翔", "はると", "Haruto", "Haruto"),
    ("悠真", "ゆうま", "Yuma", "Yūma"), ("健太", "けんた", "Kenta", "Kenta"),
    ("拓也", "たくや", "Takuya", "Takuya"), ("大輔", "だいすけ", "Daisuke", "Daisuke"),
    ("陽菜", "ひな", "Hina", "Hina"), ("結衣", "ゆい", "Yui", "Yui"),
    ("美咲", "みさき", "Misaki", "Misaki"), ("葵", "あおい", "Aoi", "Aoi"),
    ("さくら", "さくら", "Sakura", "Sakura"), ("愛", "あい", "Ai", "Ai"),
    ("花子", "はなこ", "Hanako", "Hanako"), ("由美", "ゆみ", "Yumi", "Yumi"),
    ("直子", "なおこ", "Naoko", "Naoko"), ("恵子", "けいこ", "Keiko", "Keiko"),
    ("誠", "まこと", "Makoto", "Makoto"), ("浩", "ひろし", "Hiroshi", "Hiroshi"),
)  # fmt: skip

_HIRAGANA_TO_KATAKANA: Final = 0x60


def _pinyin(text: str) -> str:
    return "".join(lazy_pinyin(text, style=Style.NORMAL, v_to_u=True))


def chinese_name(rng: random.Random) -> tuple[str, str]:
    """(Han, Pinyin): 王小明 and "Wang Xiaoming" (surname first, as in Chinese passports)."""
    weights = [len(_CN_SURNAMES) - i for i in range(len(_CN_SURNAMES))]
    surname = rng.choices(_CN_SURNAMES, weights)[0]
    given = "".join(rng.choice(_CN_GIVEN) for _ in range(rng.choice((1, 2, 2, 2))))
    romanized = f"{_pinyin(surname).capitalize()} {_pinyin(given).capitalize()}"
    return surname + given, romanized


def korean_name(rng: random.Random) -> tuple[str, str]:
    """(Hangul, romanized): 김민준 and "Kim Minjun", "Kim Min-jun" or "Minjun Kim"."""
    hangul, surname, _ = rng.choices(_KR_SURNAMES, [w for _, _, w in _KR_SURNAMES])[0]
    given = rng.choice(_KR_GIVEN)
    syllables = [Romanizer(ch).romanize() for ch in given]
    style = rng.randrange(3)
    if style == 1:
        given_roman = "-".join(syllables).capitalize()
    else:
        given_roman = "".join(syllables).capitalize()
    romanized = f"{given_roman} {surname}" if style == 2 else f"{surname} {given_roman}"
    return hangul + given, romanized


def _katakana(hiragana: str) -> str:
    return "".join(
        chr(ord(ch) + _HIRAGANA_TO_KATAKANA) if "ぁ" <= ch <= "ゖ" else ch for ch in hiragana
    )


def japanese_name(rng: random.Random) -> tuple[str, str]:
    """(kanji or kana, Hepburn): 佐藤陽菜 and "Sato Hina" (or "Hina Sato", or "Satō Hina").

    One customer in ten is registered in kana only (katakana, space between the names); one
    in five carries the Hepburn macrons (ō, ū) that passports leave out.
    """
    surname, surname_kana, surname_passport, surname_macron = rng.choice(_JP_SURNAMES)
    given, given_kana, given_passport, given_macron = rng.choice(_JP_GIVEN)
    if rng.random() < 0.2:
        romanized_parts = [surname_macron, given_macron]
    else:
        romanized_parts = [surname_passport, given_passport]
    if rng.random() < 0.3:
        romanized_parts.reverse()
    native = surname + given
    if rng.random() < 0.1:
        native = f"{_katakana(surname_kana)} {_katakana(given_kana)}"
    return native, " ".join(romanized_parts)
