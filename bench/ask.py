"""Benchmark: ``kodomo ask --batch`` on 1,000 questions (target ≤ 10 s, issue 12).

The questions are the evaluation set's, repeated to 1,000 lines as ``{"question": …}`` objects; the
time includes building the index (the first question) and writing nothing.

    python bench/ask.py [--count 1000]
    python bench/ask.py --evaluate     # in-scope top-1, out-of-scope fallback, emergency recall per part
    python bench/ask.py --calibrate    # cross-validation for THRESHOLD, MARGIN, CUE_BONUS (tuning data only)

``--calibrate`` never reads the held-out parts. In-scope: each programme question variant of the
knowledge base is left out and asked (does its programme answer?); out-of-scope: each not-covered
topic is left out whole and its variants asked (does the fallback answer?); and the tuning part is
asked of the whole base.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import itertools
import json
import time
from pathlib import Path

import yaml

from kodomo.onestop import chatbot
from kodomo.onestop.catalogue import PROGRAMMES

TARGET_S = 10.0
QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "data" / "onestop_questions.yml"
HELD_OUT_PARTS = ("held_out", "held_out_fresh", "held_out_blind")
KINDS = {"in_scope_top1": lambda e: e in PROGRAMMES, "out_of_scope_fallback": lambda e: e is None,
         "emergency_recall": lambda e: e == "emergency"}


def _rates(rows: list, index: chatbot.Index | None = None) -> dict:
    rates = {}
    for kind, selects in KINDS.items():
        selected = [(q, e) for q, e in rows if selects(e)]
        right = sum(chatbot.ask(q, index).programme == e for q, e in selected)
        rates[kind] = f"{right}/{len(selected)} = {right / len(selected):.3f}" if selected else "-"
    return rates


def evaluate(data: dict) -> None:
    parts = {"all": [r for rows in data.values() for r in rows], "tuning": data["tuning"],
             "held_out (all three)": [r for p in HELD_OUT_PARTS for r in data[p]]}
    parts |= {p: data[p] for p in HELD_OUT_PARTS}
    for name, rows in parts.items():
        print(json.dumps({"part": name, **_rates(rows)}, ensure_ascii=False))


def calibrate(data: dict) -> None:
    kb, emergency = chatbot.load_knowledge("kb"), chatbot.load_knowledge("emergency")
    folds = []   # (knowledge base without something, the questions it must then answer)
    for k, entry in enumerate(kb["entries"]):
        if entry["programme"] is None:
            smaller = copy.deepcopy(kb)
            del smaller["entries"][k]
            folds.append((chatbot.build_index(smaller, emergency), [(q, None) for q in entry["questions"]]))
        elif len(entry["questions"]) > 1:
            for j, question in enumerate(entry["questions"]):
                smaller = copy.deepcopy(kb)
                del smaller["entries"][k]["questions"][j]
                folds.append((chatbot.build_index(smaller, emergency), [(question, entry["programme"])]))
    whole = chatbot.build_index(kb, emergency)
    tuning = [(q, e) for q, e in data["tuning"] if e != "emergency"]
    for threshold, margin, bonus in itertools.product((0.05, 0.10, 0.15, 0.20), (0.0, 0.05), (0.0, 0.10, 0.20)):
        def tuned(index: chatbot.Index) -> chatbot.Index:
            return dataclasses.replace(index, threshold=threshold, margin=margin, cue_bonus=bonus)
        left_out = [(q, e, tuned(index)) for index, rows in folds for q, e in rows]
        in_scope = [chatbot.ask(q, index).programme == e for q, e, index in left_out if e]
        topics = [chatbot.ask(q, index).programme is None for q, e, index in left_out if e is None]
        print(json.dumps({"threshold": threshold, "margin": margin, "cue_bonus": bonus,
                          "left_out_variant_top1": round(sum(in_scope) / len(in_scope), 3),
                          "left_out_topic_fallback": round(sum(topics) / len(topics), 3),
                          **{f"tuning_{k}": v for k, v in _rates(tuning, tuned(whole)).items()
                             if k != "emergency_recall"}}, ensure_ascii=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--evaluate", action="store_true", help="figures per part of the evaluation set")
    mode.add_argument("--calibrate", action="store_true", help="cross-validation on the tuning data")
    args = parser.parse_args()
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    if args.evaluate:
        evaluate(data)
        return 0
    if args.calibrate:
        calibrate(data)
        return 0
    questions = [q for rows in data.values() for q, _ in rows]
    lines = [json.dumps({"question": q}, ensure_ascii=False)
             for q in itertools.islice(itertools.cycle(questions), args.count)]
    started = time.perf_counter()
    answers = chatbot.ask_batch(lines)
    wall = time.perf_counter() - started
    print(json.dumps({"questions": len(answers), "wall_s": round(wall, 2), "target_s": TARGET_S,
                      "ok": wall <= TARGET_S}))
    return 0 if wall <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
