"""Handing a chatbot conversation to a person at the one-stop desk: the summary of what the parent asked, the
programmes the chatbot named, and the departments concerned. ``consultations.open_consultation`` stores it, and
only with the parent's consent; nothing here stores anything."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kodomo.onestop.catalogue import PROGRAMMES
from kodomo.operational import CONSULTATION_DEPARTMENTS

# The department that runs each programme. The one-stop desk (child-rearing support, where the single-parent
# counsellors sit) receives every consultation: it coordinates, the others see the same record.
ONE_STOP_DESK = "child_rearing"
DEPARTMENT_OF: dict[str, str] = {
    "jido_fuyo_teate": "child_rearing",
    "boshi_fushi_kafu_kashitsuke": "welfare",
    "koto_shokugyo_kunren": "employment",
    "jiritsu_kyoiku_kunren": "employment",
    "nichijo_seikatsu_shien": "child_rearing",
    "jutaku_shien_kashitsuke": "housing",
    "yoikuhi": "child_rearing",
    "iryohi_josei": "health",
    "jido_teate": "child_rearing",
    "kosodate_tanki_shien": "child_rearing",
    "shugyo_shien_center": "employment",
    "kosotsu_nintei_shien": "employment",
    "hoiku_yusen": "child_rearing",
    "gakushu_shien": "welfare",
}
MAX_QUESTIONS = 20  # the summary keeps the latest ones: the desk reads a summary, not a transcript


@dataclass(frozen=True)
class Turn:
    """One question of the conversation and what the chatbot answered it with."""
    question: str
    programme: str | None  # a catalogue id, "emergency", or None (the fallback)


def suggested_programmes(turns: Iterable[Turn]) -> tuple[str, ...]:
    """The catalogue programmes the chatbot answered with, in catalogue order."""
    named = {turn.programme for turn in turns}
    return tuple(p for p in PROGRAMMES if p in named)


def departments_for(programmes: Iterable[str]) -> tuple[str, ...]:
    """The one-stop desk and the departments of the programmes, in the store's department order."""
    chosen = {ONE_STOP_DESK} | {DEPARTMENT_OF[p] for p in programmes}
    return tuple(d for d in CONSULTATION_DEPARTMENTS if d in chosen)


def summary(turns: list[Turn], note: str) -> str:
    """What the desk reads as the family's needs: the parent's own words first, then the questions asked."""
    lines = [note.strip()] if note.strip() else []
    kept = turns[-MAX_QUESTIONS:]
    if kept:
        lines.append(f"チャットでの質問（{len(turns)}件" + (f"のうち最後の{len(kept)}件" if len(kept) < len(turns) else "")
                     + "）：")
        lines += [f"・{turn.question.strip()}（{_answered_with(turn.programme)}）" for turn in kept]
    return "\n".join(lines)


def _answered_with(programme: str | None) -> str:
    if programme is None:
        return "回答なし"
    if programme in PROGRAMMES:
        return PROGRAMMES[programme]
    return "緊急の案内"
