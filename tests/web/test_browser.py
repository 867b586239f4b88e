"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright.

`corridor serve` runs as a subprocess on a free loopback port over a copy of the simulated
corridor; each test logs in with a key of some role in a fresh browser context, opens views,
acts, and checks what the page shows against the database. Screenshots go to the directory
in ``CORRIDOR_SCREENSHOTS`` (default: a pytest temporary directory, printed at the end).

Skipped, with the reason, when /usr/bin/chromium or the playwright package is missing
(install: ``apt-get install -y chromium`` and ``.venv/bin/pip install playwright``). No
browser is ever downloaded.
"""

from __future__ import annotations

import csv
import io
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from tests.web.conftest import Keys, copy_db, make_keys, rows, scalar

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEW_TIMEOUT_MS: Final = 20_000

TAMPER_JS: Final = """async (paymentId) => {
  const { verifyReceipt } = await import('/dashboard/static/js/verify.js');
  const key = sessionStorage.getItem('corridor.apiKey');
  const get = async (path) =>
    (await fetch(path, { headers: { Authorization: `Bearer ${key}` } })).json();
  const audit = await get('/v1/dashboard/audit');
  const keys = { logVkey: audit.vkey, origin: audit.origin, quorum: audit.quorum,
                 witnesses: audit.witnesses.map((w) => w.vkey) };
  const item = (await get(`/v1/payments/${paymentId}/receipts`)).receipts[0];
  const receipt = item.receipt;
  const flip = (text, at) =>
    text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
  const last = receipt.leaf.endsWith('0') ? '1' : '0';
  const leaf = { ...receipt, leaf: receipt.leaf.slice(0, -1) + last };
  const proof = { ...receipt, inclusion_proof: receipt.inclusion_proof.slice(1) };
  const note = receipt.checkpoint;
  const at = note.indexOf(' ', note.indexOf('\\n\\u2014 ') + 3) + 40;  // in the log's signature
  const signed = { ...receipt, checkpoint: flip(note, at) };
  const check = async (value, id) => {
    const r = await verifyReceipt(value, keys, id);
    return { ok: r.ok, code: r.code, witnessed: r.witnessed };
  };
  return {
    good: await check(receipt, item.transfer_id),
    leaf: await check(leaf, item.transfer_id),
    proof: await check(proof, item.transfer_id),
    signature: await check(signed, item.transfer_id),
    other: await check(receipt, 'e'.repeat(32)),
    junk: await check({ format: 'nope' }, null),
  };
}"""
"""Run in the page: the receipt of a payment as served, and four ways of changing it."""

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: apt-get install -y chromium (Debian's package)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is missing: .venv/bin/pip install playwright"
)


@dataclass(frozen=True)
class Server:
    base: str
    db: Path
    keys: Keys


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(simulated_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = copy_db(simulated_db, tmp_path_factory.mktemp("web-browser"))
    keys = make_keys(db)
    port = _free_port()
    log = (db.parent / "serve.log").open("wb")
    command = Path(sys.executable).with_name("corridor")
    process = subprocess.Popen(
        [str(command), "serve", "--db", str(db), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise AssertionError((db.parent / "serve.log").read_text())
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("corridor serve did not start in 20 s")
            time.sleep(0.1)
        yield Server(base, db, keys)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = Path(os.environ.get("CORRIDOR_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    print(f"\ndashboard screenshots: {folder}")


class Dashboard:
    """One logged-in tab, with helpers that wait for a view to finish rendering."""

    def __init__(self, page: Any, server: Server, shots: Path) -> None:
        self.page = page
        self.server = server
        self.shots = shots
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def login(self, key: str) -> None:
        self.page.goto(f"{self.server.base}/")
        self.page.fill("#api-key", key)
        self.page.click("#login-form button[type=submit]")
        self.wait(0)

    def render_count(self) -> int:
        return int(self.page.get_attribute("#view", "data-render") or 0)

    def wait(self, after: int) -> None:
        """Wait until a render later than `after` has finished."""
        self.page.wait_for_function(
            "after => { const v = document.getElementById('view');"
            " return Number(v.dataset.render || 0) > after && v.dataset.ready === 'true'; }",
            arg=after,
            timeout=VIEW_TIMEOUT_MS,
        )

    def open(self, hash_: str) -> None:
        before = self.render_count()
        self.page.evaluate("hash => { location.hash = hash; }", hash_)
        self.wait(before)
        assert not self.page.locator("#view > p.error").count(), self.page.inner_text("#view")

    def act(self, action: Any) -> None:
        """Do something that re-renders the view (a button), and wait for the new render."""
        before = self.render_count()
        action()
        self.wait(before)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def dashboard(browser: Any, server: Server, shots: Path) -> Iterator[Dashboard]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(VIEW_TIMEOUT_MS)
    board = Dashboard(page, server, shots)
    yield board
    context.close()
    assert not board.errors, board.errors


# -- login -----------------------------------------------------------------------------------


def test_login_refuses_a_wrong_key_and_keeps_a_good_one_in_the_tab(dashboard: Dashboard) -> None:
    page = dashboard.page
    page.goto(f"{dashboard.server.base}/")
    page.fill("#api-key", "ck_000000000000_" + "x" * 43)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "not an active API key" in page.inner_text("#login-error")
    assert page.evaluate("sessionStorage.length") == 0
    dashboard.login(dashboard.server.keys.operator)
    assert page.is_hidden("#login")
    assert "operator" in page.inner_text("#who-label")
    page.reload()  # the key survives a reload of the tab
    dashboard.wait(0)
    assert page.is_hidden("#login")
    page.click("#logout")
    assert page.is_visible("#login") and page.evaluate("sessionStorage.length") == 0


# -- views -----------------------------------------------------------------------------------


def test_overview_draws_every_chart(dashboard: Dashboard) -> None:
    dashboard.login(dashboard.server.keys.operator)
    dashboard.open("#/overview")
    page = dashboard.page
    committed = scalar(
        dashboard.server.db, "SELECT count(*) FROM payments WHERE state = 'committed'"
    )
    assert page.inner_text("#committed-count").replace(",", "") == str(committed)
    titles = page.locator("#view .panel h2").all_inner_texts()
    for title in (
        "Payments per day by corridor",
        "Average spend per trip",
        "FX volume",
        "Alerts by rule",
        "Volume by merchant category",
    ):
        assert title in titles
        chart = page.locator(".panel", has=page.locator("h2", has_text=title))
        assert chart.locator("svg.chart rect.bar").count() > 0, title
    days = rows(
        dashboard.server.db,
        "SELECT count(DISTINCT date(created_ns / 1000000000 + 32400, 'unixepoch')) FROM payments"
        " WHERE state = 'committed'",
    )[0][0]
    corridor_chart = page.locator(".panel", has=page.locator("h2", has_text="per day"))
    assert (
        corridor_chart.locator("svg.columns text", has_text=re.compile(r"^\d\d-\d\d$")).count()
        == days
    )
    dashboard.shot("overview")


def test_prefecture_view_maps_all_47_and_opens_their_payments(dashboard: Dashboard) -> None:
    dashboard.login(dashboard.server.keys.operator)
    dashboard.open("#/prefectures")
    page = dashboard.page
    assert page.locator("#prefecture-map g.tile-group").count() == 47
    assert page.locator("#view table tbody tr").count() >= 47
    busiest = rows(
        dashboard.server.db,
        "SELECT m.region FROM payments p JOIN merchants m ON m.id = p.merchant_id"
        " WHERE p.state = 'committed' AND m.region LIKE 'JP-%'"
        " GROUP BY m.region ORDER BY sum(p.target_amount) DESC LIMIT 1",
    )[0][0]
    tile = page.locator(f"#prefecture-map g.tile-group[data-code='{busiest}']")
    assert tile.get_attribute("data-step") == "5"
    dashboard.shot("prefectures")
    dashboard.act(lambda: tile.click())
    assert page.get_attribute("#view", "data-view") == "payments"
    regions = page.locator("#view table tbody tr td:nth-child(5)").all_inner_texts()
    assert regions and all(f"({busiest})" in text for text in regions)


def test_payment_search_opens_a_payment_whose_receipts_verify(dashboard: Dashboard) -> None:
    dashboard.login(dashboard.server.keys.auditor)
    dashboard.open("#/payments")
    page = dashboard.page
    page.select_option("#payment-search select[name=state]", "committed")
    dashboard.act(lambda: page.click("#payment-search button[type=submit]"))
    expected = scalar(
        dashboard.server.db, "SELECT count(*) FROM payments WHERE state = 'committed'"
    )
    assert f"of {expected:,} payments" in page.inner_text("#payment-total")
    first = page.locator("#view table tbody tr").first
    payment_id = first.get_attribute("data-id")
    dashboard.shot("payments")
    dashboard.act(lambda: first.click())
    assert page.get_attribute("#view", "data-view") == "payment"
    verdict = page.locator("#receipt-verdict")
    assert verdict.get_attribute("data-ok") == "true", verdict.inner_text()
    assert "checkpoint signed by" in verdict.inner_text()
    legs = scalar(
        dashboard.server.db,
        "SELECT (source_transfer_id IS NOT NULL) + (target_transfer_id IS NOT NULL)"
        " + (fee_transfer_id IS NOT NULL) FROM payments WHERE payment_id = ?",
        (payment_id,),
    )
    badges = page.locator("#view table tbody tr .badge").all_inner_texts()
    assert badges.count("verified") == 2 * int(str(legs))  # in the browser and on the server
    dashboard.shot("payment-receipt")


def test_the_page_fails_a_tampered_receipt_on_its_own(dashboard: Dashboard) -> None:
    """The in-page verifier (WebCrypto) rejects a changed leaf, proof or signature."""
    dashboard.login(dashboard.server.keys.auditor)
    dashboard.open("#/audit")
    payment_id = scalar(
        dashboard.server.db,
        "SELECT payment_id FROM payments WHERE state = 'committed' ORDER BY created_ns",
    )
    results = dashboard.page.evaluate(
        TAMPER_JS,
        payment_id,
    )
    assert results["good"] == {"ok": True, "code": None, "witnessed": True}
    assert results["leaf"]["code"] == "bad_proof"
    assert results["proof"]["code"] == "bad_proof"
    assert results["signature"]["code"] == "bad_signature"
    assert results["other"]["code"] == "receipt_mismatch"
    assert results["junk"]["code"] == "malformed_receipt"


def test_a_case_is_worked_from_the_page(dashboard: Dashboard) -> None:
    """Assign, note, move, refuse the held payments and close with a disposition."""
    server = dashboard.server
    case_id = scalar(
        server.db,
        "SELECT c.case_id FROM cases c JOIN case_holds h ON h.case_id = c.case_id"
        " WHERE h.state = 'pending' AND c.state = 'open' GROUP BY c.case_id"
        " ORDER BY count(*), c.case_id LIMIT 1",
    )
    assert case_id is not None, "the simulated corridor has a case holding payments"
    held = [
        str(r[0])
        for r in rows(
            server.db,
            "SELECT payment_id FROM case_holds WHERE case_id = ? AND state = 'pending'",
            (case_id,),
        )
    ]
    dashboard.login(server.keys.compliance)
    dashboard.open("#/cases")
    page = dashboard.page
    assert page.locator(f"#view tr[data-id='{case_id}']").count() == 1
    dashboard.shot("cases")
    dashboard.open(f"#/case/{case_id}")

    page.fill("#assign-form input[name=assignee]", "officer-tanaka")
    dashboard.act(lambda: page.click("#assign-form button"))
    assert page.inner_text("#case-assignee") == "officer-tanaka"
    assert page.inner_text("#flash") == "Assigned."

    page.fill("#note-form textarea", "Called the wallet: the customer is on a shopping trip.")
    dashboard.act(lambda: page.click("#note-form button"))
    assert "shopping trip" in page.inner_text("#case-notes")

    page.select_option("#transition-form select", "investigating")
    dashboard.act(lambda: page.click("#transition-form button"))
    assert page.inner_text("#case-state") == "investigating"
    assert page.locator("#close-form button").is_disabled()  # holds are pending

    for payment_id in held:
        button = page.locator(f"button[data-action=refuse][data-payment='{payment_id}']")
        assert (
            page.locator(f"button[data-action=release][data-payment='{payment_id}']").count() == 1
        )
        dashboard.act(lambda b=button: b.click())
        assert "refused" in page.inner_text("#flash")
    page.select_option("#close-form select", "false_positive")
    dashboard.act(lambda: page.click("#close-form button"))
    assert page.inner_text("#case-state") == "closed"
    assert page.inner_text("#case-disposition") == "false_positive"
    dashboard.shot("case-closed")

    state, disposition, assignee = rows(
        server.db, "SELECT state, disposition, assignee FROM cases WHERE case_id = ?", (case_id,)
    )[0]
    assert (state, disposition, assignee) == ("closed", "false_positive", "officer-tanaka")
    holds = rows(server.db, "SELECT state FROM case_holds WHERE case_id = ?", (case_id,))
    assert {h[0] for h in holds} == {"refused"}
    for payment_id in held:
        assert scalar(
            server.db, "SELECT state FROM payments WHERE payment_id = ?", (payment_id,)
        ) in (
            "aborted",
            "expired",
        )
    actions = [
        r[0]
        for r in rows(
            server.db,
            "SELECT action FROM case_events WHERE case_id = ? AND actor LIKE 'api:%'"
            " ORDER BY event_id",
            (case_id,),
        )
    ]
    assert actions[:3] == ["assigned", "note_added", "transitioned"]
    assert actions.count("hold_refused") == len(held) and actions[-1] == "closed"


def test_settlement_windows_close_settle_and_download(dashboard: Dashboard) -> None:
    server = dashboard.server
    dashboard.login(server.keys.operator)
    dashboard.open("#/settlement")
    page = dashboard.page
    windows = int(str(scalar(server.db, "SELECT count(*) FROM settlement_windows")))
    assert page.locator("#view table").first.locator("tbody tr").count() == windows
    settled = int(
        str(
            scalar(
                server.db, "SELECT max(window_id) FROM settlement_windows WHERE state = 'settled'"
            )
        )
    )
    dashboard.open(f"#/settlement?window={settled}")
    with page.expect_download() as download_info:
        page.click("#csv-download")
    text = Path(download_info.value.path()).read_text(encoding="utf-8")
    table = list(csv.reader(io.StringIO(text)))
    positions = rows(
        server.db, "SELECT count(*) FROM settlement_positions WHERE window_id = ?", (settled,)
    )[0][0]
    assert len(table) == 1 + positions and "participant_id" in table[0]
    dashboard.shot("settlement")

    dashboard.act(lambda: page.click("#close-window"))
    assert "closed" in page.inner_text("#flash")
    closed = int(
        str(
            scalar(
                server.db, "SELECT max(window_id) FROM settlement_windows WHERE state = 'closed'"
            )
        )
    )
    assert closed == windows
    dashboard.act(lambda: page.click(f"button[data-settle='{closed}']"))
    assert f"Window {closed} settled." == page.inner_text("#flash")
    assert (
        scalar(server.db, "SELECT state FROM settlement_windows WHERE window_id = ?", (closed,))
        == "settled"
    )


def test_audit_view_verifies_the_checkpoint_and_signs_a_new_one(dashboard: Dashboard) -> None:
    server = dashboard.server
    dashboard.login(server.keys.operator)
    dashboard.open("#/audit")
    page = dashboard.page
    verdict = page.locator("#checkpoint-verdict")
    assert verdict.get_attribute("data-ok") == "true", verdict.inner_text()
    assert verdict.get_attribute("data-witnessed") == "true"
    witnesses = [str(r[0]) for r in rows(server.db, "SELECT name FROM witnesses ORDER BY name")]
    for name in witnesses:
        assert page.locator(f"#view tr[data-id='{name}']").count() == 1
    dashboard.shot("audit")
    dashboard.act(lambda: page.click("#sign-checkpoint"))
    assert re.search(r"checkpoint(ed)? (of|at) size \d+", page.inner_text("#flash"))
    latest = scalar(server.db, "SELECT max(size) FROM checkpoints")
    assert latest == httpx.get(f"{server.base}/healthz").json()["log_size"]
    assert page.locator(f"#view tr[data-id='{latest}']").count() == 1


def test_detection_view_shows_the_scores_of_each_typology(dashboard: Dashboard) -> None:
    import sqlite3

    from corridor.sim.scoring import score_detection

    dashboard.login(dashboard.server.keys.compliance)
    dashboard.open("#/detection")
    with sqlite3.connect(f"file:{dashboard.server.db}?mode=ro", uri=True) as connection:
        scores = score_detection(connection)
    page = dashboard.page
    for typology, entry in scores["typologies"].items():
        row = page.locator(f"#view tr[data-id='{typology}']")
        assert row.count() == 1
        recall = entry["payment_recall"]
        expected = "–" if recall is None else f"{recall * 100:.1f}%"
        assert row.locator("td").nth(4).inner_text() == expected
    assert page.locator("svg.bars rect.bar").count() >= 2 * len(scores["typologies"])
    dashboard.shot("detection")


# -- roles -----------------------------------------------------------------------------------


def test_a_participant_sees_only_its_own_views_and_data(dashboard: Dashboard) -> None:
    keys = dashboard.server.keys
    dashboard.login(keys.participant)
    page = dashboard.page
    assert page.locator("#nav a").all_inner_texts() == [
        "Overview",
        "Prefectures",
        "Payments",
        "Settlement",
        "Audit",
    ]
    dashboard.open("#/payments")
    wallets = page.locator("#view table tbody tr td:nth-child(4)").all_inner_texts()
    assert wallets and all(w.startswith(f"{keys.participant_id} /") for w in wallets)
    dashboard.shot("participant-payments")
    window = scalar(
        dashboard.server.db,
        "SELECT max(window_id) FROM settlement_positions WHERE participant_id = ?",
        (keys.participant_id,),
    )
    dashboard.open(f"#/settlement?window={window}")
    assert page.locator("#close-window").count() == 0
    participants = (
        page.locator("#view table").nth(1).locator("tbody tr td:first-child").all_inner_texts()
    )
    assert participants and set(participants) == {keys.participant_id}
    dashboard.open("#/audit")
    assert page.locator("#sign-checkpoint").count() == 0
    before = dashboard.render_count()
    page.evaluate("location.hash = '#/cases'")
    dashboard.wait(before)
    assert "cannot open Cases" in page.inner_text("#view")


def test_an_auditor_reads_cases_but_cannot_work_them(dashboard: Dashboard) -> None:
    dashboard.login(dashboard.server.keys.auditor)
    case_id = scalar(dashboard.server.db, "SELECT min(case_id) FROM cases")
    dashboard.open(f"#/case/{case_id}")
    page = dashboard.page
    assert page.locator("#assign-form, #note-form, #close-form, button[data-action]").count() == 0
    assert "cannot work them" in page.inner_text("#view")
    dashboard.open("#/settlement")
    assert page.locator("#close-window, button[data-settle]").count() == 0
