"""The one-stop pages driven headless with AppTest: the parents' navigator, chatbot and code page (no sign-in,
nothing stored without consent) and the desk's inbox for family support staff. A fresh store per test; no
warehouse (the parents type their municipality's code), except where the sign-in page is checked."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from app.i18n import TEXT, t
from app.navigation import ALL_PAGES, ONESTOP_INBOX, PARENT_PAGES, pages_for
from kodomo.appdata.access import AccessDenied
from kodomo.appdata.accounts import Account, Session
from kodomo.onestop.chatbot import ask
from kodomo.onestop.consultations import (CODE_LENGTH, consultation_for_staff, inbox, open_consultation,
                                          staff_reply, record_action)
from kodomo.onestop.handover import Turn, departments_for, suggested_programmes, summary
from kodomo.operational import (CASEWORKER, FAMILY_SUPPORT, ROLES, audit_log, connect, consultation_messages,
                                consultations)
from kodomo.settings import get_settings

APP = Path(__file__).resolve().parent.parent / "app" / "main.py"
SAITAMA, CHIYODA = "111007", "131016"
DESK = Account("fs-desk", "窓口 担当", SAITAMA, FAMILY_SUPPORT)
OTHER_CITY = Account("fs-other", "千代田 担当", CHIYODA, FAMILY_SUPPORT)
CASEWORKER_HERE = Account("w-here", "児相 担当", SAITAMA, CASEWORKER)
CODE_PATTERN = re.compile(r"\b[2-9A-HJKMNP-Z]{%d}\b" % CODE_LENGTH)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_ENV", "local")
    settings = get_settings()
    engine = connect(settings)
    yield {"engine": engine, "settings": settings}
    engine.dispose()


def _count(engine, table) -> int:
    with engine.connect() as con:
        return con.scalar(select(func.count()).select_from(table))


def _actions(engine) -> list[tuple[str, str]]:
    with engine.connect() as con:
        return [tuple(r) for r in con.execute(select(audit_log.c.user_id, audit_log.c.action).order_by(audit_log.c.id))]


def _page(path: str | None = None, signed_in: Account | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if signed_in is not None:
        at.session_state["signed_in"] = Session.start(signed_in, dt.datetime.now(dt.UTC))
    at.run()
    if path is not None:
        at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _texts(at: AppTest) -> str:
    """Everything written on the page, in one string."""
    parts = [e.value for kind in ("markdown", "caption", "info", "error", "warning", "success", "code", "text")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def _ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


# --- without Streamlit

def test_the_menus_offer_the_desk_its_inbox_and_the_parents_pages_to_no_role():
    assert [p for pages in pages_for(FAMILY_SUPPORT).values() for p in pages] == [ONESTOP_INBOX]
    for role in ROLES:
        offered = {p for pages in pages_for(role).values() for p in pages}
        assert not offered & set(PARENT_PAGES)
        assert (ONESTOP_INBOX in offered) == (role == FAMILY_SUPPORT)
    onestop_pages = {p for p in PARENT_PAGES if p.key.startswith("onestop_")}
    assert len(onestop_pages) == 3
    assert {p.title_key for p in ALL_PAGES} | {f"onestop.link.{p.key}" for p in onestop_pages} <= TEXT["en"].keys()


def test_a_hand_over_summarises_the_questions_and_routes_to_the_desk_and_the_programmes_departments():
    turns = [Turn("家賃が払えない", "jutaku_shien_kashitsuke"), Turn("手当はいくら", "jido_fuyo_teate"),
             Turn("税金のこと", None), Turn("たたかれている", "emergency")]
    assert suggested_programmes(turns) == ("jido_fuyo_teate", "jutaku_shien_kashitsuke")
    assert departments_for(suggested_programmes(turns)) == ("child_rearing", "housing")
    assert departments_for([]) == ("child_rearing",)
    text = summary(turns, "夜に電話がほしい")
    assert text.splitlines() == ["夜に電話がほしい", "チャットでの質問（4件）：", "・家賃が払えない（ひとり親家庭住宅支援資金貸付）",
                                 "・手当はいくら（児童扶養手当）", "・税金のこと（回答なし）", "・たたかれている（緊急の案内）"]
    assert summary([], "  ") == ""
    assert "最後の20件" in summary([Turn(f"質問{i}", None) for i in range(25)], "")


# --- the sign-in page: the way in for parents

def test_the_sign_in_page_shows_parents_the_way_in_without_any_staff_page(store):
    at = _page()
    assert at.title[0].value == t("sign_in_title")
    assert at.subheader[0].value == "保護者の方へ"
    assert [link.label for link in at.get("page_link")][:3] == [
        t(f"onestop.link.{page}") for page in ("onestop_navigator", "onestop_chat", "onestop_code")]
    # Signed out, only the sign-in page and the parents' pages exist: no staff page can be reached.
    with pytest.raises(ValueError, match="Could not find a navigation page") as refused:
        at.switch_page(ONESTOP_INBOX.file)
    known = {Path(page).relative_to(APP.parent).as_posix()
             for page in re.findall(r"'([^']+)'", str(refused.value).split("Known pages:")[1])}
    assert known == {"routes/signin.py"} | {p.file for p in PARENT_PAGES}
    assert not known & {p.file for role in ROLES for pages in pages_for(role).values() for p in pages}


# --- the navigator

def _fill_navigator(at: AppTest, birth: dt.date, income: int, municipality: str = SAITAMA) -> AppTest:
    at.date_input(key="onestop.nav.as_of").set_value(dt.date(2025, 6, 1))
    at.selectbox(key="onestop.nav.reason").set_value("divorced")
    at.date_input(key="onestop.nav.birth.1").set_value(birth)
    at.radio(key="onestop.nav.income_kind").set_value("shotoku")
    at.number_input(key="onestop.nav.income").set_value(income)
    at.selectbox(key="onestop.nav.housing").set_value("renting")
    at.text_input(key="onestop.nav.municipality").input(municipality)
    return at


def test_the_navigator_lists_likely_programmes_with_amount_why_what_to_bring_window_and_rules(store):
    at = _page("routes/onestop_navigator.py")
    assert at.title[0].value == "支援制度ナビ"
    _fill_navigator(at, dt.date(2019, 5, 10), 1_000_000)
    _button(at, "使えそうな制度を調べる").click().run()
    assert not at.exception and not at.error
    shown = _texts(at)
    # 所得額 under the full-amount limit for one dependant: the full amount of June 2025, said as likely.
    assert "**児童扶養手当** — 対象になる見込み" in shown and "見込み月額：**46,690円**（目安）" in shown
    assert "持ち物：" in shown and "窓口：" in shown and "これは見込みで" in shown
    assert "2025-06分として、制度の規則 2025-04（2025-04-01〜2026-03-31）で計算しました。" in shown
    assert "ひとり親家庭住宅支援資金貸付" in shown and "出典：" in shown
    assert not at.warning[1:]  # confirmed rules: no "not confirmed" warning beside the synthetic-data banner
    assert _count(store["engine"], audit_log) == 0  # nothing typed is stored


def test_the_navigator_says_what_is_missing_and_when_figures_are_not_confirmed(store):
    at = _page("routes/onestop_navigator.py")
    _button(at, "使えそうな制度を調べる").click().run()
    assert "1人目のお子さんの生年月日" in at.error[0].value and "お住まいの市区町村" in at.error[0].value
    _fill_navigator(at, dt.date(2019, 5, 10), 1_000_000, municipality="123456")
    _button(at, "使えそうな制度を調べる").click().run()
    assert "municipality_code" in at.error[0].value  # a bad check digit, named
    _fill_navigator(at, dt.date(2019, 5, 10), 1_000_000)
    at.date_input(key="onestop.nav.as_of").set_value(dt.date(2026, 6, 1))
    _button(at, "使えそうな制度を調べる").click().run()
    assert "まだ公式に確認できていません" in at.warning[-1].value


# --- the chatbot

def test_the_chatbot_answers_from_the_knowledge_base_naming_programme_and_source_and_offers_the_navigator(store):
    at = _page("routes/onestop_chat.py")
    _ask(at, "児童扶養手当っていくらもらえるの？")
    answer = at.chat_message[-1]
    assert answer.name == "assistant"
    assert "児童扶養手当" in answer.markdown[0].value and "出典" in answer.markdown[0].value
    [source] = ask("児童扶養手当っていくらもらえるの？").sources
    # the source is a link that ends where the URL ends, not one that runs on into the Japanese after it
    assert f"]({source})、" in answer.markdown[0].value
    assert answer.caption[0].value.startswith("使った情報：児童扶養手当（出典 [") and f"]({source})）" in answer.caption[0].value
    assert "支援制度ナビ" in answer.markdown[0].value  # an amount was asked: the navigator is offered
    assert _count(store["engine"], audit_log) == 0 and _count(store["engine"], consultations) == 0


def test_danger_gets_the_emergency_answer_first_and_no_programme(store):
    at = _page("routes/onestop_chat.py")
    _ask(at, "元夫に殴られた。子どもも叩かれてる")
    answer = at.chat_message[-1]
    assert "189" in answer.error[0].value and "110" in answer.error[0].value and "#8008" in answer.error[0].value
    assert not answer.markdown and not answer.caption  # nothing after it, no programme


def test_a_question_outside_the_knowledge_base_gets_the_window_and_its_hours(store):
    at = _page("routes/onestop_chat.py")
    _ask(at, "車検の費用を安くする方法は？")
    answer = at.chat_message[-1]
    assert "お答えできません" in answer.info[0].value and "受付は平日" in answer.info[0].value
    assert not answer.markdown


def test_nothing_is_stored_without_consent_and_with_it_the_parent_gets_a_code(store):
    engine = store["engine"]
    at = _page("routes/onestop_chat.py")
    _ask(at, "家賃が払えなくて困っています。ひとり親です")
    _button(at, "担当者に相談する").click().run()
    at.text_area(key="onestop.chat.note").input("夜なら電話に出られます 090-0000-0000")
    at.text_input(key="onestop.chat.municipality").input(SAITAMA)
    _button(at, "同意して相談を送る").click().run()  # consent not ticked
    assert "同意がないため、何も送っていません" in at.error[0].value
    assert [_count(engine, table) for table in (consultations, consultation_messages, audit_log)] == [0, 0, 0]

    at.checkbox(key="onestop.chat.consent").check()
    _button(at, "同意して相談を送る").click().run()
    assert not at.exception and not at.error
    [code] = [c.value for c in at.code]
    assert CODE_PATTERN.fullmatch(code)
    [item] = inbox(engine, DESK)
    record = consultation_for_staff(engine, DESK, item.id)
    assert record.needs.startswith("夜なら電話に出られます") and "・家賃が払えなくて困っています。ひとり親です" in record.needs
    assert record.departments[0] == "child_rearing" and record.contact == "in_app"
    # The code page opens the new thread at once, without typing the code.
    at.switch_page("routes/onestop_code.py").run()
    assert f"相談番号 {item.id}" in at.caption[0].value


# --- the code page

def _consultation(engine, settings, needs: str) -> tuple[int, str]:
    return open_consultation(engine, settings, True, SAITAMA, needs, ["jido_fuyo_teate"], "in_app", ["child_rearing"])


def _enter(at: AppTest, code: str) -> AppTest:
    at.text_input(key="onestop.code.typed").input(code)
    _button(at, "開く").click().run()
    assert not at.exception, at.exception
    return at


def test_a_code_opens_its_own_thread_where_the_parent_reads_replies_and_writes_back(store):
    engine, settings = store["engine"], store["settings"]
    mine, code = _consultation(engine, settings, "保育園に入りたい")
    other, _ = _consultation(engine, settings, "別の家族の相談")
    staff_reply(engine, DESK, mine, "child_rearing", "入園の申込みは毎月10日までです")
    staff_reply(engine, DESK, other, "child_rearing", "別の家族への返事")
    record_action(engine, DESK, mine, "child_rearing", "内部メモ：保育課に連絡済み")

    at = _enter(_page("routes/onestop_code.py"), f"{code[:5].lower()}-{code[5:].lower()}")
    shown = _texts(at)
    assert f"相談番号 {mine}" in shown and "入園の申込みは毎月10日までです" in shown
    assert "別の家族" not in shown and "内部メモ" not in shown  # not another thread, nor the desk's records
    at.text_area(key="onestop.code.reply").input("4月から入りたいです")
    _button(at, "送る").click().run()
    assert [e.text for e in consultation_for_staff(engine, DESK, mine).thread][-1] == "4月から入りたいです"
    assert "4月から入りたいです" in _texts(at)
    _button(at, "閉じる（コードを忘れる）").click().run()
    assert at.text_input(key="onestop.code.typed").value == "" and "入園" not in _texts(at)


def test_wrong_codes_are_refused_audited_and_lock_the_session_for_growing_waits(store):
    engine, settings = store["engine"], store["settings"]
    _, code = _consultation(engine, settings, "保育園に入りたい")
    at = _page("routes/onestop_code.py")
    for attempt in range(1, 4):
        _enter(at, "2222233333")
        assert at.error[0].value == "コードが違うか、期限が切れています。"
        assert bool(at.warning[1:]) == (attempt == 3)
    assert "30秒後にもう一度" in at.warning[-1].value
    _enter(at, code)  # the right code, but the session is locked: not even looked up
    assert "秒後にもう一度" in at.warning[-1].value and not at.error and "相談番号" not in _texts(at)
    assert _actions(engine)[1:] == [("parent", "wrong_consultation_code")] * 3 + [
        ("parent", "consultation_code_locked")]
    # After the wait, a wrong code locks for twice as long.
    attempts = at.session_state["onestop.code.attempts"]
    at.session_state["onestop.code.attempts"] = type(attempts)(attempts.failures, dt.datetime.now(dt.UTC))
    _enter(at, "2222244444")
    assert "60秒後にもう一度" in at.warning[-1].value


# --- the desk's inbox

def test_the_desk_opens_one_thread_replies_and_records_and_other_departments_see_the_history(store):
    engine, settings = store["engine"], store["settings"]
    consultation_id, code = open_consultation(engine, settings, True, SAITAMA, "家賃が払えない",
                                              ["jutaku_shien_kashitsuke"], "in_app", ["child_rearing", "housing"])
    open_consultation(engine, settings, True, CHIYODA, "他の市の相談", [], "phone", ["housing"])
    at = _page(signed_in=DESK)
    assert at.title[0].value == "ひとり親相談の受付箱"
    assert at.subheader[0].value == "相談一覧（1件）"  # its municipality's only
    at.selectbox(key="onestop.inbox.department").set_value("housing").run()
    _button(at, "開く").click().run()
    assert "家賃が払えない" in _texts(at)
    at.text_area(key=f"onestop.inbox.reply.{consultation_id}").input("住宅支援資金貸付のご案内です")
    _button(at, "返信する").click().run()
    at.text_area(key=f"onestop.inbox.action.{consultation_id}").input("申請書を郵送した")
    _button(at, "対応を記録する").click().run()
    assert not at.exception and not at.error
    # Another department (child-rearing support) sees the whole history; the parent only the reply.
    at = _page(signed_in=Account("fs-child", "子育て 担当", SAITAMA, FAMILY_SUPPORT))
    _button(at, "開く").click().run()
    shown = _texts(at)
    assert "住宅 · メッセージ" in shown and "住宅 · 対応記録（保護者には非表示）" in shown and "申請書を郵送した" in shown
    parent = _enter(_page("routes/onestop_code.py"), code)
    assert "住宅支援資金貸付のご案内です" in _texts(parent) and "申請書を郵送した" not in _texts(parent)
    assert ("fs-desk", "reply_consultation") in _actions(engine)
    assert ("fs-desk", "record_consultation_action") in _actions(engine)


def test_other_roles_get_no_inbox_and_are_refused_at_the_data_layer(store):
    engine, settings = store["engine"], store["settings"]
    consultation_id, _ = _consultation(engine, settings, "保育園に入りたい")
    at = _page(signed_in=CASEWORKER_HERE)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(ONESTOP_INBOX.file)
    with pytest.raises(AccessDenied, match="role caseworker may not"):
        inbox(engine, CASEWORKER_HERE)
    with pytest.raises(AccessDenied, match="role caseworker may not"):
        consultation_for_staff(engine, CASEWORKER_HERE, consultation_id)
    assert inbox(engine, OTHER_CITY) == []
    with pytest.raises(AccessDenied, match="not held by agency 131016"):
        consultation_for_staff(engine, OTHER_CITY, consultation_id)
