"""The supplier catalogue on the real appliance: ``appliance server`` (DuckDB owner, store
queue consumer, webhook threads) with a private Redis; mails go in the way the worker hands
them over (``record_mail`` and ``save_extraction`` messages through Redis), with only the
model's answer written by hand (no vLLM), and the extraction's own reading (preprocess,
normalisation, evidence check) applied to it.

Shown: two mails from one supplier a month apart → one catalogue with both products, the
changed one with two observations and a ``catalogue.changed`` event at a webhook receiver;
the same SKU from a second supplier → one comparison group, prices normalised (EUR per box of
100 against RUB per piece, with the configured rate); a reviewer's split of a wrong match
survives the supplier's next mail; the comparison and product pages in Chromium with hostile
product and supplier names (nothing runs, nothing is fetched).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import urlsplit

import pytest

from appliance.extract.contract import Supplier, normalise_offer
from appliance.extract.evidence import Evidence, check_evidence
from appliance.extract.extractor import preprocess
from appliance.integrations.webhooks import verify_signature
from appliance.jobs.actors import Runtime, connect
from appliance.mail.blobstore import BlobStore
from appliance.mail.intake import ingest
from appliance.messages import ExtractionOutcome
from appliance.settings import Settings, load_settings
from appliance.workflow import reading
from tests.integration import xss_payloads as xss
from tests.integration.browser import Watch, login
from tests.integration.seed import add_user
from tests.integration.services import Appliance, RedisServer, wait_for
from tests.webhooks_support import Receiver

pytestmark = pytest.mark.integration

SECRET = "catalogue-hook-secret"
USER, PASSWORD = "rita", "correct horse battery"
BOX, KOR, EVIL = "anna@boxworks.example", "ivan@korobka.example", "evil@xss.example"
DAY0 = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)
EVIL_PRODUCT = "Gloves <svg onload=window.__xss=1> <img src=x onerror=alert(1)> {{7*7}}"


@dataclass
class Setup:
    app: Appliance
    receiver: Receiver
    settings: Settings
    rt: Runtime
    uid: list[int]


def _raw(sender: str, name: str, text: str, day: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = Address(display_name=name, addr_spec=sender)
    msg["To"] = "purchasing@buyer.example"
    msg["Subject"] = "Price list"
    msg["Date"] = format_datetime(DAY0 + dt.timedelta(days=day))
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[-1])
    msg.set_content(text)
    return msg.as_bytes()


def send_mail(s: Setup, raw: bytes, items: list[dict[str, Any]], supplier: str | None = None
              ) -> int:  # fmt: skip
    """Hand a mail and the model's answer for it to the running server through Redis, as the
    mail and extract actors do; returns the offer id once the server stored it."""
    s.uid[0] += 1
    rec = ingest(raw, BlobStore(s.settings.paths.blob_dir), account="seed", folder="INBOX",
                 uidvalidity=1, uid=str(s.uid[0]))  # fmt: skip
    s.rt.send("record_mail", rec.model_dump(mode="json"))
    parsed = preprocess(raw, s.settings)

    def recorded() -> int | None:
        for m in s.app.get("/api/v1/mails", limit=500)["items"]:
            if m["message_id"] == parsed.message_id:
                return int(m["id"])
        return None

    mail_id = wait_for("the mail recorded", recorded, 60)
    answer = {"items": items, "supplier": {"name": supplier}}
    who = Supplier(name=parsed.from_name, email=parsed.from_addr)
    offer = normalise_offer(answer, language=parsed.language, sender=who)
    offer, dropped = check_evidence(
        offer, Evidence(parsed.subject, f"{parsed.from_name} <{parsed.from_addr}>", parsed.text)
    )
    assert dropped == [], dropped  # every value is in the mail
    out = ExtractionOutcome(
        mail_id=mail_id, sha256=rec.sha256, offer=offer.model_dump(mode="json"), model="hand",
        language=parsed.language, thread=reading.thread_facts(parsed),
        spans=reading.value_spans(offer, parsed.text),
    )  # fmt: skip
    s.rt.send("save_extraction", out.model_dump(mode="json"))
    detail = wait_for("the offer stored", lambda: s.app.get(f"/api/v1/mails/{mail_id}")
                      .get("offer_id"), 60)  # fmt: skip
    return int(detail)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("catalogue")
    redis = RedisServer(work)
    receiver = Receiver(lambda path, delivery, n: 200)
    rates = work / "rates.csv"
    rates.write_text("currency,rate,date\nRUB,0.0105,2026-11-01\n", encoding="utf-8")
    hook = {"name": "erp", "url": receiver.url + "/hook", "events": ["catalogue.changed"],
            "password_env": "HOOK_SECRET", "min_backoff_s": 0.2, "max_backoff_s": 0.5}  # fmt: skip
    registry = [
        {"name": "BoxWorks", "domains": ["boxworks.example"], "auto_questions": False},
        {"name": "Korobka", "domains": ["korobka.example"], "auto_questions": False},
    ]
    app = Appliance(work, {
        "APPLIANCE_REDIS__URL": redis.url, "APPLIANCE_WEBHOOKS": json.dumps([hook]),
        "HOOK_SECRET": SECRET, "APPLIANCE_SUPPLIERS": json.dumps(registry),
        "APPLIANCE_CATALOGUE__RATES_FILE": str(rates),
        "APPLIANCE_CATALOGUE__NAME_SIMILARITY": "0.7",
        "APPLIANCE_DIALOGUE__UNKNOWN_SENDERS": "review",
    })  # fmt: skip
    add_user(app, USER, PASSWORD)
    app.start("server")
    settings = load_settings(env={k: v for k, v in app.env.items() if k.startswith("APPLIANCE")})
    broker, rt = connect(settings)
    try:
        yield Setup(app, receiver, settings, rt, [0])
    finally:
        broker.close()
        app.stop_all()
        receiver.close()
        redis.stop()
        print(f"--- server log (tail) ---\n{app.log('server')[-3000:]}")


GLOVES = {"product_name": "Nitrile gloves M", "sku": "NG-100", "unit": "box of 100",
          "currency": "EUR", "moq": 10, "lead_time_days": 5}  # fmt: skip
TAPE = {"product_name": "Packing tape brown 66 m", "unit": "roll", "unit_price": 2.0,
        "currency": "EUR"}  # fmt: skip
FILM = {"product_name": "Stretch film 23 mic", "unit": "roll", "unit_price": 9.5,
        "currency": "EUR"}  # fmt: skip


def _box_text(price: str, extra: str = "") -> str:
    return (
        "Dear buyer,\n\nour prices:\n"
        f"Nitrile gloves M, art. NG-100: {price} EUR per box of 100, MOQ 10 boxes,"
        " lead time 5 days\n"
        "Packing tape brown 66 m: 2.00 EUR per roll\n" + extra + "\nBest regards\nAnna, BoxWorks\n"
    )


@pytest.fixture(scope="module")
def catalogue(setup: Setup) -> dict[str, int]:
    """The mails of the Must-show scenario, in order; the ids the tests look at."""
    first = send_mail(setup, _raw(BOX, "Anna Berg", _box_text("12.00"), 0),
                      [{**GLOVES, "unit_price": 12.0}, TAPE])  # fmt: skip
    film = "Stretch film 23 mic: 9.50 EUR per roll\n"
    second = send_mail(setup, _raw(BOX, "Anna Berg", _box_text("13.50", film), 30),
                       [{**GLOVES, "unit_price": 13.5}, TAPE, FILM])  # fmt: skip
    ru = ("Добрый день!\nПерчатки нитриловые M, арт. NG 100: 15 руб. за шт\n"
          "С уважением, Иван\n")  # fmt: skip
    korobka = send_mail(setup, _raw(KOR, "Иван", ru, 31), [{
        "product_name": "Перчатки нитриловые M", "sku": "NG 100", "unit": "шт",
        "unit_price": 15.0, "currency": "RUB"}])  # fmt: skip
    evil_text = f"{EVIL_PRODUCT}, SKU NG-100: 0.20 USD per pcs\n"
    evil = send_mail(
        setup, _raw(EVIL, xss.supplier_name(), evil_text, 32),
        [{"product_name": EVIL_PRODUCT, "sku": "NG-100", "unit": "pcs", "unit_price": 0.2,
          "currency": "USD"}],
        supplier=xss.supplier_name(),
    )  # fmt: skip
    return {"first": first, "second": second, "korobka": korobka, "evil": evil}


def _entries(app: Appliance, supplier_id: int) -> dict[str, dict[str, Any]]:
    items = app.get("/api/v1/catalogue", supplier_id=supplier_id, limit=500)["items"]
    return {e["name"]: e for e in items}


def _supplier_of(app: Appliance, offer_id: int) -> int:
    return int(app.get(f"/api/v1/offers/{offer_id}")["supplier_id"])


def test_one_catalogue_across_two_mails_with_history_and_a_webhook(
    setup: Setup, catalogue: dict[str, int]
) -> None:
    app = setup.app
    entries = _entries(app, _supplier_of(app, catalogue["first"]))
    assert sorted(entries) == sorted(
        ["Nitrile gloves M", TAPE["product_name"], FILM["product_name"]]
    )
    gloves = app.get(f"/api/v1/catalogue/{entries['Nitrile gloves M']['id']}")
    assert [(h["unit_price"], h["offer_id"]) for h in gloves["history"]] == [
        (13.5, catalogue["second"]), (12.0, catalogue["first"])]  # fmt: skip
    assert gloves["current"]["unit_price"] == 13.5 and gloves["current"]["moq"] == 10
    assert gloves["history"][0]["observed_at"].startswith("2026-10-31")
    (change,) = gloves["changes"]
    assert change["kinds"] == ["price"] and change["detail"]["price"]["after"] == 13.5
    changes = app.get("/api/v1/changes")["items"]
    assert [c["id"] for c in changes] == [change["id"]]

    def delivered() -> list[Any]:
        return [h for h in setup.receiver.on("/hook")
                if json.loads(h.body)["event"] == "catalogue.changed"]  # fmt: skip

    (hit,) = wait_for("catalogue.changed at the receiver", delivered, 60)
    hd = hit.headers
    assert verify_signature(SECRET, hd["X-Appliance-Timestamp"], hit.body,
                            hd["X-Appliance-Signature"])  # fmt: skip
    body = json.loads(hit.body)
    assert body["change"]["entry_id"] == gloves["id"]
    assert body["change"]["detail"]["price"] == {"before": 12.0, "after": 13.5, "share": 0.125}
    assert body["offer"]["id"] == catalogue["second"]


def test_same_sku_two_suppliers_one_group_prices_normalised(
    setup: Setup, catalogue: dict[str, int]
) -> None:
    app = setup.app
    groups = app.get("/api/v1/products", min_suppliers=2)["items"]
    (group,) = [g for g in groups if g["sku"] == "NG100"]
    assert group["suppliers"] == 3  # BoxWorks, Korobka and the hostile one
    cmp = app.get(f"/api/v1/products/{group['id']}/compare", sort="price")
    rows = {r["supplier"]: r for r in cmp["rows"]}
    box, kor = rows["BoxWorks"], rows["Korobka"]
    assert box["normalised_price"] == pytest.approx(0.135)  # 13.50 EUR / 100 pieces
    assert box["normalised_unit"] == "EUR per piece" and "100 piece" in box["price_unit"]
    assert kor["normalised_price"] == pytest.approx(15 * 0.0105)  # 15 RUB per piece
    assert kor["rate"]["as_of"] == "2026-11-01" and kor["rate"]["rate"] == 0.0105
    assert kor["group_reason"] == "same SKU NG100"
    evil = rows[xss.supplier_name()]
    assert evil["normalised_price"] is None and "no rate USD→EUR" in evil["notes"][0]
    assert [r["supplier"] for r in cmp["rows"]][:2] == ["BoxWorks", "Korobka"]


def test_a_split_of_a_wrong_match_survives_the_next_mail(
    setup: Setup, catalogue: dict[str, int]
) -> None:
    app = setup.app
    white = "Packing tape white 66 m"
    third = send_mail(setup, _raw(BOX, "Anna Berg", f"{white}: 2.10 EUR per roll\n", 40),
                      [{**TAPE, "product_name": white, "unit_price": 2.1}])  # fmt: skip
    brown = _entries(app, _supplier_of(app, third))[TAPE["product_name"]]
    hist = app.get(f"/api/v1/catalogue/{brown['id']}")["history"]
    wrong = next(h for h in hist if h["product_name"] == white)
    assert "close to" in wrong["match_reason"]  # white taken for brown: a wrong match
    r = app.request("POST", f"/api/v1/catalogue/observations/{wrong['id']}/split")
    assert r.status_code == 200, r.text
    split_id = r.json()["entry_id"]
    send_mail(setup, _raw(BOX, "Anna Berg", f"{white}: 2.30 EUR per roll\n", 50),
              [{**TAPE, "product_name": white, "unit_price": 2.3}])  # fmt: skip
    mine = app.get(f"/api/v1/catalogue/{split_id}")
    assert [h["unit_price"] for h in mine["history"]] == [2.3, 2.1]
    assert mine["current"]["unit_price"] == 2.3
    after = app.get(f"/api/v1/catalogue/{brown['id']}")
    assert {h["product_name"] for h in after["history"]} == {TAPE["product_name"]}
    assert after["current"]["unit_price"] == 2.0


def test_exports(setup: Setup, catalogue: dict[str, int]) -> None:
    app = setup.app
    csv = app.request("GET", "/api/v1/export/catalogue", params={"format": "csv"})
    assert csv.status_code == 200 and "Nitrile gloves M" in csv.text
    hist = app.request("GET", "/api/v1/export/catalogue-history", params={"format": "parquet"})
    assert hist.status_code == 200 and hist.content[:4] == b"PAR1"


@pytest.mark.browser
def test_pages_in_chromium_with_hostile_names(
    browser: Any, setup: Setup, catalogue: dict[str, int]
) -> None:
    app = setup.app
    group = next(g for g in app.get("/api/v1/products")["items"] if g["sku"] == "NG100")
    evil_supplier = _supplier_of(app, catalogue["evil"])
    evil_entry = next(iter(_entries(app, evil_supplier).values()))
    gloves = _entries(app, _supplier_of(app, catalogue["first"]))["Nitrile gloves M"]
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    watch = Watch()
    watch.attach(page)
    login(page, app.url, USER, PASSWORD)
    watch.clear()
    paths = [f"/products/{group['id']}", f"/products/{group['id']}?sort=supplier&desc=true",
             f"/catalogue/{evil_entry['id']}", f"/catalogue/{gloves['id']}",
             f"/catalogue?supplier_id={evil_supplier}", "/catalogue?q=%3Csvg", "/products",
             "/changes"]  # fmt: skip
    try:
        for path in paths:
            resp = page.goto(app.url + path)
            assert resp is not None and resp.status == 200, path
            page.wait_for_load_state("load")
            page.wait_for_timeout(200)
            assert page.evaluate(f"typeof window.{xss.MARKER}") == "undefined", path
            assert watch.problems() == [], (path, watch.problems())
        own = urlsplit(app.url).netloc
        foreign = [
            u for u in watch.requests
            if urlsplit(u).scheme not in ("data", "about") and urlsplit(u).netloc != own
        ]  # fmt: skip
        assert foreign == [], foreign
        # The names are shown as text, never as markup or evaluated templates.
        page.goto(f"{app.url}/products/{group['id']}")
        table = page.locator("table#compare tbody").inner_text()
        assert EVIL_PRODUCT in table and xss.supplier_name() in table
        assert page.locator("table#compare svg, table#compare img").count() == 0
        # Keyboard: j moves to the first row, Enter opens that supplier's product page.
        first = page.locator("table#compare tbody tr").first.get_attribute("data-href")
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{first}")
        # The price-history chart is server-rendered SVG: two points for the changed gloves.
        page.goto(f"{app.url}/catalogue/{gloves['id']}")
        assert page.locator("svg.chart circle").count() == 2
        # A buyer's button: move the hostile entry into a group of its own (CSRF, REST API).
        page.goto(f"{app.url}/catalogue/{evil_entry['id']}")
        page.select_option("#group-to", "")
        page.click("#regroup")
        page.wait_for_url("**/products/*")
        assert app.get(f"/api/v1/catalogue/{evil_entry['id']}")["group_source"] == "buyer"
        assert watch.problems() == []
    finally:
        context.close()
