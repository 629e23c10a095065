"""World sizes selectable with ``kodomo generate --scale``."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    children: int
    # Incidents per family-year at baseline risk; small worlds are denser so that a risk model
    # still sees enough intake reports to be trained roughly.
    incident_rate: float
    # "saitama_tokyo": the first municipalities of both prefectures and a few centres each;
    # "tokyo": all 62 municipalities of Tokyo under their own child guidance centres.
    region: str = "saitama_tokyo"
    municipalities_per_prefecture: int = 0
    cgcs_per_prefecture: int = 0
    # A world larger than one shard is simulated in shards of whole families (about this many
    # children each) and written in groups of agencies, so that memory follows the shard, not the
    # world. 0: one shard and one group.
    children_per_shard: int = 0
    agency_groups: int = 1

    @property
    def sharded(self) -> bool:
        return self.children_per_shard > 0


SCALES = {
    "small": Scale("small", children=1_500, municipalities_per_prefecture=6, cgcs_per_prefecture=2,
                   incident_rate=0.35),
    "prefecture": Scale("prefecture", children=40_000, municipalities_per_prefecture=20, cgcs_per_prefecture=3,
                        incident_rate=0.14),
    "national": Scale("national", children=400_000, municipalities_per_prefecture=30, cgcs_per_prefecture=4,
                      incident_rate=0.145),
    # Tokyo alone: about 1.8 million children under 18.
    "tokyo": Scale("tokyo", children=1_800_000, incident_rate=0.145, region="tokyo", children_per_shard=150_000,
                   agency_groups=12),
}


def scale_named(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(f"unknown scale {name!r}: choose one of {', '.join(SCALES)}") from None
