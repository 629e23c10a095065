"""The delivering region (Saitama and Tokyo, or Tokyo alone), its municipalities and child guidance
centres, and the places outside the region that families move to and from.

Municipality codes are the real 5-digit bases of 全国地方公共団体コード; the check digit is always
computed with ``with_check_digit`` so that it is right by construction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kodomo.parsing.codes import with_check_digit

# (5-digit base, name, relative child population), largest first; worlds of both prefectures take the
# first entries of each.
_MUNICIPALITIES = {
    "11": [
        ("11100", "さいたま市", 133), ("11203", "川口市", 60), ("11201", "川越市", 35), ("11208", "所沢市", 34),
        ("11222", "越谷市", 34), ("11221", "草加市", 25), ("11214", "春日部市", 23), ("11219", "上尾市", 23),
        ("11202", "熊谷市", 19), ("11230", "新座市", 16), ("11232", "久喜市", 15), ("11215", "狭山市", 15),
        ("11225", "入間市", 14), ("11227", "朝霞市", 14), ("11218", "深谷市", 14), ("11237", "三郷市", 14),
        ("11224", "戸田市", 14), ("11217", "鴻巣市", 12), ("11235", "富士見市", 11), ("11210", "加須市", 11),
        ("11234", "八潮市", 9), ("11212", "東松山市", 9), ("11229", "和光市", 8), ("11206", "行田市", 8),
        ("11209", "飯能市", 8), ("11211", "本庄市", 8), ("11228", "志木市", 8), ("11223", "蕨市", 7),
        ("11231", "桶川市", 7), ("11233", "北本市", 7), ("11207", "秩父市", 6), ("11216", "羽生市", 5),
    ],
    "13": [
        ("13112", "世田谷区", 90), ("13120", "練馬区", 74), ("13111", "大田区", 73), ("13123", "江戸川区", 69),
        ("13121", "足立区", 69), ("13119", "板橋区", 58), ("13115", "杉並区", 57), ("13201", "八王子市", 56),
        ("13108", "江東区", 52), ("13122", "葛飾区", 46), ("13209", "町田市", 43), ("13109", "品川区", 42),
        ("13117", "北区", 35), ("13104", "新宿区", 34), ("13114", "中野区", 33), ("13116", "豊島区", 29),
        ("13110", "目黒区", 28), ("13107", "墨田区", 27), ("13103", "港区", 26), ("13206", "府中市", 26),
        ("13208", "調布市", 24), ("13105", "文京区", 24), ("13113", "渋谷区", 23), ("13118", "荒川区", 22),
        ("13106", "台東区", 21), ("13204", "三鷹市", 19), ("13202", "立川市", 18), ("13102", "中央区", 17),
        ("13203", "武蔵野市", 15), ("13205", "青梅市", 13), ("13207", "昭島市", 11), ("13101", "千代田区", 7),
    ],
}
_PREFECTURE_NAMES = {"11": "埼玉県", "13": "東京都"}
_CGC_NAMES = {
    "11": ["中央児童相談所", "南児童相談所", "川越児童相談所", "所沢児童相談所", "熊谷児童相談所", "越谷児童相談所"],
    "13": ["児童相談センター", "北児童相談所", "品川児童相談所", "立川児童相談所", "江東児童相談所", "杉並児童相談所"],
}
# The rest of Tokyo, for the world of the whole prefecture: the other cities, the towns and villages of
# 西多摩 and the islands (same unit as above).
_TOKYO_MORE = [
    ("13229", "西東京市", 26), ("13211", "小平市", 25), ("13212", "日野市", 23), ("13213", "東村山市", 18),
    ("13214", "国分寺市", 16), ("13224", "多摩市", 16), ("13210", "小金井市", 15), ("13222", "東久留米市", 14),
    ("13225", "稲城市", 14), ("13220", "東大和市", 11), ("13219", "狛江市", 10), ("13215", "国立市", 9),
    ("13221", "清瀬市", 9), ("13223", "武蔵村山市", 9), ("13228", "あきる野市", 9), ("13218", "福生市", 6),
    ("13227", "羽村市", 6), ("13303", "瑞穂町", 3.5), ("13305", "日の出町", 2), ("13361", "大島町", 0.8),
    ("13401", "八丈町", 0.8), ("13421", "小笠原村", 0.4), ("13308", "奥多摩町", 0.3), ("13363", "新島村", 0.3),
    ("13364", "神津島村", 0.25), ("13381", "三宅村", 0.2), ("13307", "檜原村", 0.1), ("13362", "利島村", 0.05),
    ("13382", "御蔵島村", 0.05), ("13402", "青ヶ島村", 0.02),
]
# Tokyo's child guidance centres and the municipalities each covers (late 2024): eleven run by the
# metropolis, and the wards that run their own centre since 2020.
_TOKYO_CGCS = [
    ("東京都児童相談センター", ("13101", "13102", "13104", "13105", "13106", "13113", "13361", "13362", "13363",
                        "13364", "13381", "13382", "13401", "13402", "13421")),
    ("東京都北児童相談所", ("13117",)),
    ("東京都品川児童相談所", ("13110", "13111")),
    ("東京都立川児童相談所", ("13202", "13205", "13207", "13215", "13218", "13227", "13228", "13303", "13305",
                       "13307", "13308")),
    ("東京都江東児童相談所", ("13107", "13108")),
    ("東京都杉並児童相談所", ("13115", "13203", "13204")),
    ("東京都小平児童相談所", ("13210", "13211", "13213", "13214", "13220", "13221", "13222", "13223", "13229")),
    ("東京都八王子児童相談所", ("13201", "13209", "13212")),
    ("東京都足立児童相談所", ("13121",)),
    ("東京都多摩児童相談所", ("13206", "13208", "13219", "13224", "13225")),
    ("東京都練馬児童相談所", ("13120",)),
    ("世田谷区児童相談所", ("13112",)), ("江戸川区児童相談所", ("13123",)), ("荒川区児童相談所", ("13118",)),
    ("港区児童相談所", ("13103",)), ("中野区児童相談所", ("13114",)), ("板橋区児童相談所", ("13119",)),
    ("豊島区児童相談所", ("13116",)), ("葛飾区児童相談所", ("13122",)), ("品川区児童相談所", ("13109",)),
]
# Places outside the region: families arrive from and leave for them; they never deliver.
_OUTSIDE = [
    ("12100", "千葉市"), ("12204", "船橋市"), ("12203", "市川市"), ("14100", "横浜市"), ("14130", "川崎市"),
    ("10201", "前橋市"), ("09201", "宇都宮市"), ("08201", "水戸市"), ("27100", "大阪市"), ("23100", "名古屋市"),
    ("01100", "札幌市"), ("40130", "福岡市"),
]
# Saitama delivers nothing in the world of Tokyo alone: its cities are outside places there.
_OUTSIDE_TOKYO = [("11100", "さいたま市"), ("11203", "川口市"), ("11208", "所沢市"), ("11201", "川越市"), *_OUTSIDE]
PREFECTURES = tuple(_MUNICIPALITIES)


@dataclass(frozen=True)
class Agency:
    index: int
    agency_id: str
    agency_type: str  # "municipality" | "cgc"
    name: str
    prefecture_code: str
    cgc_id: str  # the covering CGC for a municipality, "" for a CGC


@dataclass(frozen=True)
class Geography:
    agencies: tuple[Agency, ...]
    # One entry per place (region municipalities first, then outside ones), as numpy arrays.
    place_code: np.ndarray  # municipality code with check digit
    place_in_region: np.ndarray  # bool
    place_prefecture: np.ndarray  # prefecture code as str
    place_agency: np.ndarray  # agency index of the municipality, -1 outside
    place_cgc: np.ndarray  # agency index of the covering CGC, -1 outside
    place_weight: np.ndarray  # share of the region's children (0 outside)
    prefectures: tuple[str, ...]  # the delivering prefectures

    @property
    def region_places(self) -> np.ndarray:
        return np.flatnonzero(self.place_in_region)

    @property
    def outside_places(self) -> np.ndarray:
        return np.flatnonzero(~self.place_in_region)

    def agency_ids(self) -> np.ndarray:
        return np.array([a.agency_id for a in self.agencies], dtype=object)

    def is_cgc(self) -> np.ndarray:
        return np.array([a.agency_type == "cgc" for a in self.agencies])


def build_geography(municipalities_per_prefecture: int, cgcs_per_prefecture: int) -> Geography:
    """Saitama and Tokyo: the first municipalities of each list, shared out among a few centres."""
    municipalities, cgcs = [], []
    for prefecture in PREFECTURES:
        chosen = _MUNICIPALITIES[prefecture][:municipalities_per_prefecture]
        cgc_ids = [f"C{prefecture}{n + 1:02d}" for n in range(cgcs_per_prefecture)]
        cgcs += [(cgc_id, prefecture, f"{_PREFECTURE_NAMES[prefecture]}{name}")
                 for cgc_id, name in zip(cgc_ids, _CGC_NAMES[prefecture])]
        for i, (base, name, weight) in enumerate(chosen):
            # Neighbouring entries of the list share a centre, as jurisdictions are contiguous.
            cgc_id = cgc_ids[i * cgcs_per_prefecture // len(chosen)]
            municipalities.append((with_check_digit(base), name, prefecture, weight, cgc_id))
    return _assemble(municipalities, cgcs, _OUTSIDE, PREFECTURES)


def build_tokyo_geography() -> Geography:
    """Tokyo alone: its 62 municipalities (in code order) under their own centres."""
    covering = {base: f"C13{n + 1:02d}" for n, (_, bases) in enumerate(_TOKYO_CGCS) for base in bases}
    listed = sorted(_MUNICIPALITIES["13"] + _TOKYO_MORE)
    assert sorted(covering) == [base for base, _, _ in listed], "every Tokyo municipality has exactly one centre"
    municipalities = [(with_check_digit(base), name, "13", weight, covering[base]) for base, name, weight in listed]
    cgcs = [(f"C13{n + 1:02d}", "13", name) for n, (name, _) in enumerate(_TOKYO_CGCS)]
    return _assemble(municipalities, cgcs, _OUTSIDE_TOKYO, ("13",))


def _assemble(municipalities: list[tuple], cgcs: list[tuple], outside_places: list[tuple],
              prefectures: tuple[str, ...]) -> Geography:
    """Agencies (municipalities, then centres) and places (the region's municipalities, then outside ones)."""
    agencies = [Agency(i, code, "municipality", name, pref, cgc_id)
                for i, (code, name, pref, _, cgc_id) in enumerate(municipalities)]
    agencies += [Agency(len(municipalities) + j, cgc_id, "cgc", name, pref, "")
                 for j, (cgc_id, pref, name) in enumerate(cgcs)]
    index_of = {a.agency_id: a.index for a in agencies}
    outside = [(with_check_digit(base), name) for base, name in outside_places]
    n_region = len(municipalities)
    weights = np.array([m[3] for m in municipalities], dtype=float)
    return Geography(
        agencies=tuple(agencies),
        place_code=np.array([m[0] for m in municipalities] + [code for code, _ in outside], dtype=object),
        place_in_region=np.arange(n_region + len(outside)) < n_region,
        place_prefecture=np.array([m[2] for m in municipalities] + [code[:2] for code, _ in outside], dtype=object),
        place_agency=np.concatenate([np.arange(n_region), np.full(len(outside), -1)]),
        place_cgc=np.concatenate([[index_of[m[4]] for m in municipalities], np.full(len(outside), -1)]).astype(int),
        place_weight=np.concatenate([weights / weights.sum(), np.zeros(len(outside))]),
        prefectures=prefectures,
    )
