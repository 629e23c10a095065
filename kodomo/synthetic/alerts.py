"""Moved / missing / found notices about children an agency is worried about.

An agency that holds an open case (a report in the last two years) or a missed checkup sends a
``moved`` notice when the child moves away, naming the destination agency when it knows it (never for
a place outside the region: that is no agency of agencies.csv). Some children cannot be found after a
missed checkup or a report: ``missing``, and most are ``found`` again later by the same agency.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from kodomo.synthetic import phrases
from kodomo.synthetic.clock import DATA_END, MINUTES_PER_DAY, office_minute
from kodomo.synthetic.moves import ChildMoves
from kodomo.synthetic.population import World

_OPEN_CASE_DAYS = 730


def alert_versions(world: World, moves: ChildMoves, intakes: pd.DataFrame, checkups: pd.DataFrame,
                   rng: np.random.Generator) -> pd.DataFrame:
    no_shows = checkups[checkups["status"] == "no_show"]
    concerns = pd.concat([
        pd.DataFrame({"child": intakes["_child"], "agency": intakes["_agency"],
                      "day": intakes["received"] // MINUTES_PER_DAY, "weight": 0.85}),
        pd.DataFrame({"child": no_shows["_child"], "agency": no_shows["_agency"],
                      "day": no_shows["_updated"] // MINUTES_PER_DAY, "weight": 0.5}),
    ], ignore_index=True)
    frames = [_moved(world, moves, concerns, rng), *_missing_and_found(world, concerns, rng)]
    table = pd.concat(frames, ignore_index=True)
    table = table[table["_updated"] // MINUTES_PER_DAY <= DATA_END].reset_index(drop=True)
    table["_entity"] = np.arange(len(table))
    return table


def _moved(world: World, moves: ChildMoves, concerns: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    geo = world.geography
    move = pd.DataFrame({"child": moves.child, "move_day": moves.day, "origin": moves.origin,
                         "destination": moves.destination})
    both = move.merge(concerns, on="child")
    origin_agencies = np.stack([geo.place_agency[both["origin"]], geo.place_cgc[both["origin"]]], axis=1)
    at_origin = (origin_agencies == both["agency"].to_numpy()[:, None]).any(axis=1)
    open_case = (both["day"] <= both["move_day"]) & (both["move_day"] - both["day"] <= _OPEN_CASE_DAYS)
    both = both[at_origin & open_case & geo.place_in_region[both["origin"]]]
    # One notice per agency and move, from whichever concern the agency holds.
    both = both.drop_duplicates(["child", "move_day", "agency"])
    both = both[rng.random(len(both)) < both["weight"]]
    n = len(both)
    notice_day = both["move_day"].to_numpy() + rng.integers(-5, 31, size=n)
    issued = office_minute(rng, np.maximum(notice_day, world.children.birth[both["child"]] + 1))
    destination = both["destination"].to_numpy()
    known = geo.place_in_region[destination] & (rng.random(n) < 0.8)
    destination_id = np.where(known, geo.agency_ids()[np.maximum(geo.place_agency[destination], 0)], "")
    summaries = [phrases.alert_summary(rng, "moved" if k else "moved_unknown") for k in known]
    return _frame(both["child"], both["agency"], issued, rng, "moved", destination_id, summaries)


def _missing_and_found(world: World, concerns: pd.DataFrame, rng: np.random.Generator) -> list[pd.DataFrame]:
    lost = concerns[rng.random(len(concerns)) < 0.03].drop_duplicates(["child", "agency"])
    child, agency = lost["child"].to_numpy(), lost["agency"].to_numpy()
    missing_day = lost["day"].to_numpy() + rng.integers(30, 121, size=len(lost))
    # Only an agency still responsible for the child's address reports it missing.
    place = world.child_place(child, missing_day)
    geo = world.geography
    responsible = (geo.place_agency[place] == agency) | (geo.place_cgc[place] == agency)
    child, agency, missing_day = child[responsible], agency[responsible], missing_day[responsible]
    n = len(child)
    missing = office_minute(rng, missing_day)
    found = rng.random(n) < 0.8
    found_at = office_minute(rng, missing_day + rng.integers(5, 151, size=n))
    return [
        _frame(child, agency, missing, rng, "missing", np.full(n, ""), [phrases.alert_summary(rng, "missing")
                                                                         for _ in range(n)]),
        _frame(child[found], agency[found], found_at[found], rng, "found", np.full(found.sum(), ""),
               [phrases.alert_summary(rng, "found") for _ in range(found.sum())]),
    ]


def _frame(child, agency, issued: np.ndarray, rng: np.random.Generator, alert_type: str, destination,
           summaries) -> pd.DataFrame:
    n = len(issued)
    return pd.DataFrame({
        "_child": np.asarray(child), "_agency": np.asarray(agency),
        "_updated": issued + rng.integers(10, 2 * MINUTES_PER_DAY, size=n),
        "alert_type": alert_type, "issued_at": issued.astype(float),
        "destination_agency_id": np.asarray(destination, dtype=object),
        "summary": np.where(rng.random(n) < 0.8, np.asarray(summaries, dtype=object), ""),
    })
