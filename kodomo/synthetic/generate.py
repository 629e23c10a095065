"""``generate``: simulate the world, write the landing folder and its ground truth."""
from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kodomo.contracts import FEEDS
from kodomo.synthetic import mess as tally
from kodomo.synthetic import truth
from kodomo.synthetic.deliver import Delivered, deliver_group
from kodomo.synthetic.feeds import delivery_days
from kodomo.synthetic.geography import Geography, build_geography, build_tokyo_geography
from kodomo.synthetic.habits import Habits, deal_habits
from kodomo.synthetic.landing import write_agencies
from kodomo.synthetic.population import World, build_world
from kodomo.synthetic.scales import Scale, scale_named
from kodomo.synthetic.shards import agency_groups, family_shards, run_forked
from kodomo.synthetic.simulate import Events, simulate_families


def generate(out: Path, scale: str | Scale = "prefecture", seed: int = 0,
             progress: Callable[[str], None] = print, workers: int | None = None) -> Path:
    """Write a synthetic landing folder to ``out`` and its ground truth next to it; return the truth folder.

    A sharded scale runs its pieces in up to ``workers`` processes at once (default: two, or one on a single
    core); the bytes written never depend on it.
    """
    settings = scale if isinstance(scale, Scale) else scale_named(scale)
    out = Path(out)
    truth_dir = out.parent / f"{out.name}-truth"
    for folder in (out, truth_dir):  # refuse before removing anything
        _check_replaceable(folder)
    for folder in (out, truth_dir):
        if folder.exists():
            shutil.rmtree(folder)
    streams = _Streams(seed)
    progress(f"simulating a {settings.name} world (seed {seed}) ...")
    geography = (build_tokyo_geography() if settings.region == "tokyo"
                 else build_geography(settings.municipalities_per_prefecture, settings.cgcs_per_prefecture))
    habits = deal_habits(geography, streams("habits"))
    cp932_places = [int(p) for p in geography.region_places if habits[geography.place_agency[p]].encoding == "cp932"]
    world = build_world(geography, cp932_places, settings.children, streams("world"))
    deliveries = delivery_days(habits, streams("deliveries"))
    progress(f"{len(world.children):,} children in {len(world.families):,} families; simulating reports ...")
    if settings.sharded:
        delivered, lost = _generate_sharded(out, world, habits, deliveries, settings, seed,
                                            workers or min(2, os.cpu_count() or 1), progress)
    else:
        events, lost = simulate_families(world, settings.incident_rate, streams)
        progress(f"{len(events.intakes):,} reports; writing the landing {out} ...")
        out.mkdir(parents=True)
        write_agencies(out, geography)
        delivered = [deliver_group(out, world, habits, deliveries, events, list(range(len(geography.agencies))),
                                   streams, progress)]
    progress("computing the ground truth ...")
    _write_truth(truth_dir, out, settings, seed, geography, world, habits, delivered, lost)
    return truth_dir


def _generate_sharded(out: Path, world: World, habits: list[Habits], deliveries: np.ndarray, settings: Scale,
                      seed: int, workers: int, progress: Callable[[str], None]) -> tuple[list[Delivered], int]:
    """Simulate the world shard by shard of families, keeping each shard's events per group of agencies on
    disk; then let each group deliver from its events of every shard."""
    shards = family_shards(world.children.family, settings.children_per_shard)
    groups = agency_groups(world.geography, settings.agency_groups)
    out.mkdir(parents=True)
    write_agencies(out, world.geography)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}-", dir=out.parent) as scratch:
        spool = Path(scratch)

        def simulate(k: int) -> int:
            first, stop = shards[k]
            events, lost = simulate_families(world.of_families(first, stop), settings.incident_rate,
                                             _Streams(seed, (1, k)))
            events = events.placed(int(np.searchsorted(world.children.family, first)), k)
            for g, agencies in enumerate(groups):
                events.of_agencies(agencies).save(spool / f"events-{k}-{g}.pkl")
            progress(f"  shard {k + 1}/{len(shards)} of families: {len(events.intakes):,} reports")
            return lost

        lost = sum(run_forked(simulate, range(len(shards)), workers, spool))
        progress(f"writing the landing {out} in {len(groups)} groups of agencies ...")

        def deliver(g: int) -> Delivered:
            events = Events.load_all([spool / f"events-{k}-{g}.pkl" for k in range(len(shards))])
            delivered = deliver_group(out, world, habits, deliveries, events, groups[g], _Streams(seed, (2, g)),
                                      lambda _: None)
            progress(f"  group {g + 1}/{len(groups)} of agencies: {len(groups[g])} agencies written")
            return delivered

        delivered = run_forked(deliver, range(len(groups)), workers, spool)
    return delivered, lost


def _write_truth(truth_dir: Path, out: Path, settings: Scale, seed: int, geography: Geography, world: World,
                 habits: list[Habits], delivered: list[Delivered], lost_follow_ups: int) -> None:
    parts = {feed: [d.feeds[feed] for d in delivered] for feed in FEEDS[1:]}
    seen = np.zeros(len(world.children), dtype=bool)
    records: dict[str, str] = {}
    for d in delivered:
        seen[d.children] = True
        records.update(d.records)
    mess = tally.assemble(habits, [d.people for d in delivered],
                          {feed: [d.mess[feed] for d in delivered] for feed in FEEDS[1:]}, world, seen,
                          lost_follow_ups)
    truth.write_truth(
        truth_dir,
        truth.manifest(settings.name, seed, out.name, list(geography.prefectures)),
        truth.expected_ingest(parts, len(geography.agencies)),
        truth.quarantined_rows(parts),
        truth.quarantined_files(parts),
        mess,
        records,
        truth.children_tables(world, seen),
        truth.intakes([p.reports for p in parts["case_reports"]]),
    )


class _Streams:
    """Independent random streams per purpose, so that one module's draws never shift another's; a piece of a
    sharded world (``shard``: its phase and number) has streams of its own."""

    def __init__(self, seed: int, shard: tuple[int, ...] = ()):
        self.seed = seed
        self.shard = shard

    def __call__(self, purpose: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(purpose.encode()), *self.shard])


def _check_replaceable(folder: Path) -> None:
    """Only a previous landing or truth folder (or an empty folder) may be overwritten."""
    if not folder.exists():
        return
    ours = folder.is_dir() and (not any(folder.iterdir()) or (folder / "agencies.csv").is_file()
                                or (folder / "manifest.json").is_file())
    if not ours:
        raise ValueError(f"{folder} exists and is not a landing or truth folder made by kodomo generate")
