"""The one-stop service in a real browser (Debian's Chromium driven by Playwright): a parent on a phone-sized screen
asks one question, hands the conversation to a person with consent and gets a code; the desk's family support
worker signs in and finds the consultation in the inbox."""
from __future__ import annotations

import os

import pytest

from kodomo.appdata.access import load_agencies
from kodomo.appdata.accounts import Account, create_account
from kodomo.appdata.warehouse import read_only
from kodomo.operational import ADMIN, FAMILY_SUPPORT, connect
from kodomo.settings import get_settings
from tests.app_server import CHROMIUM, running_app, settled
from tests.test_browser import VIEWPORT

PASSWORD = "browser-onestop-password-1"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def app_server(scored_world, tmp_path_factory):
    """The app on a free port over the scored world, with a family support account at the first municipality."""
    home = scored_world["home"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(home))
        mp.setenv("KODOMO_ENV", "local")
        settings = get_settings()
        with read_only(settings.warehouse_path) as con:
            agencies = load_agencies(con)
        municipality = min((a for a in agencies.values() if a.agency_type == "municipality"),
                           key=lambda a: a.agency_id)
        engine = connect(settings)
        actor = Account("browser-onestop-admin", "管理者", municipality.agency_id, ADMIN)
        desk = Account(f"browser-desk-{os.getpid()}", "ひとり親 相談員", municipality.agency_id, FAMILY_SUPPORT)
        create_account(engine, settings, actor, desk, PASSWORD, agencies)
    log = tmp_path_factory.mktemp("browser_onestop") / "streamlit.log"
    with running_app(home, log) as url:
        yield {"url": url, "desk": desk, "municipality": municipality, "log": log}


def test_a_parents_question_handed_over_with_consent_reaches_the_desks_inbox(app_server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            phone = browser.new_page(viewport=PHONE)
            phone.goto(app_server["url"])
            phone.get_by_role("link", name="チャットで質問する・担当者に相談する").click()
            main = phone.get_by_role("main")
            expect(main.get_by_text("こんにちは。")).to_be_visible(timeout=30_000)  # the page is ready
            settled(phone)
            question = phone.get_by_placeholder("質問を入力（例：児童扶養手当はいくらもらえる？）")
            question.fill("家賃が高くて払えません。ひとり親で引っ越しも考えています")
            main.get_by_role("button", name="Send message").click()
            expect(main.get_by_role("group", name="Chat message from user")).to_be_visible(timeout=30_000)
            answer = main.get_by_role("group", name="Chat message from assistant").last
            expect(answer).to_contain_text("使った情報：", timeout=30_000)
            settled(phone)
            main.get_by_role("button", name="担当者に相談する").click()
            expect(main.get_by_role("textbox", name="相談したいこと（任意）")).to_be_visible(timeout=30_000)
            settled(phone)
            main.get_by_role("textbox", name="相談したいこと（任意）").fill("夜なら電話に出られます")
            main.get_by_role("combobox", name="お住まいの市区町村").click()
            phone.keyboard.type(app_server["municipality"].name)
            phone.keyboard.press("Enter")
            main.get_by_text("上の内容を窓口に送り、記録することに同意します").click()
            main.get_by_role("button", name="同意して相談を送る").click()
            expect(main.get_by_text("相談を受け付けました")).to_be_visible(timeout=30_000)
            code = main.locator("[data-testid=stCode] code").inner_text().strip()
            assert len(code) == 10
            phone.screenshot(path=str(app_server["log"].with_name("code.png")), full_page=True)

            desk = browser.new_page(viewport=VIEWPORT)
            desk.goto(app_server["url"])
            desk.get_by_label("利用者ID").fill(app_server["desk"].user_id)
            desk.get_by_label("パスワード", exact=True).fill(PASSWORD)
            desk.get_by_role("button", name="サインイン").click()
            inbox = desk.get_by_role("main")
            expect(inbox.get_by_role("heading", name="ひとり親相談の受付箱")).to_be_visible(timeout=30_000)
            settled(desk)
            inbox.get_by_role("button", name="開く").first.click()
            expect(inbox.get_by_text("夜なら電話に出られます").first).to_be_visible(timeout=30_000)
            expect(inbox.get_by_text("家賃が高くて払えません").first).to_be_visible()
            desk.screenshot(path=str(app_server["log"].with_name("inbox.png")), full_page=True)
        finally:
            browser.close()
