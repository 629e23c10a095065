"""How each agency has each child on file: local id, name as typed, kana, sex, birth date.

An agency's master record is fixed per (agency, child) — the old kanji it keeps or folds, a kana slip,
a mistyped birth date — while the surname follows the family's marriage or divorce over time.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kodomo.synthetic import names
from kodomo.synthetic.clock import MINUTES_PER_DAY
from kodomo.synthetic.feeds import local_child_ids
from kodomo.synthetic.habits import Habits
from kodomo.synthetic.population import World

_KANA_SLIP_SHARE = 0.02
_BIRTH_TYPO_SHARE = 0.008
_SEX_UNKNOWN_SHARE = 0.01  # of a CGC's records (anonymous reports without a sex)
_PAIR_BASE = 1 << 32


@dataclass
class People:
    """One row per (agency, child) pair; name and kana per pair and surname epoch (0 before, 1 after)."""

    pairs: pd.DataFrame  # _agency, _child (sorted), local_child_id, sex, birth (day as typed)
    name: np.ndarray  # [pair, epoch]
    kana: np.ndarray  # [pair, epoch]

    def lookup(self, agency: np.ndarray, child: np.ndarray, updated: np.ndarray,
               world: World) -> tuple[np.ndarray, np.ndarray]:
        """(pair index, surname epoch) of rows."""
        keys = self.pairs["_agency"].to_numpy() * _PAIR_BASE + self.pairs["_child"].to_numpy()  # sorted
        pair = np.searchsorted(keys, np.asarray(agency) * _PAIR_BASE + np.asarray(child))
        change = world.families.surname_change_day[world.children.family[child]]
        epoch = (np.asarray(updated) // MINUTES_PER_DAY >= change).astype(int)
        return pair, epoch


def build_people(world: World, person_rows: list[pd.DataFrame], habits: list[Habits], rng: np.random.Generator,
                 mess: dict) -> People:
    """The master record of every (agency, child) pair that occurs in ``person_rows``; counts go to ``mess``."""
    seen = pd.concat([r[["_agency", "_child", "_updated"]] for r in person_rows], ignore_index=True)
    pairs = seen.groupby(["_agency", "_child"], sort=True)["_updated"].min().reset_index()
    agency, child = pairs["_agency"].to_numpy(), pairs["_child"].to_numpy()
    n = len(pairs)
    pairs["local_child_id"] = local_child_ids(agency, pairs["_updated"].to_numpy(), world.geography, habits, rng)
    is_cgc = world.geography.is_cgc()[agency]
    sex = world.children.sex[child].copy()
    unknown_sex = is_cgc & (rng.random(n) < _SEX_UNKNOWN_SHARE)
    sex[unknown_sex] = "9"
    birth, typo = _birth_as_typed(world.children.birth[child], rng)
    pairs["sex"], pairs["birth"] = sex, birth
    name, kana, counts = _names(world, agency, child, habits, rng)
    mess["sex_unknown_records"] = int(unknown_sex.sum())
    mess["birth_date_typos"] = {kind: int((typo == kind).sum()) for kind in ("day_off", "day_month_swapped")}
    mess.update(counts)
    return People(pairs=pairs, name=name, kana=kana)


def _birth_as_typed(birth: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A few records carry a mistyped birth date: a day off, or day and month swapped.

    The typo always lands on an earlier, existing date, so it can never put the birth after an event
    or after a delivery date (which would make a valid row invalid).
    """
    typed = birth.copy()
    kind = np.full(len(birth), "", dtype=object)
    chosen = np.flatnonzero(rng.random(len(birth)) < _BIRTH_TYPO_SHARE)
    days = birth[chosen].astype("datetime64[D]")
    month_start = days.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day = (days - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    year_start = days.astype("datetime64[Y]").astype("datetime64[M]")
    swapped = (year_start + (day - 1)).astype("datetime64[D]") + (month - 1)
    can_swap = (day <= 12) & (day != month) & (swapped < days)
    typed[chosen] = np.where(can_swap, swapped.astype(np.int64), birth[chosen] - 1)
    kind[chosen] = np.where(can_swap, "day_month_swapped", "day_off")
    return typed, kind


def _names(world: World, agency: np.ndarray, child: np.ndarray, habits: list[Habits], rng: np.random.Generator):
    fam = world.families
    family = world.children.family[child]
    n = len(agency)
    name = np.empty((n, 2), dtype=object)
    kana = np.empty((n, 2), dtype=object)
    slips = rng.random(n) < _KANA_SLIP_SHARE
    mixed_pick = rng.random(n) < 0.5
    folded = 0
    for i in range(n):
        h = habits[agency[i]]
        given, given_kana = world.children.given_name(child[i])
        if slips[i]:
            given_kana = names.kana_slip(given_kana, rng)
        f = family[i]
        for epoch, (surname, registered) in enumerate(((fam.surname[f], fam.registered[f]),
                                                       (fam.new_surname[f], fam.new_registered[f]))):
            written = _as_typed(registered, h, mixed_pick[i])
            folded += epoch == 0 and written != registered
            name[i, epoch] = written + h.name_separator + given
            reading = names.SURNAMES[surname][1] + h.kana_separator + given_kana
            kana[i, epoch] = names.kana_in_form(reading, h.kana_form)
    counts = {
        "kana_typos": int(slips.sum()),
        "variant_kanji_records": int(folded),
    }
    return name, kana, counts


def _as_typed(registered: str, h: Habits, coin: bool) -> str:
    """The surname as an agency's system holds it: kept, folded to the common kanji, or either."""
    keep = h.variant_policy == "registry" or (h.variant_policy == "mixed" and coin)
    written = registered if keep else names.common_form(registered)
    return written if names.encodable(written, h.encoding) else names.common_form(registered)
