"""The caseworkers' search across agencies: by name, kana and birth date, as a person would type them.

A query is scored against every child record with the linkage's own model and normalisation
(``scored_pairs`` of kodomo/linkage/identify.py: old and new kanji forms, hiragana / katakana / half-width kana, with
or without the space, a one-kana slip, a birth date a day off or with day and month swapped, the model's match
weights; a child whose surname changed is found by the earlier one through the record that carried it). Any of
name, kana, birth date and sex may be left out: what is left out is no evidence.

Each child comes once, by its best record, ranked by the match weight (ties: more agreeing fields), with the
match probability as its score, the reason in words, the agencies holding records with the first and last time
each knew the child (``marts.child``, ``marts.child_timeline``), and whether the child has a review pair nobody
has decided (kodomo/linkage/decisions.py). That is the existence answer the jurisdiction rules always allow;
opening the records is ``kodomo.appdata.access.open_child``.

Every search writes its audit row (who, which fields were searched, which children were returned) before the
results are returned: ``search`` for a signed-in worker (roles working with children, at a CGC or municipality),
``search_as_operator`` for ``kodomo search`` on the server.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
from sqlalchemy import Engine

from kodomo.appdata.access import CHILD_ROLES, SEARCH_CHILD, Agency, AccessDenied, require_role
from kodomo.linkage.decisions import undecided_person_keys
from kodomo.linkage.identify import UNKNOWN_SEX, LinkageModel, NewRecord, best_pairs, probability, scored_pairs
from kodomo.operational import SYSTEM, AccessEntry, audited

if TYPE_CHECKING:
    from kodomo.appdata.accounts import Account

#: Most children a search returns.
MAX_RESULTS = 10
#: Lowest match probability shown (a match weight of -20): far below the linkage's own floor, so that a child
#: found by an earlier surname or with two slips still shows, but not children sharing only a birth date.
SEARCH_FLOOR = 2.0 ** -20
QUERY_FIELDS = ("name", "kana", "birth_date", "sex")
SEXES = ("1", "2")
AGREE, CLOSE, DIFFER = "agree", "close", "differ"
#: The evidence of a result, by part: ``surname``, ``given_name``, ``birth_date``, ``sex`` -> (state, detail).
PARTS = ("surname", "given_name", "kana", "birth_date", "sex")

_PART_WORDS = {"surname": ("姓", "surname"), "given_name": ("名", "given name"), "kana": ("ふりがな", "kana"),
               "birth_date": ("生年月日", "birth date"), "sex": ("性別", "sex"), "name": ("氏名", "name")}
_CLOSE_WORDS = {
    "reading": ("{part}の読みは同じで漢字が異なる", "{part}: same reading, other kanji"),
    "kana_slip": ("{part}のかなが1文字違い", "{part}: kana one character off"),
    "kanji_only": ("{part}の漢字は同じで読みが異なる", "{part}: same kanji, other reading"),
    "date_slip": ("生年月日が1日違いか日と月の入れ違い", "birth date a day off or day and month swapped"),
}
# Level index of each comparison of the linkage model (kodomo.linkage.model) -> (state, detail)
_NAME_LEVELS = {1: (AGREE, None), 2: (CLOSE, "reading"), 3: (CLOSE, "kana_slip"), 4: (CLOSE, "kanji_only"),
                5: (DIFFER, None)}
_BIRTH_LEVELS = {1: (AGREE, None), 2: (CLOSE, "date_slip"), 3: (DIFFER, None)}
_SEX_LEVELS = {1: (AGREE, None), 2: (DIFFER, None)}


class InvalidQuery(ValueError):
    """A query that cannot be searched; the message names the field."""


@dataclass(frozen=True)
class Query:
    name: str = ""
    kana: str = ""
    birth_date: dt.date | None = None
    sex: str | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the query gives."""
        given = {"name": bool(self.name.strip()), "kana": bool(self.kana.strip()),
                 "birth_date": self.birth_date is not None, "sex": self.sex is not None}
        return tuple(f for f in QUERY_FIELDS if given[f])


def parse_query(values: Mapping[str, object]) -> Query:
    """A query from its fields (a JSON line of ``kodomo search``, or the page's form); empty values are left out."""
    unknown = sorted(set(values) - set(QUERY_FIELDS))
    if unknown:
        raise InvalidQuery(f"unknown field {', '.join(unknown)} (a query has {', '.join(QUERY_FIELDS)})")
    text = {}
    for field in QUERY_FIELDS:
        value = values.get(field)
        if value is not None and not isinstance(value, str):
            raise InvalidQuery(f"{field} must be text, not {value!r}")
        text[field] = (value or "").strip()
    birth_date = None
    if text["birth_date"]:
        try:
            birth_date = dt.date.fromisoformat(text["birth_date"])
        except ValueError:
            raise InvalidQuery(f"birth_date must be a date YYYY-MM-DD, not {text['birth_date']!r}") from None
    if text["sex"] and text["sex"] not in SEXES:
        raise InvalidQuery(f"sex must be 1 or 2, not {text['sex']!r}")
    if not (text["name"] or text["kana"]):
        raise InvalidQuery("a query needs a name or a kana")
    return Query(text["name"], text["kana"], birth_date, text["sex"] or None)


@dataclass(frozen=True)
class Holding:
    """An agency holding records of the child, and the first and last time it knew of the child."""
    agency_id: str
    first_known: dt.datetime | None
    last_known: dt.datetime | None


@dataclass(frozen=True)
class Result:
    person_key: str
    score: float                                  # match probability of the child's best record
    match_weight: float
    evidence: dict[str, tuple[str, str | None]]   # part -> (state, detail), parts the query gave
    agencies: tuple[Holding, ...]
    undecided_pair: bool                          # a review pair of the child waits for a supervisor
    record: Mapping[str, object]                  # the best-matching record: agency_id, name, kana, birth_date

    def reason(self, lang: str = "en") -> str:
        return reason_text(self.evidence, lang)


def _evidence(row: Mapping[str, object]) -> dict[str, tuple[str, str | None]]:
    """The parts of a scored pair: by the model's comparison levels, or on the cold start by the exact fields."""
    if "gamma_surname" in row:
        found = {"surname": _NAME_LEVELS.get(int(row["gamma_surname"])),
                 "given_name": _NAME_LEVELS.get(int(row["gamma_given_name"])),
                 "birth_date": _BIRTH_LEVELS.get(int(row["gamma_birth_date"])),
                 "sex": _SEX_LEVELS.get(int(row["gamma_sex"]))}
        return {part: state for part, state in found.items() if state is not None}
    name = (AGREE, None) if row["same_name"] and row["same_kana"] else (CLOSE, "reading")
    found = {"surname": name, "given_name": name, "birth_date": (AGREE, None)}
    if row["same_sex"] is not None and not pd.isna(row["same_sex"]):
        found["sex"] = (AGREE, None) if row["same_sex"] else (DIFFER, None)
    return found


def _join(words: list[str], lang: str) -> str:
    if lang == "ja":
        return "と".join(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def reason_text(evidence: Mapping[str, tuple[str, str | None]], lang: str = "en") -> str:
    """The evidence in words, e.g. "given name, kana and birth date agree; surname differs"."""
    i = 0 if lang == "ja" else 1
    agreeing = [p for p in PARTS if evidence.get(p, ("",))[0] == AGREE]
    if {"surname", "given_name"} <= set(agreeing):  # both parts agree in kanji and kana
        agreeing = ["name", "kana", *(p for p in agreeing if p not in ("surname", "given_name"))]
    parts = []
    if agreeing:
        words = [_PART_WORDS[p][i] for p in agreeing]
        verb = "が一致" if lang == "ja" else (" agrees" if len(words) == 1 else " agree")
        parts.append(_join(words, lang) + verb)
    for part in PARTS:
        state, detail = evidence.get(part, ("", None))
        if state == CLOSE:
            parts.append(_CLOSE_WORDS[detail][i].format(part=_PART_WORDS[part][i]))
    differing = [_PART_WORDS[p][i] for p in PARTS if evidence.get(p, ("",))[0] == DIFFER]
    if differing:
        verb = "が不一致" if lang == "ja" else (" differs" if len(differing) == 1 else " differ")
        parts.append(_join(differing, lang) + verb)
    return ("、" if lang == "ja" else "; ").join(parts)


def holdings(con: duckdb.DuckDBPyConnection, person_keys: Iterable[str]) -> dict[str, tuple[Holding, ...]]:
    """Per child: the agencies holding its records, each with the first and last time it knew of the child."""
    keys = list(person_keys)
    if not keys:
        return {}
    rows = con.execute("""
        with holders as (
            select person_key, unnest(string_split(agency_ids, ';')) as agency_id, first_seen_at, last_seen_at
            from marts.child where person_key in (select unnest($keys))
        ),
        known as (
            select person_key, agency_id, min(known_at) as first_known, max(known_at) as last_known
            from marts.child_timeline where person_key in (select unnest($keys)) group by all
        )
        select person_key, agency_id, coalesce(first_known, first_seen_at), coalesce(last_known, last_seen_at)
        from holders left join known using (person_key, agency_id)
        order by person_key, agency_id""", {"keys": keys}).fetchall()
    found: dict[str, list[Holding]] = {}
    for key, agency, first, last in rows:
        found.setdefault(key, []).append(Holding(agency, first, last))
    return {key: tuple(held) for key, held in found.items()}


def _record(query: Query, number: int) -> NewRecord:
    # No agency: the query has no place, and the searching agency's own children get no head start.
    return NewRecord(agency_id="", report_id=f"search{number}", name=query.name, kana=query.kana,
                     birth_date=query.birth_date, sex=query.sex or UNKNOWN_SEX, municipality_code=None)


def _kana_only(model: LinkageModel | None, pairs: pd.DataFrame, queries: list[Query]) -> pd.DataFrame:
    """Queries without a name have no name evidence in the model (its name levels need the kanji): their pairs are
    weighed as if the kanji had agreed, by the reading alone (both name parts' "same kanji and reading" weights
    when the whole reading agrees, their "differ" weights when it does not)."""
    kana_only = [i for i, q in enumerate(queries) if "name" not in q.fields]
    if model is None or not kana_only:
        return pairs.assign(kana_evidence=None)
    levels = {c.name: c.levels for c in model.comparisons}
    agree = levels["surname"][1].weight + levels["given_name"][1].weight
    differ = levels["surname"][-1].weight + levels["given_name"][-1].weight
    rows = pairs["left_id"].isin(kana_only)
    same = pairs["same_kana"].fillna(False).astype(bool)
    pairs = pairs.assign(kana_evidence=None)
    pairs.loc[rows, "match_weight"] += same[rows].map({True: agree, False: differ})
    pairs.loc[rows, "kana_evidence"] = same[rows].map({True: AGREE, False: DIFFER})
    return pairs


def _names(model: LinkageModel | None, best: pd.DataFrame) -> dict[str, dict[str, object]]:
    """The name, reading and birth date of each found record (its first variant), by node ID."""
    if model is None or "node_id" not in best:
        return {}
    found = model.records[model.records["node_id"].isin(best["node_id"])].drop_duplicates("node_id")
    return {row["node_id"]: {"name": row["child_name"], "kana": row["child_kana"], "birth_date": row["birth_date"]}
            for row in found.to_dict("records")}


def find_children(con: duckdb.DuckDBPyConnection, model: LinkageModel | None, queries: list[Query],
                  undecided: set[str] = frozenset(), limit: int = MAX_RESULTS) -> list[list[Result]]:
    """Each query's children, best first (not audited: ``search`` and ``search_as_operator`` are)."""
    if not queries:
        return []
    pairs = scored_pairs(con, model, [_record(q, i) for i, q in enumerate(queries)], floor=SEARCH_FLOOR)
    if pairs is None or pairs.empty:
        return [[] for _ in queries]
    pairs = _kana_only(model, pairs, queries)
    best = best_pairs(pairs[probability(pairs["match_weight"]) >= SEARCH_FLOOR], limit)
    held = holdings(con, best["person_key"].unique())
    names = _names(model, best)
    found: list[list[Result]] = [[] for _ in queries]
    for row in best.to_dict("records"):
        record: dict[str, object] = {"agency_id": row["agency_id"], "local_child_id": row["local_child_id"],
                                     **names.get(row["node_id"], {})}
        weight = float(row["match_weight"])
        found[row["left_id"]].append(Result(
            person_key=row["person_key"], score=float(probability(weight)), match_weight=weight,
            evidence=_evidence(row) | ({"kana": (row["kana_evidence"], None)} if row["kana_evidence"] else {}),
            agencies=held.get(row["person_key"], ()),
            undecided_pair=row["person_key"] in undecided, record=record))
    return found


def _audit_detail(query: Query, results: list[Result]) -> str:
    return f"fields={','.join(query.fields)}; results={';'.join(r.person_key for r in results)}"


def search(con: duckdb.DuckDBPyConnection, engine: Engine, model: LinkageModel | None, user: Account, query: Query,
           agencies: Mapping[str, Agency]) -> list[Result]:
    """A signed-in worker's search: the children found with who holds them. Audited before it is returned."""
    require_role(user, *CHILD_ROLES)
    home = agencies.get(user.agency_id)
    if home is None or home.jurisdiction is None:
        raise AccessDenied(f"agency {user.agency_id} of user {user.user_id} is not a CGC or municipality in a "
                           "jurisdiction")
    [results] = find_children(con, model, [query], undecided_person_keys(con, engine))
    with audited(engine) as transaction:
        transaction.log(AccessEntry(user.user_id, user.role, SEARCH_CHILD, user.agency_id,
                                    detail=_audit_detail(query, results)))
    return results


def search_as_operator(con: duckdb.DuckDBPyConnection, engine: Engine, model: LinkageModel | None, operator_id: str,
                       queries: list[Query]) -> list[list[Result]]:
    """``kodomo search``: the operator on the server, named in the audit log (no account, no jurisdiction: whoever
    runs it can read the store anyway). One audit row per query, all written before anything is returned."""
    if not operator_id.strip():
        raise InvalidQuery("--user must name the operator")
    found = find_children(con, model, queries, undecided_person_keys(con, engine))
    with audited(engine) as transaction:
        for query, results in zip(queries, found):
            transaction.log(AccessEntry(operator_id, SYSTEM, SEARCH_CHILD, detail=_audit_detail(query, results)))
    return found


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def result_json(result: Result) -> dict:
    """A result as a ``kodomo search`` output object (command-line spec), with ``undecided_pair`` beside."""
    return {"person_key": result.person_key, "score": round(result.score, 6), "reason": result.reason("en"),
            "agencies": [{"agency_id": h.agency_id, "first_known": _time(h.first_known),
                          "last_known": _time(h.last_known)} for h in result.agencies],
            "undecided_pair": result.undecided_pair}


def search_lines(con: duckdb.DuckDBPyConnection, engine: Engine, model: LinkageModel | None, operator_id: str,
                 lines: list[str]) -> list[str]:
    """``kodomo search``: one output JSON line per non-empty input line (``line`` = its 1-based number); a line
    that is not a valid query gets ``{"line", "error"}`` naming the field, the others are searched."""
    queries: list[tuple[int, Query]] = []
    errors: dict[int, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            values = json.loads(line)
            if not isinstance(values, dict):
                raise InvalidQuery("a query line is a JSON object")
            queries.append((number, parse_query(values)))
        except json.JSONDecodeError as exc:
            errors[number] = f"not JSON: {exc.msg} at column {exc.colno}"
        except InvalidQuery as exc:
            errors[number] = str(exc)
    found = dict(zip((n for n, _ in queries), search_as_operator(con, engine, model, operator_id,
                                                                 [q for _, q in queries])))
    out = []
    for number in sorted([*found, *errors]):
        if number in errors:
            out.append(json.dumps({"line": number, "error": errors[number]}, ensure_ascii=False))
        else:
            out.append(json.dumps({"line": number, "results": [result_json(r) for r in found[number]]},
                                  ensure_ascii=False))
    return out
