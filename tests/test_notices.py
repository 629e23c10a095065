"""Notices between agencies (kodomo/sharing/notices.py): who receives them, sending, acknowledging, closing a missing
notice, escalation after 3 days, the alerts feed's notices in the same lists, and the transfer worklist, on the
shared scored small world with a scratch operational store."""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import duckdb
import pytest
from sqlalchemy import func, insert, select

from kodomo.appdata.access import AccessDenied, agencies_from, load_agencies, load_holdings, open_child
from kodomo.appdata.accounts import Account
from kodomo.operational import (CASEWORKER, HEALTH_STAFF, SUPERVISOR, audit_log, case_records, connect,
                                feed_notice_acks, notice_recipients, notices, notifications, verify)
from kodomo.settings import Settings
from kodomo.sharing.notices import (ACKNOWLEDGE_NOTICE, ESCALATE_AFTER, SEND_NOTICE, SENT, VIEW_ESCALATIONS,
                                    VIEW_NOTICES, VIEW_TRANSFER_WORKLIST, InvalidNotice, Notice, Receipt, acknowledge,
                                    escalations, inbox, notices_of_child, open_missing, recipients_for, send_notice,
                                    sent, transfer_worklist)
from tests.conftest import AGENCIES

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture(scope="module")
def con(scored_world):
    with duckdb.connect(str(scored_world["home"] / "warehouse.duckdb"), read_only=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def agencies(con):
    return load_agencies(con)


@pytest.fixture
def engine(tmp_path):
    """A scratch operational store as the app connects to it: migrated, with its protections."""
    store = connect(Settings(home=tmp_path, env="local", postgres_url=""))
    yield store
    store.dispose()


def _worker(agency_id: str, role: str = CASEWORKER) -> Account:
    return Account(f"{role[:2]}-{agency_id.lower()}", f"{agency_id} の職員", agency_id, role)


@pytest.fixture(scope="module")
def child(con, agencies) -> dict:
    """A child held by a municipality and at least two other agencies, and a destination municipality of another
    jurisdiction that holds no record of it."""
    person_key, municipality = con.execute("""
        select child.person_key, held.agency_id
        from marts.child as child
        cross join unnest(string_split(child.agency_ids, ';')) as held(agency_id)
        inner join marts.agencies as agencies on agencies.agency_id = held.agency_id
        where agencies.agency_type = 'municipality' and child.agency_count >= 3
            and child.person_key not in (select person_key from marts.child_timeline where source_feed = 'alerts')
        order by child.person_key, held.agency_id limit 1""").fetchone()
    holders = {h.agency_id for h in load_holdings(con, person_key)}
    home = agencies[municipality]
    destination = next(a for a in sorted(agencies.values(), key=lambda a: a.agency_id)
                       if a.agency_type == "municipality" and a.cgc_id != home.cgc_id and a.agency_id not in holders)
    return {"person_key": person_key, "sender": _worker(municipality), "holders": holders,
            "destination": destination.agency_id, "destination_cgc": destination.cgc_id}


def _actions(engine) -> list[str]:
    with engine.connect() as c:
        return list(c.execute(select(audit_log.c.action).order_by(audit_log.c.id)).scalars())


def _count(engine, table) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(table)).scalar()


# --- who receives a notice (pure)

HAND_MADE = agencies_from({**a, "cgc_id": a["cgc_id"] or None} for a in AGENCIES)


def test_a_moved_notice_goes_to_the_destination_municipality_and_its_cgc_never_the_sender():
    assert recipients_for("moved", "111007", HAND_MADE, destination_municipality_code="131016") == ("131016", "C1301")
    assert recipients_for("moved", "C1101", HAND_MADE, destination_municipality_code="111007") == ("111007",)
    for wrong in ("11203X", "C1301", None):
        with pytest.raises(InvalidNotice, match=f"destination {wrong}: not a municipality code in the agencies list"):
            recipients_for("moved", "111007", HAND_MADE, destination_municipality_code=wrong)


def test_a_missing_notice_goes_to_every_cgc_and_the_municipality_of_the_last_address():
    assert recipients_for("missing", "111007", HAND_MADE, last_address_code="131016") == ("131016", "C1101", "C1301")
    assert recipients_for("missing", "C1101", HAND_MADE, last_address_code="111007") == ("111007", "C1301")
    # an address outside the region adds no municipality; every CGC is still told
    assert recipients_for("missing", "111007", HAND_MADE, last_address_code="999997") == ("C1101", "C1301")


def test_a_found_notice_goes_to_the_missing_notices_receivers_and_its_sender():
    missing = Notice("app:1", "app", "missing", "P1", "111007", "w", dt.datetime(2025, 1, 1, tzinfo=dt.UTC), None,
                     "s", {}, (Receipt("C1101", None, None, False), Receipt("C1301", None, None, False)), None, None)
    assert recipients_for("found", "C1301", HAND_MADE, missing=missing) == ("111007", "C1101")
    with pytest.raises(InvalidNotice, match="closes a missing notice"):
        recipients_for("found", "C1301", HAND_MADE)


# --- sending

def test_a_moved_notice_reaches_the_destination_and_its_cgc_and_tells_every_other_holder_once(con, engine, agencies,
                                                                                                  child):
    notice = send_notice(engine, con, child["sender"], child["person_key"], "moved", agencies,
                         summary="4月20日に転居。家庭訪問の継続をお願いします。",
                         destination_municipality_code=child["destination"])
    assert notice.ref.startswith("app:") and notice.source == "app" and notice.sent_by == child["sender"].user_id
    with engine.connect() as c:
        receivers = Counter(c.execute(select(notice_recipients.c.agency_id)).scalars())
        told = Counter(c.execute(select(notifications.c.agency_id).where(
            notifications.c.change == "notice", notifications.c.event_key == f"notice:{notice.ref[4:]}")).scalars())
    assert receivers == Counter({child["destination"]: 1, child["destination_cgc"]: 1})
    assert told == Counter({agency: 1 for agency in child["holders"] - {child["sender"].agency_id}})
    assert [r.agency_id for r in notice.recipients] == sorted(receivers)
    assert not any(r.acknowledged_at or r.overdue for r in notice.recipients)
    essentials = notice.essentials
    birth, sex = con.execute("select birth_year_month, sex from marts.child where person_key = ?",
                             [child["person_key"]]).fetchone()
    assert (essentials["birth_year_month"], essentials["sex"]) == (birth, sex)
    assert essentials["from_agency"]["agency_id"] == child["sender"].agency_id
    assert essentials["worker"]["user_id"] == child["sender"].user_id
    assert essentials["destination"]["agency_id"] == child["destination"]
    assert set(essentials["open_case"]) == {"report_count_365_days", "last_report_on", "as_of"}
    names = con.execute("select child_name, child_kana from linkage.person_records join linkage.person_links "
                        "using (agency_id, local_child_id) where person_key = ?", [child["person_key"]]).fetchall()
    stored = json.dumps(essentials, ensure_ascii=False)
    assert names and not any(part and part in stored for row in names for part in row)
    assert _actions(engine) == [SEND_NOTICE]


def test_a_notice_needs_a_summary_and_a_destination_in_the_list_and_nothing_is_half_saved(con, engine, agencies,
                                                                                           child):
    with pytest.raises(InvalidNotice, match="summary"):
        send_notice(engine, con, child["sender"], child["person_key"], "moved", agencies, summary="  ",
                    destination_municipality_code=child["destination"])
    with pytest.raises(InvalidNotice, match="destination 11203X: not a municipality code"):
        send_notice(engine, con, child["sender"], child["person_key"], "moved", agencies, summary="転居",
                    destination_municipality_code="11203X")
    assert _count(engine, notices) == _count(engine, notice_recipients) == _count(engine, notifications) == 0
    assert _actions(engine) == []


def test_a_sender_outside_the_jurisdictions_holding_the_child_is_refused(con, engine, agencies, child):
    holders_cgcs = {agencies[a].jurisdiction for a in child["holders"]}
    outsider = next(a for a in sorted(agencies) if agencies[a].jurisdiction not in holders_cgcs)
    with pytest.raises(AccessDenied, match="no agency of your jurisdiction holds a record"):
        send_notice(engine, con, _worker(outsider), child["person_key"], "missing", agencies, summary="不明")
    with pytest.raises(AccessDenied):
        send_notice(engine, con, _worker(child["sender"].agency_id, HEALTH_STAFF), child["person_key"], "missing",
                    agencies, summary="不明")
    assert _count(engine, notices) == 0


# --- acknowledging, closing, escalating

def test_the_receiver_acknowledges_once_and_a_non_recipient_is_refused(con, engine, agencies, child):
    notice = send_notice(engine, con, child["sender"], child["person_key"], "moved", agencies, summary="転居",
                         destination_municipality_code=child["destination"])
    receiver = _worker(child["destination"])
    assert inbox(engine, con, receiver, agencies)[0].ref == notice.ref  # unacknowledged first
    for stranger in (child["sender"], _worker(next(iter(child["holders"] - {child["sender"].agency_id})))):
        with pytest.raises(AccessDenied, match=f"notice {notice.ref} was not sent to"):
            acknowledge(engine, con, stranger, notice.ref, agencies)
    acknowledge(engine, con, receiver, notice.ref, agencies)
    with pytest.raises(InvalidNotice, match="already acknowledged"):
        acknowledge(engine, con, receiver, notice.ref, agencies)
    [mine] = [n for n in sent(engine, con, child["sender"], agencies) if n.ref == notice.ref]
    assert mine.receipt(child["destination"]).acknowledged_by == receiver.user_id
    assert mine.receipt(child["destination_cgc"]).acknowledged_at is None
    box = inbox(engine, con, receiver, agencies)
    assert notice.ref in [n.ref for n in box]
    acknowledged = [n.receipt(receiver.agency_id).acknowledged_at is not None for n in box]
    assert acknowledged == sorted(acknowledged)  # unacknowledged first
    assert _actions(engine).count(ACKNOWLEDGE_NOTICE) == 1


def test_a_found_notice_closes_an_open_missing_one_and_is_refused_without_one(con, engine, agencies, child):
    sender, key = child["sender"], child["person_key"]
    with pytest.raises(InvalidNotice, match="closes app:999: not an open missing notice"):
        send_notice(engine, con, sender, key, "found", agencies, summary="発見", closes="app:999")
    missing = send_notice(engine, con, sender, key, "missing", agencies, summary="登校せず、家族と連絡が取れない")
    cgcs = {a for a, agency in agencies.items() if agency.agency_type == "cgc"}
    assert cgcs - {sender.agency_id} <= {r.agency_id for r in missing.recipients}
    assert missing.essentials["last_address_from"] == "marts" and missing.essentials["case_record"] is None
    with pytest.raises(InvalidNotice, match="already has an open missing notice"):
        send_notice(engine, con, sender, key, "missing", agencies, summary="二重")
    assert [n.ref for n in open_missing(engine, con, key)] == [missing.ref]
    finder = _worker(next(c for c in sorted(cgcs) if c not in {agencies[h].jurisdiction for h in child["holders"]}))
    with pytest.raises(AccessDenied):  # a CGC told of the missing child holds no record of it
        send_notice(engine, con, finder, key, "found", agencies, summary="発見", closes=missing.ref)
    found = send_notice(engine, con, sender, key, "found", agencies, summary="祖母宅で発見", closes=missing.ref)
    assert found.closes == missing.ref and open_missing(engine, con, key) == []
    assert {r.agency_id for r in found.recipients} == {r.agency_id for r in missing.recipients}
    with pytest.raises(InvalidNotice, match="not an open missing notice"):
        send_notice(engine, con, sender, key, "found", agencies, summary="再度", closes=missing.ref)
    [closed] = [n for n in sent(engine, con, sender, agencies) if n.ref == missing.ref]
    assert closed.closed_by == found.ref


def test_a_missing_notice_goes_to_the_last_address_of_the_senders_case_record_with_its_essentials(con, engine,
                                                                                                  agencies, child):
    sender, key = child["sender"], child["person_key"]
    recorded = child["destination"]  # the worker knows of an address in another jurisdiction
    with engine.begin() as c:
        now = dt.datetime.now(dt.UTC)
        c.execute(insert(case_records).values(
            agency_id=sender.agency_id, person_key=key, version=2, address="大田区大森北1-1-1",
            address_municipality_code=recorded, institutions=json.dumps(
                [{"kind": "school", "name": "大森第一小学校", "contact": "03-0000-0000"}], ensure_ascii=False),
            household="母と二人", situation="養育不安", support_plan="週1回の訪問", plan_status="open",
            worker_id="w-in-charge", created_by="w", created_at=now, updated_by="w", updated_at=now))
    missing = send_notice(engine, con, sender, key, "missing", agencies, summary="行方不明")
    assert recorded in {r.agency_id for r in missing.recipients}
    essentials = missing.essentials
    assert (essentials["last_address_municipality_code"], essentials["last_address_from"]) == (recorded,
                                                                                               "case_record")
    assert essentials["case_record"] == {
        "version": 2, "address": "大田区大森北1-1-1", "address_municipality_code": recorded,
        "institutions": [{"kind": "school", "name": "大森第一小学校", "contact": "03-0000-0000"}],
        "worker_id": "w-in-charge", "plan_status": "open"}
    stored = json.dumps(essentials, ensure_ascii=False)
    assert not any(free_text in stored for free_text in ("母と二人", "養育不安", "週1回の訪問"))


def test_an_unacknowledged_notice_is_escalated_to_both_supervisors_after_three_days(con, engine, agencies, child):
    notice = send_notice(engine, con, child["sender"], child["person_key"], "moved", agencies, summary="転居",
                         destination_municipality_code=child["destination"])
    sender_sv = _worker(child["sender"].agency_id, SUPERVISOR)
    receiver_sv = _worker(child["destination"], SUPERVISOR)
    unrelated_sv = _worker(next(a for a in sorted(agencies) if a not in
                                {child["sender"].agency_id, child["destination"], child["destination_cgc"]}),
                           SUPERVISOR)

    def escalated(user, after):
        return notice.ref in [n.ref for n in escalations(engine, con, user, agencies, now=notice.sent_at + after)]

    assert not escalated(sender_sv, ESCALATE_AFTER - MINUTE) and not escalated(receiver_sv, ESCALATE_AFTER - MINUTE)
    assert escalated(sender_sv, ESCALATE_AFTER + MINUTE) and escalated(receiver_sv, ESCALATE_AFTER + MINUTE)
    assert not escalated(unrelated_sv, ESCALATE_AFTER + MINUTE)
    with pytest.raises(AccessDenied):
        escalations(engine, con, child["sender"], agencies)
    acknowledge(engine, con, _worker(child["destination"]), notice.ref, agencies)
    assert not escalated(receiver_sv, ESCALATE_AFTER + MINUTE)
    assert escalated(sender_sv, ESCALATE_AFTER + MINUTE)  # the destination's CGC has not acknowledged
    assert _actions(engine).count(VIEW_ESCALATIONS) == 7


def test_the_childs_record_lists_its_notices_and_every_action_is_audited_in_one_valid_chain(con, engine, agencies,
                                                                                            child):
    sender = child["sender"]
    notice = send_notice(engine, con, sender, child["person_key"], "moved", agencies, summary="転居",
                         destination_municipality_code=child["destination"])
    grant = open_child(engine, sender, child["person_key"], load_holdings(con, child["person_key"]), agencies)
    assert [n.ref for n in notices_of_child(engine, con, sender, grant)] == [notice.ref]
    with pytest.raises(AccessDenied):
        notices_of_child(engine, con, _worker(child["destination"]), grant)
    inbox(engine, con, _worker(child["destination"]), agencies)
    acknowledge(engine, con, _worker(child["destination"]), notice.ref, agencies)
    sent(engine, con, sender, agencies)
    transfer_worklist(engine, con, sender, agencies)
    with engine.connect() as c:
        rows = c.execute(select(audit_log.c.user_id, audit_log.c.action, audit_log.c.person_key, audit_log.c.detail)
                         .order_by(audit_log.c.id)).all()
    assert [r.action for r in rows] == [SEND_NOTICE, "view_child", VIEW_NOTICES, VIEW_NOTICES, ACKNOWLEDGE_NOTICE,
                                        VIEW_NOTICES, VIEW_TRANSFER_WORKLIST]
    assert rows[0].person_key == rows[4].person_key == child["person_key"] and rows[4].detail == notice.ref
    assert verify(engine).ok


# --- the alerts feed's notices

def test_a_feed_notice_is_in_its_destinations_inbox_and_is_acknowledged_there(con, engine, agencies):
    agency_id, alert_id, destination = con.execute("""
        select timeline.agency_id, timeline.source_id, timeline.destination_agency_id
        from marts.child_timeline as timeline
        inner join marts.agencies as agencies on agencies.agency_id = timeline.destination_agency_id
        where timeline.event_type = 'alert_moved' and agencies.agency_type = 'municipality'
        order by timeline.event_at limit 1""").fetchone()
    ref = f"feed:{agency_id}:{alert_id}"
    receiver = _worker(destination)
    [notice] = [n for n in inbox(engine, con, receiver, agencies) if n.ref == ref]
    assert notice.source == "feed" and notice.sent_by is None and notice.destination_municipality_code == destination
    assert {r.agency_id for r in notice.recipients} == {destination, agencies[destination].cgc_id} - {agency_id}
    assert notice.receipt(destination).overdue  # long past: the world's data end before today
    assert ref in [n.ref for n in sent(engine, con, _worker(agency_id), agencies)]
    acknowledge(engine, con, receiver, ref, agencies)
    with engine.connect() as c:
        assert c.execute(select(feed_notice_acks.c.agency_id, feed_notice_acks.c.source_agency_id,
                                feed_notice_acks.c.alert_id)).all() == [(destination, agency_id, alert_id)]
    [again] = [n for n in inbox(engine, con, receiver, agencies) if n.ref == ref]
    assert again.receipt(destination).acknowledged_by == receiver.user_id
    assert not again.receipt(destination).overdue
    with pytest.raises(AccessDenied):
        acknowledge(engine, con, _worker(agency_id), ref, agencies)


def test_feed_found_notices_close_the_childs_earlier_missing_notice(con, engine, agencies):
    cgc = next(a for a in sorted(agencies) if agencies[a].agency_type == "cgc")
    box = inbox(engine, con, _worker(cgc), agencies)
    by_ref = {n.ref: n for n in box}
    found = [n for n in box if n.kind == "found" and n.closes in by_ref]
    assert found
    for notice in found:
        missing = by_ref[notice.closes]
        assert missing.kind == "missing" and missing.person_key == notice.person_key
        assert missing.sent_at <= notice.sent_at and missing.closed_by == notice.ref
        assert {r.agency_id for r in notice.recipients} == (
            {r.agency_id for r in missing.recipients} | {missing.from_agency_id}) - {notice.from_agency_id}


def test_a_found_notice_from_the_app_closes_a_missing_notice_of_the_feed(con, engine, agencies):
    """The worker who finds a child reported missing through the feed closes that notice from the app."""
    cgcs = sorted(a for a in agencies if agencies[a].agency_type == "cgc")
    open_feed = next(n for cgc in cgcs for n in inbox(engine, con, _worker(cgc), agencies)
                     if n.source == "feed" and n.kind == "missing" and n.closed_by is None
                     and any(h.agency_id in agencies and agencies[h.agency_id].jurisdiction == cgc
                             for h in load_holdings(con, n.person_key)))
    finder = _worker(next(h.agency_id for h in load_holdings(con, open_feed.person_key)
                          if agencies[h.agency_id].jurisdiction in cgcs))
    found = send_notice(engine, con, finder, open_feed.person_key, "found", agencies, summary="本人と面会し安全を確認",
                        closes=open_feed.ref)
    assert found.closes == open_feed.ref
    assert open_feed.ref not in {n.ref for n in open_missing(engine, con, open_feed.person_key)}
    assert {r.agency_id for r in found.recipients} == (
        {r.agency_id for r in open_feed.recipients} | {open_feed.from_agency_id}) - {finder.agency_id}


# --- the transfer worklist

def test_the_transfer_worklist_turns_to_sent_with_a_moved_notice_and_an_acknowledgement_removes_it(con, engine,
                                                                                                    agencies):
    moves = con.execute("""
        select person_key, event_date, from_municipality_code from marts.transfer_alerts
        where alert_kind = 'transfer' and is_destination_in_region
            and not coalesce(is_notice_sent_to_destination, false) and from_municipality_code in (select agency_id from marts.agencies)
        order by event_date, person_key""").fetchall()
    # a move whose origin's jurisdiction holds the child, so that the origin may send the notice
    person_key, move_date, origin = next(m for m in moves if any(
        agencies[h.agency_id].jurisdiction == agencies[m[2]].jurisdiction for h in load_holdings(con, m[0])))
    sender = _worker(origin)
    worklist = transfer_worklist(engine, con, sender, agencies)
    assert worklist and {r.notice for r in worklist} <= {"none", "sent"}
    assert [r.move_date for r in worklist] == sorted(r.move_date for r in worklist)
    [row] = [r for r in worklist if (r.person_key, r.move_date) == (person_key, move_date)]
    assert row.notice == "none"
    notice = send_notice(engine, con, sender, row.person_key, "moved", agencies, summary="転居先へ引き継ぎ",
                         destination_municipality_code=row.to_municipality_code)
    after = [r for r in transfer_worklist(engine, con, sender, agencies) if r.person_key == row.person_key
             and r.move_date == row.move_date]
    assert [r.notice for r in after] == [SENT]
    acknowledge(engine, con, _worker(row.destination_cgc_id), notice.ref, agencies)  # the CGC is not enough
    assert [r.notice for r in transfer_worklist(engine, con, sender, agencies) if r == after[0]] == [SENT]
    acknowledge(engine, con, _worker(row.to_municipality_code), notice.ref, agencies)
    assert after[0] not in transfer_worklist(engine, con, sender, agencies)
    assert transfer_worklist(engine, con, sender, agencies, as_of=dt.date(1990, 1, 1)) == []
