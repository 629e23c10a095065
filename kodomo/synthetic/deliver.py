"""One group of agencies delivers: its row versions become delivered rows with local ids and names as
each agency has them, every file of its agencies is written whole, and what the truth needs is kept."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kodomo.contracts import FEEDS, contract
from kodomo.synthetic import mess as tally
from kodomo.synthetic import truth
from kodomo.synthetic.feeds import assign_ids, emit
from kodomo.synthetic.habits import Habits
from kodomo.synthetic.landing import write_feed
from kodomo.synthetic.people import build_people
from kodomo.synthetic.population import World
from kodomo.synthetic.simulate import Events


@dataclass
class Delivered:
    """What one group of agencies delivered, as the ground truth needs it."""

    feeds: dict[str, truth.FeedTruth]
    mess: dict[str, dict]  # per feed: ``mess.feed_counts``
    people: dict  # the counts of ``build_people``
    records: dict[str, str]  # child_records.csv lines per agency
    children: np.ndarray  # the children in these agencies' files


def deliver_group(out: Path, world: World, habits: list[Habits], deliveries: np.ndarray, events: Events,
                  agencies: list[int], streams: Callable[[str], np.random.Generator],
                  progress: Callable[[str], None]) -> Delivered:
    """Write the files of ``agencies`` (all their feeds) into the landing ``out`` from their ``events`` (whose
    row versions are consumed: a group holds its delivered rows, not both)."""
    rows = {feed: emit(table, deliveries) for feed, table in events.versions.items()}
    events.versions.clear()
    assign_ids(rows, events.intakes, habits, streams("ids"))
    people_counts: dict = {}
    people = build_people(world, [rows[f] for f in rows if contract(f).person], habits, streams("people"),
                          people_counts)
    agency_ids = world.geography.agency_ids()
    feeds, counts, person_records = {}, {}, []
    for feed in FEEDS[1:]:
        feed_rows = rows.pop(feed)
        output = write_feed(out, feed, feed_rows, people, world, habits, deliveries, agencies,
                            streams(f"write {feed}"))
        feeds[feed] = truth.feed_truth(feed, output, events.intakes, agency_ids)
        counts[feed] = tally.feed_counts(feed, output, feed_rows)
        if contract(feed).person:
            person_records.append(truth.feed_records(output, agency_ids))
        progress(f"  {feed}: {len(output.files):,} files, {len(feed_rows):,} rows")
        del output, feed_rows  # a feed's text is the largest thing a group holds
    records, children = truth.child_records(person_records)
    return Delivered(feeds, counts, people_counts, records, children)
