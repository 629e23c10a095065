"""The app in a real browser: Debian's Chromium (installed by `make test`) driven by Playwright, at 1366×768.

A caseworker signs in, enters an intake, and finds the probability, the reasons and the checklist on the page.
A caseworker finds a child, opens the child's record and sends a moved notice to a municipality of another
jurisdiction; signed in as a caseworker there, the notice is in the inbox and is acknowledged.
"""
from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest

from kodomo.appdata.access import load_agencies
from kodomo.appdata.accounts import Account, create_account
from kodomo.appdata.warehouse import read_only
from kodomo.operational import ADMIN, CASEWORKER, MANAGER, connect
from kodomo.settings import get_settings
from tests.app_server import CHROMIUM, running_app, settled

PASSWORD = "browser-test-password-1"
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def app_server(scored_world, tmp_path_factory):
    """The app of `make app` on a free port, over the scored world, with one caseworker account."""
    home = scored_world["home"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(home))
        mp.setenv("KODOMO_ENV", "local")
        settings = get_settings()
        with read_only(settings.warehouse_path) as con:
            agencies = load_agencies(con)
        cgc = sorted(a.agency_id for a in agencies.values() if a.agency_type == "cgc")[0]
        engine = connect(settings)
        actor = Account("browser-admin", "管理者", cgc, ADMIN)
        user = Account(f"browser-{os.getpid()}", "ブラウザ 試験", cgc, CASEWORKER)
        manager = Account(f"browser-manager-{os.getpid()}", "ブラウザ 管理職", cgc, MANAGER)
        # a caseworker of a municipality in another jurisdiction: where the moved notice goes
        destination = next(a for a in sorted(agencies.values(), key=lambda a: a.agency_id)
                           if a.agency_type == "municipality" and a.jurisdiction != cgc)
        receiver = Account(f"browser-receiver-{os.getpid()}", "ブラウザ 転入先", destination.agency_id, CASEWORKER)
        for made in (user, manager, receiver):
            create_account(engine, settings, actor, made, PASSWORD, agencies)
    log = tmp_path_factory.mktemp("browser") / "streamlit.log"
    with running_app(home, log) as url:
        yield {"url": url, "user": user, "manager": manager, "receiver": receiver, "destination": destination,
               "log": log}


def _an_existing_child(home: Path, agency_id: str) -> dict:
    """The child of one of the agency's fed intakes, as a caseworker would type it (the report's own fields)."""
    from ml.live_scoring import intake_lines

    with read_only(home / "warehouse.duckdb") as con:
        lines = [line for agency, _, line in intake_lines(con) if agency == agency_id]
    return json.loads(lines[0])["child"]


def _sign_in(page, user: Account) -> None:
    from playwright.sync_api import expect

    # The first page after a start waits for the model to load (with a message saying so).
    expect(page.get_by_role("heading", name="サインイン")).to_be_visible(timeout=120_000)
    settled(page)  # after a sign-out, the previous page's fields stay until the rerun ends
    page.get_by_label("利用者ID", exact=True).fill(user.user_id)
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="サインイン").click()


@contextmanager
def _signed_in(app_server, user: Account):
    """A Chromium page at 1366×768, signed in as the user."""
    from playwright.sync_api import expect, sync_playwright

    # A shared CI machine can take seconds to rerun a Streamlit page: assertions wait as long as actions do
    # (Playwright's default is 5 s for an assertion, 30 s for an action).
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(app_server["url"])
            _sign_in(page, user)
            expect(page.locator("[data-testid=stSidebar]").get_by_role("button", name="サインアウト")).to_be_visible()
            settled(page)
            yield page
        finally:
            browser.close()


def test_a_caseworker_enters_an_intake_and_sees_its_assessment(app_server, scored_world):
    from playwright.sync_api import expect

    user = app_server["user"]
    child = _an_existing_child(scored_world["home"], user.agency_id)
    with _signed_in(app_server, user) as page:
        page.get_by_role("link", name="新規受付").click()
        main = page.locator("[data-testid=stMain]")
        expect(main.get_by_role("button", name="保存して評価する")).to_be_visible()
        settled(page)
        # Streamlit's date and time inputs are segmented: typing the digits fills the segments in turn.
        main.get_by_role("spinbutton", name="year, 受理日").click()
        page.keyboard.type("20261128")
        # the calendar may open over the fields below; closing it keeps the typed date
        page.keyboard.press("Escape")
        main.get_by_role("group", name="受理時刻").locator("[role=spinbutton]").first.click()
        page.keyboard.type("1030")
        main.get_by_label("通告経路").first.click()
        page.keyboard.type("警察")
        page.keyboard.press("Enter")
        main.get_by_label("通告された虐待の種類").first.click()
        page.keyboard.type("身体的虐待")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        main.get_by_role("textbox", name="子どもの氏名").fill(child["name"])
        main.get_by_role("textbox", name="ふりがな（カタカナ）").fill(child["kana"])
        main.get_by_role("spinbutton", name="year, 生年月日").click()
        page.keyboard.type(child["birth_date"].replace("-", ""))
        page.keyboard.press("Escape")
        main.get_by_role("radiogroup", name="性別").get_by_text(
            {"1": "男", "2": "女", "9": "不明"}[child["sex"]], exact=True).click()
        main.get_by_role("textbox", name="住所の市町村コード（6桁）").fill(child["address_municipality_code"])
        main.get_by_role("textbox", name="住所の市町村コード（6桁）").press("Tab")
        main.get_by_role("radiogroup", name="外傷がある").get_by_text("はい", exact=True).click()
        main.get_by_role("button", name="保存して評価する").click()

        expect(main.get_by_text("を保存しました")).to_be_visible()
        # the child is found among the agencies' records, for the worker to confirm
        expect(main.get_by_text("記録のある子どもと同一か確認してください")).to_be_visible()
        # the probability, the reasons and the official checklist, as for a fed intake
        expect(main.get_by_text("虐待が確認された再通告または重大な被害（1年以内）の確率")).to_be_visible()
        expect(main.locator("[data-testid=stMetricValue]").first).to_have_text(re.compile(r"^\d{1,3}\.\d%$"))
        expect(main.get_by_text("確率を動かした主な要因")).to_be_visible()
        expect(main.get_by_text("一時保護決定に向けてのアセスメントシート")).to_be_visible()
        expect(main.get_by_text("判定:")).to_be_visible()
        page.screenshot(path=str(app_server["log"].with_name("entered.png")))


def test_a_manager_finds_a_chart_and_a_download_on_the_statistics_page(app_server):
    from playwright.sync_api import expect

    with _signed_in(app_server, app_server["manager"]) as page:
        main = page.locator("[data-testid=stMain]")
        expect(main.get_by_role("heading", name="統計（管理職）")).to_be_visible()
        expect(main.locator("[data-testid=stVegaLiteChart]").first).to_be_visible()
        expect(main.get_by_role("button", name="表示中の表をCSVでダウンロード")).to_be_visible()
        page.screenshot(path=str(app_server["log"].with_name("statistics.png")))


def test_a_moved_notice_sent_from_the_record_is_acknowledged_by_the_destination(app_server, scored_world):
    from playwright.sync_api import expect

    user, receiver, destination = app_server["user"], app_server["receiver"], app_server["destination"]
    child = _an_existing_child(scored_world["home"], user.agency_id)
    summary = f"ブラウザ試験 {os.getpid()}：4月に転居。保育所の退所を確認。継続支援をお願いします。"
    with _signed_in(app_server, user) as page:
        main = page.locator("[data-testid=stMain]")
        page.get_by_role("link", name="子どもの検索").click()
        main.get_by_role("textbox", name="ふりがな").fill(child["kana"])
        main.get_by_role("textbox", name="生年月日（YYYY-MM-DD）").fill(child["birth_date"])
        main.get_by_role("button", name="検索").click()
        expect(main.get_by_role("button", name="記録を開く").first).to_be_visible()
        settled(page)
        main.get_by_role("button", name="記録を開く").first.click()

        expect(main.get_by_role("heading", name="子どもの記録")).to_be_visible()
        expect(main.get_by_role("heading", name="経過（全機関）")).to_be_visible()
        settled(page)
        moved = main.locator("[data-testid=stExpander]").filter(has_text="転居の連絡を送る")
        moved.get_by_text("転居の連絡を送る").click()
        settled(page)  # opening the expander may rerun the page, which would close the list as it opens
        place = f"{destination.name}（{destination.agency_id}）"
        chooser = moved.get_by_role("combobox", name="転居先の市町村")
        for _ in range(3):  # a click that lands on a rerun's redrawn widget opens nothing: click again
            chooser.click()
            try:
                expect(page.get_by_role("option").first).to_be_visible(timeout=10_000)
                break
            except AssertionError:
                settled(page)
        expect(page.get_by_role("option").first).to_be_visible()  # the list is open before it is filtered
        chooser.fill(destination.agency_id)
        expect(page.get_by_role("option", name=place)).to_have_count(1)  # filtered down to the destination
        expect(page.get_by_role("option")).to_have_count(1)
        page.get_by_role("option", name=place).click()  # not Enter: the list may have closed by the time it lands
        expect(chooser).to_have_value(place)
        moved.get_by_role("textbox").fill(summary)
        moved.get_by_role("button", name="送信").click()
        # the sent notice joins the child's notices, with who has not acknowledged it yet
        sent = main.locator("[data-testid=stVerticalBlock]").filter(has_text=summary)
        expect(sent.filter(has_text=f"{destination.name}：未確認").last).to_be_visible()
        page.screenshot(path=str(app_server["log"].with_name("child_record.png")))

        page.locator("[data-testid=stSidebar]").get_by_role("button", name="サインアウト").click()
        _sign_in(page, receiver)
        page.get_by_role("link", name="通知・連絡").click()
        # the innermost block holding the summary: the notice's bordered container
        notice = main.locator("[data-testid=stVerticalBlock]").filter(has_text=summary).last
        expect(notice.get_by_text(f"転居先：{destination.name}")).to_be_visible()
        settled(page)
        notice.get_by_role("button", name="確認しました").click()
        expect(notice.get_by_text(f"{receiver.user_id} さんが確認")).to_be_visible()
        expect(notice.get_by_role("button", name="確認しました")).to_have_count(0)
        page.screenshot(path=str(app_server["log"].with_name("notices.png")))
