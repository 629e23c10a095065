"""What happens to a world's families, as the row versions of every feed: checkups and immunizations,
moves, reports with their assessments, and notices. Nothing is delivered or written yet."""
from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kodomo.synthetic.alerts import alert_versions
from kodomo.synthetic.cases import simulate_cases
from kodomo.synthetic.health import poor_growth, simulate_health
from kodomo.synthetic.moves import child_moves, resident_move_versions
from kodomo.synthetic.population import World

# A shard's entities are numbered from ``shard << _ENTITY_BITS``: unique over the world, in shard order.
_ENTITY_BITS = 40


@dataclass
class Events:
    """Row versions per feed (semantic values with ``_child``, ``_agency``, ``_updated``, ``_entity``) and the
    intake behind every report entity (its child, agency, time, oracle risk and drawn outcome)."""

    versions: dict[str, pd.DataFrame]
    intakes: pd.DataFrame

    def placed(self, first_child: int, shard: int) -> Events:
        """The events of a shard of families numbered as in the world: its children from ``first_child``,
        its entities after those of every earlier shard."""
        base = np.int64(shard) << _ENTITY_BITS
        versions = {}
        for feed, table in self.versions.items():
            table = table.assign(_child=table["_child"] + first_child, _entity=table["_entity"] + base)
            if "_report" in table:
                table["_report"] += base
            versions[feed] = table
        intakes = self.intakes.assign(_child=self.intakes["_child"] + first_child,
                                      _entity=self.intakes["_entity"] + base)
        return Events(versions, intakes)

    def of_agencies(self, agencies: list[int]) -> Events:
        """Only what these agencies record."""
        def mine(table: pd.DataFrame) -> pd.DataFrame:
            return table[table["_agency"].isin(agencies)].reset_index(drop=True)

        return Events({feed: mine(table) for feed, table in self.versions.items()}, mine(self.intakes))

    def save(self, path: Path) -> None:
        with open(path, "wb") as out:
            pickle.dump(self, out, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def load_all(paths: list[Path]) -> Events:
        """The events saved in ``paths``, one after the other (a pickle made by ``save``, never a delivered file)."""
        parts = []
        for path in paths:
            with open(path, "rb") as source:
                parts.append(pickle.load(source))
        versions = {feed: pd.concat([p.versions[feed] for p in parts], ignore_index=True) for feed in parts[0].versions}
        return Events(versions, pd.concat([p.intakes for p in parts], ignore_index=True))


def simulate_families(world: World, incident_rate: float,
                      streams: Callable[[str], np.random.Generator]) -> tuple[Events, int]:
    """The events of ``world`` and the number of outcomes drawn 1 whose follow-up could not happen in the region."""
    growth = poor_growth(world, streams("growth"))
    health = simulate_health(world, growth, streams("health"))
    moves = child_moves(world)
    cases = simulate_cases(world, health, moves.history(), growth, incident_rate, streams("cases"))
    versions = {
        "case_reports": cases.reports, "assessments": cases.assessments, "checkups": health.checkups,
        "immunizations": health.immunizations, "resident_moves": resident_move_versions(world, moves, streams("moves")),
        "alerts": alert_versions(world, moves, cases.intakes, health.checkups, streams("alerts")),
    }
    return Events(versions, cases.intakes), cases.lost_follow_ups
