"""The plan of a simulated corridor: who exists, who pays whom, when, and what is suspicious.

Planning is pure: from a seed and the run's size it produces the participants, merchants,
customers and a time-ordered list of events (purchases, deposit and pre-authorization holds
with their capture or release, refunds, late registrations), plus the labels of the injected
suspicious behaviour. Nothing here touches a database; `corridor.sim.run` executes the plan
through the real switch. The same seed and size give the same plan, event for event.

Time is seconds since the start of the first simulated day, 00:00 in Japan (UTC+9, no
daylight saving time). Amounts are integers of minor units of the merchant's currency.

How traffic is drawn (figures in `corridor.sim.calibration`):

- Tourists: by nationality (share), trip length, start day so that the trip fits the run,
  and a budget per trip (log-normal around the nationality's mean spend per trip).
- Itinerary: the first stop and each extra stop (Poisson) drawn by prefecture weight (with
  the nationality's boosts), consecutive days split between stops. The first 47 inbound
  visitors each add one side trip to a prefecture in turn, so every prefecture sees traffic
  once 47 visitors travel.
- Each day: a Poisson number of purchases; the category by weight among the merchants of the
  prefecture; the amount log-normal around the category's median; the time within the
  category's opening hours. Then every amount of the trip is scaled so that the trip's total,
  each at its day's mid rate, is the trip's budget, and rounded to the currency's price unit.
- Holds: a shared-bike deposit while the bike is out (released at return, then the fare is
  paid; 1% of bikes are never returned and the deposit is captured); a homestay
  pre-authorization at check-in, captured at check-out (4% cancelled and released, 2% never
  captured: the hold lapses in the ledger).
- Refunds: 1.5% of refundable purchases, in full or in part, within 30 hours.

Typologies injected (labelled in `Plan.labels`):

- ``structuring``: a T1 tourist makes 4-6 payments at jewellers on 2-4 days of the trip, each
  92-98% of the travel-rule threshold of the payer's jurisdiction (from the compliance
  profiles), never reaching it.
- ``mule_fan_in``: rings of 40-160 freshly registered customers each pay one merchant within
  50 minutes (two rings or more, one per thousand tourists).
- ``pass_through``: a tourist pays one merchant a large sum, is refunded in full within hours,
  then spends 85-98% of the refund at other merchants within hours of the refund.
- ``sanctioned_party``: people from the real sanctions lists register under their native-script
  name and a variant spelling, and shop like any tourist.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, TypeVar

from corridor.sim.calibration import (
    ABROAD_CATEGORY_NAMES,
    ABROAD_REGIONS,
    BIKE_DEPOSIT_JPY,
    BIKE_FARE_JPY_PER_30_MIN,
    CATEGORIES,
    NATIONALITIES,
    PREFECTURES,
    REFUND_SHARE,
    Category,
    Nationality,
    category,
)
from corridor.sim.names import chinese_name, japanese_name, korean_name
from corridor.sim.sanctions import ListedPerson, registration_for
from corridor.switch.money import convert, currency

__all__ = [
    "DAY_S",
    "JST_OFFSET_S",
    "CustomerSpec",
    "Event",
    "Label",
    "MerchantSpec",
    "Plan",
    "PlanSize",
    "RateFn",
    "Trip",
    "build_plan",
]

DAY_S: Final = 86_400
JST_OFFSET_S: Final = 9 * 3_600
"""Japan Standard Time is UTC+9 all year."""

TYPOLOGIES: Final = ("structuring", "mule_fan_in", "pass_through", "sanctioned_party")

PRICE_UNIT: Final = {"JPY": 10, "CNY": 100, "KRW": 100}
"""Prices are whole multiples of this many minor units (10 yen, 1 yuan, 100 won)."""
PRICE_MIN: Final = {"JPY": 100, "CNY": 100, "KRW": 1_000}

MERCHANTS_PER_PREFECTURE_MIN: Final = 4
MERCHANTS_ABROAD_PER_REGION_MIN: Final = 3
HOMESTAY_NIGHTS_MAX: Final = 5
BIKE_LOST_PER_MILLE: Final = 10
HOMESTAY_CANCEL_PERCENT: Final = 4
HOMESTAY_LAPSE_PERCENT: Final = 2
REFUND_DELAY_S: Final = (3_600, 30 * 3_600)
FAN_IN_RINGS_MIN: Final = 2
FAN_IN_PAYERS: Final = (40, 160)
"""Payers per ring: on both sides of a rule threshold such as 60 or 100 payers an hour."""
FAN_IN_WINDOW_S: Final = 50 * 60
STRUCTURING_PAYMENTS: Final = (4, 6)
STRUCTURING_BAND_PERCENT: Final = (92, 98)
PASS_THROUGH_INFLOW_JPY: Final = (250_000, 450_000)
PASS_THROUGH_SPENT_PERCENT: Final = (85, 98)

_T = TypeVar("_T")

RateFn = Callable[[str, str, int], Decimal]
"""Mid rate from one currency to another at a time (ns since the Unix epoch)."""


@dataclass(frozen=True, slots=True)
class PlanSize:
    """What to simulate: the seed, how many tourists, how many days from which date."""

    seed: int
    tourists: int
    days: int
    start: dt.date

    @property
    def start_ns(self) -> int:
        """00:00 JST of the first day, in ns since the Unix epoch."""
        midnight_utc = dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)
        return (int(midnight_utc.timestamp()) - JST_OFFSET_S) * 1_000_000_000


@dataclass(frozen=True, slots=True)
class MerchantSpec:
    merchant_id: str
    acquirer_id: str
    name: str
    """ASCII, at most 25 characters (the QR's merchant name)."""
    name_native: str
    mcc: str
    city: str
    region: str
    currency: str
    category: str
    language: str


@dataclass(frozen=True, slots=True)
class CustomerSpec:
    customer_id: str
    wallet_id: str
    name_native: str
    name_romanized: str
    country: str
    date_of_birth: str
    kyc_tier: str
    registered_at_s: int | None
    """None: registered before the run; else seconds into the run (a late registration)."""


@dataclass(frozen=True, slots=True)
class Trip:
    customer_id: str
    wallet_id: str
    nationality: str
    start_day: int
    days: int
    budget_minor: int
    """The planned wallet spend of the trip, minor units of the payer's currency."""
    regions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happens at `at_s`; `payment_id` names the payment it creates or acts on.

    Kinds: ``purchase`` (scan and pay), ``hold`` (reserve with `hold_timeout_s`),
    ``capture`` and ``release`` (commit or abort a hold), ``refund`` (`refund_id`, `amount`
    of the payment's target), ``register`` (a customer registered during the run).
    """

    at_s: int
    order: int
    kind: str
    payment_id: str = ""
    customer_id: str = ""
    wallet_id: str = ""
    merchant_id: str = ""
    amount: int = 0
    hold_timeout_s: int = 0
    refund_id: str = ""
    lapses: bool = False
    """A hold nobody captures or releases: it expires in the ledger."""


@dataclass(frozen=True, slots=True)
class Label:
    """A labelled piece of suspicious behaviour: a payment (or a party) and its typology."""

    typology: str
    party_id: str
    """``customer:<wallet>/<customer>`` or ``merchant:<merchant id>``."""
    payment_id: str | None
    role: str
    """``pattern`` (what the typology looks like, scored) or ``setup`` (what made it possible)."""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Planned:
    """Something a trip will do, before amounts are scaled to the trip's budget."""

    at_s: int
    kind: str
    """``buy``, ``stay`` (a homestay pre-authorization) or ``bike`` (a deposit)."""
    merchant: MerchantSpec
    amount: int
    hold_timeout_s: int = 0
    end_day: int = 0
    end: str = ""
    """For a stay: ``capture``, ``release`` or ``lapse``."""


@dataclass(slots=True)
class Plan:
    size: PlanSize
    merchants: list[MerchantSpec]
    customers: list[CustomerSpec]
    trips: list[Trip]
    events: list[Event]
    labels: list[Label]
    typologies_skipped: dict[str, str] = field(default_factory=dict)
    """Typology → why it was left out of this run."""


# --- small random helpers ----------------------------------------------------------------


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; fine for the small means used here."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _weighted(rng: random.Random, items: Sequence[tuple[_T, int]]) -> _T:
    return rng.choices([item for item, _ in items], [weight for _, weight in items])[0]


def _lognormal_minor(rng: random.Random, median_minor: int, sigma: float) -> int:
    return max(1, round(median_minor * math.exp(rng.gauss(0.0, sigma))))


def _price(amount_minor: int, code: str) -> int:
    unit = PRICE_UNIT[code]
    return max(PRICE_MIN[code], (amount_minor + unit // 2) // unit * unit)


def _party_customer(wallet_id: str, customer_id: str) -> str:
    return f"customer:{wallet_id}/{customer_id}"


def _time_in(rng: random.Random, day: int, hours: tuple[tuple[int, int], ...]) -> int:
    start, end = rng.choice(hours)
    return day * DAY_S + rng.randrange(start * 3_600, end * 3_600)


# --- the planner ---------------------------------------------------------------------------


class _Planner:
    def __init__(
        self,
        size: PlanSize,
        rate: RateFn,
        listed: Sequence[ListedPerson],
        structuring_threshold: Callable[[str, str, int], int],
    ) -> None:
        self.size = size
        self.rate = rate
        self.listed = listed
        self.threshold = structuring_threshold
        seed = size.seed
        self.rng_merchants = random.Random(f"{seed}/merchants")
        self.rng_people = random.Random(f"{seed}/people")
        self.rng_trips = random.Random(f"{seed}/trips")
        self.rng_typologies = random.Random(f"{seed}/typologies")
        self.merchants: list[MerchantSpec] = []
        self.by_place: dict[tuple[str, str], list[MerchantSpec]] = {}
        self.customers: list[CustomerSpec] = []
        self.trips: list[Trip] = []
        self.events: list[Event] = []
        self.labels: list[Label] = []
        self.skipped: dict[str, str] = {}
        self._payment_keys = 0
        self._refund_keys = 0
        self._customer_keys = 0

    # -- identifiers (renumbered in time order at the end) --

    def _new_payment(self) -> str:
        self._payment_keys += 1
        return f"k{self._payment_keys}"

    def _new_refund(self) -> str:
        self._refund_keys += 1
        return f"r{self._refund_keys}"

    def _new_customer(self) -> str:
        self._customer_keys += 1
        return f"u{self._customer_keys}"

    def _event(self, at_s: int, kind: str, **fields: object) -> Event:
        event = Event(at_s, len(self.events), kind, **fields)  # type: ignore[arg-type]
        self.events.append(event)
        return event

    def _rate_at(self, source: str, target: str, day: int) -> Decimal:
        at_ns = self.size.start_ns + (day * DAY_S + 12 * 3_600) * 1_000_000_000
        return self.rate(source, target, at_ns)

    # -- merchants --

    def plan_merchants(self) -> None:
        rng = self.rng_merchants
        total_weight = sum(p.weight_tenths for p in PREFECTURES)
        merchants_jp = min(4_000, max(250, self.size.tourists // 2))
        ordinary = [(c, c.weight) for c in CATEGORIES if c.weight > 0]
        number = 0
        for prefecture in PREFECTURES:
            keys = ["restaurant", "drugstore", "attraction", "convenience"]
            if prefecture.weight_tenths >= 20:
                keys += ["homestay", "bike_share"]
            if prefecture.weight_tenths >= 50:
                keys += ["department_store", "electronics"]
            if prefecture.weight_tenths >= 200:
                keys += ["jewellery", "jewellery"]
            share = round(merchants_jp * prefecture.weight_tenths / total_weight)
            while len(keys) < max(MERCHANTS_PER_PREFECTURE_MIN, share):
                keys.append(_weighted(rng, ordinary).key)
            for index, key in enumerate(keys, 1):
                kind = category(key)
                number += 1
                self._add_merchant(
                    MerchantSpec(
                        merchant_id=f"m{number:05d}",
                        acquirer_id=prefecture.acquirer_id,
                        name=f"{prefecture.city} {kind.name_en} {index}"[:25],
                        name_native=f"{prefecture.name_ja}{kind.name_ja}{index}号店",
                        mcc=kind.mcc,
                        city=prefecture.city,
                        region=prefecture.code,
                        currency="JPY",
                        category=key,
                        language="JA",
                    )
                )
        for region in ABROAD_REGIONS:
            names = ABROAD_CATEGORY_NAMES[region.language]
            count = max(MERCHANTS_ABROAD_PER_REGION_MIN, region.weight * merchants_jp // 2_000)
            for index in range(1, count + 1):
                key = ("department_store", "restaurant", "restaurant", "attraction")[index % 4]
                kind = category(key)
                number += 1
                self._add_merchant(
                    MerchantSpec(
                        merchant_id=f"m{number:05d}",
                        acquirer_id=region.acquirer_id,
                        name=f"{region.city} {kind.name_en} {index}"[:25],
                        name_native=f"{region.name_native}{names[key]}{index}",
                        mcc=kind.mcc,
                        city=region.city,
                        region=region.code,
                        currency=region.currency,
                        category=key,
                        language=region.language,
                    )
                )

    def _add_merchant(self, merchant: MerchantSpec) -> None:
        self.merchants.append(merchant)
        self.by_place.setdefault((merchant.region, merchant.category), []).append(merchant)

    def _merchant(self, rng: random.Random, region: str, key: str) -> MerchantSpec | None:
        found = self.by_place.get((region, key))
        return rng.choice(found) if found else None

    # -- people --

    def _name(self, rng: random.Random, country: str) -> tuple[str, str]:
        if country == "CN":
            return chinese_name(rng)
        if country == "KR":
            return korean_name(rng)
        return japanese_name(rng)

    def _date_of_birth(self, rng: random.Random) -> str:
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 50))
        return born.isoformat()

    def _customer(
        self,
        nationality: Nationality,
        *,
        tier: str | None = None,
        registered_at_s: int | None = None,
        name: tuple[str, str] | None = None,
        country: str | None = None,
        date_of_birth: str | None = None,
    ) -> CustomerSpec:
        rng = self.rng_people
        native, romanized = name if name is not None else self._name(rng, nationality.country)
        customer = CustomerSpec(
            customer_id=self._new_customer(),
            wallet_id=nationality.wallet_id,
            name_native=native,
            name_romanized=romanized,
            country=country or nationality.country,
            date_of_birth=date_of_birth or self._date_of_birth(rng),
            kyc_tier=tier or _weighted(rng, nationality.kyc_tiers),
            registered_at_s=registered_at_s,
        )
        self.customers.append(customer)
        return customer

    # -- trips --

    def _regions(self, rng: random.Random, nationality: Nationality, stops: int) -> list[str]:
        if "JP" not in nationality.destinations:
            country = rng.choices(nationality.destinations, [54, 46])[0]
            choices = [(r.code, r.weight) for r in ABROAD_REGIONS if r.code.startswith(country)]
        else:
            boost = dict(nationality.prefecture_boost)
            choices = [
                (p.code, p.weight_tenths * boost.get(p.code, 100) // 100) for p in PREFECTURES
            ]
        regions: list[str] = []
        for _ in range(stops):
            remaining = [(code, w) for code, w in choices if code not in regions]
            if not remaining:
                break
            regions.append(_weighted(rng, remaining))
        return regions

    def _purchase(
        self, rng: random.Random, region: str, day: int, kinds: Sequence[Category]
    ) -> _Planned | None:
        available = [(c, c.weight) for c in kinds if (region, c.key) in self.by_place]
        if not available:
            return None
        kind = _weighted(rng, available)
        merchant = self._merchant(rng, region, kind.key)
        assert merchant is not None
        median = kind.median_major * 10 ** currency(merchant.currency).minor_units
        if merchant.currency != "JPY":
            median = convert(
                median, "JPY", merchant.currency, self._rate_at("JPY", merchant.currency, day)
            )
        amount = _lognormal_minor(rng, median, kind.sigma)
        return _Planned(_time_in(rng, day, kind.hours), "buy", merchant, amount)

    def _homestay_plan(
        self, rng: random.Random, start_day: int, regions: list[str], per_stop: list[int]
    ) -> _Planned | None:
        """A pre-authorization at the first stop of two days or more that has a homestay."""
        first = 0
        for region, days_here in zip(regions, per_stop, strict=True):
            merchant = self._merchant(rng, region, "homestay")
            if days_here >= 2 and merchant is not None:
                nights = min(HOMESTAY_NIGHTS_MAX, days_here - 1)
                check_in = start_day + first
                nightly = _lognormal_minor(rng, category("homestay").median_major, 0.4)
                roll = rng.randrange(100)
                end = "capture"
                if roll < HOMESTAY_CANCEL_PERCENT:
                    end = "release"
                elif roll < HOMESTAY_CANCEL_PERCENT + HOMESTAY_LAPSE_PERCENT:
                    end = "lapse"
                return _Planned(
                    _time_in(rng, check_in, ((15, 19),)),
                    "stay",
                    merchant,
                    nights * nightly,
                    hold_timeout_s=(nights + 1) * DAY_S,
                    end_day=check_in + nights,
                    end=end,
                )
            first += days_here
        return None

    def plan_trip(
        self,
        nationality: Nationality,
        customer: CustomerSpec,
        *,
        side_trip: str | None = None,
        activity_percent: int = 100,
    ) -> Trip:
        """A trip of ordinary payments for `customer`; its events and the trip are recorded."""
        rng = self.rng_trips
        length = min(self.size.days, _weighted(rng, nationality.trip_days))
        start_day = rng.randrange(self.size.days - length + 1)
        stops = min(length, 1 + _poisson(rng, nationality.stops_extra_mean))
        regions = self._regions(rng, nationality, stops)
        if side_trip is not None and side_trip not in regions:
            if len(regions) < length:
                regions.append(side_trip)
            else:
                regions[-1] = side_trip
        # Consecutive days per stop, as even as possible, earlier stops taking the extra days.
        per_stop = [
            length // len(regions) + (i < length % len(regions)) for i in range(len(regions))
        ]
        day_region = [r for r, n in zip(regions, per_stop, strict=True) for _ in range(n)]
        sigma = nationality.budget_sigma
        budget = round(
            nationality.budget_minor_mean * math.exp(rng.gauss(-sigma * sigma / 2, sigma))
        )
        budget = max(PRICE_MIN[nationality.currency] * 10, budget)

        planned: list[_Planned] = []
        if rng.randrange(100) < nationality.homestay_percent:
            stay = self._homestay_plan(rng, start_day, regions, per_stop)
            if stay is not None:
                planned.append(stay)
        ordinary = [c for c in CATEGORIES if c.weight > 0]
        for offset, region in enumerate(day_region):
            day = start_day + offset
            count = _poisson(rng, nationality.payments_per_day * activity_percent / 100)
            for _ in range(count):
                purchase = self._purchase(rng, region, day, ordinary)
                if purchase is not None:
                    planned.append(purchase)
            bike = self._merchant(rng, region, "bike_share")
            if bike is not None and rng.randrange(100) < nationality.bike_percent_per_day:
                planned.append(_Planned(_time_in(rng, day, ((8, 17),)), "bike", bike, 0))
        # Every stop of the trip sees at least one purchase (a visit leaves a trace).
        bought = {p.merchant.region for p in planned if p.kind == "buy"}
        for region in regions:
            if region not in bought:
                offsets = [i for i, r in enumerate(day_region) if r == region]
                offset = rng.choice(offsets)
                purchase = self._purchase(rng, region, start_day + offset, ordinary)
                assert purchase is not None, "every region has restaurants"
                planned.append(purchase)

        # Scale the trip's spend to its budget, each purchase at the mid rate of its day (the
        # payer also pays the FX margin and the fee on top, about 0.5%).
        total_payer = sum(
            convert(
                p.amount,
                p.merchant.currency,
                nationality.currency,
                self._rate_at(p.merchant.currency, nationality.currency, p.at_s // DAY_S),
            )
            for p in planned
            if p.kind in ("buy", "stay")
        )
        trip_end = (start_day + length - 1) * DAY_S + 21 * 3_600
        for item in sorted(planned, key=lambda p: p.at_s):
            if item.kind == "bike":
                self._bike(rng, customer, item.merchant, item.at_s)
                continue
            amount = _price(item.amount * budget // max(1, total_payer), item.merchant.currency)
            if item.kind == "stay":
                self._homestay(rng, customer, item, amount)
                continue
            payment_id = self._new_payment()
            self._event(
                item.at_s,
                "purchase",
                payment_id=payment_id,
                customer_id=customer.customer_id,
                wallet_id=customer.wallet_id,
                merchant_id=item.merchant.merchant_id,
                amount=amount,
            )
            numerator, denominator = REFUND_SHARE
            refundable = category(item.merchant.category).refundable
            if refundable and rng.randrange(denominator) < numerator:
                refund_at = min(trip_end, item.at_s + rng.randrange(*REFUND_DELAY_S))
                if refund_at > item.at_s + 600:
                    part = amount
                    if rng.randrange(10) >= 7:
                        part = _price(amount * rng.randrange(30, 71) // 100, item.merchant.currency)
                    self._event(
                        refund_at,
                        "refund",
                        payment_id=payment_id,
                        refund_id=self._new_refund(),
                        amount=min(part, amount),
                    )
        trip = Trip(
            customer.customer_id,
            customer.wallet_id,
            nationality.country,
            start_day,
            length,
            budget,
            tuple(regions),
        )
        self.trips.append(trip)
        return trip

    def _bike(
        self, rng: random.Random, customer: CustomerSpec, bike: MerchantSpec, at_s: int
    ) -> None:
        payment_id = self._new_payment()
        self._event(
            at_s,
            "hold",
            payment_id=payment_id,
            customer_id=customer.customer_id,
            wallet_id=customer.wallet_id,
            merchant_id=bike.merchant_id,
            amount=BIKE_DEPOSIT_JPY,
            hold_timeout_s=DAY_S,
        )
        minutes = rng.randrange(20, 150)
        returned = at_s + minutes * 60
        if rng.randrange(1_000) < BIKE_LOST_PER_MILLE:
            self._event(returned + 4 * 3_600, "capture", payment_id=payment_id)
            return
        self._event(returned, "release", payment_id=payment_id)
        fare = BIKE_FARE_JPY_PER_30_MIN * math.ceil(minutes / 30)
        self._event(
            returned + 1,
            "purchase",
            payment_id=self._new_payment(),
            customer_id=customer.customer_id,
            wallet_id=customer.wallet_id,
            merchant_id=bike.merchant_id,
            amount=fare,
        )

    def _homestay(
        self, rng: random.Random, customer: CustomerSpec, stay: _Planned, amount: int
    ) -> None:
        payment_id = self._new_payment()
        self._event(
            stay.at_s,
            "hold",
            payment_id=payment_id,
            customer_id=customer.customer_id,
            wallet_id=customer.wallet_id,
            merchant_id=stay.merchant.merchant_id,
            amount=amount,
            hold_timeout_s=stay.hold_timeout_s,
            lapses=stay.end == "lapse",
        )
        if stay.end == "capture":
            check_out = _time_in(rng, stay.end_day, ((10, 11),))
            self._event(check_out, "capture", payment_id=payment_id)
        elif stay.end == "release":
            cancelled = stay.at_s + rng.randrange(600, 4 * 3_600)
            self._event(cancelled, "release", payment_id=payment_id)

    def plan_tourists(self) -> None:
        rng = self.rng_people
        shares = [(n, n.share_percent) for n in NATIONALITIES]
        inbound = 0
        for _ in range(self.size.tourists):
            nationality = _weighted(rng, shares)
            customer = self._customer(nationality)
            side_trip = None
            if "JP" in nationality.destinations and inbound < len(PREFECTURES):
                side_trip = PREFECTURES[inbound].code
                inbound += 1
            self.plan_trip(nationality, customer, side_trip=side_trip)

    # -- typologies --

    def _count(self, per_thousand: int) -> int:
        return max(1, round(self.size.tourists * per_thousand / 1_000))

    def plan_structuring(self) -> None:
        rng = self.rng_typologies
        if self.size.days < 2:
            self.skipped["structuring"] = "needs a run of at least 2 days"
            return
        jewellers = [m for m in self.merchants if m.category == "jewellery"]
        inbound = [
            (n, 60 if n.country == "CN" else 40) for n in NATIONALITIES if "JP" in n.destinations
        ]
        for _ in range(self._count(4)):
            nationality = _weighted(rng, inbound)
            customer = self._customer(nationality, tier="T1")
            trip = self.plan_trip(nationality, customer)
            party = _party_customer(customer.wallet_id, customer.customer_id)
            nearby = [m for m in jewellers if m.region in trip.regions] or jewellers
            payments = rng.randint(*STRUCTURING_PAYMENTS)
            days = min(trip.days, rng.randint(2, 4))
            first_day = trip.start_day + rng.randrange(trip.days - days + 1)
            for index in range(payments):
                day = first_day + index % days
                at_ns = self.size.start_ns + day * DAY_S * 1_000_000_000
                threshold = self.threshold(nationality.country, nationality.currency, at_ns)
                wanted_payer = threshold * rng.randint(*STRUCTURING_BAND_PERCENT) // 100
                # 1% under the mid-rate value: the payer's debit (source, FX margin and fee,
                # about 0.35% together) stays below the threshold.
                rate = self._rate_at(nationality.currency, "JPY", day)
                target = convert(wanted_payer, nationality.currency, "JPY", rate)
                target = target * 99 // 100 // 100 * 100
                payment_id = self._new_payment()
                self._event(
                    _time_in(rng, day, ((11, 19),)),
                    "purchase",
                    payment_id=payment_id,
                    customer_id=customer.customer_id,
                    wallet_id=customer.wallet_id,
                    merchant_id=rng.choice(nearby).merchant_id,
                    amount=target,
                )
                detail = (
                    f"about {wanted_payer} minor units of {nationality.currency} against the"
                    f" travel-rule threshold of {threshold}"
                )
                self.labels.append(Label("structuring", party, payment_id, "pattern", detail))

    def plan_fan_in(self) -> None:
        rng = self.rng_typologies
        hubs = [
            m
            for m in self.merchants
            if m.category in ("electronics", "department_store") and m.region in ("JP-13", "JP-27")
        ]
        inbound = [n for n in NATIONALITIES if "JP" in n.destinations]
        rings = min(len(hubs), max(FAN_IN_RINGS_MIN, round(self.size.tourists / 1_000)))
        for merchant in rng.sample(hubs, rings):
            party = f"merchant:{merchant.merchant_id}"
            day = rng.randrange(self.size.days)
            start = day * DAY_S + rng.randrange(13 * 3_600, 18 * 3_600)
            for _ in range(rng.randint(*FAN_IN_PAYERS)):
                nationality = _weighted(
                    rng, [(n, 70 if n.country == "CN" else 30) for n in inbound]
                )
                registered = day * DAY_S + rng.randrange(8 * 3_600, 12 * 3_600)
                mule = self._customer(nationality, tier="T2", registered_at_s=registered)
                self._event(
                    registered, "register", customer_id=mule.customer_id, wallet_id=mule.wallet_id
                )
                payment_id = self._new_payment()
                self._event(
                    start + rng.randrange(FAN_IN_WINDOW_S),
                    "purchase",
                    payment_id=payment_id,
                    customer_id=mule.customer_id,
                    wallet_id=mule.wallet_id,
                    merchant_id=merchant.merchant_id,
                    amount=rng.randint(20, 48) * 1_000,
                )
                self.labels.append(
                    Label("mule_fan_in", party, payment_id, "pattern", f"payer {mule.customer_id}")
                )

    def plan_pass_through(self) -> None:
        rng = self.rng_typologies
        cn = next(n for n in NATIONALITIES if n.country == "CN")
        for _ in range(self._count(2)):
            customer = self._customer(cn, tier="T1")
            trip = self.plan_trip(cn, customer, activity_percent=50)
            party = _party_customer(customer.wallet_id, customer.customer_id)
            day = trip.start_day + rng.randrange(trip.days)
            region = trip.regions[0] if trip.regions else "JP-13"
            shops = [
                m
                for m in self.merchants
                if m.region == region
                and m.category in ("department_store", "electronics", "jewellery", "drugstore")
            ]
            if len(shops) < 2:
                shops = [
                    m
                    for m in self.merchants
                    if m.region == "JP-13"
                    and m.category in ("department_store", "electronics", "jewellery")
                ]
            collusive = rng.choice(shops)
            inflow = rng.randint(*PASS_THROUGH_INFLOW_JPY) // 1_000 * 1_000
            paid_at = day * DAY_S + rng.randrange(10 * 3_600, 13 * 3_600)
            setup = self._new_payment()
            self._event(
                paid_at,
                "purchase",
                payment_id=setup,
                customer_id=customer.customer_id,
                wallet_id=customer.wallet_id,
                merchant_id=collusive.merchant_id,
                amount=inflow,
            )
            refunded_at = paid_at + rng.randrange(3_600, 3 * 3_600)
            self._event(
                refunded_at, "refund", payment_id=setup, refund_id=self._new_refund(), amount=inflow
            )
            self.labels.append(
                Label(
                    "pass_through",
                    party,
                    setup,
                    "setup",
                    f"paid {collusive.merchant_id} and refunded in full",
                )
            )
            outflows = rng.randint(2, 4)
            spent = inflow * rng.randint(*PASS_THROUGH_SPENT_PERCENT) // 100
            others = [m for m in shops if m != collusive] or shops
            at = refunded_at + rng.randrange(1_800, 7_200)
            for index in range(outflows):
                share = (
                    spent // outflows
                    if index < outflows - 1
                    else spent - spent // outflows * (outflows - 1)
                )
                payment_id = self._new_payment()
                self._event(
                    at,
                    "purchase",
                    payment_id=payment_id,
                    customer_id=customer.customer_id,
                    wallet_id=customer.wallet_id,
                    merchant_id=rng.choice(others).merchant_id,
                    amount=_price(share, "JPY"),
                )
                self.labels.append(
                    Label(
                        "pass_through",
                        party,
                        payment_id,
                        "pattern",
                        f"outflow {index + 1} of {outflows} after the refund",
                    )
                )
                at += rng.randrange(600, 3_600)

    def plan_sanctioned(self) -> None:
        rng = self.rng_typologies
        if not self.listed:
            self.skipped["sanctioned_party"] = "no sanctions lists were found"
            return
        wanted = min(len(self.listed), max(2, self._count(4)))
        chosen = rng.sample(list(self.listed), wanted)
        by_country = {n.country: n for n in NATIONALITIES}
        for person in chosen:
            nationality = by_country["JP"] if person.nationality == "JP" else by_country["CN"]
            registration = registration_for(person, rng)
            country = person.nationality
            if person.nationality == "KP" and rng.random() < 0.6:
                country = "CN"
            born = person.date_of_birth
            if born is None:
                year = person.birth_year or rng.randrange(1950, 1985)
                born = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
            customer = self._customer(
                nationality,
                tier="T1",
                name=(registration.name_native, registration.name_romanized),
                country=country,
                date_of_birth=born.isoformat(),
            )
            before = len(self.events)
            self.plan_trip(nationality, customer, activity_percent=60)
            party = _party_customer(customer.wallet_id, customer.customer_id)
            detail = (
                f"{person.source} {person.reference}: {person.listed_name}; registered as "
                f"{registration.name_native} / {registration.name_romanized} "
                f"({registration.variant})"
            )
            payments = [
                e.payment_id for e in self.events[before:] if e.kind in ("purchase", "hold")
            ]
            self.labels.append(Label("sanctioned_party", party, None, "party", detail))
            for payment_id in payments:
                self.labels.append(Label("sanctioned_party", party, payment_id, "pattern", detail))

    # -- finishing --

    def finish(self) -> Plan:
        """Order events in time, then name payments, refunds and customers in that order."""
        events = sorted(self.events, key=lambda e: (e.at_s, e.order))
        payment_ids: dict[str, str] = {}
        refund_ids: dict[str, str] = {}
        for event in events:
            if event.kind in ("purchase", "hold") and event.payment_id not in payment_ids:
                payment_ids[event.payment_id] = f"p{len(payment_ids) + 1:08d}"
            if event.refund_id:
                refund_ids[event.refund_id] = f"r{len(refund_ids) + 1:07d}"
        # Customer ids carry no hint of who is who: numbered in a shuffled order.
        order = list(range(len(self.customers)))
        random.Random(f"{self.size.seed}/ids").shuffle(order)
        customer_ids = {self.customers[i].customer_id: f"c{n + 1:07d}" for n, i in enumerate(order)}
        renamed = [
            dataclasses.replace(
                event,
                order=index,
                payment_id=payment_ids.get(event.payment_id, ""),
                refund_id=refund_ids.get(event.refund_id, ""),
                customer_id=customer_ids.get(event.customer_id, ""),
            )
            for index, event in enumerate(events)
        ]
        customers = sorted(
            (
                dataclasses.replace(c, customer_id=customer_ids[c.customer_id])
                for c in self.customers
            ),
            key=lambda c: c.customer_id,
        )
        trips = [
            dataclasses.replace(t, customer_id=customer_ids[t.customer_id]) for t in self.trips
        ]

        def party(old: str) -> str:
            if old.startswith("customer:"):
                wallet, customer_id = old.removeprefix("customer:").split("/", 1)
                return _party_customer(wallet, customer_ids[customer_id])
            return old

        labels = [
            dataclasses.replace(
                label,
                party_id=party(label.party_id),
                payment_id=None if label.payment_id is None else payment_ids[label.payment_id],
            )
            for label in self.labels
        ]
        return Plan(self.size, self.merchants, customers, trips, renamed, labels, self.skipped)


def build_plan(
    size: PlanSize,
    rate: RateFn,
    listed: Sequence[ListedPerson],
    structuring_threshold: Callable[[str, str, int], int],
) -> Plan:
    """The whole plan of a run.

    `rate` gives mid rates (the planner converts budgets and thresholds with it);
    `structuring_threshold(country, currency, at_ns)` gives the travel-rule threshold of a
    payer of `country` in minor units of its `currency`; `listed` are the sanctioned people
    available for the sanctioned-party typology.
    """
    planner = _Planner(size, rate, listed, structuring_threshold)
    planner.plan_merchants()
    planner.plan_tourists()
    planner.plan_structuring()
    planner.plan_fan_in()
    planner.plan_pass_through()
    planner.plan_sanctioned()
    return planner.finish()
