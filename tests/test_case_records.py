"""Case records (児童記録票) and the change notifications they send, on the scored `small` world: a save tells each
other agency holding the child once, a stale save is refused and saves nothing, bad content names its field, an
agency outside the child's jurisdictions cannot keep a record, a grant opens only its agencies' records, every save
and view is audited; the inbox's unread count and marking read, per person and agency."""
from __future__ import annotations

import dataclasses

import duckdb
import pytest
from sqlalchemy import func, select

from kodomo.appdata.access import AccessDenied, load_agencies, load_holdings, open_child
from kodomo.appdata.accounts import Account
from kodomo.intake_entries import record_decision
from kodomo.operational import (CASEWORKER, FAMILY_SUPPORT, MANAGER, SUPERVISOR, WorkerDecision, audit_log, audited,
                                case_record_versions, case_records as case_records_table, connect, notification_reads,
                                notifications)
from kodomo.settings import Settings
from kodomo.sharing.case_records import (ENTER_CASE_RECORD, REKEY_CASE_RECORDS, UPDATE_CASE_RECORD,
                                         VIEW_CASE_RECORDS, Institution, InvalidCaseRecord, StaleCaseRecord,
                                         case_record_versions as versions_of, case_records, check_content,
                                         own_case_record, rekey_case_records, save_case_record)
from kodomo.sharing.notifications import (VIEW_NOTIFICATIONS, feed_event_key, mark_read, notifications_for, notify,
                                         unread_count)

FORM = {"address": "大宮区桜木町1-1", "address_municipality_code": "111007",
        "institutions": [{"kind": "nursery", "name": "さくら保育園", "contact": "048-000-0000"}],
        "household": "母と本児の二人世帯", "situation": "母が夜間勤務、本児は祖母宅に預けられることが多い",
        "support_plan": "月1回の家庭訪問", "plan_status": "open", "worker_id": "w-a"}


@pytest.fixture(scope="module")
def con(scored_world):
    with duckdb.connect(str(scored_world["home"] / "warehouse.duckdb"), read_only=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def world(con) -> dict:
    """A child held in two jurisdictions (by agency a in one, b in the other), an agency of a's jurisdiction that
    does not hold the child (keeper) and an agency of a third (outside)."""
    agencies = load_agencies(con)
    for person_key, held in con.execute("select person_key, agency_ids from marts.child where agency_count >= 2 "
                                        "order by person_key").fetchall():
        held = held.split(";")
        by_jurisdiction = {agencies[a].jurisdiction: a for a in sorted(held, reverse=True)}
        outside = sorted(a for a, agency in agencies.items()
                         if agency.jurisdiction is not None and agency.jurisdiction not in by_jurisdiction)
        if len(by_jurisdiction) < 2 or not outside:
            continue
        a, b = sorted(by_jurisdiction.values())[:2]
        keepers = sorted(k for k, agency in agencies.items()
                         if agency.jurisdiction == agencies[a].jurisdiction and k not in held)
        if keepers:
            return {"person_key": person_key, "held": held, "agencies": agencies, "a": a, "b": b,
                    "keeper": keepers[0], "outside": outside[0]}
    raise AssertionError("the small world has no child held in two jurisdictions")


@pytest.fixture
def engine(tmp_path):
    store = connect(Settings(home=tmp_path, env="local", postgres_url=""))
    yield store
    store.dispose()


def _user(world, which: str, user_id: str, role: str = CASEWORKER) -> Account:
    return Account(user_id, f"{which} 担当", world[which], role)


def _save(engine, con, world, user, expected_version=None, **changes):
    return save_case_record(engine, con, user, world["person_key"], check_content({**FORM, **changes}),
                            world["agencies"], expected_version=expected_version)


def _notified(engine) -> list[tuple]:
    with engine.connect() as store:
        return sorted(tuple(r) for r in store.execute(select(
            notifications.c.agency_id, notifications.c.change, notifications.c.source_agency_id,
            notifications.c.event_key)))


def _actions(engine) -> list[tuple]:
    with engine.connect() as store:
        return [tuple(r) for r in store.execute(select(audit_log.c.user_id, audit_log.c.action, audit_log.c.agency_id,
                                                       audit_log.c.person_key, audit_log.c.detail)
                                                .order_by(audit_log.c.id))]


def _count(engine, table) -> int:
    with engine.connect() as store:
        return store.scalar(select(func.count()).select_from(table))


def test_each_save_tells_every_other_holding_agency_once_and_is_audited(engine, con, world):
    user = _user(world, "a", "w-a")
    others = sorted(set(world["held"]) - {world["a"]})
    created = _save(engine, con, world, user)
    assert (created.version, created.agency_id, created.created_by, created.updated_by) == (1, world["a"], "w-a",
                                                                                         "w-a")
    assert created.content.institutions == (Institution("nursery", "さくら保育園", "048-000-0000"),)
    assert _notified(engine) == [(o, "case_record", world["a"], f"case_record:{created.id}:v1") for o in others]

    updated = _save(engine, con, world, user, expected_version=1, plan_status="closed")
    assert (updated.id, updated.version, updated.content.plan_status) == (created.id, 2, "closed")
    assert _notified(engine) == sorted((o, "case_record", world["a"], f"case_record:{created.id}:v{v}")
                                       for o in others for v in (1, 2))
    assert _actions(engine) == [("w-a", ENTER_CASE_RECORD, world["a"], world["person_key"],
                                 f"case record {created.id} version 1"),
                                ("w-a", UPDATE_CASE_RECORD, world["a"], world["person_key"],
                                 f"case record {created.id} version 2")]
    with engine.connect() as store:
        kept = store.execute(select(case_record_versions.c.version, case_record_versions.c.content)
                             .order_by(case_record_versions.c.version)).all()
    assert [v for v, _ in kept] == [1, 2] and '"plan_status": "closed"' in kept[1][1]


def test_an_agency_keeping_a_record_is_told_though_the_warehouse_does_not_name_it(engine, con, world):
    kept = _save(engine, con, world, _user(world, "keeper", "w-k"))
    assert world["keeper"] not in world["held"]
    assert {agency for agency, *_ in _notified(engine)} == set(world["held"])  # the keeper's own save: not itself
    changed = _save(engine, con, world, _user(world, "a", "w-a"))
    told = [agency for agency, _, _, key in _notified(engine) if key == f"case_record:{changed.id}:v1"]
    assert told == sorted(set(world["held"]) - {world["a"]} | {world["keeper"]}) and kept.id != changed.id


def test_two_people_editing_one_record_the_stale_save_is_refused_and_saves_nothing(engine, con, world):
    first, second = _user(world, "a", "w-a"), _user(world, "a", "s-a", SUPERVISOR)
    _save(engine, con, world, first)
    opened = [own_case_record(engine, user, world["person_key"]) for user in (first, second)]
    assert [record.version for record in opened] == [1, 1]
    saved = _save(engine, con, world, first, expected_version=1, situation="祖母宅へ転居")
    before = (_notified(engine), _count(engine, case_record_versions), _count(engine, audit_log))
    with pytest.raises(StaleCaseRecord) as stale:
        _save(engine, con, world, second, expected_version=1, situation="変化なし")
    assert (stale.value.current_version, stale.value.changed_by) == (2, "w-a")
    assert stale.value.changed_at == saved.updated_at
    assert "w-a" in str(stale.value) and "nothing was saved" in str(stale.value)
    assert (_notified(engine), _count(engine, case_record_versions), _count(engine, audit_log)) == before
    assert own_case_record(engine, first, world["person_key"]).content.situation == "祖母宅へ転居"
    with pytest.raises(StaleCaseRecord, match="already keeps a case record"):  # a second "new" record
        _save(engine, con, world, second)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"address_municipality_code": "13101X"}, "address_municipality_code",
     "address_municipality_code 13101X: not a valid municipality code"),
    ({"address_municipality_code": "131017"}, "address_municipality_code", "not a valid municipality code"),
    ({"plan_status": "pending"}, "plan_status", "plan_status pending: one of open, closed"),
    ({"worker_id": "  "}, "worker_id", "worker_id: the worker in charge is required"),
    ({"worker_id": "w" * 65}, "worker_id", "worker_id: a user ID has at most 64 characters"),
    ({"institutions": [{"kind": "hospital", "name": "市民病院"}]}, "institutions[0].kind",
     "institutions[0].kind 'hospital': one of nursery, kindergarten, school, other"),
    ({"institutions": [{"kind": "school", "name": ""}]}, "institutions[0].name", "institutions[0].name: required"),
    ({"household": 3}, "household", "household: expected text"),
    ({"parents": "母"}, "parents", "parents: not a field of the case record"),
])
def test_bad_content_names_the_field_and_what_is_wrong(changes, field, message):
    with pytest.raises(InvalidCaseRecord) as invalid:
        check_content({**FORM, **changes})
    assert list(invalid.value.errors) == [field] and message in invalid.value.errors[field]


def test_content_is_stripped_and_a_saved_record_is_checked_again(engine, con, world):
    assert check_content({**FORM, "address": "  大宮区  ", "institutions": []}).address == "大宮区"
    forged = dataclasses.replace(check_content(FORM), plan_status="paused")
    with pytest.raises(InvalidCaseRecord, match="plan_status"):
        save_case_record(engine, con, _user(world, "a", "w-a"), world["person_key"], forged, world["agencies"],
                         expected_version=None)
    assert _count(engine, case_records_table) == 0


def test_an_agency_outside_the_childs_jurisdictions_or_a_manager_cannot_keep_a_record(engine, con, world):
    for user in (_user(world, "outside", "w-out"), _user(world, "a", "m-a", MANAGER)):
        with pytest.raises(AccessDenied):
            _save(engine, con, world, user)
    assert _count(engine, case_records_table) == _count(engine, notifications) == _count(engine, audit_log) == 0


def test_a_grant_opens_only_its_agencies_records_and_the_view_is_audited(engine, con, world):
    a, b = _user(world, "a", "w-a"), _user(world, "b", "w-b")
    _save(engine, con, world, a)
    _save(engine, con, world, b, address_municipality_code="131016")
    holdings = load_holdings(con, world["person_key"])
    own = open_child(engine, a, world["person_key"], holdings, world["agencies"])
    assert world["b"] not in own.agencies
    assert [r.agency_id for r in case_records(engine, a, own)] == [world["a"]]
    assert [(v.agency_id, v.version, v.saved_by) for v in versions_of(engine, a, own)] == [(world["a"], 1, "w-a")]
    with_purpose = open_child(engine, a, world["person_key"], holdings, world["agencies"], purpose="夜間の通告対応")
    assert [r.agency_id for r in case_records(engine, a, with_purpose)] == sorted([world["a"], world["b"]])
    views = [(action, detail) for _, action, _, _, detail in _actions(engine) if action == VIEW_CASE_RECORDS]
    assert views == [(VIEW_CASE_RECORDS, ";".join(sorted({*own.agencies, world["a"]}))),
                     (VIEW_CASE_RECORDS, ";".join(sorted({*with_purpose.agencies, world["a"]})))]
    with pytest.raises(AccessDenied):  # someone else's grant
        case_records(engine, b, own)
    desk = Account("d-1", "ひとり親窓口", world["a"], FAMILY_SUPPORT)  # the one-stop desk reads no case record
    with pytest.raises(AccessDenied, match="family_support"):
        case_records(engine, desk, open_child(engine, desk, world["person_key"], holdings, world["agencies"]))


def test_the_inbox_counts_unread_per_person_and_marks_only_the_agencys_own(engine, con, world):
    _save(engine, con, world, _user(world, "a", "w-a"))
    reader, colleague, sender = _user(world, "b", "w-b"), _user(world, "b", "s-b", SUPERVISOR), _user(world, "a", "w-a")
    inbox = notifications_for(engine, reader)
    assert [(n.change, n.source_agency_id, n.read) for n in inbox] == [("case_record", world["a"], False)]
    assert _actions(engine)[-1][:3] == ("w-b", VIEW_NOTIFICATIONS, world["b"])
    assert unread_count(engine, reader) == unread_count(engine, colleague) == 1
    mark_read(engine, reader, [inbox[0].id])
    mark_read(engine, reader, [inbox[0].id])  # again: nothing changes
    assert _count(engine, notification_reads) == 1
    assert (unread_count(engine, reader), unread_count(engine, colleague)) == (0, 1)
    assert [n.read for n in notifications_for(engine, reader)] == [True]
    _save(engine, con, world, _user(world, "b", "w-b"), address_municipality_code="131016")
    [told_a] = [n for n in notifications_for(engine, sender)]
    with pytest.raises(AccessDenied, match=str(told_a.id)):
        mark_read(engine, reader, [inbox[0].id, told_a.id])
    assert _count(engine, notification_reads) == 1 and unread_count(engine, sender) == 1
    with pytest.raises(AccessDenied):
        unread_count(engine, _user(world, "b", "m-b", MANAGER))


def test_a_decision_tells_the_other_holding_agencies_once(engine, con, world):
    agency, report_id = con.execute("select agency_id, report_id from marts.child_timeline where person_key = ? "
                                    "and report_id is not null order by all limit 1", [world["person_key"]]).fetchone()
    decision = WorkerDecision(agency, report_id, world["person_key"], "w-r", "no_protect", "在宅で見守り", None, None)
    holders = [h.agency_id for h in load_holdings(con, world["person_key"])]
    user = Account("w-r", "受理 担当", agency, CASEWORKER)
    decided = record_decision(engine, user, decision, None, world["agencies"], holders=holders)
    assert _notified(engine) == [(o, "decision", agency, f"decision:{decided}")
                                 for o in sorted(set(world["held"]) - {agency})]


def test_a_decision_on_an_app_intake_is_not_told_again_when_the_run_delivers_its_assessment(engine, con, world):
    """The app delivers the intake's assessment (assessment_id = the report's number, with the latest decision):
    the feed event the next run finds has the key the decision was told under."""
    decision = WorkerDecision(world["a"], "APP000001", world["person_key"], "w-a", "protect", "頭部のあざ", 0.7, "1")
    record_decision(engine, _user(world, "a", "w-a"), decision, None, world["agencies"], holders=world["held"])
    told = _notified(engine)
    assert [agency for agency, *_ in told] == sorted(set(world["held"]) - {world["a"]})
    delivered = feed_event_key("assessments", world["a"], "APP000001", "assessment", "protect")
    with audited(engine) as transaction:
        assert notify(transaction, person_key=world["person_key"], change="decision", source_agency_id=world["a"],
                      event_key=delivered, recipients=world["held"]) == 0
    assert _notified(engine) == told


def test_a_record_follows_its_child_to_the_key_a_later_run_gives_it(engine, con, world, tmp_path, scored_world):
    """A run that re-keys the child (a merge) moves the record with it, found through its anchor record."""
    saved = _save(engine, con, world, _user(world, "a", "w-a"))
    with engine.begin() as store:  # as if the record had been kept under the key of an earlier run
        store.execute(case_records_table.update().where(case_records_table.c.id == saved.id)
                      .values(person_key="key-of-an-earlier-run"))
    (tmp_path / "warehouse.duckdb").symlink_to(scored_world["home"] / "warehouse.duckdb")
    settings = Settings(home=tmp_path, env="local", postgres_url="")
    assert rekey_case_records(settings) == 1
    assert own_case_record(engine, _user(world, "a", "w-a"), world["person_key"]).id == saved.id
    assert _actions(engine)[-2][1] == REKEY_CASE_RECORDS  # the last is the read's own audit row
    assert rekey_case_records(settings) == 0
