"""The two delivering prefectures, their municipalities and child guidance centres, and the places
outside the region that families move to and from.

Municipality codes are the real 5-digit bases of 全国地方公共団体コード; the check digit is always
computed with ``with_check_digit`` so that it is right by construction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kodomo.parsing.codes import with_check_digit

# (5-digit base, name, relative child population), largest first.
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
# Places outside the region: families arrive from and leave for them; they never deliver.
_OUTSIDE = [
    ("12100", "千葉市"), ("12204", "船橋市"), ("12203", "市川市"), ("14100", "横浜市"), ("14130", "川崎市"),
    ("10201", "前橋市"), ("09201", "宇都宮市"), ("08201", "水戸市"), ("27100", "大阪市"), ("23100", "名古屋市"),
    ("01100", "札幌市"), ("40130", "福岡市"),
]
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
    municipalities, cgcs = [], []
    for prefecture in PREFECTURES:
        chosen = _MUNICIPALITIES[prefecture][:municipalities_per_prefecture]
        cgc_ids = [f"C{prefecture}{n + 1:02d}" for n in range(cgcs_per_prefecture)]
        cgcs += [(cgc_id, prefecture, name) for cgc_id, name in zip(cgc_ids, _CGC_NAMES[prefecture])]
        for i, (base, name, weight) in enumerate(chosen):
            # Neighbouring entries of the list share a centre, as jurisdictions are contiguous.
            cgc_id = cgc_ids[i * cgcs_per_prefecture // len(chosen)]
            municipalities.append((with_check_digit(base), name, prefecture, weight, cgc_id))
    agencies = [Agency(i, code, "municipality", name, pref, cgc_id)
                for i, (code, name, pref, _, cgc_id) in enumerate(municipalities)]
    agencies += [Agency(len(municipalities) + j, cgc_id, "cgc", f"{_PREFECTURE_NAMES[pref]}{name}", pref, "")
                 for j, (cgc_id, pref, name) in enumerate(cgcs)]
    index_of = {a.agency_id: a.index for a in agencies}
    outside = [(with_check_digit(base), name) for base, name in _OUTSIDE]
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
    )
