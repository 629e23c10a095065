"""Normalisation of parents' Japanese for matching: one form for width, case, kana and kanji variants."""
from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

import yaml

from kodomo.parsing.text import KANJI_VARIANTS

KNOWLEDGE_DIR = Path(__file__).with_name("knowledge")

# Old and variant forms seen in questions, besides those of names (kodomo.parsing.text).
_QUESTION_KANJI = {"兒": "児", "醫": "医", "學": "学", "祿": "禄", "與": "与", "賣": "売", "當": "当", "圓": "円",
                   "譽": "誉", "乘": "乗", "證": "証", "惠": "恵", "辯": "弁", "壽": "寿", "廳": "庁"}
_KANJI_TABLE = str.maketrans(KANJI_VARIANTS | _QUESTION_KANJI)
_KATAKANA_TO_HIRAGANA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}
_NOT_WORD = re.compile(r"[^\w\u30fc]+")  # keeps letters, digits, kana, kanji and the long-vowel mark


def fold(text: str) -> str:
    """NFKC, lowercase, katakana to hiragana, kanji variants folded (spaces and punctuation kept)."""
    return unicodedata.normalize("NFKC", text).lower().translate(_KANJI_TABLE).translate(_KATAKANA_TO_HIRAGANA)


def compact(text: str) -> str:
    """``fold`` without spaces and punctuation: the form the emergency patterns read."""
    return _NOT_WORD.sub("", fold(text)).replace("_", "")


@functools.cache
def _synonyms() -> tuple[re.Pattern, dict[str, str], re.Pattern]:
    canonical_of: dict[str, str] = {}
    for group in yaml.safe_load((KNOWLEDGE_DIR / "synonyms.yml").read_text(encoding="utf-8")):
        canonical = compact(group[0])
        for variant in group:
            canonical_of[compact(variant)] = canonical
    # One pass, longest first, so that a canonical form is never rewritten again.
    alternation = "|".join(re.escape(v) for v in sorted(canonical_of, key=len, reverse=True))
    fillers = sorted((compact(f) for f in yaml.safe_load((KNOWLEDGE_DIR / "fillers.yml").read_text(encoding="utf-8"))),
                     key=len, reverse=True)
    return re.compile(alternation), canonical_of, re.compile("|".join(re.escape(f) for f in fillers))


def normalise(text: str) -> str:
    """``compact`` with the spelling folds of ``knowledge/synonyms.yml`` and without the question
    scaffolding of ``knowledge/fillers.yml``: the form retrieval compares."""
    pattern, canonical_of, fillers = _synonyms()
    return fillers.sub("", pattern.sub(lambda m: canonical_of[m.group(0)], compact(text)))
