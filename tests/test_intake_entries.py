"""Intakes entered in the app: checked by the contracts, stored with optimistic locking, decided and reviewed."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from sqlalchemy import select

from kodomo.appdata.access import AccessDenied, agencies_from
from kodomo.appdata.accounts import Account
from kodomo.intake_entries import (AGAINST_BAND, DISPOSITIONS, FORM_FIELDS, OVERRIDES_CHECKLIST, EntryInvalid,
                                   check_entry, confirm_child, decision_history, decision_status,
                                   enter_intake, entered_intakes, record_decision, review, review_queue,
                                   review_reasons, stored_intake, update_intake, worker_decision_of)
from kodomo.operational import (CASEWORKER, SUPERVISOR, InvalidDecision, WorkerDecision, audit_log, decision_codes,
                                verify)
from ml.features import assessment_items
from ml.live_scoring import raw_fields, validate
from tests.conftest import AGENCIES
from tests.test_operational import engine  # noqa: F401  (the store on SQLite and on PostgreSQL)

AGENCY_MAP = agencies_from(AGENCIES)
WORKER = Account("w-saitama", "埼玉 一郎", "111007", CASEWORKER)
SUPERVISOR_SAITAMA = Account("s-cgc", "中央 監督", "C1101", SUPERVISOR)
FORM = {"received_at": "令和6年4月1日 10:30", "route": "School", "abuse_types": ["neglect", "physical"],
        "child_name": "髙橋 太郎", "child_kana": "たかはし たろう", "birth_date": "2019/5/6", "sex": "1",
        "address_municipality_code": "111007", "injury_present": "yes", "child_disclosure": "mild"}


def _entry(**changes):
    return check_entry("111007", {**FORM, **changes}, AGENCY_MAP)


def _actions(engine) -> list[tuple]:
    with engine.connect() as con:
        return [(r.user_id, r.action, r.report_id) for r in con.execute(select(audit_log).order_by(audit_log.c.id))]


def test_a_valid_form_is_typed_exactly_as_the_live_scoring_path_types_its_line():
    entry = _entry()
    assert entry.route == "school" and entry.abuse_types == ("neglect", "physical")
    assert entry.received_at == dt.datetime(2024, 4, 1, 10, 30) and entry.birth_date == dt.date(2019, 5, 6)
    assert entry.items["injury_present"] == "yes" and entry.items["caregiver_threatens_harm"] == "unknown"
    items = {c.name: entry.items[c.name] for c in assessment_items()}
    line = {"agency_id": "111007", "report_id": "APP000001", "received_at": FORM["received_at"],
            "route": FORM["route"], "abuse_types": FORM["abuse_types"], "assessment": items,
            "child": {"name": FORM["child_name"], "kana": FORM["child_kana"], "birth_date": FORM["birth_date"],
                      "sex": FORM["sex"], "address_municipality_code": FORM["address_municipality_code"]}}
    values, errors = validate(pd.DataFrame([raw_fields(json.dumps(line, ensure_ascii=False))]),
                              frozenset(AGENCY_MAP))
    assert errors.isna().all()
    expected = values.iloc[0].to_dict()
    assert entry.typed_row("APP000001") == expected
    assert list(entry.typed_row("APP000001")) == list(expected)


def test_every_bad_field_is_named_with_its_rule_and_value():
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    with pytest.raises(EntryInvalid) as bad:
        _entry(received_at=tomorrow, route="bus", abuse_types=[], child_name=" ", birth_date="2021-02-30",
               address_municipality_code="111008", injury_severity="huge")
    errors = bad.value.errors
    assert set(errors) == {"received_at", "route", "abuse_types", "child_name", "birth_date",
                           "address_municipality_code", "injury_severity"}
    assert errors["route"].startswith("route: invalid code ('bus'); one of police, neighbor")
    assert errors["received_at"] == f"received_at: future date ('{tomorrow}')"
    assert errors["birth_date"] == "birth_date: invalid date ('2021-02-30')"
    assert errors["address_municipality_code"] == "address_municipality_code: invalid municipality code ('111008')"
    assert errors["child_name"] == "child_name: required missing (' ')"
    with pytest.raises(EntryInvalid, match="received_at: before birth"):
        _entry(received_at="2019-05-01")
    with pytest.raises(EntryInvalid) as unknown:
        check_entry("111007", {**FORM, "nickname": "たろちゃん"}, AGENCY_MAP)
    assert unknown.value.errors == {"nickname": "nickname: not a field of the intake form"}
    assert FORM_FIELDS == tuple(f for f in FORM if f in FORM_FIELDS)


def test_entering_numbers_the_agencys_intakes_and_audits_each_save(engine):
    first = enter_intake(engine, WORKER, _entry(), AGENCY_MAP)
    second = enter_intake(engine, WORKER, _entry(child_name="髙橋 次郎"), AGENCY_MAP)
    assert (first.report_id, second.report_id) == ("APP000001", "APP000002")
    assert (first.version, first.local_child_id, first.match, first.entered_by) == (
        1, "APPC000001", None, WORKER.user_id)
    assert first.entry == _entry()
    assert [s.report_id for s in entered_intakes(engine, SUPERVISOR_SAITAMA, AGENCY_MAP)] == ["APP000002", "APP000001"]
    opened = stored_intake(engine, SUPERVISOR_SAITAMA, "111007", "APP000001", AGENCY_MAP)
    assert opened == first
    changed = update_intake(engine, WORKER, "111007", "APP000001", 1, _entry(route="police"), AGENCY_MAP)
    assert (changed.version, changed.entry.route, changed.entered_at) == (2, "police", first.entered_at)
    assert _actions(engine) == [(WORKER.user_id, "enter_intake", "APP000001"),
                                (WORKER.user_id, "enter_intake", "APP000002"),
                                (SUPERVISOR_SAITAMA.user_id, "view_intake", "APP000001"),
                                (WORKER.user_id, "update_intake", "APP000001")]
    assert verify(engine).ok


def test_confirming_the_child_reuses_the_agencys_id_and_a_changed_identity_undoes_it(engine):
    first = enter_intake(engine, WORKER, _entry(), AGENCY_MAP)
    second = enter_intake(engine, WORKER, _entry(), AGENCY_MAP)
    confirm_child(engine, WORKER, "111007", first.report_id, 1, "P7", "existing", AGENCY_MAP)
    again = confirm_child(engine, WORKER, "111007", second.report_id, 1, "P7", "existing", AGENCY_MAP)
    assert (again.person_key, again.match, again.local_child_id, again.version) == ("P7", "existing", "APPC000001", 2)
    renamed = update_intake(engine, WORKER, "111007", second.report_id, 2, _entry(child_name="佐藤 太郎"), AGENCY_MAP)
    assert (renamed.person_key, renamed.match, renamed.local_child_id) == (None, None, "APPC000002")
    with pytest.raises(ValueError, match="match must be one of existing, new"):
        confirm_child(engine, WORKER, "111007", first.report_id, 2, "P7", "maybe", AGENCY_MAP)


def test_each_disposition_is_one_contract_decision():
    assert {worker_decision_of(d) for d in DISPOSITIONS} == set(decision_codes())
    assert worker_decision_of("temporary_protection") == "protect"
    assert worker_decision_of("advice_closed") == "no_protect"
    with pytest.raises(InvalidDecision, match="disposition must be one of"):
        worker_decision_of("sent_home")


@pytest.mark.parametrize("decision, band, verdict, reasons", [
    ("no_protect", "high", 1, (AGAINST_BAND,)), ("protect", "low", 1, (AGAINST_BAND,)),
    ("no_protect", "medium", 2, (OVERRIDES_CHECKLIST,)), ("no_protect", "high", 3, (AGAINST_BAND, OVERRIDES_CHECKLIST)),
    ("protect", "medium", 0, (OVERRIDES_CHECKLIST,)), ("protect", "high", 3, ()), ("undecided", "high", 3, ()),
    ("no_protect", None, None, ()), ("no_protect", "low", 1, ())])
def test_review_reasons(decision, band, verdict, reasons):
    assert review_reasons(decision, band, verdict) == reasons


def _decision(disposition: str, amends: int | None = None, worker: Account = WORKER) -> WorkerDecision:
    return WorkerDecision("111007", "APP000001", "P7", worker.user_id, worker_decision_of(disposition),
                          f"{disposition} とした理由", 0.71, "3", 2, disposition, amends)


def test_a_decision_against_the_band_is_reviewed_once_and_an_amendment_is_a_new_row(engine):
    enter_intake(engine, WORKER, _entry(), AGENCY_MAP)
    first = record_decision(engine, WORKER, _decision("home_guidance"), "high", AGENCY_MAP)
    assert decision_status(engine, "111007") == {"APP000001": "in_review"}
    [item] = review_queue(engine, SUPERVISOR_SAITAMA, AGENCY_MAP)
    assert (item.decision_id, item.disposition, item.band, item.reasons) == (
        first, "home_guidance", "high", (AGAINST_BAND, OVERRIDES_CHECKLIST))
    with pytest.raises(ValueError, match="needs a comment"):
        review(engine, SUPERVISOR_SAITAMA, first, "returned", "  ", AGENCY_MAP)
    review(engine, SUPERVISOR_SAITAMA, first, "returned", "頭部外傷の評価を再確認", AGENCY_MAP)
    with pytest.raises(InvalidDecision, match="already reviewed \\(returned by s-cgc\\)"):
        review(engine, SUPERVISOR_SAITAMA, first, "confirmed", "", AGENCY_MAP)
    assert decision_status(engine, "111007") == {"APP000001": "returned"}
    assert review_queue(engine, SUPERVISOR_SAITAMA, AGENCY_MAP) == []
    second = record_decision(engine, WORKER, _decision("temporary_protection", amends=first), "high", AGENCY_MAP)
    assert decision_status(engine, "111007") == {"APP000001": "decided"}
    history = decision_history(engine, "111007", "APP000001")
    assert [(h["id"], h["disposition"], h["amends"], h["review"], h["comment"]) for h in history] == [
        (first, "home_guidance", None, "returned", "頭部外傷の評価を再確認"),
        (second, "temporary_protection", first, None, None)]
    with pytest.raises(InvalidDecision, match="is not a decision on intake 111007/APP000002"):
        record_decision(engine, WORKER, WorkerDecision("111007", "APP000002", None, WORKER.user_id, "undecided",
                                                       "調査中", None, None, amends=first), None, AGENCY_MAP)
    with pytest.raises(InvalidDecision, match="disposition advice_closed is decision no_protect, not protect"):
        record_decision(engine, WORKER, WorkerDecision("111007", "APP000001", None, WORKER.user_id, "protect",
                                                       "保護", None, None, disposition="advice_closed"), None,
                        AGENCY_MAP)
    actions = [a for _, a, _ in _actions(engine)]
    assert actions.count("record_decision") == 2 and actions.count("review_decision") == 1
    assert actions.count("view_review_queue") == 2
    assert verify(engine).ok


def test_a_supervisor_does_not_review_their_own_decision(engine):
    supervisor = Account("s-saitama", "埼玉 監督", "111007", SUPERVISOR)
    decided = record_decision(engine, supervisor, _decision("advice_closed", worker=supervisor), "high", AGENCY_MAP)
    assert review_queue(engine, supervisor, AGENCY_MAP) == []
    with pytest.raises(AccessDenied, match="is your own"):
        review(engine, supervisor, decided, "confirmed", "", AGENCY_MAP)
    assert [i.decision_id for i in review_queue(engine, SUPERVISOR_SAITAMA, AGENCY_MAP)] == [decided]
