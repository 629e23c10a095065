"""Many writers at once: 20 threads × 50 audit rows and decisions, and 20 threads × 50 intakes entered in the app,
on SQLite and on PostgreSQL, lose nothing and extend one valid chain; a stale save is refused."""
from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from kodomo.operational import (CASEWORKER, RECORD_DECISION, VIEW_INTAKE, AccessEntry, WorkerDecision, audit_log,
                                log_access, record_decision, verify, worker_decisions)
from kodomo.appdata.accounts import Account
from kodomo.intake_entries import ENTER_INTAKE, StaleEdit, enter_intake, stored_intake, update_intake
from kodomo.operational import app_intakes
from tests.test_intake_entries import AGENCY_MAP, _entry
from tests.test_operational import engine  # noqa: F401  (the store on SQLite and on PostgreSQL)

THREADS, PER_THREAD = 20, 50


def _in_threads(work) -> None:
    """``work(worker)`` for each of THREADS workers at once; returns when all are done."""
    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_concurrent_writers_lose_nothing_and_keep_one_chain(engine):
    failures = []

    def write(worker: int) -> None:
        try:
            for n in range(PER_THREAD):
                if n % 2:
                    record_decision(engine, WorkerDecision("111007", f"R{worker:02}-{n:02}", None, f"w{worker:02}",
                                                           "undecided", f"確認中 {n}", 0.5, "3"))
                else:
                    log_access(engine, AccessEntry(f"w{worker:02}", CASEWORKER, VIEW_INTAKE, "111007",
                                                   f"R{worker:02}-{n:02}"))
        except Exception as exc:  # noqa: BLE001  (reported below: a lost write fails the test)
            failures.append(exc)

    _in_threads(write)

    assert failures == []
    with engine.connect() as con:
        logged = con.execute(select(audit_log.c.action, audit_log.c.report_id, audit_log.c.at)
                             .order_by(audit_log.c.id)).all()
        decided = set(con.execute(select(worker_decisions.c.report_id)).scalars())
    expected = {f"R{worker:02}-{n:02}" for worker in range(THREADS) for n in range(PER_THREAD)}
    assert {report for _, report, _ in logged} == expected and len(logged) == THREADS * PER_THREAD
    assert decided == {report for action, report, _ in logged if action == RECORD_DECISION}
    assert len(decided) == THREADS * PER_THREAD // 2
    times = [at for _, _, at in logged]
    assert times == sorted(times)  # the chain's order is the database's time order
    assert verify(engine).line == f"audit log intact: {THREADS * PER_THREAD} rows"


def test_concurrent_entries_lose_nothing_and_number_each_intake_once(engine):
    entry = _entry()
    failures = []

    def enter(worker: int) -> None:
        user = Account(f"w{worker:02}", f"職員 {worker}", "111007" if worker % 2 else "C1101", "caseworker")
        try:
            for _ in range(PER_THREAD):
                enter_intake(engine, user, replace(entry, agency_id=user.agency_id), AGENCY_MAP)
        except Exception as exc:  # noqa: BLE001  (reported below: a lost write fails the test)
            failures.append(exc)

    _in_threads(enter)

    assert failures == []
    with engine.connect() as con:
        stored = con.execute(select(app_intakes.c.agency_id, app_intakes.c.report_id, app_intakes.c.entered_by)).all()
        entered = con.execute(select(audit_log.c.agency_id, audit_log.c.report_id)
                              .where(audit_log.c.action == ENTER_INTAKE)).all()
        numbers = dict(con.execute(select(app_intakes.c.agency_id, func.max(app_intakes.c.sequence))
                                   .group_by(app_intakes.c.agency_id)).all())
    assert len(stored) == len({(a, r) for a, r, _ in stored}) == THREADS * PER_THREAD
    assert sorted(entered) == sorted((a, r) for a, r, _ in stored)
    assert numbers == {"111007": THREADS * PER_THREAD // 2, "C1101": THREADS * PER_THREAD // 2}  # no gaps
    assert {by: sum(1 for *_, b in stored if b == by) for _, _, by in stored} == {
        f"w{worker:02}": PER_THREAD for worker in range(THREADS)}
    assert verify(engine).line == f"audit log intact: {THREADS * PER_THREAD} rows"


def test_of_two_users_who_opened_one_version_the_second_save_is_refused(engine):
    first_user = Account("w-a", "甲", "111007", "caseworker")
    second_user = Account("w-b", "乙", "111007", "caseworker")
    entered = enter_intake(engine, first_user, _entry(), AGENCY_MAP)
    report = entered.report_id
    opened = [stored_intake(engine, user, "111007", report, AGENCY_MAP) for user in (first_user, second_user)]
    assert {o.version for o in opened} == {1}
    update_intake(engine, first_user, "111007", report, opened[0].version, _entry(route="police"), AGENCY_MAP)
    with pytest.raises(StaleEdit, match=f"intake 111007/{report} was changed by w-a at .* reload it") as stale:
        update_intake(engine, second_user, "111007", report, opened[1].version, _entry(route="medical"), AGENCY_MAP)
    assert (stale.value.current_version, stale.value.changed_by) == (2, "w-a")
    kept = stored_intake(engine, first_user, "111007", report, AGENCY_MAP)
    assert (kept.version, kept.entry.route) == (2, "police")
    with engine.connect() as con:
        saves = con.execute(select(audit_log.c.user_id).where(audit_log.c.action == "update_intake")).scalars().all()
    assert saves == ["w-a"]
