"""Free text as caseworkers and nurses type it: Japanese, with commas, quotes and line breaks."""
from __future__ import annotations

import numpy as np

ROUTE_WORDS = {
    "police": "警察", "neighbor": "近隣住民", "family": "家族", "relative": "親戚", "school": "学校",
    "nursery": "保育所", "medical": "医療機関", "welfare_office": "福祉事務所", "municipality": "市区町村",
    "cgc": "児童相談所", "self": "本人", "anonymous": "匿名", "other": "関係機関",
}
_SERIOUS_WORDS = ("お父さんに頭を床に打ちつけられた", "首をしめられた", "「殺すぞ」と言われた", "お腹をけられた",
                  "包丁を向けられた")
_MILD_WORDS = ("たたかれた", "家に入れてもらえなかった", "ごはんがない日がある", "大きな声でどなられる")
_INJURY_SITES = ("左頬", "右上腕", "背部", "額", "大腿部", "耳介")


def _pick(rng: np.random.Generator, options) -> str:
    return options[int(rng.integers(len(options)))]


def rationale(rng: np.random.Generator, items: dict[str, str], route: str, decision: str) -> str:
    """The caseworker's note behind an intake decision, written from what the assessment recorded."""
    parts = [f"{ROUTE_WORDS[route]}より通告。"]
    severity = items["injury_severity"]
    if severity in ("minor", "moderate", "severe"):
        size = {"minor": 2, "moderate": 5, "severe": 10}[severity] + int(rng.integers(0, 3))
        parts.append(f"{_pick(rng, _INJURY_SITES)}に{size}cm大の打撲痕あり。")
    elif severity == "none":
        parts.append("目立った外傷は確認できず。")
    if items["child_disclosure"] == "serious":
        parts.append(f"本児より「{_pick(rng, _SERIOUS_WORDS)}」との発言あり。")
    elif items["child_disclosure"] == "mild":
        parts.append(f"本児は「{_pick(rng, _MILD_WORDS)}」と話す。")
    if items["caregiver_explanation_inconsistent"] == "yes":
        parts.append('母は"しつけのつもりだった"と説明, 受傷機転と合わない。')
    if items["domestic_violence"] == "yes":
        parts.append("両親間のDVあり, 面前での暴言が続いている。")
    if items["caregiver_refuses_contact"] == "yes":
        parts.append("保護者は訪問を拒否。")
    if items["caregiver_requests_help"] == "yes":
        parts.append("母から支援の希望あり。")
    parts.append({"protect": "一時保護を検討する。", "no_protect": "在宅での見守りとし, 関係機関と連携する。",
                  "undecided": "引き続き調査する。"}[decision])
    separator = "\n" if rng.random() < 0.25 else ""
    return separator.join(parts)


_CHECKUP_NOTES = {
    "normal": ("特記事項なし", "発達良好。", "保護者より「夜泣きがひどい」と相談あり。"),
    "observe": ("言葉の遅れ, 経過観察。", "体重増加やや不良。\n次回健診で確認。", "母の育児疲れあり, 保健師フォロー。"),
    "refer": ("心雑音あり, 小児科へ紹介。", '"斜視の疑い"で眼科紹介。', "股関節開排制限, 整形外科紹介。"),
    "treatment": ("アトピー性皮膚炎, 治療中。", "喘息で通院中。", "停留精巣, 泌尿器科で治療中。"),
    "no_show": ("電話連絡つかず。", "家庭訪問するも不在, 不在票投函。", "再通知送付。\n保健師が訪問予定。"),
}


def checkup_note(rng: np.random.Generator, status: str, result: str) -> str:
    key = "no_show" if status == "no_show" else result
    return _pick(rng, _CHECKUP_NOTES[key])


_ALERT_SUMMARIES = {
    "moved": ("転出。転出先へ情報提供済み。", "転居先へケース移管, 引継書送付。", "転出届あり。\n転出先での見守りを依頼。"),
    "moved_unknown": ("転出先不明。住民票は職権消除の予定。", '近隣より"夜逃げのようだった"との情報あり。'),
    "missing": ("健診未受診, 訪問しても会えず所在確認できない。", "家庭訪問するも不在が続く, 郵便物がたまっている。",
                "学校を長期欠席。\n家族と連絡が取れない。"),
    "found": ("所在確認, 本児の安全を確認した。", "親戚宅に滞在していたことが判明。", "転居先で本児と面会, 安全確認。"),
}


def alert_summary(rng: np.random.Generator, kind: str) -> str:
    return _pick(rng, _ALERT_SUMMARIES[kind])
