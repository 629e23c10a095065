"""The chatbot (kodomo.onestop.chatbot) on the evaluation set tests/data/onestop_questions.yml."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer

from kodomo.onestop.catalogue import PROGRAMMES
from kodomo.onestop.chatbot import ask, ask_batch, ask_file, build_index, load_knowledge
from kodomo.onestop.text import normalise

QUESTIONS = yaml.safe_load((Path(__file__).parent / "data" / "onestop_questions.yml").read_text(encoding="utf-8"))
HELD_OUT = QUESTIONS["held_out"] + QUESTIONS["held_out_fresh"] + QUESTIONS["held_out_blind"]
ALL = QUESTIONS["tuning"] + HELD_OUT
PARTS = {"all": ALL, "held_out": HELD_OUT}


def rate(rows, kind) -> float:
    selected = [(q, e) for q, e in rows if kind(e)]
    return sum(ask(q).programme == e for q, e in selected) / len(selected)


def in_scope(e):
    return e in PROGRAMMES


def test_the_set_is_as_large_as_the_issue_asks():
    assert len(ALL) >= 200
    assert sum(e is None for _, e in ALL) >= 40 and sum(e == "emergency" for _, e in ALL) >= 20
    assert sum(in_scope(e) for _, e in HELD_OUT) >= 60 and sum(e is None for _, e in HELD_OUT) >= 40
    assert all(e is None or e == "emergency" or e in PROGRAMMES for _, e in ALL)


def test_held_out_wording_is_not_in_the_knowledge_base():
    """No held-out question is a knowledge-base variant, nor close to one (character 2-3-gram cosine):
    a paraphrase copied into the base would make the held-out figures say nothing."""
    variants = [normalise(q) for entry in load_knowledge("kb")["entries"] for q in entry["questions"]]
    held = [normalise(q) for q, _ in HELD_OUT]
    assert not set(held) & set(variants)
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(2, 3)).fit(variants + held)
    nearest = (vectorizer.transform(held) @ vectorizer.transform(variants).T).toarray().max(axis=1)
    assert not [(q, round(s, 2)) for (q, _), s in zip(HELD_OUT, nearest) if s >= 0.6]


# Targets of issue 12. Measured on 2026-11-29 (`python bench/ask.py --evaluate`), all / tuning /
# held-out (held_out + held_out_fresh + held_out_blind):
#   in-scope top-1         169/176 = 0.960 / 70/70 / 99/106 = 0.934 (61/65, 23/25, 15/16)
#   out-of-scope fallback   76/79 = 0.962 / 22/22 / 54/57 = 0.947 (18/20, 21/22, 15/15)
#   emergency recall        38/38 / 12/12 / 26/26
@pytest.mark.parametrize("part", ["all", "held_out"])
def test_top1_accuracy_in_scope(part):
    assert rate(PARTS[part], in_scope) >= 0.90


@pytest.mark.parametrize("part", ["all", "held_out"])
def test_emergency_recall_is_total(part):
    assert rate(PARTS[part], lambda e: e == "emergency") == 1.0


@pytest.mark.parametrize("part", ["all", "held_out"])
def test_fallback_rate_out_of_scope(part):
    assert rate(PARTS[part], lambda e: e is None) >= 0.90


def test_emergency_comes_first_and_names_every_number():
    answer = ask("児童扶養手当の申請中ですが、夫に殴られて逃げてきました")
    assert answer.programme == "emergency"
    for number in ("189", "110", "119", "#8008", "いのちの電話"):
        assert number in answer.text


def test_answer_names_programme_and_source_and_offers_navigator_for_amounts():
    answer = ask("じどうふようてあてはいくらもらえますか")
    assert answer.programme == "jido_fuyo_teate"
    assert "児童扶養手当" in answer.text and answer.sources[0] in answer.text and "ナビ" in answer.text
    assert "ナビ" not in ask("児童扶養手当の申請に必要なものは").text


def test_unknown_question_names_the_window_and_hours():
    answer = ask("市営プールの料金")
    assert answer.programme is None and answer.sources == []
    assert "窓口" in answer.text and "8時30分" in answer.text


def test_normalisation_folds_width_kana_and_variants():
    assert normalise("ジドウフヨウテアテ") == normalise("じどうふようてあて") == normalise("児童扶養手当")
    assert normalise("ＤＶ") == normalise("dv")


def test_ask_batch_lines(tmp_path):
    lines = ['{"question": "養育費が払われない"}', "", "死にたい", '{"question": "ゴミの日"}']
    assert [(r["line"], r["programme"]) for r in ask_batch(lines)] == [(1, "yoikuhi"), (3, "emergency"), (4, None)]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    printed = [json.loads(line) for line in ask_file(path)]
    assert set(printed[0]) == {"line", "programme", "answer", "sources"}


@pytest.mark.parametrize(("line", "message"), [
    ('{"name": "x"}', r'^line 1: no "question" text$'),
    ("{broken", r"^line 1: not a JSON object"),
])
def test_bad_batch_line_is_a_one_line_error(line, message):
    with pytest.raises(ValueError, match=message):
        ask_batch([line])


@pytest.mark.parametrize(("question", "expected"), [
    ("児童扶養手当の振込はいつ", "jido_fuyo_teate"),     # names 児童扶養手当: 児童手当 may not answer
    ("児童手当の振込はいつ", "jido_teate"),
    ("電話代の支払い方法", None),                        # shares 支払い with a programme, no cue word
    ("手当の支払い方法", "jido_fuyo_teate"),
    ("シングルマザーで家賃が払えない", "jutaku_shien_kashitsuke"),
])
def test_only_a_programme_the_question_speaks_of_answers(question, expected):
    assert ask(question).programme == expected


def test_every_programme_needs_cue_words():
    kb, emergency = load_knowledge("kb"), load_knowledge("emergency")
    del kb["cues"]["yoikuhi"]
    with pytest.raises(ValueError, match=r"^knowledge base cues: programmes \['yoikuhi'\] missing"):
        build_index(kb, emergency)


# The bodies that are not a government site but speak for one: the centre the Children and Families Agency
# commissions for child support, the national suicide-prevention line, prefectural and municipal portals.
COMMISSIONED_SOURCES = {"youikuhi-soudan.jp", "www.inochinodenwa.org", "hitorioyanavi-toyama.jp", "mykoho.jp",
                        "www.shinhidaka-hokkaido.jp"}
OFFICIAL_HOST = re.compile(r"(.+\.(go|lg)\.jp|www\.(city|town|village|pref)\.[a-z]+(\.[a-z]+)?\.jp)")


def test_every_source_a_parent_is_shown_is_an_official_page():
    """Never a blog, and never a search engine's cached copy of an official page."""
    rules = Path(__file__).resolve().parents[1] / "kodomo" / "onestop" / "rules"
    texts = [(rules / f).read_text(encoding="utf-8") for f in sorted(p.name for p in rules.glob("*.yml"))]
    texts.append(yaml.safe_dump(load_knowledge("kb"), allow_unicode=True))
    hosts = {urlparse(url).hostname for text in texts for url in re.findall(r"https?://[^\s'\"),]+", text)}
    assert hosts
    assert {h for h in hosts if not OFFICIAL_HOST.fullmatch(h) and h not in COMMISSIONED_SOURCES} == set()
