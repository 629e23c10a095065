"""How large worlds are cut: Tokyo's geography, shards of families and groups of agencies.

Generating ``tokyo`` takes minutes; its pieces are the ones ``tests/test_generate.py`` runs on a small
sharded world (same code, same truth checks), so what is tested here is how the pieces are cut.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kodomo.cli import build_parser
from kodomo.parsing.codes import is_municipality_code
from kodomo.synthetic.geography import build_geography, build_tokyo_geography
from kodomo.synthetic.population import build_world
from kodomo.synthetic.scales import SCALES
from kodomo.synthetic.shards import agency_groups, family_shards


def test_tokyo_has_its_62_municipalities_each_under_one_centre():
    geo = build_tokyo_geography()
    municipalities = [a for a in geo.agencies if a.agency_type == "municipality"]
    centres = {a.agency_id: a for a in geo.agencies if a.agency_type == "cgc"}
    assert len(municipalities) == 62 and len(centres) == 20
    assert all(is_municipality_code(a.agency_id) and a.agency_id.startswith("13") for a in municipalities)
    assert len({a.agency_id for a in geo.agencies}) == len(geo.agencies)
    assert {a.cgc_id for a in municipalities} == set(centres)  # every centre covers someone
    assert sum(name.startswith("東京都") for name in (c.name for c in centres.values())) == 11
    assert geo.prefectures == ("13",) and {a.prefecture_code for a in geo.agencies} == {"13"}
    # Wards, cities, towns and villages all deliver; the largest ward has the most children.
    assert {"世田谷区", "八王子市", "奥多摩町", "青ヶ島村"} <= {a.name for a in municipalities}
    region = geo.region_places
    assert np.isclose(geo.place_weight[region].sum(), 1.0)
    assert geo.place_code[region[np.argmax(geo.place_weight[region])]] == "131121"
    assert not any(code.startswith("13") for code in geo.place_code[geo.outside_places])


def test_tokyo_is_a_sharded_scale_the_command_offers():
    tokyo = SCALES["tokyo"]
    assert tokyo.sharded and tokyo.region == "tokyo" and tokyo.children == 1_800_000
    assert not any(s.sharded for name, s in SCALES.items() if name != "tokyo")  # one piece: as before
    args = build_parser().parse_args(["generate", "--out", "x", "--scale", "tokyo"])
    assert args.scale == "tokyo"


@pytest.mark.parametrize("geography, n_groups", [(build_tokyo_geography(), 12), (build_geography(6, 2), 3)])
def test_agency_groups_share_out_every_agency_once_with_balanced_rows(geography, n_groups):
    groups = agency_groups(geography, n_groups)
    assert len(groups) == n_groups
    assert sorted(a for group in groups for a in group) == list(range(len(geography.agencies)))
    is_cgc = geography.is_cgc()
    assert all((~is_cgc[group]).any() for group in groups)  # a municipality delivers every feed
    share = np.zeros(len(geography.agencies))
    region = geography.region_places
    share[geography.place_agency[region]] = geography.place_weight[region]
    children = [share[group].sum() for group in groups]
    assert max(children) < 1.6 * sum(children) / n_groups


def test_too_many_groups_for_the_municipalities_is_refused():
    with pytest.raises(ValueError, match="every group needs a municipality"):
        agency_groups(build_geography(2, 1), 5)


def test_family_shards_are_runs_of_whole_families_of_about_equal_size():
    rng = np.random.default_rng(0)
    world = build_world(build_geography(6, 2), [], 20_000, rng)
    family = world.children.family
    shards = family_shards(family, 3_000)
    assert shards[0][0] == 0 and shards[-1][1] == len(world.families)
    assert all(stop == first for (_, stop), (first, _) in zip(shards, shards[1:]))
    sizes = [np.count_nonzero((family >= first) & (family < stop)) for first, stop in shards]
    assert len(shards) == 7 and max(sizes) - min(sizes) < 10  # a boundary moves by a family at most


def test_a_shard_of_families_is_the_world_cut_out_and_renumbered():
    world = build_world(build_geography(6, 2), [], 3_000, np.random.default_rng(1))
    first, stop = family_shards(world.children.family, 1_000)[1]
    part = world.of_families(first, stop)
    c0 = int(np.searchsorted(world.children.family, first))
    kids = np.arange(len(part.children))
    assert (part.children.birth == world.children.birth[c0 + kids]).all()
    assert (part.children.family == world.children.family[c0 + kids] - first).all()
    twins = part.children.twin_of >= 0
    assert (part.children.twin_of[twins] + c0 == world.children.twin_of[c0 + kids[twins]]).all()
    days = pd.Series(part.children.birth + 400)
    assert (part.child_place(kids, days.to_numpy()) == world.child_place(c0 + kids, days.to_numpy())).all()
    assert len(part.residence.move_day) == np.count_nonzero((world.residence.move_family >= first)
                                                            & (world.residence.move_family < stop))
