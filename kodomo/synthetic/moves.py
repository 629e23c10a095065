"""Children's moves (a family's move, for each child then living with it) and the resident_moves feed.

The origin municipality records a ``move_out`` and the destination a ``move_in``; a municipality
outside the region records nothing, and now and then a record inside the region is never entered.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kodomo.synthetic.clock import DATA_END, MINUTES_PER_DAY, PERIOD_START, office_minute
from kodomo.synthetic.history import Intervals
from kodomo.synthetic.population import World
from kodomo.synthetic.schedule import NEVER

_RECORDED = 0.95  # share of moves a region municipality actually records


@dataclass
class ChildMoves:
    child: np.ndarray
    day: np.ndarray
    origin: np.ndarray  # place
    destination: np.ndarray  # place

    def history(self) -> Intervals:
        """Moves count from the day they happen; they never stop counting."""
        minute = self.day * MINUTES_PER_DAY
        return Intervals.of(self.child, minute, np.full(len(minute), NEVER * MINUTES_PER_DAY))


def child_moves(world: World) -> ChildMoves:
    res, children = world.residence, world.children
    in_period = (res.move_day >= PERIOD_START) & (res.move_day <= DATA_END)
    moves = pd.DataFrame({"family": res.move_family[in_period], "day": res.move_day[in_period],
                          "origin": res.move_from[in_period], "destination": res.move_to[in_period]})
    kids = pd.DataFrame({"family": children.family, "child": np.arange(len(children)), "birth": children.birth,
                         "adult": children.eighteenth_birthday()})
    both = moves.merge(kids, on="family")
    both = both[(both["birth"] < both["day"]) & (both["day"] < both["adult"])]
    both = both.sort_values(["child", "day"], kind="stable")
    return ChildMoves(both["child"].to_numpy(), both["day"].to_numpy(), both["origin"].to_numpy(),
                      both["destination"].to_numpy())


def resident_move_versions(world: World, moves: ChildMoves, rng: np.random.Generator) -> pd.DataFrame:
    geo = world.geography
    frames = []
    for move_type, place in (("move_out", moves.origin), ("move_in", moves.destination)):
        n = len(place)
        # 転出届 and 転入届 are entered within two weeks; the row is dated once the move is effective.
        updated = office_minute(rng, moves.day + rng.integers(0, 11, size=n))
        keep = geo.place_in_region[place] & (rng.random(n) < _RECORDED) & (updated // MINUTES_PER_DAY <= DATA_END)
        frames.append(pd.DataFrame({
            "_child": moves.child[keep], "_agency": geo.place_agency[place[keep]], "_updated": updated[keep],
            "move_type": move_type, "from_municipality_code": geo.place_code[moves.origin[keep]],
            "to_municipality_code": geo.place_code[moves.destination[keep]],
            "move_date": moves.day[keep].astype(float),
        }))
    table = pd.concat(frames, ignore_index=True)
    table["_entity"] = np.arange(len(table))
    return table
