"""``generate``: simulate the world, write the landing folder and its ground truth."""
from __future__ import annotations

import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from kodomo.contracts import FEEDS, contract
from kodomo.synthetic import mess as tally
from kodomo.synthetic import truth
from kodomo.synthetic.alerts import alert_versions
from kodomo.synthetic.cases import simulate_cases
from kodomo.synthetic.feeds import assign_ids, delivery_days, emit
from kodomo.synthetic.geography import PREFECTURES, build_geography
from kodomo.synthetic.habits import deal_habits
from kodomo.synthetic.health import poor_growth, simulate_health
from kodomo.synthetic.landing import write_agencies, write_feed
from kodomo.synthetic.moves import child_moves, resident_move_versions
from kodomo.synthetic.people import build_people
from kodomo.synthetic.population import World, build_world
from kodomo.synthetic.scales import scale_named


def generate(out: Path, scale: str = "prefecture", seed: int = 0,
             progress: Callable[[str], None] = print) -> Path:
    """Write a synthetic landing folder to ``out`` and its ground truth next to it; return the truth folder."""
    settings = scale_named(scale)
    out = Path(out)
    truth_dir = out.parent / f"{out.name}-truth"
    for folder in (out, truth_dir):  # refuse before removing anything
        _check_replaceable(folder)
    for folder in (out, truth_dir):
        if folder.exists():
            shutil.rmtree(folder)
    streams = _Streams(seed)
    progress(f"simulating a {scale} world (seed {seed}) ...")
    geography = build_geography(settings.municipalities_per_prefecture, settings.cgcs_per_prefecture)
    habits = deal_habits(geography, streams("habits"))
    cp932_places = [int(p) for p in geography.region_places if habits[geography.place_agency[p]].encoding == "cp932"]
    world = build_world(geography, cp932_places, settings.children, streams("world"))
    growth = poor_growth(world, streams("growth"))
    health = simulate_health(world, growth, streams("health"))
    moves = child_moves(world)
    progress(f"{len(world.children):,} children in {len(world.families):,} families; simulating reports ...")
    cases = simulate_cases(world, health, moves.history(), growth, settings.incident_rate, streams("cases"))
    versions = {
        "case_reports": cases.reports, "assessments": cases.assessments, "checkups": health.checkups,
        "immunizations": health.immunizations, "resident_moves": resident_move_versions(world, moves, streams("moves")),
        "alerts": alert_versions(world, moves, cases.intakes, health.checkups, streams("alerts")),
    }
    deliveries = delivery_days(habits, streams("deliveries"))
    rows = {feed: emit(table, deliveries) for feed, table in versions.items()}
    assign_ids(rows, cases.intakes, habits, streams("ids"))
    mess: dict = {"agency_habits": tally.habit_counts(habits)}
    people = build_people(world, [rows[f] for f in rows if contract(f).person], habits, streams("people"), mess)
    progress(f"{len(cases.intakes):,} reports; writing the landing {out} ...")
    out.mkdir(parents=True)
    write_agencies(out, geography)
    outputs = {}
    for feed in FEEDS[1:]:
        outputs[feed] = write_feed(out, feed, rows[feed], people, world, habits, deliveries, streams(f"write {feed}"))
        mess.setdefault("rows", {})[feed] = tally.row_counts(outputs[feed].table, rows[feed])
        progress(f"  {feed}: {len(outputs[feed].files):,} files, {len(rows[feed]):,} rows")
    progress("computing the ground truth ...")
    agency_ids = geography.agency_ids()
    records = truth.child_records(outputs, agency_ids)
    seen = _in_landing(world, records)
    mess.update(tally.world_counts(world, seen, cases.lost_follow_ups, outputs))
    truth.write_truth(
        truth_dir,
        truth.manifest(scale, seed, out.name, list(PREFECTURES)),
        truth.expected_ingest(outputs, len(geography.agencies)),
        truth.quarantined_rows(outputs),
        truth.quarantined_files(outputs),
        mess,
        records,
        truth.children_table(world, seen),
        truth.intakes(outputs["case_reports"], cases.intakes, agency_ids),
    )
    return truth_dir


def _in_landing(world: World, records: pd.DataFrame) -> np.ndarray:
    seen = np.zeros(len(world.children), dtype=bool)
    seen[records["child_id"].str[1:].astype(int).to_numpy() - 1] = True
    return seen


class _Streams:
    """Independent random streams per purpose, so that one module's draws never shift another's."""

    def __init__(self, seed: int):
        self.seed = seed

    def __call__(self, purpose: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(purpose.encode())])


def _check_replaceable(folder: Path) -> None:
    """Only a previous landing or truth folder (or an empty folder) may be overwritten."""
    if not folder.exists():
        return
    ours = folder.is_dir() and (not any(folder.iterdir()) or (folder / "agencies.csv").is_file()
                                or (folder / "manifest.json").is_file())
    if not ours:
        raise ValueError(f"{folder} exists and is not a landing or truth folder made by kodomo generate")
