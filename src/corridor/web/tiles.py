"""Japan's 47 prefectures as a tile grid: one square per prefecture, roughly where it lies.

A tile-grid map gives every prefecture the same area, so Tottori is as visible as Tokyo and
the colour alone carries the value; the dashboard's prefecture view draws it as SVG. Columns
grow eastwards and rows southwards; Hokkaido is top right and Okinawa bottom left. Codes are
ISO 3166-2 (``JP-01`` Hokkaido … ``JP-47`` Okinawa), names come from pycountry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pycountry

__all__ = ["GRID_COLUMNS", "GRID_ROWS", "PREFECTURE_TILES", "Prefecture", "prefectures"]

PREFECTURE_TILES: Final[dict[str, tuple[int, int]]] = {
    "JP-01": (12, 0),  # Hokkaido
    "JP-02": (12, 1),  # Aomori
    "JP-05": (11, 2),  # Akita
    "JP-03": (12, 2),  # Iwate
    "JP-06": (11, 3),  # Yamagata
    "JP-04": (12, 3),  # Miyagi
    "JP-17": (8, 4),  # Ishikawa
    "JP-16": (9, 4),  # Toyama
    "JP-15": (10, 4),  # Niigata
    "JP-07": (11, 4),  # Fukushima
    "JP-18": (7, 5),  # Fukui
    "JP-21": (8, 5),  # Gifu
    "JP-20": (9, 5),  # Nagano
    "JP-10": (10, 5),  # Gunma
    "JP-09": (11, 5),  # Tochigi
    "JP-08": (12, 5),  # Ibaraki
    "JP-32": (3, 6),  # Shimane
    "JP-31": (4, 6),  # Tottori
    "JP-28": (5, 6),  # Hyogo
    "JP-26": (6, 6),  # Kyoto
    "JP-25": (7, 6),  # Shiga
    "JP-23": (8, 6),  # Aichi
    "JP-19": (9, 6),  # Yamanashi
    "JP-11": (10, 6),  # Saitama
    "JP-13": (11, 6),  # Tokyo
    "JP-12": (12, 6),  # Chiba
    "JP-41": (0, 7),  # Saga
    "JP-40": (1, 7),  # Fukuoka
    "JP-35": (2, 7),  # Yamaguchi
    "JP-34": (3, 7),  # Hiroshima
    "JP-33": (4, 7),  # Okayama
    "JP-27": (5, 7),  # Osaka
    "JP-29": (6, 7),  # Nara
    "JP-24": (7, 7),  # Mie
    "JP-22": (9, 7),  # Shizuoka
    "JP-14": (10, 7),  # Kanagawa
    "JP-42": (0, 8),  # Nagasaki
    "JP-43": (1, 8),  # Kumamoto
    "JP-44": (2, 8),  # Oita
    "JP-38": (3, 8),  # Ehime
    "JP-37": (4, 8),  # Kagawa
    "JP-30": (6, 8),  # Wakayama
    "JP-46": (1, 9),  # Kagoshima
    "JP-45": (2, 9),  # Miyazaki
    "JP-39": (3, 9),  # Kochi
    "JP-36": (4, 9),  # Tokushima
    "JP-47": (0, 10),  # Okinawa
}
"""ISO 3166-2 code → (column, row) of its tile."""
GRID_COLUMNS: Final = 13
GRID_ROWS: Final = 11


@dataclass(frozen=True, slots=True)
class Prefecture:
    code: str
    name: str
    column: int
    row: int


def prefectures() -> list[Prefecture]:
    """The 47 prefectures in code order, each with its tile."""
    found = pycountry.subdivisions.get(country_code="JP")  # type: ignore[no-untyped-call]
    names = {str(s.code): str(s.name) for s in found or ()}
    assert set(names) == set(PREFECTURE_TILES), "pycountry and the tile grid disagree"
    return [
        Prefecture(code, names[code], *PREFECTURE_TILES[code]) for code in sorted(PREFECTURE_TILES)
    ]
