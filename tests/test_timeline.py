"""The child's timeline across agencies and its gaps: the gap rules at their edges on hand-made events, and the
timeline of a granted child read from the scored world's marts."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from kodomo.appdata.access import Agency, Grant, load_agencies, load_holdings
from kodomo.settings import get_settings
from kodomo.sharing.timeline import (CHECKUP_NOT_MADE_UP, MOVE_IN_MISSING, MOVE_OUT_MISSING, SAFETY_LATE,
                                     SAFETY_NOT_CONFIRMED, TimelineEvent, child_timeline, gaps)

REGION = {
    "111007": Agency("111007", "municipality", "さいたま市", "11", "C1101"),
    "112038": Agency("112038", "municipality", "川口市", "11", "C1101"),
    "C1101": Agency("C1101", "cgc", "中央児童相談所", "11", None),
}
OUTSIDE = "131016"  # a municipality whose agency is not in the region
T0 = dt.datetime(2023, 4, 10, 9, 0)


def _event(sequence: int, event_type: str, at: dt.datetime, agency_id: str = "111007", **detail) -> TimelineEvent:
    return TimelineEvent(sequence, at, at, event_type, agency_id, "test", **detail)


def _move(sequence: int, kind: str, at: dt.datetime, agency_id: str, origin: str, destination: str) -> TimelineEvent:
    return _event(sequence, kind, at, agency_id, from_municipality_code=origin, to_municipality_code=destination)


def _kinds(found) -> list[str]:
    return [g.kind for g in found]


# --- moves

def test_a_move_out_to_the_region_needs_a_move_in_there_within_a_month():
    out = _move(1, "move_out", T0, "111007", "111007", "112038")
    [gap] = gaps([out], REGION)
    assert (gap.kind, gap.agency_id, gap.other_agency_id, gap.since) == (MOVE_IN_MISSING, "111007", "112038", T0)
    paired = _move(2, "move_in", T0 + dt.timedelta(days=31), "112038", "111007", "112038")
    assert gaps([out, paired], REGION) == []
    late = _move(2, "move_in", T0 + dt.timedelta(days=32), "112038", "111007", "112038")
    assert _kinds(gaps([out, late], REGION)) == [MOVE_IN_MISSING, MOVE_OUT_MISSING]
    elsewhere = _move(2, "move_in", T0, "112038", OUTSIDE, "112038")  # another move: not this one's other side
    assert MOVE_IN_MISSING in _kinds(gaps([out, elsewhere], REGION))


def test_a_move_to_or_from_outside_the_region_has_no_other_side_to_miss():
    assert gaps([_move(1, "move_out", T0, "111007", "111007", OUTSIDE)], REGION) == []
    assert gaps([_move(1, "move_in", T0, "111007", OUTSIDE, "111007")], REGION) == []
    [gap] = gaps([_move(1, "move_in", T0, "111007", "112038", "111007")], REGION)
    assert (gap.kind, gap.other_agency_id) == (MOVE_OUT_MISSING, "112038")


def test_a_move_whose_other_side_the_user_could_not_open_is_not_claimed():
    out = _move(1, "move_out", T0, "111007", "111007", "112038")
    assert gaps([out], REGION, unseen={"112038"}) == []
    assert _kinds(gaps([out], REGION, unseen={"C1101"})) == [MOVE_IN_MISSING]


# --- the 48-hour safety check

def _report(at: dt.datetime = T0, report_id: str = "R1") -> TimelineEvent:
    return _event(1, "report_received", at, report_id=report_id)


def _seen(at: dt.datetime, report_id: str = "R1", agency_id: str = "111007") -> TimelineEvent:
    return _event(2, "safety_confirmed", at, agency_id, report_id=report_id)


def test_the_child_seen_at_48_hours_is_on_time_and_a_minute_later_is_late():
    deadline = T0 + dt.timedelta(hours=48)
    assert gaps([_report(), _seen(deadline)], REGION) == []
    [gap] = gaps([_report(), _seen(deadline + dt.timedelta(minutes=1))], REGION)
    assert (gap.kind, gap.since, gap.resolved_at) == (SAFETY_LATE, deadline, deadline + dt.timedelta(minutes=1))


def test_an_unconfirmed_report_is_a_gap_only_once_its_48_hours_have_passed():
    deadline = T0 + dt.timedelta(hours=48)
    assert gaps([_report()], REGION, as_of=deadline) == []
    [gap] = gaps([_report()], REGION, as_of=deadline + dt.timedelta(seconds=1))
    assert (gap.kind, gap.since, gap.resolved_at) == (SAFETY_NOT_CONFIRMED, deadline, None)
    # read as of the latest event known by default: a report younger than that is not yet late
    assert gaps([_report()], REGION) == []


def test_a_confirmation_counts_only_for_its_own_report_and_agency():
    later = T0 + dt.timedelta(days=5)
    events = [_report(), _seen(T0 + dt.timedelta(hours=1), report_id="R2"),
              _seen(T0 + dt.timedelta(hours=1), agency_id="C1101")]
    assert _kinds(gaps(events, REGION, as_of=later)) == [SAFETY_NOT_CONFIRMED]


# --- checkups

def test_a_missed_checkup_is_made_up_by_any_checkup_attended_on_or_after_it():
    missed = _event(1, "checkup_no_show", T0, checkup_type="m18", checkup_status="no_show")
    [gap] = gaps([missed], REGION)
    assert (gap.kind, gap.since) == (CHECKUP_NOT_MADE_UP, T0)
    before = _event(2, "checkup_attended", T0 - dt.timedelta(days=1), checkup_type="m4")
    assert _kinds(gaps([before, missed], REGION)) == [CHECKUP_NOT_MADE_UP]
    same_day = _event(2, "checkup_attended", T0, "112038", checkup_type="m18")
    assert gaps([missed, same_day], REGION) == []


def test_gaps_come_in_time_order_and_none_without_events():
    assert gaps([], REGION) == []
    events = [_event(1, "checkup_no_show", T0, checkup_type="m4"),
              _move(2, "move_out", T0 - dt.timedelta(days=10), "111007", "111007", "112038")]
    assert _kinds(gaps(events, REGION)) == [MOVE_IN_MISSING, CHECKUP_NOT_MADE_UP]


# --- the timeline of the scored world

@pytest.fixture(scope="module")
def warehouse(scored_world):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(scored_world["home"]))
        mp.setenv("KODOMO_ENV", "local")
        path = get_settings().warehouse_path
    with duckdb.connect(str(path), read_only=True) as con:
        yield con


def test_the_timeline_holds_the_granted_agencies_events_in_order(warehouse):
    [(person_key,)] = warehouse.execute("""
        select person_key from marts.child_timeline group by person_key
        having count(distinct agency_id) >= 2 order by count(*) desc, person_key limit 1""").fetchall()
    holders = tuple(h.agency_id for h in load_holdings(warehouse, person_key))
    everything = child_timeline(warehouse, Grant("u", person_key, holders, None, ()))
    [(expected,)] = warehouse.execute("select count(*) from marts.child_timeline where person_key = ?",
                                      [person_key]).fetchall()
    assert len(everything) == expected
    assert [e.sequence for e in everything] == sorted(e.sequence for e in everything)
    assert all(e.known_at >= e.at and e.source_feed for e in everything)

    one = sorted({e.agency_id for e in everything})[0]
    some = child_timeline(warehouse, Grant("u", person_key, (one,), None, ()))
    assert some and {e.agency_id for e in some} == {one}
    assert [e for e in everything if e.agency_id == one] == some


def test_the_scored_world_shows_gaps_a_caseworker_would_act_on(warehouse):
    agencies = load_agencies(warehouse)
    [(person_key,)] = warehouse.execute("""
        select person_key from marts.child_timeline as t
        where event_type = 'move_out' and to_municipality_code in (select agency_id from marts.agencies)
            and not exists (select 1 from marts.child_timeline as i where i.person_key = t.person_key
                            and i.event_type = 'move_in' and i.from_municipality_code = t.from_municipality_code
                            and i.to_municipality_code = t.to_municipality_code)
        order by person_key limit 1""").fetchall()
    holders = tuple(h.agency_id for h in load_holdings(warehouse, person_key))
    found = gaps(child_timeline(warehouse, Grant("u", person_key, holders, None, ())), agencies)
    assert MOVE_IN_MISSING in _kinds(found)


def test_a_grant_without_a_child_is_refused(warehouse):
    with pytest.raises(ValueError, match="names no child"):
        child_timeline(warehouse, Grant("u", None, ("111007",), None, ()))


def test_a_reports_score_and_the_decisions_recorded_in_the_app_join_its_timeline(warehouse, tmp_path):
    from kodomo.operational import WorkerDecision, connect, record_decision
    from kodomo.settings import Settings
    from kodomo.sharing.timeline import APP_DECISION, RISK_SCORE, with_scores_and_decisions

    [(person_key, agency_id, report_id, score, version)] = warehouse.execute("""
        select person_key, agency_id, report_id, risk_score, model_version from ml.intake_scores
        order by agency_id, report_id limit 1""").fetchall()
    holders = tuple(h.agency_id for h in load_holdings(warehouse, person_key))
    events = child_timeline(warehouse, Grant("u", person_key, holders, None, ()))
    store = connect(Settings(home=tmp_path, env="local", postgres_url=""))
    record_decision(store, WorkerDecision(agency_id, report_id, person_key, "w-1", "protect", "顔面のあざ",
                                          score, version, disposition="temporary_protection"))
    joined = with_scores_and_decisions(warehouse, store, events)
    store.dispose()
    [scored] = [e for e in joined if e.event_type == RISK_SCORE and e.report_id == report_id]
    [decided] = [e for e in joined if e.event_type == APP_DECISION]
    assert (scored.agency_id, scored.risk_score, scored.model_version) == (agency_id, score, version)
    assert (decided.worker_id, decided.disposition, decided.risk_score) == ("w-1", "temporary_protection", score)
    assert len(joined) == len(events) + len([e for e in joined if e.event_type == RISK_SCORE]) + 1
    assert len({e.sequence for e in joined}) == len(joined)
    assert [(e.at, e.known_at) for e in joined] == sorted((e.at, e.known_at) for e in joined)
