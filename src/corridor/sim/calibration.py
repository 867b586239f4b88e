"""The figures the sandbox is calibrated to, each with where it comes from.

The simulated corridor is only as believable as its inputs, so every figure lives here, named
and with its source or marked as an assumption (docs/SANDBOX.md explains each). The anchor is
the public reporting that DESIGN.md quotes for Chinese visitors paying by mobile wallet in
Japan: an average spend per trip of about CNY 3,900 in July-August 2018, acceptance in all 47
prefectures, and the merchant kinds where visitors pay (department stores, drugstores,
restaurants, attractions, bike-sharing deposits, homestay pre-authorizations).

Figures without a public source (Korean and Japanese wallet spend, trip lengths, how many
payments a day, the amount distributions per category) are assumptions chosen to be plausible
and are labelled so. Amount medians are in JPY for Japanese merchants and in the merchant's
currency elsewhere; budgets per trip are in the payer's currency, in minor units.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ABROAD_REGIONS",
    "ACQUIRERS",
    "BIKE_DEPOSIT_JPY",
    "BIKE_FARE_JPY_PER_30_MIN",
    "CATEGORIES",
    "DEFAULT_START",
    "FIXED_MIDS",
    "FX_FEE_BPS",
    "FX_PROVIDER",
    "FX_SPREAD_BPS",
    "NATIONALITIES",
    "PREFECTURES",
    "REFUND_SHARE",
    "Acquirer",
    "Category",
    "Nationality",
    "Prefecture",
    "Region",
    "category",
]

DEFAULT_START: Final = dt.date(2018, 7, 16)
"""First simulated day: inside July-August 2018, the period of the CNY 3,900 figure."""


@dataclass(frozen=True, slots=True)
class Nationality:
    """Who travels: their wallet, currency, share of tourists, trip and spend figures."""

    country: str
    """ISO 3166-1 alpha-2 of the traveller (and of the wallet)."""
    wallet_id: str
    wallet_name: str
    currency: str
    share_percent: int
    """Share of the simulated tourists, in percent (the shares add up to 100)."""
    destinations: tuple[str, ...]
    """Countries visited (ISO 3166-1 alpha-2)."""
    budget_minor_mean: int
    """Mean wallet spend per trip, minor units of `currency`."""
    budget_sigma: float
    """Log-normal spread of the budget per trip (the mean stays `budget_minor_mean`)."""
    trip_days: tuple[tuple[int, int], ...]
    """(days, weight) of trip lengths."""
    payments_per_day: float
    """Mean wallet payments per day of the trip (Poisson), deposits and stays apart."""
    stops_extra_mean: float
    """Mean number of prefectures visited beyond the first (Poisson)."""
    kyc_tiers: tuple[tuple[str, int], ...]
    """(tier, weight) of the wallet's customers."""
    homestay_percent: int
    """Share of trips that stay at a homestay (a pre-authorization at check-in)."""
    bike_percent_per_day: int
    """Chance per day, in percent, of renting a shared bike (a deposit hold)."""
    prefecture_boost: tuple[tuple[str, int], ...] = ()
    """(ISO 3166-2, percent) multipliers of the prefecture weights for this nationality."""


NATIONALITIES: Final = (
    Nationality(
        country="CN",
        wallet_id="panda-wallet",
        wallet_name="Panda Wallet (CN)",
        currency="CNY",
        # 7.36 million mainland Chinese visitors to Japan in 2017 against 7.14 million from
        # Korea (JNTO); Chinese visitors pay by mobile wallet far more often, so they are the
        # larger share of wallet traffic here (assumption).
        share_percent=55,
        destinations=("JP",),
        # DESIGN.md, Sandbox figures: average Alipay spend per trip about CNY 3,900 (US$562),
        # July-August 2018.
        budget_minor_mean=390_000,
        budget_sigma=0.55,
        trip_days=((3, 8), (4, 14), (5, 20), (6, 20), (7, 16), (8, 10), (10, 7), (14, 5)),
        payments_per_day=3.4,
        stops_extra_mean=1.1,
        kyc_tiers=(("T1", 75), ("T2", 25)),
        homestay_percent=12,
        bike_percent_per_day=6,
        prefecture_boost=(("JP-01", 130), ("JP-19", 150), ("JP-13", 120)),
    ),
    Nationality(
        country="KR",
        wallet_id="hangang-pay",
        wallet_name="Hangang Pay (KR)",
        currency="KRW",
        share_percent=30,
        destinations=("JP",),
        # Assumption: about 40% of the JPY 71,795 the JTA reported as the average spend of a
        # Korean visitor in 2017 is paid by wallet, about KRW 290,000.
        budget_minor_mean=290_000,
        budget_sigma=0.6,
        trip_days=((2, 20), (3, 35), (4, 25), (5, 12), (7, 8)),
        payments_per_day=3.0,
        stops_extra_mean=0.4,
        kyc_tiers=(("T1", 60), ("T2", 40)),
        homestay_percent=8,
        bike_percent_per_day=5,
        prefecture_boost=(("JP-40", 400), ("JP-44", 300), ("JP-47", 150), ("JP-27", 130)),
    ),
    Nationality(
        country="JP",
        wallet_id="sakura-wallet",
        wallet_name="Sakura Wallet (JP)",
        currency="JPY",
        # Japanese visitors to China (about 2.7 million in 2017) and Korea (2.3 million) pay
        # by wallet less often: a small share of traffic (assumption).
        share_percent=15,
        destinations=("CN", "KR"),
        # Assumption: JPY 40,000 by wallet per trip.
        budget_minor_mean=40_000,
        budget_sigma=0.6,
        trip_days=((2, 25), (3, 40), (4, 25), (5, 10)),
        payments_per_day=2.5,
        stops_extra_mean=0.2,
        kyc_tiers=(("T1", 70), ("T2", 30)),
        homestay_percent=0,
        bike_percent_per_day=0,
    ),
)


@dataclass(frozen=True, slots=True)
class Category:
    """A kind of merchant: its MCC, how often visitors pay there, and how much."""

    key: str
    title: str
    mcc: str
    """ISO 18245 merchant category code."""
    weight: int
    """Relative share of purchases (0: never chosen for an ordinary purchase)."""
    median_major: int
    """Median purchase in the merchant's currency, major units (assumption)."""
    sigma: float
    """Log-normal spread of a purchase."""
    hours: tuple[tuple[int, int], ...]
    """Local opening windows [start, end) in hours, where purchases happen."""
    name_en: str
    name_ja: str
    refundable: bool = False
    """Goods that visitors sometimes return (a refund)."""


CATEGORIES: Final = (
    Category(
        "department_store",
        "Department stores",
        "5311",
        14,
        12_000,
        0.8,
        ((10, 20),),
        "Dept Store",
        "百貨店",
        refundable=True,
    ),
    Category(
        "drugstore",
        "Drugstores",
        "5912",
        22,
        6_000,
        0.7,
        ((10, 22),),
        "Drugstore",
        "ドラッグ",
        refundable=True,
    ),
    Category(
        "electronics",
        "Electronics",
        "5732",
        6,
        25_000,
        0.8,
        ((10, 21),),
        "Electronics",
        "電器",
        refundable=True,
    ),
    Category(
        "restaurant",
        "Restaurants",
        "5812",
        30,
        2_500,
        0.6,
        ((11, 14), (17, 22)),
        "Restaurant",
        "食堂",
    ),
    Category(
        "convenience", "Convenience stores", "5499", 12, 900, 0.6, ((7, 23),), "Mart", "マート"
    ),
    Category("attraction", "Attractions", "7991", 12, 1_800, 0.5, ((9, 17),), "Attraction", "観光"),
    Category(
        "bike_share", "Bike sharing", "4111", 0, 0, 0.0, ((8, 19),), "Bike Share", "シェアサイクル"
    ),
    Category("homestay", "Homestays", "7011", 0, 9_000, 0.4, ((15, 19),), "Homestay", "民泊"),
    Category("jewellery", "Jewellery", "5944", 0, 0, 0.0, ((10, 20),), "Jewellery", "宝飾"),
)
"""Jewellery is where structuring happens; bike sharing and homestays are holds."""

CATEGORY_ABROAD_MEDIAN: Final = {"CNY": 120, "KRW": 25_000}
"""Median purchase of a Japanese visitor abroad, major units of the merchant's currency."""

BIKE_DEPOSIT_JPY: Final = 3_000
"""The deposit held while a shared bike is out (assumption; typical of dockless schemes)."""
BIKE_FARE_JPY_PER_30_MIN: Final = 150
"""Fare per started 30 minutes (assumption; the order of Tokyo's shared-bike fares)."""
REFUND_SHARE: Final = (15, 1_000)
"""(refunds, purchases): 1.5% of refundable purchases are returned (assumption)."""

FX_PROVIDER: Final = "fx-tokyo"
FX_SPREAD_BPS: Final = 30
"""The FX provider's margin on the ECB mid rate, basis points (assumption)."""
FX_FEE_BPS: Final = 20
"""The hub's fee on each payment, basis points of the source amount (assumption)."""

FIXED_MIDS: Final = {
    ("USD", "JPY"): "111.00",
    ("USD", "CNY"): "6.650",
    ("USD", "KRW"): "1120.0",
    ("CNY", "JPY"): "16.69",
    ("JPY", "KRW"): "10.09",
    ("CNY", "KRW"): "168.4",
}
"""Mid rates of mid-2018, used only when the ECB file is missing (with a warning)."""


@dataclass(frozen=True, slots=True)
class Acquirer:
    id: str
    name: str
    country: str
    currency: str


ACQUIRERS: Final = (
    Acquirer("hokkaido-acq", "Hokkaido Regional Bank (acquiring)", "JP", "JPY"),
    Acquirer("tohoku-acq", "Tohoku Regional Bank (acquiring)", "JP", "JPY"),
    Acquirer("kanto-acq", "Kanto Regional Bank (acquiring)", "JP", "JPY"),
    Acquirer("chubu-acq", "Chubu Regional Bank (acquiring)", "JP", "JPY"),
    Acquirer("kansai-acq", "Kansai Regional Bank (acquiring)", "JP", "JPY"),
    Acquirer("chugoku-acq", "Chugoku Regional Bank (acquiring)", "JP", "JPY"),
    Acquirer("shikoku-acq", "Shikoku Regional Bank (acquiring)", "JP", "JPY"),
    Acquirer("kyushu-acq", "Kyushu-Okinawa Regional Bank (acquiring)", "JP", "JPY"),
    Acquirer("huangpu-acq", "Huangpu Merchant Services (CN)", "CN", "CNY"),
    Acquirer("hanbit-acq", "Hanbit Merchant Services (KR)", "KR", "KRW"),
)


@dataclass(frozen=True, slots=True)
class Prefecture:
    """A Japanese prefecture: ISO 3166-2 code, names, capital, weight and acquirer."""

    code: str
    name_ja: str
    city: str
    """Its capital, ASCII (a QR code's merchant city)."""
    weight_tenths: int
    """Relative share of visitors who go there, in tenths (assumption, see the module doc)."""
    acquirer_id: str


def _prefectures() -> tuple[Prefecture, ...]:
    # Weights approximate the pattern of the JTA/JNTO visit-rate statistics for foreign
    # visitors (Tokyo, Osaka and Kyoto far ahead; then Kanagawa, Fukuoka, Aichi, Hokkaido,
    # Okinawa, Nara, Hyogo...). They are calibration inputs, not quoted figures. Chiba is
    # lowered: most of its visits are Narita airport, not spending.
    rows = (
        ("JP-01", "北海道", "Sapporo", 80, "hokkaido-acq"),
        ("JP-02", "青森県", "Aomori", 5, "tohoku-acq"),
        ("JP-03", "岩手県", "Morioka", 3, "tohoku-acq"),
        ("JP-04", "宮城県", "Sendai", 8, "tohoku-acq"),
        ("JP-05", "秋田県", "Akita", 2, "tohoku-acq"),
        ("JP-06", "山形県", "Yamagata", 3, "tohoku-acq"),
        ("JP-07", "福島県", "Fukushima", 3, "tohoku-acq"),
        ("JP-08", "茨城県", "Mito", 5, "kanto-acq"),
        ("JP-09", "栃木県", "Utsunomiya", 12, "kanto-acq"),
        ("JP-10", "群馬県", "Maebashi", 8, "kanto-acq"),
        ("JP-11", "埼玉県", "Saitama", 10, "kanto-acq"),
        ("JP-12", "千葉県", "Chiba", 80, "kanto-acq"),
        ("JP-13", "東京都", "Tokyo", 460, "kanto-acq"),
        ("JP-14", "神奈川県", "Yokohama", 110, "kanto-acq"),
        ("JP-15", "新潟県", "Niigata", 5, "chubu-acq"),
        ("JP-16", "富山県", "Toyama", 10, "chubu-acq"),
        ("JP-17", "石川県", "Kanazawa", 20, "chubu-acq"),
        ("JP-18", "福井県", "Fukui", 3, "chubu-acq"),
        ("JP-19", "山梨県", "Kofu", 60, "chubu-acq"),
        ("JP-20", "長野県", "Nagano", 30, "chubu-acq"),
        ("JP-21", "岐阜県", "Gifu", 40, "chubu-acq"),
        ("JP-22", "静岡県", "Shizuoka", 50, "chubu-acq"),
        ("JP-23", "愛知県", "Nagoya", 90, "chubu-acq"),
        ("JP-24", "三重県", "Tsu", 12, "kansai-acq"),
        ("JP-25", "滋賀県", "Otsu", 8, "kansai-acq"),
        ("JP-26", "京都府", "Kyoto", 270, "kansai-acq"),
        ("JP-27", "大阪府", "Osaka", 380, "kansai-acq"),
        ("JP-28", "兵庫県", "Kobe", 70, "kansai-acq"),
        ("JP-29", "奈良県", "Nara", 90, "kansai-acq"),
        ("JP-30", "和歌山県", "Wakayama", 12, "kansai-acq"),
        ("JP-31", "鳥取県", "Tottori", 4, "chugoku-acq"),
        ("JP-32", "島根県", "Matsue", 2, "chugoku-acq"),
        ("JP-33", "岡山県", "Okayama", 8, "chugoku-acq"),
        ("JP-34", "広島県", "Hiroshima", 30, "chugoku-acq"),
        ("JP-35", "山口県", "Yamaguchi", 6, "chugoku-acq"),
        ("JP-36", "徳島県", "Tokushima", 3, "shikoku-acq"),
        ("JP-37", "香川県", "Takamatsu", 8, "shikoku-acq"),
        ("JP-38", "愛媛県", "Matsuyama", 4, "shikoku-acq"),
        ("JP-39", "高知県", "Kochi", 3, "shikoku-acq"),
        ("JP-40", "福岡県", "Fukuoka", 100, "kyushu-acq"),
        ("JP-41", "佐賀県", "Saga", 10, "kyushu-acq"),
        ("JP-42", "長崎県", "Nagasaki", 20, "kyushu-acq"),
        ("JP-43", "熊本県", "Kumamoto", 30, "kyushu-acq"),
        ("JP-44", "大分県", "Oita", 40, "kyushu-acq"),
        ("JP-45", "宮崎県", "Miyazaki", 5, "kyushu-acq"),
        ("JP-46", "鹿児島県", "Kagoshima", 12, "kyushu-acq"),
        ("JP-47", "沖縄県", "Naha", 70, "kyushu-acq"),
    )
    return tuple(Prefecture(*row) for row in rows)


PREFECTURES: Final = _prefectures()


@dataclass(frozen=True, slots=True)
class Region:
    """A region abroad where Japanese visitors pay (China, Korea)."""

    code: str
    name_native: str
    city: str
    weight: int
    acquirer_id: str
    currency: str
    language: str
    """ISO 639-1 of the merchants' native-script names."""


ABROAD_REGIONS: Final = (
    Region("CN-SH", "上海", "Shanghai", 45, "huangpu-acq", "CNY", "ZH"),
    Region("CN-BJ", "北京", "Beijing", 35, "huangpu-acq", "CNY", "ZH"),
    Region("CN-GD", "广州", "Guangzhou", 20, "huangpu-acq", "CNY", "ZH"),
    Region("KR-11", "서울", "Seoul", 60, "hanbit-acq", "KRW", "KO"),
    Region("KR-26", "부산", "Busan", 25, "hanbit-acq", "KRW", "KO"),
    Region("KR-49", "제주", "Jeju", 15, "hanbit-acq", "KRW", "KO"),
)

ABROAD_CATEGORY_NAMES: Final = {
    "ZH": {"department_store": "百货", "restaurant": "餐厅", "attraction": "景区"},
    "KO": {"department_store": "백화점", "restaurant": "식당", "attraction": "관광"},
}


def category(key: str) -> Category:
    """The category with this key (an AssertionError for an unknown key: a bug)."""
    found = next((c for c in CATEGORIES if c.key == key), None)
    assert found is not None, key
    return found
