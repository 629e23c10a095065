"""The child health record on a generated `small` world: every child with a checkup or immunization record has
one, its statuses as of any date come from the dbt macro (the mart's, at the data's end), the health staff of the
holding jurisdiction open it (others refused, every view audited), a parent's access code opens exactly its
child's record, and the receiving municipality acknowledges a handover once."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from sqlalchemy import select

from kodomo.appdata.access import AccessDenied
from kodomo.appdata.accounts import Account
from kodomo.health.access import VIEW_HEALTH_RECORD, open_health_record
from kodomo.health.record import DONE, STATUSES, NoHealthRecord, data_end, health_record, statuses_as_of
from kodomo.health.store import (ACKNOWLEDGE_HANDOVER, PARENT_CODE_REFUSED, PARENT_VIEW_HEALTH, AccessCodeNotValid,
                                 acknowledge_handover, handover_worklist, issue_parent_code, parent_health_record,
                                 revoke_parent_code)
from kodomo.onestop.consultations import CodeNotValid, thread_for_code
from kodomo.operational import CASEWORKER, HEALTH_STAFF, _sqlite_engine, audit_log, metadata
from kodomo.settings import Settings


@pytest.fixture(scope="module")
def con(scored_world):
    with duckdb.connect(str(scored_world["home"] / "warehouse.duckdb"), read_only=True) as connection:
        yield connection


@pytest.fixture
def engine(tmp_path):
    """An operational store with the health tables (``metadata.create_all``: revision 0005 makes them)."""
    store = _sqlite_engine(f"sqlite:///{tmp_path / 'operational.db'}")
    metadata.create_all(store)
    yield store
    store.dispose()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, env="local", postgres_url="")


def _actions(engine) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(select(audit_log.c.user_id, audit_log.c.action, audit_log.c.person_key)
                                            .order_by(audit_log.c.id))]


@pytest.fixture(scope="module")
def held(con) -> dict:
    """A child held by a municipality, a health nurse there, and one of another jurisdiction."""
    rows = con.execute("""
        select child.person_key, agencies.agency_id, agencies.cgc_id
        from marts.child as child
        cross join unnest(string_split(child.agency_ids, ';')) as held(agency_id)
        inner join marts.agencies as agencies on agencies.agency_id = held.agency_id
        where agencies.agency_type = 'municipality' and child.agency_count = 1
            and child.person_key in (select person_key from marts.child_health_record where administered_on is not null)
        order by child.person_key limit 1""").fetchone()
    person_key, agency_id, cgc_id = rows
    other = con.execute("select agency_id from marts.agencies where agency_type = 'municipality' and cgc_id <> ? "
                        "order by agency_id limit 1", [cgc_id]).fetchone()[0]
    return {"person_key": person_key,
            "nurse": Account("n001", "保健師", agency_id, HEALTH_STAFF),
            "caseworker": Account("c001", "ケースワーカー", agency_id, CASEWORKER),
            "outsider": Account("n002", "保健師", other, HEALTH_STAFF)}


def test_every_child_with_a_checkup_or_immunization_record_has_a_health_record(con):
    with_records = con.execute("select count(distinct person_key) from intermediate.int_child_records "
                               "where feed in ('checkups', 'immunizations')").fetchone()[0]
    with_doses = con.execute("select count(distinct person_key) from marts.child_health_record "
                             "where record_type = 'immunization'").fetchone()[0]
    assert with_records > 0 and with_doses == with_records


def test_the_mart_status_is_the_macro_at_the_data_end_and_every_status_is_known(con):
    keys = [k for (k,) in con.execute("select distinct person_key from marts.child_health_record "
                                      "where record_type = 'immunization'").fetchall()]
    computed = statuses_as_of(con, keys, data_end(con))
    mart = con.execute("select person_key, vaccine, dose, immunization_status from marts.child_health_record "
                       "where record_type = 'immunization'").df()
    joined = mart.merge(computed, on=["person_key", "vaccine", "dose"], suffixes=("_mart", "_macro"))
    assert len(joined) == len(mart) == len(computed)
    assert (joined.immunization_status_mart == joined.immunization_status_macro).all()
    assert set(mart.immunization_status) <= set(STATUSES) and {"done", "overdue", "not_on_record"} <= set(
        mart.immunization_status)


def test_a_record_as_of_an_earlier_date_knows_nothing_that_happened_after_it(con, held):
    record = health_record(con, held["person_key"])
    first_dose = min(d.administered_on for d in record.given)
    earlier = health_record(con, held["person_key"], first_dose - dt.timedelta(days=1))
    assert earlier.as_of < record.as_of and not earlier.given
    assert all(c.exam_date is None or c.exam_date <= earlier.as_of for c in earlier.checkups)
    on_the_day = health_record(con, held["person_key"], first_dose)
    assert [d.administered_on for d in on_the_day.given] == [first_dose] * len(on_the_day.given)


def test_due_next_lists_what_to_act_on_first(con):
    key = con.execute("select person_key from marts.child_health_record where immunization_status = 'overdue' "
                      "order by person_key limit 1").fetchone()[0]
    record = health_record(con, key)
    assert record.due_next and record.due_next[0].status == "overdue"
    assert all(d.status != DONE for d in record.due_next)


def test_health_staff_of_the_holding_jurisdiction_open_the_record_audited_others_are_refused(con, engine, held):
    record = open_health_record(engine, con, held["nurse"], held["person_key"])
    assert record.person_key == held["person_key"]
    assert _actions(engine) == [("n001", VIEW_HEALTH_RECORD, held["person_key"])]
    for user in (held["caseworker"], held["outsider"]):
        with pytest.raises(AccessDenied):
            open_health_record(engine, con, user, held["person_key"])
    assert len(_actions(engine)) == 1


def test_an_unknown_child_has_no_health_record(con):
    with pytest.raises(NoHealthRecord):
        health_record(con, "P_NOT_A_CHILD")


def test_a_parent_code_opens_exactly_its_childs_record_and_a_revoked_or_wrong_code_nothing(con, engine, settings,
                                                                                           held):
    code_id, code = issue_parent_code(engine, settings, con, held["nurse"], held["person_key"])
    record = parent_health_record(engine, settings, con, code.lower()[:5] + "-" + code.lower()[5:])
    assert record.person_key == held["person_key"] and record.doses
    with pytest.raises(AccessCodeNotValid):
        parent_health_record(engine, settings, con, "ABCDEFGHJK")
    # the code is not a consultation code: nothing else of the platform opens with it
    with pytest.raises(CodeNotValid):
        thread_for_code(engine, settings, code)
    with pytest.raises(AccessDenied):
        revoke_parent_code(engine, held["outsider"], code_id)
    revoke_parent_code(engine, held["nurse"], code_id)
    with pytest.raises(AccessCodeNotValid):
        parent_health_record(engine, settings, con, code)
    actions = [(user, action) for user, action, _ in _actions(engine)]
    assert actions == [("n001", "issue_parent_health_code"), ("parent", PARENT_VIEW_HEALTH),
                       ("parent", PARENT_CODE_REFUSED), ("n001", "revoke_parent_health_code"),
                       ("parent", PARENT_CODE_REFUSED)]
    assert [key for _, action, key in _actions(engine) if action == PARENT_VIEW_HEALTH] == [held["person_key"]]


def test_only_health_staff_of_the_jurisdiction_issue_a_parent_code(con, engine, settings, held):
    for user in (held["caseworker"], held["outsider"]):
        with pytest.raises(AccessDenied):
            issue_parent_code(engine, settings, con, user, held["person_key"])
    assert _actions(engine) == []


def test_the_receiving_municipality_sees_the_handover_and_acknowledges_it_once(con, engine):
    agency_id = con.execute("""
        select to_municipality_code from marts.child_timeline
        where event_type = 'move_in' and from_municipality_code in (select agency_id from marts.agencies)
            and person_key in (select person_key from marts.child_health_record where administered_on is not null)
        group by 1 order by count(*) desc, 1 limit 1""").fetchone()[0]
    nurse = Account("n003", "保健師", agency_id, HEALTH_STAFF)
    worklist = handover_worklist(engine, con, nurse)
    assert worklist and all(h.acknowledged_at is None for h in worklist)
    assert any(h.doses_given for h in worklist)
    for handover in worklist:
        assert all(d.agency_id == handover.from_agency_id for d in handover.doses_given)
        assert all(c.agency_id == handover.from_agency_id for c in handover.checkups)
        assert all(d.status != DONE for d in handover.due_next)
    first = worklist[0]
    acknowledge_handover(engine, con, nurse, first.person_key, first.moved_on, first.from_agency_id)
    with pytest.raises(ValueError, match="already acknowledged"):
        acknowledge_handover(engine, con, nurse, first.person_key, first.moved_on, first.from_agency_id)
    with pytest.raises(ValueError, match="did not move"):
        acknowledge_handover(engine, con, nurse, first.person_key, first.moved_on, "999999")
    again = {(h.person_key, h.moved_on): h for h in handover_worklist(engine, con, nurse)}
    assert again[(first.person_key, first.moved_on)].acknowledged_by == "n003"
    assert sum(h.acknowledged_at is not None for h in again.values()) == 1
    assert [a for _, a, _ in _actions(engine)].count(ACKNOWLEDGE_HANDOVER) == 1
    with pytest.raises(AccessDenied):
        handover_worklist(engine, con, Account("c002", "ケースワーカー", agency_id, CASEWORKER))
