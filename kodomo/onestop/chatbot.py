"""The single-parent chatbot: answers Japanese questions from the curated knowledge base only.

Order of the checks: danger now (``knowledge/emergency.yml``) first, always; then retrieval by
character n-gram TF-IDF (no model, no word segmenter) over the knowledge base's question variants.
A programme's entry is answered only if the question carries one of that programme's cue words (or
says the family is a single-parent one), its similarity reaches ``THRESHOLD``, and it beats the
nearest not-covered topic by ``MARGIN``; otherwise the fallback names the window and its hours. The
answer names the programme and its source and offers the navigator for amounts.
"""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from kodomo.onestop.catalogue import EMERGENCY, PROGRAMMES
from kodomo.onestop.text import compact, fold, normalise

KNOWLEDGE_DIR = Path(__file__).with_name("knowledge")
# Cosine similarity a programme's entry must reach, its lead over the nearest not-covered topic, and
# the bonus of an entry whose programme's own words the question says (it only picks between entries).
# Chosen by `bench/ask.py --calibrate` (knowledge base and tuning part only; 2026-11-29): a margin
# cost 6 points of left-out in-scope top-1 for 1.5 of left-out-topic fallback; the bonus gained 2.5
# points; in-scope top-1 keeps rising as the threshold falls, 0.10 is kept as a floor so that a
# question with a cue word but little else in common with any entry still gets the fallback.
THRESHOLD = 0.10
MARGIN = 0.0
CUE_BONUS = 0.10


@dataclass(frozen=True)
class Answer:
    programme: str | None          # a catalogue id, "emergency", or None (not known: the fallback)
    text: str
    sources: list[str] = field(default_factory=list)
    score: float = 0.0             # similarity of the best knowledge-base question (0 for emergencies)
    entry: str | None = None       # id of the knowledge-base entry used
    offers_navigator: bool = False  # an amount was asked: the answer points to the navigator


@dataclass(frozen=True)
class Index:
    """Everything ``ask`` needs, built once from the knowledge base (``build_index``)."""
    threshold: float
    margin: float
    cue_bonus: float
    vectorizer: TfidfVectorizer
    matrix: object                 # sparse, one L2-normalised row per knowledge-base entry
    entries: list[dict]
    covered: np.ndarray            # per entry: True for a programme's entry, False for a not-covered topic
    entry_programme: np.ndarray    # per entry: the programme's position in ``cue_words`` (-1: not covered)
    cue_words: list[tuple[str, ...]]   # per programme (catalogue order): its normalised cue words
    name_words: list[tuple[str, ...]]  # per programme: its normalised names (none for some)
    single_parent_words: tuple[str, ...]
    emergency: list[re.Pattern]
    emergency_answer: str
    emergency_sources: list[str]
    fallback: str
    navigator: str
    amount_words: list[str]


def load_knowledge(name: str) -> dict:
    """One file of ``knowledge/`` (``kb`` or ``emergency``), parsed."""
    return yaml.safe_load((KNOWLEDGE_DIR / f"{name}.yml").read_text(encoding="utf-8"))


@functools.cache
def _index() -> Index:
    return build_index(load_knowledge("kb"), load_knowledge("emergency"))


def build_index(kb: dict, emergency: dict, threshold: float = THRESHOLD, margin: float = MARGIN,
                cue_bonus: float = CUE_BONUS) -> Index:
    """The index of a knowledge base (``bench/ask.py --calibrate`` builds it from parts of the base)."""
    entries = kb["entries"]
    for entry in entries:
        if entry["programme"] is not None and entry["programme"] not in PROGRAMMES:
            raise ValueError(f"knowledge base entry {entry['id']}: unknown programme {entry['programme']!r}")
    if set(kb["cues"]) != set(PROGRAMMES):
        raise ValueError(f"knowledge base cues: programmes {sorted(set(kb['cues']) ^ set(PROGRAMMES))} "
                         f"missing or not in the catalogue")
    if not set(kb["names"]) <= set(PROGRAMMES):
        raise ValueError(f"knowledge base names: {sorted(set(kb['names']) - set(PROGRAMMES))} not in the catalogue")
    cue_words = [tuple(filter(None, (normalise(w) for w in kb["cues"][p]))) for p in PROGRAMMES]
    name_words = [tuple(filter(None, (normalise(w) for w in kb["names"].get(p, [])))) for p in PROGRAMMES]
    position = {p: k for k, p in enumerate(PROGRAMMES)}
    entry_programme = np.array([position.get(e["programme"], -1) for e in entries])
    questions = [(k, normalise(q)) for k, entry in enumerate(entries) for q in entry["questions"]]
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    rows = vectorizer.fit_transform([text for _, text in questions])
    # One vector per entry: the sum of its question variants and of its answer (the programme's own
    # words — 資金, 通院, 入学金 … — that parents use without any variant saying them), L2-normalised.
    owner = sparse.csr_matrix((np.ones(len(questions)), ([k for k, _ in questions], range(len(questions)))),
                              shape=(len(entries), len(questions)))
    answers = vectorizer.transform([normalise(PROGRAMMES[e["programme"]] + e["answer"]) if e["programme"] else ""
                                    for e in entries])
    matrix = normalize(owner @ rows + answers)
    patterns = [re.compile(fold(p)) for group in emergency["categories"].values() for p in group]
    desk = kb["desk"]
    fallback = (f"すみません、そのご質問にはここではお答えできません（わかる情報がありません）。"
                f"{desk['window']}にお問い合わせください。受付は{desk['hours']}です。")
    return Index(threshold=threshold, margin=margin, cue_bonus=cue_bonus, vectorizer=vectorizer, matrix=matrix,
                 entries=entries, covered=entry_programme >= 0, entry_programme=entry_programme,
                 cue_words=cue_words, name_words=name_words,
                 single_parent_words=tuple(normalise(w) for w in kb["single_parent_words"]), emergency=patterns,
                 emergency_answer=" ".join(emergency["answer"].split()),
                 emergency_sources=list(emergency["sources"]), fallback=fallback, navigator=kb["navigator"],
                 amount_words=[compact(w) for w in kb["amount_words"]])


def _eligible(index: Index, text: str) -> tuple[np.ndarray, np.ndarray]:
    """Per entry: may it answer ``text``, and does ``text`` say its programme's own words? Only the
    programmes it names may answer, if it names any; otherwise those whose cue words it has, or every
    programme if it says the family is a single-parent one."""
    named = [k for k, words in enumerate(index.name_words) if any(w in text for w in words)]
    if named:
        hit = np.isin(index.entry_programme, named)
        return hit, hit
    cued = [k for k, words in enumerate(index.cue_words) if any(w in text for w in words)]
    hit = np.isin(index.entry_programme, cued)
    if any(w in text for w in index.single_parent_words):
        return index.covered, hit
    return hit, hit


def is_emergency(question: str, index: Index | None = None) -> bool:
    text = compact(question)
    return any(p.search(text) for p in (index or _index()).emergency)


def ask(question: str, index: Index | None = None) -> Answer:
    """The chatbot's answer to one question (from the repository's knowledge base unless ``index``)."""
    index = index or _index()
    if is_emergency(question, index):
        return Answer(EMERGENCY, index.emergency_answer, list(index.emergency_sources))
    text = normalise(question)
    if not text:
        return Answer(None, index.fallback)
    scores = (index.matrix @ index.vectorizer.transform([text]).T).toarray().ravel()
    not_covered = np.where(index.covered, -1.0, scores)
    nearest_other = int(np.argmax(not_covered))
    allowed, hit = _eligible(index, text)
    # The programme's own words tip the choice between near entries; the gates below read the similarity.
    best = int(np.argmax(np.where(allowed, scores + index.cue_bonus * hit, -1.0)))
    score = float(scores[best]) if allowed[best] else 0.0
    if score < index.threshold or score < not_covered[nearest_other] + index.margin:
        # The entry that decided: the not-covered topic if it was near enough, else none.
        decided = index.entries[nearest_other]["id"] if not_covered[nearest_other] >= index.threshold else None
        return Answer(None, index.fallback, score=max(score, 0.0), entry=decided)
    entry = index.entries[best]
    programme = entry["programme"]
    answer = f"【{PROGRAMMES[programme]}】{entry['answer']}"
    amount_asked = any(w in compact(question) for w in index.amount_words)
    if amount_asked:
        answer += index.navigator
    answer += f"（出典：{entry['source']}、{entry['reviewed']}確認）詳しい条件はお住まいの市区町村の窓口で確認してください。"
    return Answer(programme, answer, [entry["source"]], score, entry["id"], amount_asked)


def _question_of(line: str, number: int) -> str:
    """The question of one input line: a JSON object's ``question``, or the bare line as text."""
    stripped = line.strip()
    if not stripped.startswith("{"):
        return stripped
    try:
        record = json.loads(stripped)
    except json.JSONDecodeError as error:
        raise ValueError(f"line {number}: not a JSON object ({error.msg})") from None
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"line {number}: no \"question\" text")
    return question


def ask_batch(lines: Iterable[str]) -> list[dict]:
    """One ``{"line", "programme", "answer", "sources"}`` per non-blank input line (``kodomo ask --batch``)."""
    results = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        answer = ask(_question_of(line, number))
        results.append({"line": number, "programme": answer.programme, "answer": answer.text,
                        "sources": answer.sources})
    return results


def ask_file(path: str | Path) -> list[str]:
    """``kodomo ask --batch FILE --json``: the JSON lines to print for the questions in a file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: question file not found") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    return [json.dumps(result, ensure_ascii=False) for result in ask_batch(text.splitlines())]
