"""World sizes selectable with ``kodomo generate --scale``."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    children: int
    municipalities_per_prefecture: int
    cgcs_per_prefecture: int
    # Incidents per family-year at baseline risk; small worlds are denser so that a risk model
    # still sees enough intake reports to be trained roughly.
    incident_rate: float


SCALES = {
    "small": Scale("small", children=1_500, municipalities_per_prefecture=6, cgcs_per_prefecture=2,
                   incident_rate=0.35),
    "prefecture": Scale("prefecture", children=40_000, municipalities_per_prefecture=20, cgcs_per_prefecture=3,
                        incident_rate=0.14),
    "national": Scale("national", children=400_000, municipalities_per_prefecture=30, cgcs_per_prefecture=4,
                      incident_rate=0.145),
}


def scale_named(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(f"unknown scale {name!r}: choose one of {', '.join(SCALES)}") from None
