"""Abuse reports, their intake assessments, and the recurrence process behind the outcome.

Incidents arrive per family at a rate that rises with latent risk. Each incident is reported for one
child (or, for police reports of domestic violence, for each child at home). At every intake the
outcome (another substantiated or severe-harm report within 365 days) is drawn from
``risk.oracle_probability``:

- drawn 1: a qualifying follow-up report is scheduled inside the window, and the child gets no other
  report until then;
- drawn 0: every later report of the child inside the window is made non-qualifying.

So the outcome of every intake equals its draw (unless the child leaves the region or turns 18
first, or the data ends), whatever else happens to the family.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kodomo.synthetic import phrases
from kodomo.synthetic.clock import DATA_END, DAYS_PER_YEAR, MINUTES_PER_DAY, PERIOD_START
from kodomo.synthetic.health import HealthRecords
from kodomo.synthetic.history import Intervals
from kodomo.synthetic.population import FOREVER, World
from kodomo.synthetic.risk import (PROTECTION_SHARE, History, Situation, oracle_probability, record_items,
                                   substantiation_probability, worker_decision)

DAY = MINUTES_PER_DAY
WINDOW = 365 * DAY
_TYPES = ("psychological", "physical", "neglect", "sexual")
# Route shares per main abuse type (police dominate through domestic violence witnessed, 面前DV).
_ROUTES = {
    "psychological": {"police": 63, "neighbor": 10, "family": 5, "relative": 3, "school": 5, "nursery": 1.5,
                      "medical": 0.5, "welfare_office": 2, "municipality": 2.5, "cgc": 0.5, "self": 3,
                      "anonymous": 1.5, "other": 1.5},
    "physical": {"police": 30, "neighbor": 10, "family": 6, "relative": 3, "school": 17, "nursery": 6, "medical": 6,
                 "welfare_office": 4, "municipality": 5, "cgc": 1, "self": 6, "anonymous": 2, "other": 4},
    "neglect": {"police": 20, "neighbor": 18, "family": 5, "relative": 5, "school": 10, "nursery": 8, "medical": 6,
                "welfare_office": 10, "municipality": 9, "cgc": 1, "self": 1, "anonymous": 3, "other": 4},
    "sexual": {"police": 25, "neighbor": 2, "family": 15, "relative": 5, "school": 25, "nursery": 1, "medical": 5,
               "welfare_office": 3, "municipality": 3, "cgc": 1, "self": 12, "anonymous": 1, "other": 2},
}
# Relative chance that a child of each age is the one reported (the published peak is at 3).
_AGE_WEIGHT = np.array([1.0, 1.1, 1.2, 1.7, 1.35, 1.2, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.9, 0.85,
                        0.75, 0.65])
_FOLLOW_UP_GAP = 110 * DAY  # mean time to a recurrence


@dataclass
class _Prior:
    """A report already on record for the child."""

    decided: int  # minute the substantiation was decided, FOREVER * DAY if never
    substantiated: str
    protected: int  # minute of temporary protection, FOREVER * DAY if none


@dataclass
class _ChildState:
    pending: bool = False  # a qualifying follow-up is scheduled
    blocked_until: int = -1  # later reports up to here must not qualify
    last: int = -1
    priors: list[_Prior] = field(default_factory=list)


@dataclass
class Cases:
    reports: pd.DataFrame  # row versions of case_reports
    assessments: pd.DataFrame  # row versions of assessments (``_report`` = report entity)
    intakes: pd.DataFrame  # per report entity: oracle probability and the drawn outcome
    lost_follow_ups: int  # outcomes drawn 1 whose follow-up could not happen in the region


class _Simulation:
    def __init__(self, world: World, health: HealthRecords, moves: Intervals, growth: np.ndarray,
                 rng: np.random.Generator):
        self.world, self.health, self.moves, self.growth, self.rng = world, health, moves, growth, rng
        children = world.children
        self.first_child = np.searchsorted(children.family, np.arange(len(world.families) + 1))
        self.adult = children.eighteenth_birthday()
        res = world.residence
        last_spell = np.searchsorted(res.family, np.arange(len(world.families)), side="right") - 1
        leaves = ~world.geography.place_in_region[res.place[last_spell]] & (res.start[last_spell] > PERIOD_START)
        self.exit_day = np.where(leaves, res.start[last_spell], FOREVER)
        self.states: dict[int, _ChildState] = {}
        self.factors = [dict(zip(world.families.factors, values))
                        for values in zip(*(v.tolist() for v in world.families.factors.values()))]
        self.report_rows: list[dict] = []
        self.assessment_rows: list[dict] = []
        self.intake_rows: list[tuple] = []
        self.lost = 0

    # --- incidents ---------------------------------------------------------------------------------
    def run(self, incident_rate: float) -> None:
        fam, res = self.world.families, self.world.residence
        rate = incident_rate * np.exp(
            0.5 * fam.vulnerability + 0.45 * fam.factors["domestic_violence"]
            + 0.45 * fam.factors["caregiver_substance_abuse"] + 0.4 * fam.factors["caregiver_mental_illness"]
            + 0.35 * fam.factors["economic_hardship"] + 0.3 * fam.factors["single_parent"]
            + 0.25 * fam.factors["social_isolation"] + 0.35 * fam.factors["new_partner_in_household"]
            + 0.2 * fam.factors["young_parent"])
        start = np.maximum(res.start, PERIOD_START)
        end = np.minimum(res.end, DATA_END + 1)
        length = np.where(self.world.geography.place_in_region[res.place], np.maximum(end - start, 0), 0)
        exposure = np.bincount(res.family, weights=length, minlength=len(fam)) / DAYS_PER_YEAR
        counts = self.rng.poisson(rate * exposure)
        for f in np.flatnonzero(counts):
            self._family(int(f), int(counts[f]), start, length)

    def _family(self, f: int, n_incidents: int, start: np.ndarray, length: np.ndarray) -> None:
        res = self.world.residence
        lo, hi = np.searchsorted(res.family, [f, f + 1])
        offsets = np.cumsum(length[lo:hi])
        events: list[tuple[int, int, int]] = []  # (minute, kind 0 incident / 1 follow-up, child)
        for u in self.rng.random(n_incidents) * offsets[-1]:
            spell = lo + int(np.searchsorted(offsets, u, side="right"))
            day = int(start[spell] + (u - (offsets[spell - lo] - length[spell])))
            events.append((day * DAY, 0, -1))
        heapq.heapify(events)
        family_reports: list[tuple[int, int]] = []
        while events:
            minute, kind, child = heapq.heappop(events)
            if kind == 1:
                self._report(child, minute, None, family_reports, events)
            else:
                self._incident(f, minute // DAY, family_reports, events)

    def _incident(self, f: int, day: int, family_reports, events) -> None:
        kids = np.arange(self.first_child[f], self.first_child[f + 1])
        birth = self.world.children.birth[kids]
        kids = kids[(birth < day) & (day < self.adult[kids])]
        if kids.size == 0:
            return
        ages = ((day - self.world.children.birth[kids]) / DAYS_PER_YEAR).astype(int)
        weights = _AGE_WEIGHT[np.minimum(ages, 17)]
        pick = self._draw(np.cumsum(weights))
        # Thinning makes the incident hazard itself follow the age profile, not only the choice of child.
        if self.rng.random() > weights[pick] / _AGE_WEIGHT.max():
            return
        child = int(kids[pick])
        abuse_type = self._abuse_type(f)
        route = self._route(abuse_type, ages[pick])
        minute = day * DAY + self._time_of_day(route)
        involved = [child]
        if route == "police" and abuse_type == "psychological":
            # Police report every child who witnessed the violence at home.
            involved += [int(k) for k in kids if k != child and self.rng.random() < 0.7]
        danger = 0.5 * self.world.families.vulnerability[f] + self.rng.normal()
        for k in involved:
            incident = (abuse_type, route, danger + 0.5 * self.rng.normal())
            self._report(k, minute, incident, family_reports, events)

    def _draw(self, cumulative: np.ndarray) -> int:
        """An index drawn with probability proportional to the increments of ``cumulative``."""
        return int(np.searchsorted(cumulative, self.rng.random() * cumulative[-1], side="right"))

    def _abuse_type(self, f: int) -> str:
        x, v = self.factors[f], self.world.families.vulnerability[f]
        logits = np.array([
            1.6 * x["domestic_violence"],
            -0.75 + 0.6 * x["caregiver_substance_abuse"] + 0.5 * x["new_partner_in_household"] + 0.3 * v,
            -1.4 + 0.8 * x["economic_hardship"] + 0.6 * x["caregiver_mental_illness"]
            + 0.6 * x["caregiver_substance_abuse"] + 0.5 * x["social_isolation"],
            -4.0 + 1.2 * x["new_partner_in_household"],
        ])
        return _TYPES[self._draw(np.cumsum(np.exp(logits)))]

    def _route(self, abuse_type: str, age: float) -> str:
        bracket = 0 if age < 6 else 1 if age < 10 else 2
        return _ROUTE_NAMES[self._draw(_ROUTE_CUMULATIVE[abuse_type, bracket])]

    def _time_of_day(self, route: str) -> int:
        if route == "police":  # around the clock, mostly evenings and nights
            return self._draw(_POLICE_HOURS) * 60 + int(self.rng.integers(60))
        return int(self.rng.integers(8 * 60 + 30, 18 * 60 + 30))

    # --- one report ----------------------------------------------------------------------------------
    def _report(self, child: int, minute: int, incident, family_reports, events) -> None:
        """One intake report: ``incident`` is (abuse type, route, danger), or None for a follow-up."""
        state = self.states.setdefault(child, _ChildState())
        follow_up = incident is None
        if not follow_up and (state.pending or minute <= state.last):
            return
        rng, world = self.rng, self.world
        f = int(world.children.family[child])
        day = minute // DAY
        age = (day - world.children.birth[child]) / DAYS_PER_YEAR
        if follow_up:  # a recurrence, usually graver than what came before
            abuse_type = self._abuse_type(f)
            route = self._route(abuse_type, age)
            minute = day * DAY + self._time_of_day(route)
            danger = 0.5 * world.families.vulnerability[f] + rng.normal() + 0.6
            state.pending = False
        else:
            abuse_type, route, danger = incident
        must_not_qualify = not follow_up and minute <= state.blocked_until + DAY
        severe_harm = not must_not_qualify and rng.random() < (0.04 if follow_up else 0.002 * math.exp(max(danger, 0)))
        history = self._history(child, minute, state)
        situation = Situation(
            factors=self.factors[f],
            vulnerability=float(world.families.vulnerability[f]), disability=bool(world.children.disability[child]),
            poor_growth=bool(self.growth[child]), age=age, abuse_type=abuse_type, danger=danger, route=route,
            sibling_reported=any(t < minute and k != child for t, k in family_reports), history=history)
        items = record_items(rng, situation, severe_harm)
        risk = oracle_probability(items, history, age)
        outcome = rng.random() < risk
        decision = worker_decision(rng, items, history)
        protected_at = minute + int(rng.integers(60, 72 * 60)) if rng.random() < PROTECTION_SHARE[decision] else None
        substantiated = self._substantiation(items, situation, protected_at is not None, follow_up, severe_harm,
                                             must_not_qualify)
        decided = minute + int(rng.integers(14, 71)) * DAY + int(rng.integers(-120, 240)) if substantiated else None
        entity = len(self.intake_rows)
        place = int(world.child_place(np.array([child]), np.array([day]))[0])
        agency = self._receiving_agency(place, route, items)
        self.intake_rows.append((entity, child, agency, minute, risk, outcome, follow_up))
        self._report_versions(entity, child, agency, place, minute, route, abuse_type, substantiated, decided,
                              protected_at, severe_harm)
        self._assessment_versions(entity, agency, minute, items, decision, route, situation)
        never = FOREVER * DAY
        state.priors.append(_Prior(decided or never, substantiated or "", protected_at or never))
        state.last = minute
        family_reports.append((minute, child))
        if outcome:
            self._schedule_follow_up(child, minute, state, events)
        else:
            state.blocked_until = max(state.blocked_until, minute + WINDOW)

    def _history(self, child: int, minute: int, state: _ChildState) -> History:
        return History(
            prior_reports=len(state.priors),
            prior_substantiated=sum(p.substantiated == "yes" and p.decided <= minute for p in state.priors),
            prior_protections=sum(p.protected <= minute for p in state.priors),
            moves=self.moves.count_at(child, minute),
            missed_checkups=self.health.missed_checkups.count_at(child, minute),
            overdue_doses=self.health.overdue_doses.count_at(child, minute),
        )

    def _substantiation(self, items, situation, protected: bool, follow_up: bool, severe_harm: bool,
                        must_not_qualify: bool) -> str | None:
        """The final finding, or None when it is never decided (stays ``undetermined``)."""
        u = self.rng.random()
        if follow_up:
            return "yes" if not severe_harm or u < 0.8 else None
        if must_not_qualify:
            return "no" if u < 0.85 else None
        if u < 0.05:
            return None
        return "yes" if self.rng.random() < substantiation_probability(items, situation, protected) else "no"

    def _receiving_agency(self, place: int, route: str, items: dict[str, str]) -> int:
        geo = self.world.geography
        if route == "municipality":
            to_cgc = True  # a municipality refers the case on to the centre (送致)
        elif route == "cgc":
            to_cgc = False  # the centre hands it to the municipality
        elif route == "police":
            to_cgc = self.rng.random() < 0.85
        else:
            to_cgc = self.rng.random() < 0.35 + 0.3 * (items["injury_severity"] in ("moderate", "severe"))
        return int(geo.place_cgc[place] if to_cgc else geo.place_agency[place])

    def _schedule_follow_up(self, child: int, minute: int, state: _ChildState, events) -> None:
        f = int(self.world.children.family[child])
        lo = max(minute, state.blocked_until) + DAY
        hi = min(minute + WINDOW - DAY, (int(self.exit_day[f]) - 1) * DAY, (int(self.adult[child]) - 1) * DAY)
        if hi <= lo:
            self.lost += 1
            return
        span = hi - lo
        u = self.rng.random()
        gap = -_FOLLOW_UP_GAP * math.log(1 - u * (1 - math.exp(-span / _FOLLOW_UP_GAP)))
        when = lo + int(gap)
        if when // DAY <= DATA_END:
            state.pending = True
            heapq.heappush(events, (when, 1, child))

    # --- rows ----------------------------------------------------------------------------------------
    def _report_versions(self, entity, child, agency, place, received, route, abuse_type, substantiated, decided,
                         protected_at, severe_harm) -> None:
        rng = self.rng
        types = abuse_type
        if abuse_type != "psychological" and rng.random() < 0.15:
            types = f"{abuse_type};psychological"
        roll = rng.random()
        if roll < 0.88:
            safety = received + int(rng.integers(30, 48 * 60))
        elif roll < 0.96 and route != "anonymous":
            safety = received + int(rng.integers(48 * 60, 14 * DAY))
        else:
            safety = None  # whereabouts never confirmed in person
        events = {"registered": received + int(rng.integers(5, 240))}
        if safety is not None:
            events["safety"] = safety + int(rng.integers(10, 600))
        if protected_at is not None:
            events["protection"] = protected_at + int(rng.integers(10, 600))
        if decided is not None:
            events["decision"] = decided
        code = self.world.geography.place_code[place]
        for when in sorted(set(events.values())):
            if when // DAY > DATA_END:
                break
            protected_now = "protection" in events and events["protection"] <= when
            self.report_rows.append({
                "_entity": entity, "_child": child, "_agency": agency, "_updated": when,
                "address_municipality_code": code, "received_at": float(received), "route": route,
                "abuse_types": types,
                "safety_confirmed_at": float(safety) if "safety" in events and events["safety"] <= when else np.nan,
                "substantiated": substantiated if "decision" in events and events["decision"] <= when
                else "undetermined",
                "temporary_protection": "yes" if protected_now else "no",
                "temporary_protection_at": float(protected_at) if protected_now else np.nan,
                "severe_harm": "yes" if severe_harm else "no",
            })

    def _assessment_versions(self, entity, agency, received, items, decision, route, situation) -> None:
        rng = self.rng
        late = rng.random() < 0.05
        assessed = received + int(rng.integers(2, 6) * DAY if late else rng.integers(30, 48 * 60))
        assessor = int(rng.integers(1, 40))
        note = phrases.rationale(rng, items, route, decision) if rng.random() < 0.85 else ""
        first = assessed + int(rng.integers(10, DAY))
        row = {"_report": entity, "_entity": entity, "_agency": agency, "assessed_at": float(assessed),
               "_assessor": assessor}
        self.assessment_rows.append(row | {"_updated": first, "worker_decision": decision, "worker_rationale": note}
                                    | items)
        if rng.random() < 0.12:
            # A home visit settles what could not be seen at intake; the original entry is kept as it was.
            revised = dict(items)
            for name, value in items.items():
                if value == "unknown" and name in situation.factors:
                    revised[name] = "yes" if situation.factors[name] else "no"
            if decision == "undecided":
                decision = "protect" if rng.random() < 0.3 else "no_protect"
            later = assessed + int(rng.integers(3, 31)) * DAY
            note += "\n再評価: 家庭訪問により状況を確認。" if note else ""
            self.assessment_rows.append(row | {"_updated": later, "worker_decision": decision,
                                               "worker_rationale": note} | revised)


_POLICE_HOURS = np.cumsum([5, 4, 3, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 4, 6, 8, 9, 9, 8, 7])
_ROUTE_NAMES = tuple(_ROUTES["physical"])


def _route_weights(abuse_type: str, bracket: int) -> np.ndarray:
    """Routes a child of the age bracket (under 6, 6-9, 10+) can come by: school from 6, self from 10."""
    closed = {0: ("school", "self"), 1: ("nursery", "self"), 2: ("nursery",)}[bracket]
    return np.cumsum([0.0 if r in closed else _ROUTES[abuse_type][r] for r in _ROUTE_NAMES])


_ROUTE_CUMULATIVE = {(t, b): _route_weights(t, b) for t in _TYPES for b in range(3)}

def simulate_cases(world: World, health: HealthRecords, moves: Intervals, growth: np.ndarray, incident_rate: float,
                   rng: np.random.Generator) -> Cases:
    sim = _Simulation(world, health, moves, growth, rng)
    sim.run(incident_rate)
    reports = pd.DataFrame(sim.report_rows)
    intakes = pd.DataFrame(sim.intake_rows, columns=["_entity", "_child", "_agency", "received", "oracle_risk",
                                                     "drawn_outcome", "follow_up"])
    assessments = pd.DataFrame(sim.assessment_rows)
    assessments["_child"] = intakes["_child"].to_numpy()[assessments["_report"].to_numpy()]
    return Cases(reports=reports, assessments=assessments, intakes=intakes, lost_follow_ups=sim.lost)
