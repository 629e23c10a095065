"""The app's pages per role, driven headless with AppTest on the shared scored world: sign-in, menus, the work
queue, refusals, audit once per opened record, the new-intake form, the review queue, admin pages; and the pure
functions the pages use, without Streamlit."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app.i18n import TEXT, age_text, t
from app.model_info import promotion_reason
from app.navigation import ALL_PAGES, pages_for
from app.presentation import ITEM_GROUPS, disagreement, safety_check
from kodomo import operational
from kodomo.appdata.access import load_agencies
from kodomo.appdata.accounts import Session, account, create_demo_accounts
from kodomo.intake_entries import DISPOSITIONS
from kodomo.operational import ROLES, audit_log
from kodomo.settings import get_settings
from ml.features import assessment_items

pytestmark = pytest.mark.slow
APP = Path(__file__).resolve().parent.parent / "app" / "main.py"


# --- without Streamlit

def test_every_role_has_a_menu_and_every_page_file_exists():
    for role in ROLES:
        assert pages_for(role)
    assert {p.key for p in pages_for("caseworker")["section.intakes"]} == {"queue", "entry", "intake"}
    assert {p.key for pages in pages_for("supervisor").values() for p in pages} == {
        "queue", "entry", "intake", "search", "child_record", "notices", "review", "flags", "linkage_review",
        "statistics"}
    assert [p.key for pages in pages_for("manager").values() for p in pages] == ["statistics"]
    assert all((APP.parent / p.file).is_file() for p in ALL_PAGES)
    with pytest.raises(ValueError, match="role 'guest'"):
        pages_for("guest")


def test_texts_cover_roles_pages_dispositions_and_groups_every_item_once():
    assert TEXT["ja"].keys() == TEXT["en"].keys()
    needed = {f"role.{r}" for r in ROLES} | {p.title_key for p in ALL_PAGES} | {f"disposition.{d}" for d in DISPOSITIONS}
    needed |= {section for r in ROLES for section in pages_for(r)}
    assert needed <= TEXT["ja"].keys()
    grouped = [item for items in ITEM_GROUPS.values() for item in items]
    assert sorted(grouped) == sorted(c.name for c in assessment_items())


def test_ages_are_written_as_staff_write_them():
    assert age_text(14 / 12 + 0.001) == "1歳2か月"
    assert age_text(2 / 12 + 0.001) == "生後2か月"
    assert age_text(0.0) == "生後0か月"
    assert age_text(14 / 12 + 0.001, "en") == "1 y 2 m"


def test_the_safety_check_is_due_48_hours_after_receipt():
    received = dt.datetime(2025, 4, 1, 9, 0)
    check = safety_check(received, None)
    assert check.deadline == dt.datetime(2025, 4, 3, 9, 0)
    assert check.state(dt.datetime(2025, 4, 3, 8, 59)) == "open"
    assert check.state(dt.datetime(2025, 4, 3, 9, 1)) == "overdue"
    assert safety_check(received, pd.Timestamp("2025-04-02")).state(dt.datetime(2026, 1, 1)) == "confirmed"


def test_disagreement_between_the_model_and_the_checklist_is_named():
    assert disagreement(0.6, 0.4, 1) == "disagree_model_high"
    assert disagreement(0.1, 0.4, 3) == "disagree_checklist_high"
    assert disagreement(0.6, 0.4, 2) is None and disagreement(0.1, 0.4, 0) is None


def test_promotion_reasons_read_in_japanese():
    key, values = promotion_reason("ECE 0.0749 ≤ 0.15")
    assert t(key, **values) == "較正誤差（ECE）0.0749 ≤ 上限 0.15"
    key, values = promotion_reason("no champion yet: AUC 0.8035 stands alone")
    assert "0.8035" in t(key, **values) and "AUC" in t(key, **values)
    assert promotion_reason("something else") is None


# --- pages

@pytest.fixture(scope="module")
def world(scored_world):
    """The scored world with one demo account per role (passwords kept for the sign-in tests)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(scored_world["home"]))
        mp.setenv("KODOMO_ENV", "local")
        settings = get_settings()
        engine = operational.connect(settings)
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            agencies = load_agencies(con)
            queue = con.execute("select s.agency_id, s.report_id, f.person_key from ml.intake_scores s "
                                "join marts.intake_features f using (agency_id, report_id)").df()
        demo = {d.account.role: d for d in create_demo_accounts(engine, settings, agencies)}
    return {"home": scored_world["home"], "engine": engine, "agencies": agencies, "demo": demo, "queue": queue}


@pytest.fixture(autouse=True)
def environment(request, monkeypatch):
    if "world" in request.fixturenames:
        monkeypatch.setenv("KODOMO_HOME", str(request.getfixturevalue("world")["home"]))
        monkeypatch.setenv("KODOMO_ENV", "local")


def _app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=180)


def _signed_in(world, role: str) -> AppTest:
    at = _app()
    at.session_state["signed_in"] = Session.start(account(world["engine"], world["demo"][role].account.user_id),
                                                  dt.datetime.now(dt.UTC))
    return at.run()


def _audit(world) -> list[dict]:
    with world["engine"].connect() as con:
        return [dict(r._mapping) for r in con.execute(select(audit_log).order_by(audit_log.c.id))]


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _in_and_out_of_jurisdiction(world, role: str = "caseworker") -> tuple[pd.Series, pd.Series]:
    user = world["demo"][role].account
    home = world["agencies"][user.agency_id].jurisdiction
    queue = world["queue"]
    jurisdiction = queue["agency_id"].map(lambda a: world["agencies"][a].jurisdiction)
    return queue[jurisdiction == home].iloc[0], queue[jurisdiction != home].iloc[0]


def test_sign_in_refuses_a_wrong_password_then_locks_and_says_how_long(world):
    at = _app().run()
    assert not at.exception and "合成データ" in at.warning[0].value
    assert at.title[0].value == t("sign_in_title")
    user = world["demo"]["health_staff"].account.user_id
    for attempt in range(3):
        at.text_input(key="signin.user").input(user)
        at.text_input(key="signin.password").input("wrong-password-123")
        _button(at, t("sign_in")).click().run()
        assert at.error[0].value == t("sign_in_failed")
    assert "秒後にもう一度" in at.warning[-1].value  # the third failure locks the ID
    at.text_input(key="signin.user").input(user)
    at.text_input(key="signin.password").input(world["demo"]["health_staff"].password)
    _button(at, t("sign_in")).click().run()
    assert "秒後にもう一度" in at.warning[-1].value and "signed_in" not in at.session_state  # locked, whatever


def test_sign_in_with_the_right_password_opens_the_roles_menu_and_sign_out_ends_it(world):
    at = _app().run()
    demo = world["demo"]["caseworker"]
    at.text_input(key="signin.user").input(demo.account.user_id)
    at.text_input(key="signin.password").input(demo.password)
    _button(at, t("sign_in")).click().run()
    assert not at.exception and at.title[0].value == t("nav.queue")
    at.sidebar.button(key="sign_out").click().run()
    assert at.title[0].value == t("sign_in_title") and "signed_in" not in at.session_state
    own = [(r["action"], r["role"]) for r in _audit(world) if r["user_id"] == demo.account.user_id]
    assert own[-2:] == [("sign_in", "caseworker"), ("sign_out", "caseworker")]


def test_an_idle_session_expires(world):
    at = _app()
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    at.session_state["signed_in"] = Session.start(account(world["engine"], world["demo"]["caseworker"].account.user_id),
                                                  long_ago)
    at.run()
    assert at.title[0].value == t("sign_in_title") and t("session_expired") in at.info[0].value


def test_production_without_a_secret_refuses_to_start(world, monkeypatch):
    monkeypatch.setenv("KODOMO_ENV", "production")
    monkeypatch.delenv("KODOMO_SECRET", raising=False)
    at = _app().run()
    assert "KODOMO_SECRET" in at.error[0].value and not at.text_input


@pytest.mark.parametrize("role,first_title", [
    ("caseworker", "nav.queue"), ("supervisor", "nav.queue"), ("data_scientist", "model_header"),
    ("admin", "nav.users"), ("manager", "stats.title"), ("health_staff", "health.title"),
    ("family_support", "nav.onestop_inbox")])
def test_each_role_lands_on_its_first_page_with_the_banner(world, role, first_title):
    at = _signed_in(world, role)
    assert not at.exception, at.exception
    assert at.title[0].value == t(first_title) and "合成データ" in at.warning[0].value
    if role == "manager":  # published statistics only: no report number, no name, no child-level column
        shown = {str(c) for d in at.dataframe for c in [*d.value.columns, *d.value.index.names]}
        assert at.dataframe and not shown & {t("col_report"), "person_key", "report_id", "child_name"}


def test_the_queue_lists_only_the_jurisdiction_without_names(world):
    at = _signed_in(world, "caseworker")
    [table] = [d for d in at.dataframe if t("col_report") in d.value.columns]
    shown = table.value
    inside, outside = _in_and_out_of_jurisdiction(world)
    reports = set(shown[t("col_report")])
    assert inside["report_id"] in reports and outside["report_id"] not in reports
    assert not any("person_key" in c or "氏名" in c for c in shown.columns)
    assert shown[t("col_safety_deadline")].notna().all()


def test_opening_an_intake_audits_it_once_however_often_the_page_reruns(world):
    inside, _ = _in_and_out_of_jurisdiction(world)
    at = _signed_in(world, "caseworker")
    before = len(_audit(world))
    at.text_input(key="queue.lookup").input(inside["report_id"])
    _button(at, t("open")).click().run()
    assert not at.exception and at.title[0].value == t("nav.intake")
    assert at.metric[0].label == t("probability")
    at.run()
    at.sidebar.radio(key="language").set_value("en").run()
    at.sidebar.radio(key="language").set_value("ja").run()
    views = [r for r in _audit(world)[before:] if r["action"] == "view_intake"]
    assert [(r["agency_id"], r["report_id"], r["person_key"]) for r in views] == [
        (inside["agency_id"], inside["report_id"], inside["person_key"])]


def test_another_jurisdictions_intake_needs_a_purpose_and_is_flagged(world):
    _, outside = _in_and_out_of_jurisdiction(world)
    at = _signed_in(world, "caseworker")
    before = len(_audit(world))
    at.text_input(key="queue.lookup").input(outside["report_id"])
    _button(at, t("open")).click().run()
    assert at.error[0].value == t("needs_purpose") and not at.metric
    assert _audit(world)[before:] == []
    at.text_input(key="queue.purpose").input("転居前の経過確認のため")
    _button(at, t("open")).click().run()
    assert not at.exception and at.metric
    [flag] = _audit(world)[before:]
    assert (flag["action"], flag["agency_id"], flag["detail"]) == (
        "view_other_jurisdiction", outside["agency_id"], "転居前の経過確認のため")


def _plain(key: str | None) -> str | None:
    """A widget's key without the language a choice widget is keyed in (``app.session.keep_choice``)."""
    return key and key.split("@")[0]


def _fill_entry(at: AppTest, **overrides) -> AppTest:
    values = {"received_date": dt.date.today() - dt.timedelta(days=1), "received_time": dt.time(10, 30),
              "route": "school", "abuse_types": ["physical"], "child_name": "山田 花子", "child_kana": "ヤマダ ハナコ",
              "birth_date": dt.date(2018, 5, 1), "sex": "2", "address_municipality_code": None, **overrides}
    for field, value in values.items():
        key = f"entry.{field}"
        if value is None:
            continue
        widget = next(w for kind in (at.date_input, at.time_input, at.selectbox, at.multiselect, at.text_input,
                                     at.radio) for w in kind if _plain(w.key) == key)
        widget.set_value(value)
    return at.run()


def test_a_new_intake_with_bad_values_says_so_at_each_field_and_saves_nothing(world):
    at = _signed_in(world, "caseworker")
    at.switch_page("routes/entry.py").run()
    assert not at.exception and at.title[0].value == t("nav.entry")
    _fill_entry(at, child_kana="", address_municipality_code="12345")
    before = len(_audit(world))
    _button(at, t("save_intake")).click().run()
    errors = [e.value for e in at.error]
    assert any("child_kana" in e for e in errors) and any("address_municipality_code" in e for e in errors)
    assert any("保存していません" in e for e in errors)
    assert not [r for r in _audit(world)[before:] if r["action"] == "enter_intake"]
    assert at.text_input(key="entry.child_name").value == "山田 花子"  # nothing typed is lost


def test_typed_values_survive_a_language_switch_and_a_page_change(world):
    at = _signed_in(world, "caseworker")
    at.switch_page("routes/entry.py").run()
    at.text_input(key="entry.child_name").input("佐藤 一郎").run()
    next(r for r in at.radio if r.key == "entry.domestic_violence@ja").set_value("yes").run()
    at.sidebar.radio(key="language").set_value("en").run()
    assert at.text_input(key="entry.child_name").value == "佐藤 一郎"
    # a choice is keyed per language, so that the browser shows it chosen after the switch (app/session.keep_choice)
    assert next(r for r in at.radio if r.key == "entry.domestic_violence@en").value == "yes"
    at.switch_page("routes/queue.py").run()
    at.switch_page("routes/entry.py").run()
    assert at.text_input(key="entry.child_name").value == "佐藤 一郎"
    assert next(r for r in at.radio if _plain(r.key) == "entry.domestic_violence").value == "yes"


def test_a_saved_intake_is_scored_with_reasons_and_the_checklist_and_a_decision_against_it_goes_to_review(world):
    demo = world["demo"]["caseworker"].account
    code = next(a for a, agency in world["agencies"].items() if agency.agency_type == "municipality")
    at = _signed_in(world, "caseworker")
    at.switch_page("routes/entry.py").run()
    _fill_entry(at, address_municipality_code=code)
    for item, answer in {"injury_present": "yes", "injury_severity": "severe", "caregiver_threatens_harm": "yes"}.items():
        next(r for r in at.radio if _plain(r.key) == f"entry.{item}").set_value(answer)
    at.run()
    _button(at, t("save_intake")).click().run()
    assert not at.exception, at.exception
    assert at.success and "APP" in at.success[0].value
    assert at.metric and at.metric[0].label == t("probability")
    assert any(t("checklist") == s.value for s in at.subheader)
    assert any(t("reasons") == s.value for s in at.subheader)
    assert any(t("verdict.3") in e.value for e in at.error)  # severe injury: emergency protection, highlighted
    saved = [r for r in _audit(world) if r["action"] == "enter_intake" and r["user_id"] == demo.user_id]
    assert saved
    # Not protecting against the sheet's emergency verdict goes to the supervisor.
    next(r for r in at.radio if _plain(r.key).endswith(".disposition")).set_value("advice_closed")
    next(a for a in at.text_area if a.key.endswith(".rationale")).input("家庭訪問で安全を確認した")
    _button(at, t("submit")).click().run()
    assert not at.exception and t("decision_saved") in at.success[-1].value
    assert any("スーパーバイザー" in w.value for w in at.warning)

    supervisor = _signed_in(world, "supervisor")
    supervisor.switch_page("routes/review.py").run()
    assert not supervisor.exception
    pending = [b for b in supervisor.button if b.label == t("return")]
    assert pending
    _button(supervisor, t("return")).click().run()
    assert any("comment" in e.value for e in supervisor.error)  # a return needs a comment
    supervisor.text_area[0].input("保護者の説明を再確認してください")
    [b for b in supervisor.button if b.label == t("return")][0].click().run()
    assert any(r["action"] == "review_decision" and "returned" in (r["detail"] or "") for r in _audit(world))


def test_the_admin_creates_an_account_and_verifies_the_audit_chain(world):
    at = _signed_in(world, "admin")
    cgc = world["demo"]["caseworker"].account.agency_id
    at.text_input(key="users.new_id").input("cw-new")
    at.text_input(key="users.new_name").input("新任 児童福祉司")
    at.selectbox(key="users.new_agency").select(cgc)
    at.selectbox(key="users.new_role").select("caseworker")
    at.text_input(key="users.new_password").input("short")
    _button(at, t("create")).click().run()
    assert "12" in at.error[0].value and account(world["engine"], "cw-new") is None
    at.text_input(key="users.new_password").input("a-long-enough-password")
    _button(at, t("create")).click().run()
    assert at.success and account(world["engine"], "cw-new").role == "caseworker"
    at.switch_page("routes/audit.py").run()
    _button(at, t("verify_chain")).click().run()
    assert at.success and "改ざんされていません" in at.success[0].value


def test_a_supervisor_sees_openings_from_outside(world):
    at = _signed_in(world, "supervisor")
    at.switch_page("routes/flags.py").run()
    assert not at.exception and at.title[0].value == t("nav.flags")


def test_the_model_page_has_no_developer_commands(world):
    at = _signed_in(world, "data_scientist")
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "kodomo " not in text and "child_risk" not in at.title[0].value
    assert "較正誤差" in text  # the promotion reasons in Japanese
