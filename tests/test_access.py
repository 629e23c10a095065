"""Jurisdiction, enforced in the data layer with plain fixtures: saitama (111007) and its CGC (C1101) share their
children's records; Tokyo's CGC (C1301) and Chiyoda (131016) are another jurisdiction."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from sqlalchemy import select

from kodomo.appdata.access import (SEARCH_CHILD, VIEW_CHILD, VIEW_FLAGS, VIEW_OTHER_JURISDICTION, AccessDenied,
                                   Holding, agencies_from, decide, flags_for, known_anywhere, load_agencies,
                                   load_holdings, open_child, open_intake)
from kodomo.appdata.accounts import Account
from kodomo.intake_entries import (CONFIRM_CHILD, ENTER_INTAKE, REVIEW_DECISION, UPDATE_INTAKE, VIEW_REVIEW_QUEUE,
                                   confirm_child, enter_intake, entered_intakes, record_decision, review,
                                   review_queue, stored_intake, update_intake)
from kodomo.operational import (ADMIN, CASEWORKER, DATA_SCIENTIST, FAMILY_SUPPORT, HEALTH_STAFF, MANAGER,
                                RECORD_DECISION, SUPERVISOR, VIEW_INTAKE, WorkerDecision, audit_log, connect,
                                decisions_for, verify)
from kodomo.settings import get_settings
from tests.conftest import AGENCIES
from tests.test_intake_entries import _entry

AGENCY_MAP = agencies_from(AGENCIES)
SAITAMA_WORKER = Account("w-saitama", "埼玉 一郎", "111007", CASEWORKER)
CGC_WORKER = Account("w-cgc", "中央 二郎", "C1101", CASEWORKER)
TOKYO_WORKER = Account("w-tokyo", "東京 三郎", "C1301", CASEWORKER)
SAITAMA_SUPERVISOR = Account("s-saitama", "埼玉 監督", "111007", SUPERVISOR)
CHIYODA_SUPERVISOR = Account("s-chiyoda", "千代田 監督", "131016", SUPERVISOR)
SINCE = dt.datetime(2021, 4, 1, 10, 0)
HELD_IN_SAITAMA = (Holding("111007", SINCE),)
HELD_IN_BOTH = (Holding("131016", dt.datetime(2022, 1, 5)), Holding("111007", SINCE))
NOT_FOR_CHILDREN = [Account("m", "管理", "C1101", MANAGER), Account("d", "分析", "C1101", DATA_SCIENTIST),
                    Account("a", "管理者", "C1101", ADMIN)]


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_ENV", "local")
    engine = connect(get_settings())
    yield engine
    engine.dispose()


def _audit(engine) -> list[tuple]:
    with engine.connect() as con:
        return [(r.user_id, r.action, r.agency_id, r.report_id, r.person_key, r.detail)
                for r in con.execute(select(audit_log).order_by(audit_log.c.id))]


@pytest.mark.parametrize("user", [SAITAMA_WORKER, CGC_WORKER, Account("h", "保健師", "111007", HEALTH_STAFF),
                                  Account("f", "相談員", "C1101", FAMILY_SUPPORT)])
def test_a_jurisdiction_sees_in_full_what_its_agencies_hold(engine, user):
    grant = open_child(engine, user, "P1", HELD_IN_SAITAMA, AGENCY_MAP)
    assert (grant.agencies, grant.purpose, grant.flagged) == (("111007",), None, ())
    assert _audit(engine) == [(user.user_id, VIEW_CHILD, user.agency_id, None, "P1", "111007")]


def test_another_jurisdictions_child_is_refused_without_a_purpose_and_nothing_is_logged(engine):
    for purpose in (None, "   "):
        with pytest.raises(AccessDenied, match="held only outside your jurisdiction \\(111007\\): state a purpose"):
            open_child(engine, TOKYO_WORKER, "P1", HELD_IN_SAITAMA, AGENCY_MAP, purpose)
        with pytest.raises(AccessDenied, match="intake 111007/R001 is outside your jurisdiction"):
            open_intake(engine, TOKYO_WORKER, "111007", "R001", "P1", AGENCY_MAP, purpose)
    assert _audit(engine) == []


def test_a_stated_purpose_opens_it_and_flags_it_for_the_holding_agencys_supervisor(engine):
    grant = open_child(engine, TOKYO_WORKER, "P1", HELD_IN_SAITAMA, AGENCY_MAP, " 転居前の経過確認 ")
    assert (grant.agencies, grant.purpose, grant.flagged) == (("111007",), "転居前の経過確認", ("111007",))
    assert _audit(engine) == [("w-tokyo", VIEW_CHILD, "C1301", None, "P1", "111007"),
                              ("w-tokyo", VIEW_OTHER_JURISDICTION, "111007", None, "P1", "転居前の経過確認")]
    [flag] = flags_for(engine, SAITAMA_SUPERVISOR)
    assert (flag.user_id, flag.role, flag.person_key, flag.purpose) == ("w-tokyo", CASEWORKER, "P1", "転居前の経過確認")
    assert flags_for(engine, CHIYODA_SUPERVISOR) == []
    assert [row[1] for row in _audit(engine)[-2:]] == [VIEW_FLAGS, VIEW_FLAGS]
    with pytest.raises(AccessDenied):
        flags_for(engine, SAITAMA_WORKER)


def test_a_child_held_in_two_jurisdictions_opens_at_home_and_elsewhere_only_with_a_purpose(engine):
    home = open_child(engine, SAITAMA_WORKER, "P2", HELD_IN_BOTH, AGENCY_MAP)
    assert (home.agencies, home.flagged) == (("111007",), ())
    both = open_child(engine, SAITAMA_WORKER, "P2", HELD_IN_BOTH, AGENCY_MAP, "一時保護の検討")
    assert (both.agencies, both.flagged) == (("111007", "131016"), ("131016",))
    assert [flag.person_key for flag in flags_for(engine, CHIYODA_SUPERVISOR)] == ["P2"]


def test_anyone_at_a_cgc_or_municipality_may_ask_who_holds_a_child_and_since_when(engine):
    assert known_anywhere(engine, TOKYO_WORKER, "P2", HELD_IN_BOTH, AGENCY_MAP) == (
        Holding("111007", SINCE), Holding("131016", dt.datetime(2022, 1, 5)))
    assert known_anywhere(engine, TOKYO_WORKER, "P9", (), AGENCY_MAP) == ()
    assert _audit(engine) == [("w-tokyo", SEARCH_CHILD, "C1301", None, "P2", None),
                              ("w-tokyo", SEARCH_CHILD, "C1301", None, "P9", None)]


@pytest.mark.parametrize("user", NOT_FOR_CHILDREN, ids=lambda user: user.role)
def test_managers_analysts_and_admins_never_receive_a_name_or_a_child_level_row(engine, user):
    calls = [lambda: known_anywhere(engine, user, "P1", HELD_IN_SAITAMA, AGENCY_MAP),
             lambda: open_child(engine, user, "P1", HELD_IN_SAITAMA, AGENCY_MAP, "統計のため"),
             lambda: open_intake(engine, user, "C1101", "R001", "P1", AGENCY_MAP),
             lambda: decide(engine, user, _decision(user.user_id, "C1101"), AGENCY_MAP),
             lambda: flags_for(engine, user)]
    for call in calls:
        with pytest.raises(AccessDenied, match=f"role {user.role} may not do this"):
            call()
    assert _audit(engine) == []


def test_a_user_of_an_unknown_agency_is_refused(engine):
    stranger = Account("x", "不明", "999999", CASEWORKER)
    with pytest.raises(AccessDenied, match="agency 999999 of user x is not a CGC or municipality"):
        known_anywhere(engine, stranger, "P1", HELD_IN_SAITAMA, AGENCY_MAP)
    with pytest.raises(AccessDenied, match="agency 999999"):
        open_child(engine, stranger, "P1", HELD_IN_SAITAMA, AGENCY_MAP)


def test_an_intake_opens_in_its_jurisdiction_with_its_view_row(engine):
    grant = open_intake(engine, CGC_WORKER, "111007", "R001", "P1", AGENCY_MAP)
    assert (grant.agencies, grant.flagged) == (("111007",), ())
    elsewhere = open_intake(engine, TOKYO_WORKER, "111007", "R002", "P3", AGENCY_MAP, "移管の確認")
    assert elsewhere.flagged == ("111007",)
    assert _audit(engine) == [("w-cgc", VIEW_INTAKE, "111007", "R001", "P1", None),
                              ("w-tokyo", VIEW_OTHER_JURISDICTION, "111007", "R002", "P3", "移管の確認")]
    assert [(flag.report_id, flag.purpose) for flag in flags_for(engine, SAITAMA_SUPERVISOR)] == [("R002", "移管の確認")]


def _decision(worker_id: str, agency_id: str = "111007") -> WorkerDecision:
    return WorkerDecision(agency_id, "R001", "P1", worker_id, "protect", "本人が頭部の痛みを訴えている", 0.42, "3", 2)


def test_decisions_are_the_users_own_in_their_jurisdiction_and_keep_their_role(engine):
    decide(engine, CGC_WORKER, _decision("w-cgc"), AGENCY_MAP)
    decide(engine, SAITAMA_SUPERVISOR, _decision("s-saitama"), AGENCY_MAP)
    with pytest.raises(AccessDenied, match="only their own decisions"):
        decide(engine, SAITAMA_WORKER, _decision("w-cgc"), AGENCY_MAP)
    with pytest.raises(AccessDenied, match="outside your jurisdiction"):
        decide(engine, TOKYO_WORKER, _decision("w-tokyo"), AGENCY_MAP)
    with pytest.raises(AccessDenied, match="role health_staff"):
        decide(engine, Account("h", "保健師", "111007", HEALTH_STAFF), _decision("h"), AGENCY_MAP)
    assert [d["worker_id"] for d in decisions_for(engine, "111007", "R001")] == ["w-cgc", "s-saitama"]
    with engine.connect() as con:
        roles = con.execute(select(audit_log.c.role).where(audit_log.c.action == RECORD_DECISION)).scalars().all()
    assert roles == [CASEWORKER, SUPERVISOR] and verify(engine).line == "audit log intact: 2 rows"


def test_every_action_leaves_its_row_in_one_valid_chain(engine):
    known_anywhere(engine, TOKYO_WORKER, "P1", HELD_IN_SAITAMA, AGENCY_MAP)
    open_child(engine, TOKYO_WORKER, "P1", HELD_IN_SAITAMA, AGENCY_MAP, "安全確認")
    open_intake(engine, SAITAMA_WORKER, "111007", "R001", "P1", AGENCY_MAP)
    decide(engine, SAITAMA_WORKER, _decision("w-saitama"), AGENCY_MAP)
    flags_for(engine, SAITAMA_SUPERVISOR)
    assert [row[1] for row in _audit(engine)] == [SEARCH_CHILD, VIEW_CHILD, VIEW_OTHER_JURISDICTION, VIEW_INTAKE,
                                                  RECORD_DECISION, VIEW_FLAGS]
    assert verify(engine).line == "audit log intact: 6 rows"


def test_holdings_and_agencies_are_read_from_the_marts():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.agencies as select * from (values ('111007', 'municipality', 'さいたま市', '11', "
                "'C1101'), ('C1101', 'cgc', '中央児童相談所', '11', null)) "
                "as t(agency_id, agency_type, name, prefecture_code, cgc_id)")
    con.execute("create table marts.child as select * from (values ('P1', '111007;C1101', "
                "timestamp '2020-02-01 00:00'), ('P2', '111007', timestamp '2019-01-01 00:00')) "
                "as t(person_key, agency_ids, first_seen_at)")
    con.execute("create table marts.child_timeline as select * from (values "
                "('P1', 'C1101', timestamp '2021-06-01 09:00'), ('P1', 'C1101', timestamp '2021-05-01 09:00'), "
                "('P2', '111007', timestamp '2022-01-01 00:00')) as t(person_key, agency_id, known_at)")
    agencies = load_agencies(con)
    assert agencies["C1101"].jurisdiction == agencies["111007"].jurisdiction == "C1101"
    assert agencies["C1101"].cgc_id is None and agencies["111007"].name == "さいたま市"
    # 111007 knows P1 only through a record without events: since the child was first seen
    assert load_holdings(con, "P1") == (Holding("111007", dt.datetime(2020, 2, 1)),
                                        Holding("C1101", dt.datetime(2021, 5, 1, 9)))
    assert load_holdings(con, "P404") == ()


# --- intakes entered in the app (kodomo.intake_entries): the same rules, enforced there

def _entered(engine) -> str:
    return enter_intake(engine, SAITAMA_WORKER, _entry(), AGENCY_MAP).report_id


def test_an_intake_is_entered_and_changed_only_at_its_own_agency(engine):
    with pytest.raises(AccessDenied, match="may enter and change only the intakes of agency C1301, not of 111007"):
        enter_intake(engine, TOKYO_WORKER, _entry(), AGENCY_MAP)
    report = _entered(engine)
    for user in (TOKYO_WORKER, CGC_WORKER):  # a CGC shares the record but the municipality's intake stays its own
        with pytest.raises(AccessDenied, match="may enter and change only"):
            update_intake(engine, user, "111007", report, 1, _entry(route="police"), AGENCY_MAP)
        with pytest.raises(AccessDenied, match="may enter and change only"):
            confirm_child(engine, user, "111007", report, 1, "P1", "existing", AGENCY_MAP)
    assert [row[1] for row in _audit(engine)] == [ENTER_INTAKE]


def test_an_entered_intake_is_viewed_and_decided_only_in_its_jurisdiction(engine):
    report = _entered(engine)
    with pytest.raises(AccessDenied, match=f"intake 111007/{report} is outside your jurisdiction"):
        stored_intake(engine, TOKYO_WORKER, "111007", report, AGENCY_MAP)
    assert entered_intakes(engine, TOKYO_WORKER, AGENCY_MAP) == []
    tokyo_decision = WorkerDecision("111007", report, None, "w-tokyo", "protect", "外傷", None, None)
    with pytest.raises(AccessDenied, match="outside your jurisdiction"):
        record_decision(engine, TOKYO_WORKER, tokyo_decision, None, AGENCY_MAP)
    with pytest.raises(AccessDenied, match="only their own decisions"):
        record_decision(engine, CGC_WORKER, tokyo_decision, None, AGENCY_MAP)
    assert [i.report_id for i in entered_intakes(engine, CGC_WORKER, AGENCY_MAP)] == [report]
    stored_intake(engine, CGC_WORKER, "111007", report, AGENCY_MAP)
    confirm_child(engine, SAITAMA_WORKER, "111007", report, 1, "P1", "existing", AGENCY_MAP)
    update_intake(engine, SAITAMA_WORKER, "111007", report, 2, _entry(route="police"), AGENCY_MAP)
    decided = record_decision(engine, CGC_WORKER, WorkerDecision("111007", report, "P1", "w-cgc", "no_protect",
                                                                 "在宅で見守る", 0.7, "3", 2, "home_guidance"),
                              "high", AGENCY_MAP)
    with pytest.raises(AccessDenied, match="outside your jurisdiction"):
        review(engine, CHIYODA_SUPERVISOR, decided, "confirmed", "", AGENCY_MAP)
    assert review_queue(engine, CHIYODA_SUPERVISOR, AGENCY_MAP) == []
    assert [i.decision_id for i in review_queue(engine, SAITAMA_SUPERVISOR, AGENCY_MAP)] == [decided]
    review(engine, SAITAMA_SUPERVISOR, decided, "confirmed", "", AGENCY_MAP)
    assert [(row[0], row[1], row[3]) for row in _audit(engine)] == [
        ("w-saitama", ENTER_INTAKE, report), ("w-cgc", VIEW_INTAKE, report), ("w-saitama", CONFIRM_CHILD, report),
        ("w-saitama", UPDATE_INTAKE, report), ("w-cgc", RECORD_DECISION, report),
        ("s-chiyoda", VIEW_REVIEW_QUEUE, None), ("s-saitama", VIEW_REVIEW_QUEUE, None),
        ("s-saitama", REVIEW_DECISION, report)]
    assert verify(engine).line == "audit log intact: 8 rows"


@pytest.mark.parametrize("user", NOT_FOR_CHILDREN, ids=lambda user: user.role)
def test_managers_analysts_and_admins_neither_enter_nor_see_nor_decide_intakes(engine, user):
    report = _entered(engine)
    own = WorkerDecision("C1101", report, None, user.user_id, "undecided", "確認中", None, None)
    calls = [lambda: enter_intake(engine, user, _entry(), AGENCY_MAP),
             lambda: update_intake(engine, user, "111007", report, 1, _entry(), AGENCY_MAP),
             lambda: confirm_child(engine, user, "111007", report, 1, "P1", "new", AGENCY_MAP),
             lambda: stored_intake(engine, user, "111007", report, AGENCY_MAP),
             lambda: entered_intakes(engine, user, AGENCY_MAP),
             lambda: record_decision(engine, user, own, None, AGENCY_MAP),
             lambda: review_queue(engine, user, AGENCY_MAP),
             lambda: review(engine, user, 1, "confirmed", "", AGENCY_MAP)]
    for call in calls:
        with pytest.raises(AccessDenied, match=f"role {user.role} may not do this"):
            call()
    assert [row[1] for row in _audit(engine)] == [ENTER_INTAKE]
