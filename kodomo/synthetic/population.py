"""Families and children: latent risk, births (with twins), names, where they live and when they move.

Everything is a numpy array over families, children or residence spells; a family's children move
with it. Risk factors are correlated through one latent vulnerability per family.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from kodomo.synthetic import names
from kodomo.synthetic.clock import DATA_END, DAYS_PER_YEAR, OLDEST_BIRTH, PERIOD_START, day_of, years_between
from kodomo.synthetic.geography import Geography

# Family risk factors: (intercept, loading on the latent vulnerability) of a logistic model.
# The names are the assessment items that observe them; young_parent is never observed directly.
FAMILY_FACTORS = {
    "single_parent": (-2.3, 0.9),
    "economic_hardship": (-2.1, 1.0),
    "caregiver_mental_illness": (-2.9, 0.9),
    "caregiver_substance_abuse": (-3.8, 1.0),
    "domestic_violence": (-3.1, 1.0),
    "social_isolation": (-2.2, 0.7),
    "new_partner_in_household": (-3.5, 0.9),
    "young_parent": (-3.1, 0.6),
}
CHILD_DISABILITY = (-3.2, 0.3)
FOREVER = np.int64(10**7)  # a day far beyond any simulated date
_BEFORE_ANYTHING = np.int64(-(10**6))
_FAMILY_SIZES = ([1, 2, 3, 4], [0.33, 0.45, 0.18, 0.04])
_TWIN_SHARE = 0.012  # of births
_MOVE_RATE = 0.045  # family moves per year at baseline
_ARRIVING_SHARE = 0.10  # families that move into the region during the period
_MOVE_KINDS = (("same_prefecture", 0.55), ("other_prefecture", 0.20), ("leave_region", 0.25))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Families:
    vulnerability: np.ndarray
    factors: dict[str, np.ndarray]
    surname: np.ndarray  # index into names.SURNAMES before any change
    registered: np.ndarray  # registered spelling before any change (may use an old kanji form)
    new_surname: np.ndarray  # index after the change (== surname if none)
    new_registered: np.ndarray
    surname_change_day: np.ndarray  # FOREVER if the surname never changes

    def __len__(self) -> int:
        return len(self.vulnerability)


@dataclass
class Children:
    family: np.ndarray
    sex: np.ndarray  # "1" / "2"
    birth: np.ndarray  # day
    given: np.ndarray  # index into BOY_NAMES / GIRL_NAMES by sex
    twin_of: np.ndarray  # child index of the twin, -1
    disability: np.ndarray

    def __len__(self) -> int:
        return len(self.birth)

    def given_name(self, i: int) -> tuple[str, str]:
        table = names.BOY_NAMES if self.sex[i] == "1" else names.GIRL_NAMES
        return table[self.given[i]]

    def eighteenth_birthday(self) -> np.ndarray:
        return self.birth + int(18 * DAYS_PER_YEAR)


@dataclass
class Residence:
    """Where each family lives: spells sorted by (family, start) covering all time."""

    family: np.ndarray
    place: np.ndarray
    start: np.ndarray
    end: np.ndarray  # exclusive
    # Moves: one row per family move inside the period (arrivals from outside included).
    move_family: np.ndarray
    move_day: np.ndarray
    move_from: np.ndarray
    move_to: np.ndarray

    @cached_property
    def _spell_key(self) -> np.ndarray:
        return self.family.astype(np.int64) * (1 << 24) + (self.start - _BEFORE_ANYTHING)

    def spell_at(self, family: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Index of the spell of ``family`` that contains ``day`` (vectorised)."""
        query = np.asarray(family, dtype=np.int64) * (1 << 24) + (np.asarray(day) - _BEFORE_ANYTHING)
        return np.searchsorted(self._spell_key, query, side="right") - 1

    def place_at(self, family: np.ndarray, day: np.ndarray) -> np.ndarray:
        return self.place[self.spell_at(family, day)]


@dataclass
class World:
    geography: Geography
    families: Families
    children: Children
    residence: Residence

    def child_place(self, child: np.ndarray, day: np.ndarray) -> np.ndarray:
        return self.residence.place_at(self.children.family[child], day)

    def child_spell(self, child: np.ndarray, day: np.ndarray) -> np.ndarray:
        return self.residence.spell_at(self.children.family[child], day)

    def in_region(self, child: np.ndarray, day: np.ndarray) -> np.ndarray:
        return self.geography.place_in_region[self.child_place(child, day)]

    def of_families(self, first: int, stop: int) -> World:
        """The families ``first`` to ``stop - 1`` with their children, spells and moves, numbered from 0.

        Nothing that happens to one family depends on another (a child's history is its family's), so
        a shard of families is simulated on its own; children are family-sorted, so child ``i`` of the
        shard is child ``i`` + the shard's first child of the world.
        """
        fam, kids, res = self.families, self.children, self.residence
        c0, c1 = np.searchsorted(kids.family, [first, stop])
        s0, s1 = np.searchsorted(res.family, [first, stop])
        m0, m1 = np.searchsorted(res.move_family, [first, stop])
        part = slice(first, stop)
        families = Families(
            vulnerability=fam.vulnerability[part], factors={k: v[part] for k, v in fam.factors.items()},
            surname=fam.surname[part], registered=fam.registered[part], new_surname=fam.new_surname[part],
            new_registered=fam.new_registered[part], surname_change_day=fam.surname_change_day[part])
        twin_of = kids.twin_of[c0:c1]
        children = Children(family=kids.family[c0:c1] - first, sex=kids.sex[c0:c1], birth=kids.birth[c0:c1],
                            given=kids.given[c0:c1], twin_of=np.where(twin_of >= 0, twin_of - c0, -1),
                            disability=kids.disability[c0:c1])
        residence = Residence(
            family=res.family[s0:s1] - first, place=res.place[s0:s1], start=res.start[s0:s1], end=res.end[s0:s1],
            move_family=res.move_family[m0:m1] - first, move_day=res.move_day[m0:m1],
            move_from=res.move_from[m0:m1], move_to=res.move_to[m0:m1])
        return World(self.geography, families, children, residence)


def _latent_factors(rng: np.random.Generator, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    vulnerability = rng.standard_normal(n)
    factors = {name: rng.random(n) < sigmoid(a + b * vulnerability) for name, (a, b) in FAMILY_FACTORS.items()}
    return vulnerability, factors


def _declining_days(rng: np.random.Generator, n: int, first: int, last: int, decline: float) -> np.ndarray:
    """Days in [first, last] whose density falls linearly by ``decline`` from the first to the last."""
    u = rng.random(n)
    x = (1 - np.sqrt(1 - 2 * decline * u * (1 - decline / 2))) / decline
    return first + (x * (last - first)).astype(np.int64)


def _birth_days(rng: np.random.Generator, n_families: int) -> tuple[np.ndarray, np.ndarray]:
    """(family, birth day) of every recorded child; births before 2005 are older siblings not recorded."""
    sizes = rng.choice(_FAMILY_SIZES[0], size=n_families, p=_FAMILY_SIZES[1])
    # Births fell by about a third over twenty years (1.06 million in 2005, 0.73 million in 2023).
    first = _declining_days(rng, n_families, day_of(dt.date(1999, 1, 1)), DATA_END - 30, decline=0.35)
    family = np.repeat(np.arange(n_families), sizes)
    order_in_family = np.arange(len(family)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    gaps = ((1.3 + rng.gamma(2.0, 0.6, size=len(family))) * DAYS_PER_YEAR).astype(np.int64)
    gaps[order_in_family == 0] = 0
    births = first[family] + _cumsum_within(gaps, family)
    twins = rng.random(len(family)) < _TWIN_SHARE
    family = np.concatenate([family, family[twins]])
    births = np.concatenate([births, births[twins]])
    kept = (births >= OLDEST_BIRTH) & (births <= DATA_END - 1)
    order = np.lexsort((births[kept], family[kept]))
    return family[kept][order], births[kept][order]


def _cumsum_within(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    total = np.cumsum(values)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    offsets = np.repeat(total[starts] - values[starts], np.diff(np.r_[starts, len(values)]))
    return total - offsets


def build_world(geography: Geography, cp932_places: list[int], n_children: int, rng: np.random.Generator) -> World:
    family, births = _families_with(n_children, rng)
    n_families = int(family.max()) + 1
    vulnerability, factors = _latent_factors(rng, n_families)
    children = _children(family, births, vulnerability, rng)
    residence = _residence(geography, vulnerability, rng)
    families = _surnames(vulnerability, factors, rng)
    _show_old_kanji_in_cp932_places(families, children, residence, cp932_places, rng)
    return World(geography, families, children, residence)


def _families_with(n_children: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Whole families, drawn until they hold ``n_children`` recorded children; renumbered 0..F-1."""
    family, births = _birth_days(rng, int(n_children * 1.2) + 20)
    present = np.unique(family)
    shuffled = rng.permutation(present)
    counts = np.bincount(family, minlength=present.max() + 1)[shuffled]
    keep = np.sort(shuffled[: int(np.searchsorted(np.cumsum(counts), n_children)) + 1])
    mask = np.isin(family, keep)
    return np.searchsorted(keep, family[mask]), births[mask]


def _children(family: np.ndarray, births: np.ndarray, vulnerability: np.ndarray, rng: np.random.Generator) -> Children:
    n = len(family)
    sex = np.where(rng.random(n) < 0.512, "1", "2").astype(object)
    twin_first = np.flatnonzero((family[1:] == family[:-1]) & (births[1:] == births[:-1]))
    twin_of = np.full(n, -1)
    twin_of[twin_first], twin_of[twin_first + 1] = twin_first + 1, twin_first
    # Twins share their sex two times in three (all identical and half the fraternal pairs).
    same = rng.random(len(twin_first)) < 0.65
    sex[twin_first[same] + 1] = sex[twin_first[same]]
    given = _distinct_given_names(family, sex, rng)
    a, b = CHILD_DISABILITY
    disability = rng.random(n) < sigmoid(a + b * vulnerability[family])
    return Children(family=family, sex=sex, birth=births, given=given, twin_of=twin_of, disability=disability)


def _distinct_given_names(family: np.ndarray, sex: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A given name per child; siblings (twins above all) never share one."""
    sizes = np.where(sex == "1", len(names.BOY_NAMES), len(names.GIRL_NAMES))
    given = (rng.random(len(family)) * sizes).astype(int)
    while True:
        key = family * 1000 + given * 2 + (sex == "1")
        order = np.argsort(key, kind="stable")
        clash = order[1:][key[order][1:] == key[order][:-1]]
        if clash.size == 0:
            return given
        given[clash] = (rng.random(clash.size) * sizes[clash]).astype(int)


def _residence(geography: Geography, vulnerability: np.ndarray, rng: np.random.Generator) -> Residence:
    n = len(vulnerability)
    region, outside = geography.region_places, geography.outside_places
    weights = geography.place_weight[region]
    home = rng.choice(region, size=n, p=weights)
    arriving = rng.random(n) < _ARRIVING_SHARE
    arrival = np.where(arriving, rng.integers(PERIOD_START, DATA_END - 30, size=n), PERIOD_START)
    # Families under strain move more often (a known risk marker).
    rate = _MOVE_RATE * np.exp(0.35 * vulnerability) * years_between(arrival, DATA_END)
    n_moves = rng.poisson(rate)
    spells: list[tuple[int, int, int, int]] = []
    moves: list[tuple[int, int, int, int]] = []
    targets: dict = {}
    for f in range(n):
        if not arriving[f] and n_moves[f] == 0:
            spells.append((f, home[f], _BEFORE_ANYTHING, FOREVER))
            continue
        start, place = _BEFORE_ANYTHING, home[f]
        if arriving[f]:
            origin = rng.choice(outside)
            spells.append((f, origin, start, arrival[f]))
            moves.append((f, arrival[f], origin, place))
            start = arrival[f]
        for day in np.sort(rng.integers(arrival[f] + 1, DATA_END + 1, size=n_moves[f])):
            if day <= start:
                continue
            destination = _destination(geography, place, rng, targets)
            spells.append((f, place, start, day))
            moves.append((f, day, place, destination))
            start, place = day, destination
            if not geography.place_in_region[place]:
                break
        spells.append((f, place, start, FOREVER))
    s = np.array(spells, dtype=np.int64)
    m = np.array(moves, dtype=np.int64).reshape(-1, 4)
    order = np.lexsort((s[:, 2], s[:, 0]))
    return Residence(family=s[order, 0], place=s[order, 1], start=s[order, 2], end=s[order, 3],
                     move_family=m[:, 0], move_day=m[:, 1], move_from=m[:, 2], move_to=m[:, 3])


def _destination(geography: Geography, place: int, rng: np.random.Generator, targets: dict) -> int:
    """Where a family moving from ``place`` goes; ``targets`` keeps each place's candidates once computed."""
    kinds, shares = zip(*_MOVE_KINDS)
    kind = kinds[rng.choice(len(kinds), p=shares)]
    if kind == "leave_region":
        return int(rng.choice(geography.outside_places))
    if (place, kind) not in targets:
        same = geography.place_prefecture == geography.place_prefecture[place]
        wanted = same if kind == "same_prefecture" else ~same
        candidates = np.flatnonzero(wanted & geography.place_in_region & (np.arange(len(same)) != place))
        weights = geography.place_weight[candidates]
        targets[place, kind] = candidates, (weights / weights.sum() if candidates.size else weights)
    candidates, p = targets[place, kind]
    if candidates.size == 0:  # a region of one prefecture: moving to another prefecture leaves it
        return int(rng.choice(geography.outside_places))
    return int(rng.choice(candidates, p=p))


def _registered_spelling(surname: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The koseki spelling: a family whose name has an old kanji form registers it three times in ten."""
    out = np.empty(len(surname), dtype=object)
    draws = rng.random(len(surname))
    picks = rng.integers(0, 1000, size=len(surname))
    old_forms = [names.old_forms(common) for common, _, _ in names.SURNAMES]
    for i, s in enumerate(surname):
        common = names.SURNAMES[s][0]
        forms = old_forms[s]
        out[i] = forms[picks[i] % len(forms)] if forms and draws[i] < 0.3 else common
    return out


def _surnames(vulnerability: np.ndarray, factors: dict[str, np.ndarray], rng: np.random.Generator) -> Families:
    n = len(vulnerability)
    weights = np.array([w for _, _, w in names.SURNAMES], dtype=float)
    surname = rng.choice(len(weights), size=n, p=weights / weights.sum())
    # Marriage or divorce changes the children's surname; both follow single parenthood and new partners.
    p_change = 0.015 + 0.05 * factors["single_parent"] + 0.10 * factors["new_partner_in_household"]
    changes = rng.random(n) < p_change
    other = (surname + rng.integers(1, len(weights), size=n)) % len(weights)
    new_surname = np.where(changes, other, surname)
    change_day = np.where(changes, rng.integers(PERIOD_START, DATA_END, size=n), FOREVER)
    registered = _registered_spelling(surname, rng)
    new_registered = np.where(changes, _registered_spelling(new_surname, rng), registered)
    return Families(vulnerability=vulnerability, factors=factors, surname=surname, registered=registered,
                    new_surname=new_surname, new_registered=new_registered, surname_change_day=change_day)


def _show_old_kanji_in_cp932_places(families: Families, children: Children, residence: Residence,
                                    cp932_places: list[int], rng: np.random.Generator) -> None:
    """Give a settled young family in each CP932-exporting municipality the surnames 髙橋 and 山﨑,
    so that the IBM-extension kanji that only CP932 can carry really occur in CP932 files."""
    showcase = [(common, old) for common in ("高橋", "山崎") for old in names.old_forms(common)[:1]]
    index = {s[0]: i for i, s in enumerate(names.SURNAMES)}
    settled = np.bincount(residence.family, minlength=len(families)) == 1
    young = np.zeros(len(families), dtype=bool)
    young[children.family[(children.birth >= PERIOD_START) & (children.birth < DATA_END - 400)]] = True
    first_spell = np.searchsorted(residence.family, np.arange(len(families)))
    for place in cp932_places:
        candidates = np.flatnonzero(settled & young & (residence.place[first_spell] == place))
        chosen = rng.choice(candidates, size=min(len(showcase), len(candidates)), replace=False)
        for f, (common, old) in zip(chosen, showcase):
            families.surname[f] = families.new_surname[f] = index[common]
            families.registered[f] = families.new_registered[f] = old
            families.surname_change_day[f] = FOREVER
