"""The programme catalogue of one-stop.md §1: the ids every part of the one-stop service speaks of."""
from __future__ import annotations

# id -> programme name, in the catalogue's order (the navigator lists programmes in this order).
PROGRAMMES: dict[str, str] = {
    "jido_fuyo_teate": "児童扶養手当",
    "boshi_fushi_kafu_kashitsuke": "母子父子寡婦福祉資金貸付金",
    "koto_shokugyo_kunren": "高等職業訓練促進給付金",
    "jiritsu_kyoiku_kunren": "自立支援教育訓練給付金",
    "nichijo_seikatsu_shien": "ひとり親家庭等日常生活支援事業",
    "jutaku_shien_kashitsuke": "ひとり親家庭住宅支援資金貸付",
    "yoikuhi": "養育費の確保",
    "iryohi_josei": "ひとり親家庭等医療費助成",
    "jido_teate": "児童手当",
    "kosodate_tanki_shien": "子育て短期支援事業",
    "shugyo_shien_center": "母子家庭等就業・自立支援センター事業",
    "kosotsu_nintei_shien": "ひとり親家庭高等学校卒業程度認定試験合格支援事業",
    "hoiku_yusen": "保育所等の優先利用",
    "gakushu_shien": "子どもの生活・学習支援事業",
}
EMERGENCY = "emergency"
