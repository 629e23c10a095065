"""What caseworkers enter in the app, delivered to the platform as the records of their agency (issue 10).

Before each run, the operational store's app-entered intakes (``kodomo.intake_entries``) are written as
``case_reports`` and ``assessments`` feed files (source-feeds.md §4–5) into the archive's ``app/`` folder, one
delivery per agency and feed named ``<agency_id>_<YYYYMMDD>_<seq>.csv`` like the agencies' own; the run then
loads them with every delivered file, through the same contracts, quarantine and versioning. For each intake:

- ``case_reports``: the report as last saved; ``local_child_id`` is the agency's own ID for the child when the
  worker confirmed an existing child that the last run linked to a record of this agency, else the app's ID
  (``APPC…``, one per child per agency); ``substantiated`` is ``undetermined`` and ``severe_harm`` ``no`` (the
  app records neither yet); ``temporary_protection`` is ``yes`` at the latest decision's time when that decision
  is ``protect``;
- ``assessments``: ``assessment_id`` = the report's number, assessed when entered by whoever entered it, every
  item, and the latest decision with its rationale (``undecided`` and none before a decision);
- ``updated_at`` (Japan time) is the intake's latest change or decision, so a later delivery's rows win.

The notices sent from the app (``kodomo.sharing.notices``) are delivered as their sending agency's ``alerts``
rows (source-feeds.md §5): ``alert_id`` ``APPN<id>``, the kind, sent at, the destination municipality of a moved
notice and the summary. A notice names its child by one record (its anchor); the person fields are that record's
as its agency last delivered them (the latest row of the person feeds in ``valid``), and ``local_child_id`` is
the sending agency's one ID for the child (an agency gives each child one ID, and the linkage keeps it so): the
agency's record of the child in the last run's linkage, else the ID of an intake of the child entered at the
agency since, else the app's ``APPNC…`` (from the agency's first notice of the child). A notice whose anchor
record the warehouse cannot give waits for a later delivery.

A delivery holds only rows that no earlier app delivery holds exactly: exporting unchanged entries again writes
nothing, and the archive keeps a content once (idempotent). Nothing is exported when there is no store.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from collections.abc import Iterable
from pathlib import PurePosixPath

import duckdb
from sqlalchemy import func, select

from kodomo.contracts import contract, person_feeds
from kodomo.ingest.archive import APP_DELIVERIES, Archive
from kodomo.ingest.reader import parse_file_name, read_csv_bytes
from kodomo.intake_entries import CHILD_PREFIX, JAPAN
from kodomo.linkage.records import existing_tables
from kodomo.operational import app_intakes, connect, notices, worker_decisions
from kodomo.settings import Settings
from kodomo.sharing.notices import APP_ALERT_PREFIX, app_alert_id

log = logging.getLogger(__name__)
INTAKE_FEEDS = ("case_reports", "assessments")
NOTICE_CHILD_PREFIX = f"{APP_ALERT_PREFIX}C"  # not CHILD_PREFIX: an intake takes it as the agency's own ID
_TIME = "%Y-%m-%d %H:%M:%S"


def _japan_text(at: dt.datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(JAPAN).strftime(_TIME)


def _store_rows(settings: Settings) -> tuple[list[dict], dict[tuple[str, str], dict], list[dict]]:
    """The app's intakes, each one's latest decision, and the app's notices; nothing when the store does not
    exist."""
    if not settings.is_production and not (settings.home / "operational.db").is_file():
        return [], {}, []
    engine = connect(settings)
    try:
        with engine.connect() as con:
            intakes = [dict(r._mapping) for r in con.execute(select(app_intakes).order_by(
                app_intakes.c.agency_id, app_intakes.c.sequence))]
            latest = (select(func.max(worker_decisions.c.id)).join(
                app_intakes, (app_intakes.c.agency_id == worker_decisions.c.agency_id)
                & (app_intakes.c.report_id == worker_decisions.c.report_id))
                .group_by(worker_decisions.c.agency_id, worker_decisions.c.report_id))
            decisions = {(r.agency_id, r.report_id): dict(r._mapping) for r in con.execute(
                select(worker_decisions).where(worker_decisions.c.id.in_(latest)))}
            sent = [dict(r._mapping) for r in con.execute(select(notices).order_by(notices.c.id))]
    finally:
        engine.dispose()
    return intakes, decisions, sent


def _agencys_own_ids(settings: Settings, intakes: list[dict]) -> dict[tuple[str, str], str]:
    """(agency_id, person_key) -> the agency's own local_child_id for the child, from the last run's linkage."""
    wanted = {(i["agency_id"], i["person_key"]) for i in intakes if i["match"] == "existing"}
    if not wanted or not settings.warehouse_path.is_file():
        return {}
    try:
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            rows = con.execute("""
                select agency_id, person_key, min(local_child_id) from linkage.person_links
                where not starts_with(local_child_id, ?) group by agency_id, person_key""", [CHILD_PREFIX]).fetchall()
    except duckdb.Error as exc:  # no linkage yet, or the warehouse busy: the app's own IDs stand
        log.warning("app deliveries: the last run's linkage is not readable (%s); using the app's child IDs", exc)
        return {}
    return {(agency, key): local for agency, key, local in rows if (agency, key) in wanted}


def feed_rows(intakes: list[dict], decisions: dict[tuple[str, str], dict],
              own_ids: dict[tuple[str, str], str]) -> dict[str, list[dict]]:
    """Feed -> rows (contract column -> text) of the app's intakes."""
    items = list(json.loads(intakes[0]["items"])) if intakes else []
    rows: dict[str, list[dict]] = {feed: [] for feed in INTAKE_FEEDS}
    for intake in intakes:
        key = (intake["agency_id"], intake["report_id"])
        decision = decisions.get(key)
        changed = max([intake["updated_at"], *([decision["decided_at"]] if decision else [])],
                      key=lambda at: at if at.tzinfo else at.replace(tzinfo=dt.UTC))
        protect = decision is not None and decision["decision"] == "protect"
        common = {"agency_id": intake["agency_id"], "updated_at": _japan_text(changed),
                  "report_id": intake["report_id"]}
        rows["case_reports"].append(common | {
            "local_child_id": own_ids.get((intake["agency_id"], intake["person_key"]), intake["local_child_id"]),
            "child_name": intake["child_name"], "child_kana": intake["child_kana"], "sex": intake["sex"],
            "birth_date": intake["birth_date"].isoformat(),
            "address_municipality_code": intake["address_municipality_code"],
            "received_at": intake["received_at"].strftime(_TIME), "route": intake["route"],
            "abuse_types": intake["abuse_types"], "safety_confirmed_at": "", "substantiated": "undetermined",
            "temporary_protection": "yes" if protect else "no",
            "temporary_protection_at": _japan_text(decision["decided_at"]) if protect else "", "severe_harm": "no"})
        answers = json.loads(intake["items"])
        rows["assessments"].append(common | {
            "assessment_id": intake["report_id"], "assessed_at": _japan_text(intake["entered_at"]),
            "assessor_id": intake["entered_by"], **{item: answers[item] for item in items},
            "worker_decision": decision["decision"] if decision else "undecided",
            "worker_rationale": decision["rationale"] if decision else ""})
    return rows


def _notice_children(settings: Settings, sent: list[dict]) -> dict[int, dict]:
    """Notice id -> the anchor record's person fields as last delivered, with the anchor's person key in the last
    run's linkage and the sending agency's record of that child there (``own_id``); notices whose anchor record the
    warehouse does not hold are left out."""
    anchored = [n for n in sent if n["anchor_agency_id"] is not None]
    if not anchored or not settings.warehouse_path.is_file():
        return {}
    try:
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            feeds = [f for f in person_feeds() if f in existing_tables(con, "valid")]
            if not feeds:
                return {}
            latest = "\nunion all\n".join(
                f"select agency_id, local_child_id, child_name, child_kana, sex, birth_date, updated_at "
                f"from valid.{feed}" for feed in feeds)
            rows = con.execute(f"""
                with anchors as (
                    select unnest($ids) as id, unnest($agencies) as agency_id, unnest($locals) as local_child_id,
                        unnest($senders) as sender_id
                ),
                fields as (
                    select * from ({latest})
                    qualify row_number() over (partition by agency_id, local_child_id
                                               order by updated_at desc, child_name, child_kana, sex, birth_date) = 1
                ),
                own as (
                    select agency_id, person_key, min(local_child_id) as own_id
                    from linkage.person_links group by agency_id, person_key
                )
                select anchors.id, fields.child_name, fields.child_kana, fields.sex, fields.birth_date,
                    links.person_key, own.own_id
                from anchors
                inner join fields using (agency_id, local_child_id)
                left join linkage.person_links as links using (agency_id, local_child_id)
                left join own on own.agency_id = anchors.sender_id and own.person_key = links.person_key""",
                               {"ids": [n["id"] for n in anchored],
                                "agencies": [n["anchor_agency_id"] for n in anchored],
                                "locals": [n["anchor_local_child_id"] for n in anchored],
                                "senders": [n["from_agency_id"] for n in anchored]}).fetchall()
    except duckdb.Error as exc:  # no linkage yet, or the warehouse busy: the notices wait for a later delivery
        log.warning("app deliveries: the anchors of the app's notices are not readable (%s); notices wait", exc)
        return {}
    return {id_: {"child_name": name, "child_kana": kana, "sex": sex, "birth_date": birth.isoformat(),
                  "person_key": key, "own_id": own} for id_, name, kana, sex, birth, key, own in rows}


def _notice_child_ids(sent: list[dict], children: dict[int, dict], intakes: list[dict]) -> dict[int, str]:
    """Notice id -> the local_child_id its agency delivers it with: the agency's one ID for the child."""
    entered = {(i["agency_id"], i["person_key"]): i["local_child_id"] for i in intakes if i["person_key"]}
    first: dict[tuple, int] = {}
    ids = {}
    for notice in sent:  # by id: an agency's first notice of a child names the app's ID for it
        if (child := children.get(notice["id"])) is None:
            continue
        agency, key = notice["from_agency_id"], child["person_key"]
        the_child = (agency, key or (notice["anchor_agency_id"], notice["anchor_local_child_id"]))
        first.setdefault(the_child, notice["id"])
        ids[notice["id"]] = (child["own_id"] or entered.get((agency, key))
                             or f"{NOTICE_CHILD_PREFIX}{first[the_child]:06d}")
    return ids


def notice_rows(sent: list[dict], children: dict[int, dict], child_ids: dict[int, str]) -> list[dict]:
    """The app's notices as ``alerts`` rows (contract column -> text)."""
    return [{"agency_id": n["from_agency_id"], "updated_at": _japan_text(n["sent_at"]),
             "local_child_id": child_ids[n["id"]],
             **{c: children[n["id"]][c] for c in ("child_name", "child_kana", "sex", "birth_date")},
             "alert_id": app_alert_id(n["id"]), "alert_type": n["kind"], "issued_at": _japan_text(n["sent_at"]),
             "destination_agency_id": n["destination_municipality_code"] or "", "summary": n["summary"]}
            for n in sent if n["id"] in child_ids]


def _delivered_rows(archive: Archive, feed: str, agency_id: str) -> tuple[set[tuple], list[int], list]:
    """The rows the app has delivered for the agency (as sorted (column, text) tuples), the sequence numbers of its
    deliveries by date, and the feed's archive entries."""
    known = archive.files(feed, folder=True)
    delivered, sequences = set(), []
    for entry in known:
        path = PurePosixPath(entry.rel)
        if path.parts[0] != APP_DELIVERIES or not path.name.startswith(f"{agency_id}_"):
            continue
        delivery = parse_file_name(path.name)
        sequences.append((delivery.date, delivery.seq))
        read = read_csv_bytes(entry.read())
        delivered |= {tuple(sorted(zip(read.header, record))) for record in read.records}
    return delivered, sequences, known


def _csv(rows: Iterable[dict], header: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def deliver_app_entries(settings: Settings, today: dt.date | None = None) -> dict[str, int]:
    """Write the rows of the app's intakes and notices that changed since the app's last delivery into the archive;
    how many rows per feed."""
    intakes, decisions, sent = _store_rows(settings)
    if not intakes and not sent:
        return {}
    archive = Archive(settings.archive_dir)
    children = _notice_children(settings, sent)
    rows = feed_rows(intakes, decisions, _agencys_own_ids(settings, intakes)) | {
        "alerts": notice_rows(sent, children, _notice_child_ids(sent, children, intakes))}
    today = today or dt.datetime.now(JAPAN).date()
    counts = {}
    for feed, feed_rows_ in rows.items():
        header = list(contract(feed).column_names)
        for agency_id in sorted({r["agency_id"] for r in feed_rows_}):
            delivered, sequences, known = _delivered_rows(archive, feed, agency_id)
            new = [r for r in feed_rows_ if r["agency_id"] == agency_id and tuple(sorted(r.items())) not in delivered]
            if not new:
                continue
            # The delivery date is no earlier than any time in it (the contracts refuse a future date).
            day = max([today, *(dt.datetime.strptime(r["updated_at"], _TIME).date() for r in new)])
            seq = max([s for d, s in sequences if d == day], default=0) + 1
            name = f"{APP_DELIVERIES}/{feed}/{agency_id}_{day:%Y%m%d}_{seq}.csv"
            archive.keep([(name, _csv(new, header))], known)
            counts[feed] = counts.get(feed, 0) + len(new)
    return counts
