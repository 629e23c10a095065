"""A child's growth against the national percentile curves (厚生労働省 乳幼児身体発育調査, 2010: the curves of the
母子健康手帳), for the growth chart of the child's record.

The curves are read from ``growth_reference.csv`` next to this module, which holds only values read off the
ministry's tables: where a percentile or an age is missing there, the chart shows what is there and no more
("where the data allow"). Nothing here interpolates or extrapolates a curve.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from kodomo.health.record import HealthRecord

REFERENCE = Path(__file__).with_name("growth_reference.csv")
PERCENTILES = (3, 10, 50, 90, 97)
MEASURES = ("height_cm", "weight_kg")
SEXES = ("1", "2")  # boys, girls (source-feeds.md)
MAX_AGE_MONTHS = 48


class InvalidGrowthReference(ValueError):
    """A row of the reference file is not a curve value; the message names the line and the field."""


@dataclass(frozen=True)
class CurvePoint:
    sex: str
    measure: str
    percentile: int
    age_months: int
    value: float


@dataclass(frozen=True)
class GrowthPoint:
    """One measured checkup of the child."""
    age_months: int
    height_cm: float | None
    weight_kg: float | None
    checkup_type: str


def _point(row: dict[str, str], line: int) -> CurvePoint:
    def bad(field: str, allowed: str) -> InvalidGrowthReference:
        return InvalidGrowthReference(f"growth reference line {line}: {field} {row.get(field)!r} ({allowed})")

    if row.get("sex") not in SEXES:
        raise bad("sex", "1 or 2")
    if row.get("measure") not in MEASURES:
        raise bad("measure", " or ".join(MEASURES))
    try:
        percentile, age, value = int(row["percentile"]), int(row["age_months"]), float(row["value"])
    except (KeyError, TypeError, ValueError):
        raise bad("value", "percentile and age_months whole numbers, value a number") from None
    if percentile not in PERCENTILES:
        raise bad("percentile", "one of " + ", ".join(map(str, PERCENTILES)))
    if not 0 <= age <= MAX_AGE_MONTHS:
        raise bad("age_months", f"0 to {MAX_AGE_MONTHS}")
    if value <= 0:
        raise bad("value", "positive")
    return CurvePoint(row["sex"], row["measure"], percentile, age, value)


def reference_curves(path: Path = REFERENCE) -> list[CurvePoint]:
    """Every verified curve value of the reference file; refused with the line when a row is wrong or repeated."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if not line.startswith("#"))  # comments name the source
    points, seen = [], set()
    for offset, row in enumerate(csv.DictReader(lines[header:]), start=header + 2):
        point = _point(row, offset)
        key = (point.sex, point.measure, point.percentile, point.age_months)
        if key in seen:
            raise InvalidGrowthReference(f"growth reference line {offset}: {key} given twice")
        seen.add(key)
        points.append(point)
    return points


def curves_for(sex: str | None, measure: str, path: Path = REFERENCE) -> list[CurvePoint]:
    """The curves of one sex and measure, by percentile and age; none for a child of unknown sex."""
    if measure not in MEASURES:
        raise ValueError(f"measure {measure!r}: one of {', '.join(MEASURES)}")
    return sorted((p for p in reference_curves(path) if p.sex == sex and p.measure == measure),
                  key=lambda p: (p.percentile, p.age_months))


def growth_points(record: HealthRecord) -> list[GrowthPoint]:
    """The child's attended checkups with an age and a measurement, youngest first."""
    return sorted((GrowthPoint(c.age_months, c.height_cm, c.weight_kg, c.checkup_type) for c in record.checkups
                   if c.status == "attended" and c.age_months is not None
                   and (c.height_cm is not None or c.weight_kg is not None)),
                  key=lambda p: p.age_months)
