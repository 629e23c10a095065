"""The child's record and the notices page, headless (AppTest) on the scored world: a search opens the record; a
child held only outside the jurisdiction needs a purpose; a case record is saved, a stale save is refused with
the typed values kept; a moved notice reaches the destination, which acknowledges it; supervisors see overdue
notices; health staff see the record with its health part; the English switch; the unread count in the sidebar.
And the growth reference and points without Streamlit."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app.i18n import literal, t
from kodomo import operational
from kodomo.appdata.access import VIEW_CHILD, VIEW_OTHER_JURISDICTION, load_agencies, load_holdings
from kodomo.appdata.accounts import Account, Session
from kodomo.health.growth import REFERENCE, InvalidGrowthReference, curves_for, growth_points, reference_curves
from kodomo.health.record import Checkup, HealthRecord
from kodomo.operational import CASEWORKER, HEALTH_STAFF, SUPERVISOR, audit_log, audited, notifications
from kodomo.settings import get_settings
from kodomo.sharing.case_records import check_content, own_case_record, save_case_record
from kodomo.sharing.notices import open_missing
from kodomo.sharing.notifications import notify, unread_count
from ml.live_scoring import intake_lines

pytestmark = pytest.mark.slow
APP = Path(__file__).resolve().parent.parent / "app" / "main.py"
CHOSEN = "child_record.person_key"


# --- without Streamlit: the growth reference and the child's points

def test_the_shipped_growth_reference_names_its_source_and_holds_only_valid_values():
    header = REFERENCE.read_text(encoding="utf-8").splitlines()
    assert any("mhlw.go.jp" in line for line in header if line.startswith("#"))
    for point in reference_curves():
        assert point.percentile in (3, 10, 50, 90, 97) and 0 <= point.age_months <= 48 and point.value > 0
    assert curves_for(None, "height_cm") == []


def test_a_wrong_growth_reference_row_is_refused_with_its_line(tmp_path):
    path = tmp_path / "reference.csv"
    path.write_text("# source\nsex,measure,percentile,age_months,value\n1,height_cm,50,0,49.0\n"
                    "1,height_cm,25,1,53.0\n", encoding="utf-8")
    with pytest.raises(InvalidGrowthReference, match="line 4: percentile '25'"):
        reference_curves(path)
    path.write_text("sex,measure,percentile,age_months,value\n2,weight_kg,3,12,7.0\n2,weight_kg,3,12,7.1\n",
                    encoding="utf-8")
    with pytest.raises(InvalidGrowthReference, match="line 3: .* given twice"):
        reference_curves(path)
    path.write_text("sex,measure,percentile,age_months,value\n2,weight_kg,97,12,11.0\n2,weight_kg,3,12,7.0\n",
                    encoding="utf-8")
    assert [(p.percentile, p.value) for p in curves_for("2", "weight_kg", path)] == [(3, 7.0), (97, 11.0)]


def _checkup(kind: str, status: str, age: int | None, height: float | None, weight: float | None) -> Checkup:
    return Checkup("111007", kind, None, status, None, age, height, weight, None, None, None, None, None)


def test_growth_points_are_the_measured_checkups_youngest_first():
    record = HealthRecord("P1", "2021-01", "1", dt.date(2024, 1, 1), (
        _checkup("m18", "attended", 18, 80.1, 10.2), _checkup("m4", "attended", 4, 62.0, None),
        _checkup("y3", "no_show", None, None, None), _checkup("m4", "attended", None, 61.0, 6.5),
        _checkup("y3", "attended", 36, None, None)), ())
    assert [(p.age_months, p.height_cm, p.weight_kg) for p in growth_points(record)] == [
        (4, 62.0, None), (18, 80.1, 10.2)]


# --- pages

@pytest.fixture(scope="module")
def world(scored_world):
    """Two jurisdictions of the world, a child held only in the first (found by the search as a report typed it),
    and a municipality of the second to send a moved notice to."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(scored_world["home"]))
        mp.setenv("KODOMO_ENV", "local")
        settings = get_settings()
        engine = operational.connect(settings)
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            agencies = load_agencies(con)
            child, holders = None, ()
            for agency, report, line in intake_lines(con):
                typed = json.loads(line)["child"]
                key = con.execute("select person_key from marts.intake_features where agency_id = ? and report_id = ?",
                                  [agency, report]).fetchone()
                if key is None:
                    continue
                holders = tuple(h.agency_id for h in load_holdings(con, key[0]))
                if len({agencies[a].jurisdiction for a in holders}) == 1:
                    child = {**typed, "person_key": key[0]}
                    break
            assert child, "a fed intake's child held in one jurisdiction"
    home = agencies[holders[0]]
    other = next(a for a in sorted(agencies.values(), key=lambda a: a.agency_id)
                 if a.agency_type == "municipality" and a.jurisdiction != home.jurisdiction)
    municipality = next((a for a in holders if agencies[a].agency_type == "municipality"), None)
    return {"home": scored_world["home"], "engine": engine, "agencies": agencies, "child": child, "holders": holders,
            "jurisdiction": home.jurisdiction, "destination": other, "municipality": municipality}


@pytest.fixture(autouse=True)
def environment(request, monkeypatch):
    if "world" in request.fixturenames:
        monkeypatch.setenv("KODOMO_HOME", str(request.getfixturevalue("world")["home"]))
        monkeypatch.setenv("KODOMO_ENV", "local")


def _record_page(user, lang) -> None:  # AppTest runs the source alone: no annotation to resolve
    from app.views.child_record import render

    render(lang, user)


def _notices_page(user) -> None:
    from app.views.notices import render

    render("ja", user)


def _record(user: Account, person_key: str, lang: str = "ja") -> AppTest:
    page = AppTest.from_function(_record_page, args=(user, lang), default_timeout=120)
    page.session_state[CHOSEN] = person_key
    return page.run()


def _app(user: Account, lang: str = "ja") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.session_state["signed_in"] = Session.start(user, dt.datetime.now(dt.UTC))
    at.session_state["language"] = lang
    return at.run()


def _button(page: AppTest, label: str, index: int = 0):
    return [b for b in page.button if b.label == label][index]


def _caseworker(world, name: str, agency_id: str | None = None, role: str = CASEWORKER) -> Account:
    return Account(name, f"{name} 試験", agency_id or world["jurisdiction"], role)


def _actions(world, user: Account, action: str) -> list[dict]:
    with world["engine"].connect() as con:
        return [dict(r._mapping) for r in con.execute(select(audit_log).where(
            audit_log.c.user_id == user.user_id, audit_log.c.action == action))]


def test_a_caseworker_searches_a_child_and_opens_the_record(world):
    user = _caseworker(world, "cw.record.search")
    at = _app(user)
    at.switch_page("routes/search.py").run()
    at.text_input(key="search.kana").input(world["child"]["kana"])
    at.text_input(key="search.birth_date").input(world["child"]["birth_date"])
    _button(at, t("search.submit")).click().run()
    assert not at.exception, at.exception
    at.button(key=f"search.open.{world['child']['person_key']}").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == t("record.title")
    assert t("record.holders") in [s.value for s in at.subheader]
    identity = t("record.identity", **{k: literal(world["child"][k]) for k in ("name", "kana", "birth_date")})
    assert at.subheader[0].value == identity  # who the child is, from the records the grant opened
    assert [h.value for h in at.header][:2] == [t("record.case_records"), t("record.timeline")]
    at.run()  # a rerun reads nothing again: one view audited
    assert len(_actions(world, user, VIEW_CHILD)) == 1


def test_a_child_held_only_outside_the_jurisdiction_needs_a_purpose(world):
    outsider = next(a for a in world["agencies"].values()
                    if a.agency_type == "cgc" and a.jurisdiction != world["jurisdiction"])
    user = _caseworker(world, "cw.record.outside", outsider.agency_id)
    page = _record(user, world["child"]["person_key"])
    assert not page.exception and [w.value for w in page.warning] == [t("record.purpose_needed")]
    assert not page.subheader
    page.text_input(key="record.purpose").input("夜間の通告で在宅の状況を確認するため")
    _button(page, t("record.open_with_purpose")).click().run()
    assert not page.exception, page.exception
    assert t("record.holders") in [s.value for s in page.subheader]
    flagged = _actions(world, user, VIEW_OTHER_JURISDICTION)
    assert {row["agency_id"] for row in flagged} == set(world["holders"])
    assert {row["detail"] for row in flagged} == {"夜間の通告で在宅の状況を確認するため"}


def _fill_case_record(page: AppTest, person_key: str, household: str, code: str) -> None:
    key = lambda field: f"record.form.{person_key}.{field}"  # noqa: E731
    page.text_input(key=key("address")).input("川口市本町1-2-3")
    page.text_input(key=key("address_municipality_code")).input(code)
    page.selectbox(key=key("institution0.kind")).set_value("nursery")
    page.text_input(key=key("institution0.name")).input("本町保育園")
    page.text_input(key=key("institution0.contact")).input("048-000-0000")
    page.text_area(key=key("household")).input(household)
    page.text_area(key=key("situation")).input("保護者の就労が不安定。")
    page.text_area(key=key("support_plan")).input("月1回の家庭訪問。")


def test_a_case_record_is_saved_and_a_stale_save_keeps_what_was_typed(world):
    person_key, agency = world["child"]["person_key"], world["holders"][0]
    user = _caseworker(world, "cw.record.case", agency)
    page = _record(user, person_key)
    code = world["municipality"] or next(a.agency_id for a in world["agencies"].values()
                                         if a.agency_type == "municipality")
    _fill_case_record(page, person_key, "母と二人暮らし。", "12345")  # not a municipality code
    _button(page, t("record.save")).click().run()
    assert any(t("record.field.address_municipality_code") in e.value for e in page.error)
    assert own_case_record(world["engine"], user, person_key) is None  # nothing half-saved

    page.text_input(key=f"record.form.{person_key}.address_municipality_code").input(code)
    _button(page, t("record.save")).click().run()
    assert not page.exception, page.exception
    assert t("record.saved", version=1) in [s.value for s in page.success], [e.value for e in page.error]
    assert any("母と二人暮らし" in m.value for m in page.markdown)  # shown in full among the case records
    record = own_case_record(world["engine"], user, person_key)
    with world["engine"].connect() as con:
        told = list(con.execute(select(notifications.c.agency_id).where(
            notifications.c.event_key == f"case_record:{record.id}:v1")).scalars())
    assert sorted(told) == sorted(set(told)) and agency not in told

    # a colleague saves first; this worker's save over version 1 is refused and the typed text stays
    colleague = _caseworker(world, "cw.record.colleague", agency)
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as con:
        save_case_record(world["engine"], con, colleague, person_key,
                         check_content({**_content(record), "household": "祖母が同居を始めた。"}), world["agencies"],
                         expected_version=1)
    page.text_area(key=f"record.form.{person_key}.household").input("母と二人暮らし。父が時々来る。")
    _button(page, t("record.save")).click().run()
    assert not page.exception, page.exception
    [stale] = [e.value for e in page.error]
    assert literal("cw.record.colleague") in stale and "第2版" in stale
    assert page.text_area(key=f"record.form.{person_key}.household").value == "母と二人暮らし。父が時々来る。"
    assert any("祖母が同居を始めた" in m.value for m in page.markdown)  # the newer record is shown to compare
    assert own_case_record(world["engine"], user, person_key).version == 2


def _content(record) -> dict:
    c = record.content
    return {"address": c.address, "address_municipality_code": c.address_municipality_code,
            "institutions": list(c.institutions), "household": c.household, "situation": c.situation,
            "support_plan": c.support_plan, "plan_status": c.plan_status, "worker_id": c.worker_id}


def test_a_moved_notice_reaches_the_destination_which_acknowledges_it(world):
    person_key, destination = world["child"]["person_key"], world["destination"]
    sender = _caseworker(world, "cw.record.sender", world["holders"][0])
    page = _record(sender, person_key)
    page.selectbox(key="record.moved_destination").set_value(destination.agency_id)
    page.text_area(key="record.moved_summary").input("4月に転居。保育所の退所を確認。継続支援をお願いします。")
    _button(page, t("record.send")).click().run()
    assert not page.exception, page.exception
    assert t("record.notice_sent", kind=t("notices.kind.moved"), count=2) in [s.value for s in page.success]

    receiver = _caseworker(world, "cw.record.receiver", destination.agency_id)
    inbox = AppTest.from_function(_notices_page, args=(receiver,), default_timeout=120).run()
    assert not inbox.exception, inbox.exception
    [ack] = [b for b in inbox.button if b.key and b.key.startswith("notices.ack.app:")]
    line = next(m.value for m in inbox.markdown if m.value.startswith("**" + t("notices.kind.moved")))
    assert t("notices.destination", place=literal(destination.name)) in [m.value for m in inbox.markdown]
    assert person_key[:8] in line
    ack.click().run()
    assert not inbox.exception and not inbox.error
    assert not [b for b in inbox.button if b.key == ack.key]
    assert any(literal("cw.record.receiver") in c.value for c in inbox.caption)


def test_a_missing_notice_is_sent_and_a_found_notice_closes_it(world):
    person_key = world["child"]["person_key"]
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as con:
        assert not open_missing(world["engine"], con, person_key)  # the world's child is not missing
    page = _record(_caseworker(world, "cw.record.missing", world["holders"][0]), person_key)
    page.text_area(key="record.missing_summary").input("2日前から登校せず、家庭訪問でも不在。")
    _button(page, t("record.send"), 1).click().run()  # the moved form's button comes first
    assert not page.exception, page.exception
    assert any(s.value.startswith("所在不明の連絡を送りました") for s in page.success), [e.value for e in page.error]
    assert any(w.value.startswith("所在不明の連絡が未解決です") for w in page.warning)
    assert not [e for e in page.expander if e.label == t("record.send_missing")]
    page.text_area(key="record.found_summary").input("祖母宅にいることを確認。")
    _button(page, t("record.send"), 1).click().run()
    assert not page.exception and not page.error
    assert not any(w.value.startswith("所在不明の連絡が未解決です") for w in page.warning)
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as con:
        assert not open_missing(world["engine"], con, person_key)


def test_supervisors_see_notices_unacknowledged_for_more_than_three_days(world):
    cgc = world["jurisdiction"]
    supervisor = AppTest.from_function(_notices_page, args=(_caseworker(world, "sv.notices", cgc, SUPERVISOR),),
                                       default_timeout=120).run()
    assert not supervisor.exception, supervisor.exception
    assert t("notices.tab.escalations") in [tab.label for tab in supervisor.tabs]
    escalated = [m.value for m in supervisor.markdown if "→" in m.value]
    assert escalated, "the alerts feed's old notices are unacknowledged"
    caseworker = AppTest.from_function(_notices_page, args=(_caseworker(world, "cw.notices", cgc),),
                                       default_timeout=120).run()
    assert t("notices.tab.escalations") not in [tab.label for tab in caseworker.tabs]


def test_health_staff_see_the_record_with_its_health_part(world):
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as con:
        [(person_key, municipality)] = con.execute("""
            select person_key, agency_id from marts.child_health_record
            where record_type = 'checkup' and height_cm is not null
                and agency_id in (select agency_id from marts.agencies where agency_type = 'municipality')
            group by all order by count(*) desc, person_key limit 1""").fetchall()
    page = _record(_caseworker(world, "nurse.record", municipality, HEALTH_STAFF), person_key)
    assert not page.exception, page.exception
    assert t("record.health") in [h.value for h in page.header]
    assert {t("health.due_next"), t("record.growth")} <= {s.value for s in page.subheader}
    assert len(page.get("vega_lite_chart")) >= 2  # the growth chart of height and of weight
    assert not [b for b in page.button if b.label == t("record.save")]  # nurses keep no case record


def test_the_record_switches_to_english(world):
    user = _caseworker(world, "cw.record.english")
    at = _app(user, "en")
    at.session_state[CHOSEN] = world["child"]["person_key"]
    at.switch_page("routes/child_record.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == t("record.title", "en") == "Child's record"
    assert t("record.timeline", "en") in [h.value for h in at.header]


def test_the_unread_count_shows_on_every_page(world):
    user = _caseworker(world, "cw.record.unread", world["destination"].agency_id)
    with audited(world["engine"]) as tx:
        notify(tx, person_key=world["child"]["person_key"], change="report", source_agency_id=world["holders"][0],
               event_key=f"test:unread:{user.user_id}", recipients=[user.agency_id])
    count = unread_count(world["engine"], user)
    assert count >= 1
    at = _app(user)
    shown = t("notices.unread", count=count)
    assert shown in [m.value for m in at.sidebar.markdown]
    at.switch_page("routes/notices.py").run()
    assert shown in [m.value for m in at.sidebar.markdown]
    _button(at, t("notices.mark_all_read")).click().run()
    assert t("notices.unread", count=0) in [m.value for m in at.sidebar.markdown]
