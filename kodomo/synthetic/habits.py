"""Each agency's export habits: encoding, line endings, date style, kana form, column order…

Habits are dealt out in cycles of different lengths, rotated by the seed, so that even the small world
(16 agencies) shows every habit at least once while agencies still differ in their combinations.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kodomo.synthetic.geography import Geography

ENCODINGS = ("utf-8", "cp932", "utf-8-sig")
# Every form of source-feeds.md §3: the era styles write 平成 or 令和 (and 昭和 for old dates) as the
# date requires, so 令和元年, H31.4.30 and 平成31年4月30日 all come out of them.
DATE_STYLES = ("iso", "era_kanji", "slash", "era_letter", "slash0", "era_letter0")
KANA_FORMS = ("katakana", "hiragana", "katakana", "halfwidth")
SEPARATORS = ("\u3000", " ", "")
VARIANT_POLICIES = ("common", "registry", "mixed")
CODE_CASES = ("lower", "upper", "lower", "title", "spaced")
HEADER_CASES = ("lower", "upper", "lower", "padded", "lower", "fullwidth")
# Columns some agencies' systems add to every export; ingestion ignores them.
EXTRA_COLUMNS = ("担当者", "備考", "入力日時", "system_version", "record_status")
LOCAL_ID_SCHEMES = 5


@dataclass(frozen=True)
class Habits:
    encoding: str
    newline: str
    quote_all: bool
    date_style: str
    seconds: bool  # datetimes as HH:MM:SS rather than HH:MM
    fullwidth_digits: bool  # in dates and numbers
    kana_form: str
    name_separator: str
    kana_separator: str
    variant_policy: str  # how old kanji (髙, 﨑, 邊…) of a registered name are typed
    code_case: str
    header_case: str
    shuffle_columns: bool
    extra_columns: tuple[str, ...]
    omit_free_text: bool  # the system does not export optional free-text columns
    local_id_scheme: int
    delivery_offset: int  # days after the quarter end on which the agency delivers


def _pick(values: tuple, i: int, rotation: int):
    return values[(i + rotation) % len(values)]


def deal_habits(geography: Geography, rng: np.random.Generator) -> list[Habits]:
    rot = rng.integers(0, 1000, size=16)
    habits = []
    for i, _agency in enumerate(geography.agencies):
        encoding = _pick(ENCODINGS, i, rot[0])
        windows_export = encoding == "cp932"
        extra_count = _pick((0, 1, 0, 2), i, rot[1])
        habits.append(Habits(
            encoding=encoding,
            newline="\r\n" if windows_export or _pick((0, 1), i // 3, rot[2]) else "\n",
            quote_all=_pick((False, False, False, True), i, rot[3]),
            date_style=_pick(DATE_STYLES, i, rot[4]),
            seconds=bool(_pick((0, 1), i, rot[5])),
            fullwidth_digits=_pick((False, True, False, False, False), i, rot[6]),
            kana_form=_pick(KANA_FORMS, i, rot[7]),
            name_separator=_pick(SEPARATORS, i, rot[8]),
            kana_separator=_pick(SEPARATORS, i, rot[9]),
            # A CP932 system has the IBM-extension glyphs (髙, 﨑), so it keeps the registered form.
            variant_policy="registry" if windows_export else _pick(VARIANT_POLICIES, i, rot[10]),
            code_case=_pick(CODE_CASES, i, rot[11]),
            header_case=_pick(HEADER_CASES, i, rot[12]),
            shuffle_columns=_pick((False, True, True), i, rot[13]),
            extra_columns=tuple(rng.choice(EXTRA_COLUMNS, size=extra_count, replace=False)),
            omit_free_text=_pick((False, False, False, False, False, True), i, rot[14]),
            local_id_scheme=int(_pick(tuple(range(LOCAL_ID_SCHEMES)), i, rot[15])),
            delivery_offset=int(rng.integers(5, 23)),
        ))
    return habits
