"""Run a simulated corridor through the real switch and audit log, and report on it.

`simulate(config)` plans the run (`corridor.sim.plan`), then executes it against a database
file with the switch's own services, exactly as a production caller would:

1. **Audit log.** If the database has no log yet, one is created whose signing key is
   derived from the seed (SHA-256 of ``corridor/sim/v1/log-key/<seed>``), origin
   ``sandbox.corridor.local/seed-<seed>``, so that the same seed signs the same checkpoints.
   Three participants run witnesses (keys derived from the seed the same way) with a quorum
   of two. Seed-derived keys are for the sandbox only: anyone who knows the seed can sign.
2. **Setup,** 30 simulated days before the first day: wallets, the FX provider, acquirers
   (prefunded), the FX provider's pricing (ECB reference rates plus a spread, or fixed
   prices with a warning when the ECB file is missing), merchants with their static
   EMVCo QR codes, customers.
3. **Days.** Events in time order with the switch's clock set to each event's time: a
   purchase scans the merchant's QR, asks for a quote and pays; purchases of the same
   `SLOT_S` seconds go to the switch as one `pay_many` batch. Holds are reserved with their
   timeout and captured (commit) or released (abort); lapsed holds expire in the ledger.
   Refunds go through the refund service. At the end of each day (23:59:59 JST) the
   ledger expires what is due, the settlement window is closed and settled, and a checkpoint
   is signed and cosigned by the witnesses.
4. **Report.** Counts, volumes, spend per trip (calibration), prefecture coverage, settlement
   nets, labels, detection scores (`corridor.sim.scoring`) and the signed checkpoint; stored
   with the run in ``sim_runs``.

Determinism: the clock is simulated, every random draw comes from the seed, ids are derived,
and the caller is one thread, so the same seed and size give the same ledger, the same Merkle
root and the same report (which therefore holds no wall-clock time).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from corridor.analytics.reports import ReportResult, run_report
from corridor.audit.keys import default_key_file, read_log_key, write_key_file
from corridor.audit.log import accept_cosignatures, checkpoint_log, cosigned_note, init_log
from corridor.audit.note import CosignatureSigner, encode_signer_key
from corridor.audit.registry import AuditStore, CheckpointRecord, WitnessRecord
from corridor.audit.witness import WitnessState, witness_checkpoint
from corridor.compliance.errors import ComplianceError
from corridor.compliance.lists import load_lists
from corridor.compliance.profiles import default_profiles
from corridor.formats import emvqr
from corridor.formats.ecb import EcbError, load_ecb_csv
from corridor.sim.calibration import (
    ACQUIRERS,
    DEFAULT_START,
    FIXED_MIDS,
    FX_FEE_BPS,
    FX_PROVIDER,
    FX_SPREAD_BPS,
    NATIONALITIES,
)
from corridor.sim.errors import SimError
from corridor.sim.plan import (
    DAY_S,
    CustomerSpec,
    Event,
    MerchantSpec,
    Plan,
    PlanSize,
    RateFn,
    build_plan,
)
from corridor.sim.sanctions import (
    OFAC_ALT_FILE,
    OFAC_SDN_FILE,
    UN_FILE,
    default_data_dir,
    load_listed_people,
)
from corridor.sim.scoring import score_detection
from corridor.store.sqlite import BUSY_TIMEOUT_MS, SqliteStore
from corridor.store.transactions import immediate_transaction, open_side_connection
from corridor.switch.errors import SwitchError
from corridor.switch.fx import EcbRateSource, FeeSchedule, PairPrice
from corridor.switch.money import Money, convert, currency, format_amount
from corridor.switch.payments import PAY_BATCH_MAX, Payment, PaymentRequest, PaymentState
from corridor.switch.service import FxPricing, Switch

__all__ = [
    "DAYS_MAX",
    "SEED_MAX",
    "SIM_SCHEMA",
    "SLOT_S",
    "TOURISTS_MAX",
    "SimClock",
    "SimConfig",
    "simulate",
]

TOURISTS_MAX: Final = 100_000
DAYS_MAX: Final = 92
SEED_MAX: Final = 2**63 - 1
SLOT_S: Final = 900
"""Purchases within the same 5 simulated minutes are paid as one batch (`pay_many`)."""
SETUP_LEAD_S: Final = 30 * DAY_S
"""Participants, merchants and customers are registered this long before the first day."""
PREFUND_MINOR: Final = 10**14
"""Liquidity deposited for every wallet and for the FX provider, per currency (minor units)."""
ACQUIRER_FLOAT_MINOR: Final = 10**11
"""Liquidity deposited for every acquirer, so that refunds never wait for takings."""
WITNESSES: Final = ("panda-wallet", "hangang-pay", "kansai-acq")
WITNESS_QUORUM: Final = 2
ECB_FILE: Final = Path("fx") / "eurofxref-hist.csv"
_NS: Final = 1_000_000_000

SIM_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS sim_runs (
    run_id INTEGER PRIMARY KEY,
    seed INTEGER NOT NULL,
    tourists INTEGER NOT NULL,
    days INTEGER NOT NULL,
    start_date TEXT NOT NULL,
    report TEXT,
    created_ns INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS sim_labels (
    label_id INTEGER PRIMARY KEY,
    typology TEXT NOT NULL,
    party_id TEXT NOT NULL,
    payment_id TEXT,
    role TEXT NOT NULL,
    detail TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS sim_labels_by_payment ON sim_labels (payment_id);

CREATE TABLE IF NOT EXISTS sim_trips (
    wallet_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    nationality TEXT NOT NULL,
    start_date TEXT NOT NULL,
    days INTEGER NOT NULL,
    budget_minor INTEGER NOT NULL,
    regions TEXT NOT NULL,
    PRIMARY KEY (wallet_id, customer_id)
);
"""
"""The sandbox's own tables, in the ledger's file: the run, its labels and its trips."""

ProgressFn = Callable[[str, int, int], None]
"""progress(phase, done, total): ``setup`` then ``days`` (events done of all events)."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    db: Path
    seed: int = 42
    tourists: int = 500
    days: int = 7
    start: dt.date = DEFAULT_START
    data_dir: Path | None = None
    """Reference data (``fx/``, ``sanctions/``); default `default_data_dir()`."""

    def check(self) -> None:
        """Refuse impossible sizes before anything is written (``invalid_argument``)."""
        for name, value, low, high in (
            ("--seed", self.seed, 0, SEED_MAX),
            ("--tourists", self.tourists, 1, TOURISTS_MAX),
            ("--days", self.days, 1, DAYS_MAX),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise SimError(
                    "invalid_argument", f"{name} must be from {low} to {high}: {value!r}"
                )
        if not isinstance(self.start, dt.date) or isinstance(self.start, dt.datetime):
            raise SimError("invalid_start", f"--start must be a date, not {self.start!r}")


class SimClock:
    """The simulated clock: ns since the Unix epoch, moved only forward by the runner."""

    def __init__(self, now_ns: int) -> None:
        self._now = now_ns

    def __call__(self) -> int:
        return self._now

    def advance_to(self, at_ns: int) -> None:
        self._now = max(self._now, at_ns)


# --- inputs: FX, thresholds, database ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Fx:
    pricing: FxPricing
    rate: RateFn
    info: dict[str, Any]


def _fixed_rate(mids: dict[tuple[str, str], Decimal]) -> RateFn:
    def rate(source: str, target: str, at_ns: int) -> Decimal:
        if source == target:
            return Decimal(1)
        if (source, target) in mids:
            return mids[(source, target)]
        if (target, source) in mids:
            return Decimal(1) / mids[(target, source)]
        raise SimError("no_rate", f"no fixed rate for {source}/{target}")

    return rate


def _fx(config: SimConfig, data_dir: Path, warn: Callable[[str], None]) -> _Fx:
    path = data_dir / ECB_FILE
    fees = FeeSchedule(bps=FX_FEE_BPS)
    if not path.is_file():
        message = f"ECB file {path} not found: pricing with fixed mid-2018 rates instead"
        warn(message)
        mids = {pair: Decimal(text) for pair, text in FIXED_MIDS.items()}
        # The USD pairs too: compliance turns amounts into USD with the provider's prices.
        prices = tuple(
            PairPrice.from_mid(base, quote_code, mid, 2 * FX_SPREAD_BPS)
            for (base, quote_code), mid in mids.items()
        )
        pricing = FxPricing(FX_PROVIDER, "prices", prices=prices, fees=fees)
        return _Fx(pricing, _fixed_rate(mids), {"source": "prices", "warning": message})
    try:
        rates = load_ecb_csv(path)
    except (EcbError, OSError) as error:
        raise SimError("bad_ecb_file", f"{path}: {error}") from None
    source = EcbRateSource(rates)

    def rate(source_code: str, target_code: str, at_ns: int) -> Decimal:
        if source_code == target_code:
            return Decimal(1)
        return source.rate(currency(source_code), currency(target_code), at_ns)

    start_ns = PlanSize(config.seed, config.tourists, config.days, config.start).start_ns
    for day in range(config.days + 1):
        at_ns = start_ns + day * DAY_S * _NS
        for code in ("CNY", "KRW", "USD"):
            try:
                rate(code, "JPY", at_ns)
            except Exception as error:  # FxError: no rate that day
                raise SimError(
                    "invalid_start",
                    f"the ECB file has rates from {rates.first_day} to {rates.last_day}; a run"
                    f" of {config.days} days from {config.start} needs {code}/JPY on every day"
                    f" ({error})",
                ) from None
    pricing = FxPricing(
        FX_PROVIDER, "ecb", ecb_file=str(path.resolve()), spread_bps=FX_SPREAD_BPS, fees=fees
    )
    info = {"source": "ecb", "file": path.name, "last_day": rates.last_day.isoformat()}
    return _Fx(pricing, rate, info)


def _threshold_fn(rate: RateFn) -> Callable[[str, str, int], int]:
    try:
        profiles = default_profiles()
    except ComplianceError as error:
        raise SimError("bad_profiles", f"compliance profiles: {error}") from None

    def threshold(country: str, code: str, at_ns: int) -> int:
        amounts = profiles.travel_rule(country).amounts
        if code in amounts:
            return amounts[code]
        for other, amount in amounts.items():
            try:
                return convert(amount, other, code, rate(other, code, at_ns))
            except Exception:  # no rate for this currency of the threshold: try the next
                continue
        raise SimError(
            "no_rate", f"cannot express the travel-rule threshold of {country} in {code}"
        )

    return threshold


def _check_database(db: Path) -> None:
    """A new file, or a database without payments, transfers or an earlier run."""
    if db.is_dir():
        raise SimError("invalid_database", f"{db} is a directory, not a database file")
    if not db.exists():
        return
    try:
        connection = sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise SimError("invalid_database", f"{db}: {error}") from None
    try:
        names = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
        busy = [
            table
            for table in ("transfers", "payments", "sim_runs")
            if table in names
            and connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0
        ]
    except sqlite3.DatabaseError as error:
        raise SimError("invalid_database", f"{db}: {error}") from None
    finally:
        connection.close()
    if busy:
        raise SimError(
            "database_not_empty",
            f"{db} already holds {', '.join(busy)}: simulate into a new database file",
        )


# --- audit: log key and witnesses -----------------------------------------------------------


def _derived_seed(*parts: object) -> bytes:
    return hashlib.sha256("/".join(["corridor/sim/v1", *map(str, parts)]).encode()).digest()


def _init_audit(db: Path, seed: int) -> tuple[str, str]:
    """Initialize the log if needed; returns (origin, ``seed`` or ``existing`` key)."""
    SqliteStore(db).close()
    with AuditStore.open(db) as store:
        info = store.log_info()
    if info is not None:
        return info.origin, "existing"
    origin = f"sandbox.corridor.local/seed-{seed}"
    secret = encode_signer_key(origin, _derived_seed("log-key", seed))
    key_file = default_key_file(db)
    if key_file.exists():
        if read_log_key(key_file).signer_key() != secret:
            raise SimError(
                "key_exists",
                f"{key_file} holds another key; remove it or simulate into another --db",
            )
    else:
        write_key_file(key_file, secret)
    init_log(db, origin=origin, reuse_key=True)
    return origin, "seed"


@dataclass(slots=True)
class _Witness:
    name: str
    signer: CosignatureSigner
    state: WitnessState | None = None


def _witnesses(db: Path, seed: int, added_s: int) -> list[_Witness]:
    witnesses = [
        _Witness(name, CosignatureSigner(name, _derived_seed("witness", seed, name)))
        for name in WITNESSES
    ]
    with AuditStore.open(db, writable=True) as store:
        for witness in witnesses:
            vkey = witness.signer.verifier().verifier_key()
            store.update_witnesses(add=WitnessRecord(witness.name, vkey, added_s))
        store.update_witnesses(quorum=WITNESS_QUORUM)
    return witnesses


def _checkpoint(db: Path, witnesses: list[_Witness], at_s: int) -> CheckpointRecord | None:
    """Sign a checkpoint of the log and have every witness check and cosign it."""
    with AuditStore.open(db) as store:
        if store.log_size() == 0:
            return None
        vkey = store.require_log_info().vkey
    record = checkpoint_log(db).record
    notes = []
    with AuditStore.open(db) as store:

        def proof(old: int, new: int) -> list[bytes]:
            return store.tile_reader(new).consistency_proof(old, new)

        for witness in witnesses:
            result = witness_checkpoint(
                witness.state, record.note, proof, witness.signer, log_vkey=vkey, timestamp=at_s
            )
            witness.state = result.state
            notes.append(result.cosigned_note)
    with AuditStore.open(db, writable=True) as store:
        for note in notes:
            accept_cosignatures(store, note)
    return record


def _load_sanctions_lists(db: Path, data_dir: Path, clock: SimClock) -> dict[str, int]:
    """Load the list files into the database, as an operator does before going live, so
    that the switch screens parties against them; returns entries per list."""
    folder = data_dir / "sanctions"
    sdn, alt, un = folder / OFAC_SDN_FILE, folder / OFAC_ALT_FILE, folder / UN_FILE
    if not sdn.is_file() and not un.is_file():
        return {}
    try:
        loaded = load_lists(
            db,
            ofac_sdn=sdn if sdn.is_file() else None,
            ofac_alt=alt if sdn.is_file() and alt.is_file() else None,
            un=un if un.is_file() else None,
            clock=clock,
        )
    except ComplianceError as error:
        raise SimError("bad_sanctions_file", f"{folder}: {error}") from None
    return {info.list: info.entry_count for info in loaded.lists}


# --- the run ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Stats:
    counts: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, kind: str, outcome: str) -> None:
        self.counts.setdefault(kind, Counter())[outcome] += 1

    def payment(self, kind: str, outcome: Payment | SwitchError | ComplianceError) -> None:
        if isinstance(outcome, Payment):
            self.add(kind, outcome.state.value)
        else:
            self.add(kind, f"refused:{outcome.code}")

    def to_json(self) -> dict[str, dict[str, int]]:
        return {kind: dict(sorted(c.items())) for kind, c in sorted(self.counts.items())}


def _chunks(items: list[PaymentRequest], size: int) -> Iterator[list[PaymentRequest]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Runner:
    def __init__(
        self,
        config: SimConfig,
        plan: Plan,
        switch: Switch,
        clock: SimClock,
        witnesses: list[_Witness],
        fx_pricing: FxPricing,
        progress: ProgressFn | None,
    ) -> None:
        self.config = config
        self.fx_pricing = fx_pricing
        self.plan = plan
        self.switch = switch
        self.clock = clock
        self.witnesses = witnesses
        self.progress = progress
        self.start_ns = plan.size.start_ns
        self.stats = _Stats()
        self.wallet_currency = {n.wallet_id: n.currency for n in NATIONALITIES}
        self.customers = {c.customer_id: c for c in plan.customers}
        self.qr: dict[str, str] = {}
        self.lapses: list[tuple[int, str]] = []
        self.checkpoints: list[CheckpointRecord] = []

    def _at(self, at_s: int) -> None:
        self.clock.advance_to(self.start_ns + at_s * _NS)

    # -- setup --

    def setup(self) -> None:
        switch, directory = self.switch, self.switch.directory
        for nationality in NATIONALITIES:
            directory.register_participant(
                nationality.wallet_id,
                kind="wallet",
                name=nationality.wallet_name,
                country=nationality.country,
                currencies=[nationality.currency],
            )
            switch.liquidity.deposit(
                nationality.wallet_id,
                Money.of(PREFUND_MINOR, nationality.currency),
                reference="sim-prefund",
            )
        codes = sorted({n.currency for n in NATIONALITIES})
        directory.register_participant(
            FX_PROVIDER, kind="fx_provider", name="Tokyo FX", country="JP", currencies=codes
        )
        for code in codes:
            switch.liquidity.deposit(
                FX_PROVIDER, Money.of(PREFUND_MINOR, code), reference=f"sim-prefund-{code}"
            )
        switch.set_fx_pricing(self.fx_pricing)
        for acquirer in ACQUIRERS:
            directory.register_participant(
                acquirer.id,
                kind="acquirer",
                name=acquirer.name,
                country=acquirer.country,
                currencies=[acquirer.currency],
            )
            switch.liquidity.deposit(
                acquirer.id,
                Money.of(ACQUIRER_FLOAT_MINOR, acquirer.currency),
                reference="sim-float",
            )
        total = len(self.plan.merchants) + len(self.plan.customers)
        done = 0
        for merchant in self.plan.merchants:
            self._register_merchant(merchant)
            done += 1
            if self.progress and done % 100 == 0:
                self.progress("setup", done, total)
        for customer in self.plan.customers:
            if customer.registered_at_s is None:
                self._register_customer(customer)
            done += 1
            if self.progress and done % 100 == 0:
                self.progress("setup", done, total)
        if self.progress:
            self.progress("setup", total, total)

    def _register_merchant(self, spec: MerchantSpec) -> None:
        merchant = self.switch.directory.register_merchant(
            spec.merchant_id,
            acquirer_id=spec.acquirer_id,
            name=spec.name,
            name_native=spec.name_native,
            mcc=spec.mcc,
            city=spec.city,
            region=spec.region,
            currency=spec.currency,
        )
        qr = emvqr.MerchantQR(
            merchant_category_code=merchant.mcc,
            transaction_currency=f"{currency(merchant.currency).numeric:03d}",
            country_code=merchant.country,
            merchant_name=merchant.name,
            merchant_city=merchant.city,
            merchant_accounts=emvqr.corridor_account(merchant.id),
            point_of_initiation=emvqr.POINT_OF_INITIATION_STATIC,
            language=emvqr.MerchantLanguage(spec.language, spec.name_native[:25]),
        )
        self.qr[merchant.id] = emvqr.encode(qr)

    def _register_customer(self, spec: CustomerSpec) -> None:
        self.switch.directory.register_customer(
            spec.customer_id,
            wallet_id=spec.wallet_id,
            name_native=spec.name_native,
            name_romanized=spec.name_romanized,
            country=spec.country,
            date_of_birth=spec.date_of_birth,
            kyc_tier=spec.kyc_tier,
        )

    # -- events --

    def run(self) -> None:
        events = self.plan.events
        total = len(events)
        day = 0
        batch: list[Event] = []
        for done, event in enumerate(events, 1):
            while event.at_s >= (day + 1) * DAY_S:
                self._flush(batch)
                self._end_day(day)
                day += 1
            if event.kind == "purchase":
                if batch and (
                    batch[0].at_s // SLOT_S != event.at_s // SLOT_S or len(batch) >= PAY_BATCH_MAX
                ):
                    self._flush(batch)
                batch.append(event)
            else:
                self._flush(batch)
                self._handle(event)
            if self.progress and (done % 200 == 0 or done == total):
                self.progress("days", done, total)
        self._flush(batch)
        while day < self.plan.size.days:
            self._end_day(day)
            day += 1

    def _quote_request(
        self, event: Event, hold_timeout_s: int | None = None
    ) -> PaymentRequest | None:
        try:
            scanned = self.switch.directory.merchant_from_qr(self.qr[event.merchant_id])
            target = Money(event.amount, currency(scanned.merchant.currency))
            quote_ = self.switch.quote(
                provider_id=FX_PROVIDER,
                source_currency=self.wallet_currency[event.wallet_id],
                target=target,
            )
        except (SwitchError, ComplianceError) as error:
            self.stats.add(event.kind, f"refused:{error.code}")
            return None
        request = PaymentRequest(
            event.payment_id,
            event.wallet_id,
            event.customer_id,
            scanned.merchant.id,
            quote_.quote_id,
        )
        if hold_timeout_s is not None:
            request = dataclasses.replace(request, hold_timeout_s=hold_timeout_s)
        return request

    def _flush(self, batch: list[Event]) -> None:
        if not batch:
            return
        self._at(batch[0].at_s)
        requests = [r for r in (self._quote_request(e) for e in batch) if r is not None]
        batch.clear()
        for chunk in _chunks(requests, PAY_BATCH_MAX):
            for outcome in self.switch.payments.pay_many(chunk):
                self.stats.payment("purchase", outcome)

    def _handle(self, event: Event) -> None:
        self._at(event.at_s)
        payments = self.switch.payments
        try:
            if event.kind == "register":
                self._register_customer(self.customers[event.customer_id])
                self.stats.add("register", "registered")
            elif event.kind == "hold":
                request = self._quote_request(event, event.hold_timeout_s)
                if request is None:
                    return
                payment = payments.reserve(
                    request.payment_id,
                    wallet_id=request.wallet_id,
                    customer_id=request.customer_id,
                    merchant_id=request.merchant_id,
                    quote_id=request.quote_id,
                    hold_timeout_s=request.hold_timeout_s,
                )
                self.stats.payment("hold", payment)
                if event.lapses and payment.state is PaymentState.RESERVED:
                    expires_ns = payment.created_ns + payment.hold_timeout_s * _NS
                    self.lapses.append((expires_ns, payment.payment_id))
            elif event.kind == "capture":
                self.stats.payment("capture", payments.commit(event.payment_id))
            elif event.kind == "release":
                self.stats.payment("release", payments.abort(event.payment_id))
            elif event.kind == "refund":
                paid = payments.get(event.payment_id)
                refund = self.switch.refunds.refund(
                    event.refund_id,
                    payment_id=event.payment_id,
                    amount=Money(event.amount, paid.target.currency),
                )
                self.stats.add("refund", refund.state)
            else:
                raise AssertionError(f"unknown event kind {event.kind}")
        except (SwitchError, ComplianceError) as error:
            self.stats.add(event.kind, f"refused:{error.code}")

    def _end_day(self, day: int) -> None:
        end_s = (day + 1) * DAY_S - 1
        self._at(end_s)
        # Expire what is due now, in this call, so that what follows sees the same ledger
        # however fast the ledger's own timer thread runs.
        self.switch.ledger.pulse()
        now = self.clock()
        due = [(at, pid) for at, pid in self.lapses if at <= now]
        self.lapses = [(at, pid) for at, pid in self.lapses if at > now]
        for _, payment_id in due:
            self.stats.payment("lapse", self.switch.payments.sync(payment_id))
        settlement = self.switch.settlement
        window = settlement.close_window()
        try:
            settlement.settle_window(window.window_id)
            self.stats.add("settlement", "settled")
        except SwitchError as error:
            self.stats.add("settlement", f"refused:{error.code}")
        record = _checkpoint(self.config.db, self.witnesses, self.clock() // _NS)
        if record is not None:
            self.checkpoints.append(record)


# --- storing and reporting -------------------------------------------------------------------


def _store_plan(db: Path, plan: Plan, created_ns: int) -> None:
    connection = open_side_connection(db, SIM_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS)
    try:
        with immediate_transaction(connection):
            connection.executemany(
                "INSERT INTO sim_labels (typology, party_id, payment_id, role, detail)"
                " VALUES (?, ?, ?, ?, ?)",
                [(x.typology, x.party_id, x.payment_id, x.role, x.detail) for x in plan.labels],
            )
            start = plan.size.start
            connection.executemany(
                "INSERT INTO sim_trips (wallet_id, customer_id, nationality, start_date, days,"
                " budget_minor, regions) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        t.wallet_id,
                        t.customer_id,
                        t.nationality,
                        (start + dt.timedelta(days=t.start_day)).isoformat(),
                        t.days,
                        t.budget_minor,
                        ",".join(t.regions),
                    )
                    for t in plan.trips
                ],
            )
            size = plan.size
            connection.execute(
                "INSERT INTO sim_runs (seed, tourists, days, start_date, report, created_ns)"
                " VALUES (?, ?, ?, ?, NULL, ?)",
                (size.seed, size.tourists, size.days, size.start.isoformat(), created_ns),
            )
    finally:
        connection.close()


def _store_report(db: Path, report: dict[str, Any]) -> None:
    connection = open_side_connection(db, SIM_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS)
    try:
        with immediate_transaction(connection):
            connection.execute(
                "UPDATE sim_runs SET report = ? WHERE run_id = (SELECT max(run_id) FROM sim_runs)",
                (json.dumps(report, sort_keys=True, ensure_ascii=False),),
            )
    finally:
        connection.close()


def _result_rows(result: ReportResult) -> list[dict[str, Any]]:
    return result.dicts()


def _labels_summary(plan: Plan) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for typology in ("structuring", "mule_fan_in", "pass_through", "sanctioned_party"):
        mine = [x for x in plan.labels if x.typology == typology]
        summary[typology] = {
            "parties": len({x.party_id for x in mine}),
            "pattern_payments": sum(1 for x in mine if x.role == "pattern"),
            "setup_payments": sum(1 for x in mine if x.role == "setup"),
        }
        if typology in plan.typologies_skipped:
            summary[typology]["skipped"] = plan.typologies_skipped[typology]
    return summary


def _report(
    config: SimConfig,
    plan: Plan,
    runner: _Runner,
    fx: _Fx,
    sanctions: dict[str, Any],
    audit: dict[str, Any],
) -> dict[str, Any]:
    connection = sqlite3.connect(
        f"file:{quote(str(config.db.resolve()))}?mode=ro", uri=True, isolation_level=None
    )
    try:
        spend = _result_rows(run_report(connection, "spend_per_trip"))
        by_currency = _result_rows(run_report(connection, "volume_by_currency"))
        corridor_day = run_report(connection, "volume_by_corridor_day")
        prefectures = _result_rows(run_report(connection, "by_prefecture"))
        nets = _result_rows(run_report(connection, "settlement_nets"))
        by_state = _result_rows(run_report(connection, "payments_by_state"))
        detection = score_detection(connection)
        windows = connection.execute(
            "SELECT state, count(*) FROM settlement_windows GROUP BY state ORDER BY state"
        ).fetchall()
    finally:
        connection.close()
    corridors: dict[str, dict[str, Any]] = {}
    for row in corridor_day.dicts():
        entry = corridors.setdefault(
            row["corridor"],
            {
                "source_currency": row["source_currency"],
                "target_currency": row["target_currency"],
                "payments": 0,
                "source_amount": 0,
                "fee_amount": 0,
                "target_amount": 0,
            },
        )
        for key in ("payments", "source_amount", "fee_amount", "target_amount"):
            entry[key] += row[key]
    for entry in corridors.values():
        paid = Money.of(entry["source_amount"] + entry["fee_amount"], entry["source_currency"])
        entry["paid_decimal"] = format_amount(paid)
        received = Money.of(entry["target_amount"], entry["target_currency"])
        entry["received_decimal"] = format_amount(received)
    targets = {n.wallet_id: n.budget_minor_mean for n in NATIONALITIES}
    jp = [p for p in prefectures if p["region"].startswith("JP-")]
    size = plan.size
    return {
        "run": {
            "seed": size.seed,
            "tourists": size.tourists,
            "days": size.days,
            "start": size.start.isoformat(),
            "end": (size.start + dt.timedelta(days=size.days - 1)).isoformat(),
        },
        "fx": fx.info,
        "sanctions_lists": sanctions,
        "parties": {
            "wallets": len(NATIONALITIES),
            "acquirers": len(ACQUIRERS),
            "fx_providers": 1,
            "merchants": len(plan.merchants),
            "customers": len(plan.customers),
            "customers_by_country": dict(
                sorted(Counter(c.country for c in plan.customers).items())
            ),
            "trips": len(plan.trips),
        },
        "events": runner.stats.to_json(),
        "payments_by_state": by_state,
        "volume_by_currency": by_currency,
        "volume_by_corridor": dict(sorted(corridors.items())),
        "spend_per_trip": [
            {**row, "calibration_target": targets.get(row["wallet_id"])} for row in spend
        ],
        "prefectures": {
            "with_merchants": len(jp),
            "with_payments": sum(1 for p in jp if p["payments"] > 0),
            "top": sorted(jp, key=lambda p: (-p["volume"], p["region"]))[:8],
        },
        "settlement": {
            "windows": {state: count for state, count in windows},
            "nets": nets,
        },
        "labels": _labels_summary(plan),
        "detection": detection,
        "audit": audit,
    }


def _audit_summary(
    db: Path, origin: str, key: str, record: CheckpointRecord | None, checkpoints: int
) -> dict[str, Any]:
    with AuditStore.open(db) as store:
        size = store.log_size()
        root = store.tile_reader(size).root(size).hex() if size else None
        summary: dict[str, Any] = {
            "origin": origin,
            "log_key": key,
            "vkey": store.require_log_info().vkey,
            "log_size": size,
            "root_sha256": root,
            "checkpoints": checkpoints,
        }
        if record is not None:
            names, quorum = store.witnessing(record.size)
            summary["checkpoint"] = {
                "size": record.size,
                "root_sha256": record.root.hex(),
                "witnessed": len(names) >= quorum,
                "cosigners": names,
                "quorum": quorum,
                "note": cosigned_note(store, record),
            }
    return summary


COMMITTED_SHARE_MIN: Final = 0.5
"""Below this share of committed payments the run warns: the corridor is not working."""


def _mostly_refused(by_state: list[dict[str, Any]]) -> str | None:
    """A warning when most payments did not commit, naming the commonest refusals."""
    total = sum(int(row["payments"]) for row in by_state)
    committed = sum(int(row["payments"]) for row in by_state if row["state"] == "committed")
    if total == 0 or committed >= COMMITTED_SHARE_MIN * total:
        return None
    codes = sorted(
        ((int(r["payments"]), str(r["error_code"])) for r in by_state if r["error_code"]),
        reverse=True,
    )
    top = ", ".join(f"{code} ({count})" for count, code in codes[:3]) or "no error code"
    return f"only {committed} of {total} payments committed; refusals: {top}"


def simulate(
    config: SimConfig,
    *,
    progress: ProgressFn | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Plan and run the corridor of `config` into its database; returns the report."""
    config.check()
    _check_database(config.db)
    warnings: list[str] = []

    def warned(message: str) -> None:
        warnings.append(message)
        if warn is not None:
            warn(message)

    data_dir = config.data_dir if config.data_dir is not None else default_data_dir()
    fx = _fx(config, data_dir, warned)
    listed, missing = load_listed_people(data_dir)
    if missing:
        warned(missing)
    size = PlanSize(config.seed, config.tourists, config.days, config.start)
    plan = build_plan(size, fx.rate, listed, _threshold_fn(fx.rate))
    clock = SimClock(size.start_ns - SETUP_LEAD_S * _NS)
    origin, key = _init_audit(config.db, config.seed)
    witnesses = _witnesses(config.db, config.seed, clock() // _NS)
    _store_plan(config.db, plan, clock())
    lists_loaded = _load_sanctions_lists(config.db, data_dir, clock)
    with Switch.open(config.db, clock=clock) as switch:
        runner = _Runner(config, plan, switch, clock, witnesses, fx.pricing, progress)
        runner.setup()
        runner.run()
    final = runner.checkpoints[-1] if runner.checkpoints else None
    audit = _audit_summary(config.db, origin, key, final, len(runner.checkpoints))
    sanctions: dict[str, Any] = {"people_available": len(listed), "loaded": lists_loaded}
    if missing:
        sanctions["warning"] = missing
    report = _report(config, plan, runner, fx, sanctions, audit)
    refused = _mostly_refused(report["payments_by_state"])
    if refused:
        warned(refused)
    report["warnings"] = warnings
    _store_report(config.db, report)
    return report
