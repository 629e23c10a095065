"""Infant checkups and routine immunizations of the children living in the region.

Produces the row versions of the checkups and immunizations feeds (a checkup is first announced as
``scheduled`` and later updated to ``attended`` or ``no_show``, sometimes made up later), and the
child-level histories the intake risk depends on: missed checkups and overdue doses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kodomo.synthetic import phrases
from kodomo.synthetic.clock import DATA_END, MINUTES_PER_DAY, PERIOD_START, office_minute
from kodomo.synthetic.history import Intervals
from kodomo.synthetic.population import World, sigmoid
from kodomo.synthetic.schedule import CHECKUP_AGE, CHECKUP_ATTEND_LOGIT, DOSES, MR_SECOND, NEVER, mr2_window

# (height cm, weight kg, head cm) means for boys at each checkup; girls are a little smaller.
_GROWTH = {"m4": (63.0, 6.8, 41.3), "m18": (81.0, 10.6, 47.0), "y3": (94.5, 14.1, None)}
_GROWTH_SD = {"m4": (2.3, 0.8, 1.3), "m18": (2.9, 1.0, 1.3), "y3": (3.5, 1.4, None)}
_GIRL_OFFSET = (-1.3, -0.5, -1.0)
# Result logits against "normal", shifted by poor growth and disability.
_RESULTS = {"normal": (0.0, 0.0, 0.0), "observe": (-1.9, 0.8, 0.4), "refer": (-2.9, 0.6, 1.0),
            "treatment": (-4.0, 0.0, 1.2)}


@dataclass
class HealthRecords:
    checkups: pd.DataFrame  # row versions (feed columns with semantic values, plus _child/_agency/_updated)
    immunizations: pd.DataFrame
    missed_checkups: Intervals  # a no-show is on record and not yet made up
    overdue_doses: Intervals  # a dose is past its deadline and not yet given


def health_risk(world: World) -> np.ndarray:
    """How much a child's family struggles to keep appointments (0 at baseline)."""
    f = world.families
    family_score = (0.6 * f.vulnerability + 0.5 * f.factors["economic_hardship"]
                    + 0.6 * f.factors["caregiver_substance_abuse"] + 0.3 * f.factors["social_isolation"]
                    + 0.3 * f.factors["caregiver_mental_illness"] + 0.2 * f.factors["young_parent"])
    return family_score[world.children.family]


def poor_growth(world: World, rng: np.random.Generator) -> np.ndarray:
    """Latent neglect of a child's nutrition and hygiene."""
    return rng.random(len(world.children)) < sigmoid(-3.6 + 1.3 * health_risk(world))


def simulate_health(world: World, growth: np.ndarray, rng: np.random.Generator) -> HealthRecords:
    risk = health_risk(world)
    checkups, missed = _checkups(world, risk, growth, rng)
    immunizations, overdue = _immunizations(world, risk, rng)
    return HealthRecords(checkups, immunizations, missed, overdue)


def _weekday_shift(days: np.ndarray) -> np.ndarray:
    """Move a Saturday or Sunday session to the Monday after (1970-01-01 was a Thursday)."""
    weekday = (days + 3) % 7
    return days + np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))


def _checkups(world: World, risk: np.ndarray, growth: np.ndarray, rng: np.random.Generator):
    children, residence, geo = world.children, world.residence, world.geography
    versions, missed = [], []
    for checkup_type, (lo, hi) in CHECKUP_AGE.items():
        child = np.arange(len(children))
        scheduled = _weekday_shift(children.birth + rng.integers(lo, hi + 1, size=len(child)))
        spell = world.child_spell(child, scheduled)
        place = residence.place[spell]
        # The municipality sends the notice a month or so ahead, or soon after the family moves in.
        notice = np.maximum(scheduled - rng.integers(21, 51, size=len(child)),
                            residence.start[spell] + rng.integers(3, 15, size=len(child)))
        keep = (geo.place_in_region[place] & (scheduled >= PERIOD_START) & (scheduled <= DATA_END + 60)
                & (notice <= scheduled - 3) & (notice <= DATA_END))
        child, scheduled, spell, notice = child[keep], scheduled[keep], spell[keep], notice[keep]
        n = len(child)
        agency = geo.place_agency[residence.place[spell]]
        attended = rng.random(n) < sigmoid(CHECKUP_ATTEND_LOGIT[checkup_type] - risk[child])
        exam = np.where(rng.random(n) < 0.7, scheduled, scheduled + rng.integers(0, 22, size=n))
        no_show_at = office_minute(rng, scheduled + rng.integers(1, 15, size=n))
        make_up = scheduled + rng.integers(21, 91, size=n)
        made_up = (~attended & (rng.random(n) < 0.35)
                   & (world.child_spell(child, make_up) == spell))
        entity = np.arange(n) + sum(len(v) for v in versions)
        base = {"_entity": entity, "_child": child, "_agency": agency, "checkup_type": checkup_type,
                "scheduled_date": scheduled.astype(float)}
        versions.append(_checkup_version(base, office_minute(rng, notice), "scheduled"))
        results = _results(rng, growth[child], children.disability[child])
        versions.append(_checkup_version(
            base, office_minute(rng, exam + rng.integers(0, 11, size=n)), "attended", exam,
            _measurements(rng, checkup_type, children.sex[child], growth[child]), results)[attended])
        versions.append(_checkup_version(base, no_show_at, "no_show")[~attended])
        make_up_recorded = office_minute(rng, make_up + rng.integers(0, 11, size=n))
        versions.append(_checkup_version(
            base, make_up_recorded, "attended", make_up,
            _measurements(rng, checkup_type, children.sex[child], growth[child]), results)[made_up])
        # A no-show stays on record as missed until it is made up.
        missed_until = np.where(made_up, make_up_recorded, NEVER * MINUTES_PER_DAY)
        missed.append((child[~attended], no_show_at[~attended], missed_until[~attended]))
    table = pd.concat(versions, ignore_index=True)
    table = table[table["_updated"] // MINUTES_PER_DAY <= DATA_END]
    table["notes"] = _notes(rng, table)
    intervals = Intervals.of(*(np.concatenate(parts) for parts in zip(*missed)))
    return table.sort_values(["_entity", "_updated"], kind="stable").reset_index(drop=True), intervals


def _checkup_version(base: dict, updated: np.ndarray, status: str, exam=None, sizes=None, results=None):
    n = len(updated)
    frame = pd.DataFrame(base | {"_updated": updated, "status": status})
    frame["exam_date"] = np.nan if exam is None else exam.astype(float)
    height, weight, head = sizes if sizes is not None else (np.full(n, np.nan),) * 3
    frame["height_cm"], frame["weight_kg"], frame["head_circumference_cm"] = height, weight, head
    frame["result"] = "" if results is None else results
    return frame


def _measurements(rng: np.random.Generator, checkup_type: str, sex: np.ndarray, growth: np.ndarray):
    n = len(sex)
    girl = sex == "2"
    out = []
    for mean, sd, offset, digits in zip(_GROWTH[checkup_type], _GROWTH_SD[checkup_type], _GIRL_OFFSET, (1, 2, 1)):
        if mean is None:
            out.append(np.full(n, np.nan))
            continue
        value = mean + offset * girl + sd * rng.standard_normal(n)
        # A poorly fed child is lighter and a little shorter.
        value = value * np.where(growth, 0.86 if digits == 2 else 0.97, 1.0)
        value = np.round(value, digits)
        value[rng.random(n) < 0.02] = np.nan  # a measurement not taken
        out.append(value)
    return out


def _results(rng: np.random.Generator, growth: np.ndarray, disability: np.ndarray) -> np.ndarray:
    codes = list(_RESULTS)
    logits = np.stack([a + b * growth + c * disability for a, b, c in _RESULTS.values()], axis=1)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    choice = (p.cumsum(axis=1) < rng.random((len(growth), 1))).sum(axis=1)
    return np.array(codes, dtype=object)[np.minimum(choice, len(codes) - 1)]


def _notes(rng: np.random.Generator, table: pd.DataFrame) -> np.ndarray:
    status, result = table["status"].to_numpy(), table["result"].to_numpy()
    u = rng.random(len(table))
    wanted = ((status == "attended") & (u < 0.15)) | ((status == "no_show") & (u < 0.4))
    notes = np.full(len(table), "", dtype=object)
    for i in np.flatnonzero(wanted):
        notes[i] = phrases.checkup_note(rng, status[i], result[i])
    return notes


def _immunizations(world: World, risk: np.ndarray, rng: np.random.Generator):
    children = world.children
    n = len(children)
    birth = children.birth
    five_valent = rng.random(n) < 0.4
    lateness = 6.0 * np.exp(0.6 * risk)  # mean days late
    given_on: dict[str, np.ndarray] = {}
    records, overdue = [], []
    for dose in (*DOSES, MR_SECOND):
        eligible = (birth >= dose.born_from) & (birth < dose.born_until)
        if dose.five_valent_only:
            eligible &= five_valent
        previous = given_on.get(dose.vaccine)
        if dose.dose > 1:
            eligible &= previous < NEVER
        if dose is MR_SECOND:
            first, deadline = mr2_window(birth)
            target = first + rng.integers(0, 181, size=n)
        else:
            anchor = previous if dose.after_previous else birth
            target = anchor + dose.target + rng.integers(-dose.spread, dose.spread + 1, size=n)
            deadline = birth + dose.deadline
        day = target + rng.exponential(lateness).astype(np.int64)
        if dose.dose > 1:
            day = np.maximum(day, previous + dose.min_gap)
        skipped = rng.random(n) < sigmoid(dose.miss_logit + 0.9 * risk)
        given = eligible & ~skipped
        given_on[dose.vaccine] = np.where(given, day, NEVER)
        records.append(_dose_rows(world, dose, np.flatnonzero(given), day, rng))
        late = eligible & (given_on[dose.vaccine] > deadline) & (deadline >= PERIOD_START) & (deadline <= DATA_END)
        late &= world.in_region(np.arange(n), deadline)
        late_child = np.flatnonzero(late)
        overdue.append((late_child, (deadline[late_child] + 1) * MINUTES_PER_DAY,
                        given_on[dose.vaccine][late_child] * MINUTES_PER_DAY))
    table = pd.concat(records, ignore_index=True)
    table["_entity"] = np.arange(len(table))
    intervals = Intervals.of(*(np.concatenate(parts) for parts in zip(*overdue)))
    return table, intervals


def _dose_rows(world: World, dose, child: np.ndarray, day: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Doses given in the region during the period, reported by the clinic's monthly claim."""
    day = day[child]
    place = world.child_place(child, day)
    updated = office_minute(rng, day + rng.integers(3, 41, size=len(child)))
    keep = (world.geography.place_in_region[place] & (day >= PERIOD_START) & (day <= DATA_END)
            & (updated // MINUTES_PER_DAY <= DATA_END))
    return pd.DataFrame({
        "_child": child[keep], "_agency": world.geography.place_agency[place[keep]], "_updated": updated[keep],
        "vaccine": dose.vaccine, "dose": float(dose.dose), "administered_date": day[keep].astype(float),
    })
