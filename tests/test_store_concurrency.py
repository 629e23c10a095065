"""Many writers at once: 20 threads × 50 audit rows and decisions, on SQLite and on PostgreSQL, lose nothing and
extend one valid chain."""
from __future__ import annotations

import threading

from sqlalchemy import select

from kodomo.operational import (CASEWORKER, RECORD_DECISION, VIEW_INTAKE, AccessEntry, WorkerDecision, audit_log,
                                log_access, record_decision, verify, worker_decisions)
from tests.test_operational import engine  # noqa: F401  (the store on SQLite and on PostgreSQL)

THREADS, PER_THREAD = 20, 50


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

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

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
