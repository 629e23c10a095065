"""Search quality and latency on a built warehouse and its generator's truth (issue 11's acceptance figures).

Children are sampled from the truth (``children.csv``, ``child_records.csv``) among those with records in the
warehouse; each is queried the ways a caseworker would type it, built from the child's own records (the name and
reading most of its records carry, in common kanji and katakana) and the truth's birth date and sex:

- ``variant_kanji``: a kanji of the surname in an old form (高 -> 髙; children whose surname has one);
- ``hiragana``: the reading in hiragana, without the space;
- ``halfwidth``: the reading in half-width kana, name and reading without spaces;
- ``kana_slip``: one kana of the reading mistyped (the generator's own slips);
- ``earlier_surname``: the surname of the child's first recorded name (children whose records carry two surnames:
  the generator's surname changes), with its reading;
- ``birth_date_slip``: day and month swapped, or a day off.

A query is right when its first result is one of the child's person keys (a child split by the linkage has
several); ``first_main`` counts only the key holding most of the child's records, and ``split`` the queries whose
child the linkage split. The kinds that apply to few children are sampled among those. Latency is that of the
whole audited search (``search_as_operator`` on a scratch store), one query at a time, after the model is loaded
once; the machine's load average beside it says how much of it was waiting for a CPU.

    KODOMO_HOME=/work/worlds/pref/home python bench/search.py --truth /work/worlds/pref/landing-truth [--count 300]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kodomo.appdata.search import Query, find_children, search_as_operator
from kodomo.appdata.warehouse import read_only
from kodomo.linkage.identify import load_model
from kodomo.linkage.pipeline import MODEL_FILE
from kodomo.operational import connect
from kodomo.settings import get_settings
from kodomo.synthetic.names import kana_slip, old_forms, to_halfwidth, to_hiragana

KINDS = ("variant_kanji", "hiragana", "halfwidth", "kana_slip", "earlier_surname", "birth_date_slip")
#: The feeds whose rows carry the child's name, and so date each name a record has carried.
NAMED_FEEDS = ("case_reports", "immunizations", "checkups", "resident_moves", "alerts")


def _records(con, truth: Path) -> pd.DataFrame:
    """Every variant of every child record with its true child, the person key the last run gave it, and when the
    agency first recorded that name (``first_recorded``)."""
    named = " union all ".join(f"select agency_id, local_child_id, child_name, updated_at from valid.{feed}"
                               for feed in NAMED_FEEDS)
    variants = con.execute(f"""
        with recorded as (select agency_id, local_child_id, child_name, min(updated_at) as first_recorded
                          from ({named}) group by all)
        select agency_id, local_child_id, surname, given, surname_kana, given_kana, full_name, full_kana, person_key,
               first_recorded
        from linkage.person_records join linkage.person_links using (agency_id, local_child_id)
             left join recorded using (agency_id, local_child_id, child_name)""").df()
    owners = pd.read_csv(truth / "child_records.csv", dtype=str)
    return variants.merge(owners, on=["agency_id", "local_child_id"])


def _slipped_date(birth: dt.date, rng: np.random.Generator) -> dt.date:
    if birth.day <= 12 and birth.day != birth.month and rng.random() < 0.5:
        return birth.replace(month=birth.day, day=birth.month)
    return birth + dt.timedelta(days=int(rng.choice([-1, 1])))


def _queries(child: pd.Series, variants: pd.DataFrame, rng: np.random.Generator) -> dict[str, Query]:
    """The queries of one child, by kind (those that apply)."""
    named = variants.dropna(subset=["surname", "given", "surname_kana", "given_kana"])
    if named.empty:
        return {}
    common = named.groupby(["surname", "given", "surname_kana", "given_kana"]).size().idxmax()
    surname, given, surname_kana, given_kana = common
    birth, sex = dt.date.fromisoformat(child["birth_date"]), child["sex"]

    def query(name=f"{surname} {given}", kana=f"{surname_kana} {given_kana}", birth_date=birth) -> Query:
        return Query(name, kana, birth_date, sex if sex in ("1", "2") else None)

    found = {"hiragana": query(kana=to_hiragana(surname_kana + given_kana)),
             "halfwidth": query(name=surname + given, kana=to_halfwidth(surname_kana + given_kana)),
             "birth_date_slip": query(birth_date=_slipped_date(birth, rng))}
    if rng.random() < 0.5:
        found["kana_slip"] = query(kana=f"{surname_kana} {kana_slip(given_kana, rng)}")
    else:
        found["kana_slip"] = query(kana=f"{kana_slip(surname_kana, rng)} {given_kana}")
    old = old_forms(surname)
    if old:
        found["variant_kanji"] = query(name=f"{old[int(rng.integers(len(old)))]} {given}")
    if named["surname"].nunique() > 1:
        earlier = named.sort_values("first_recorded", na_position="last").iloc[0]
        found["earlier_surname"] = query(name=f"{earlier['surname']} {given}",
                                         kana=f"{earlier['surname_kana']} {given_kana}")
    return found


def _main_key(variants: pd.DataFrame) -> str:
    """The person key holding most of the child's records."""
    return variants.drop_duplicates(["agency_id", "local_child_id"])["person_key"].mode()[0]


def quality(con, model, truth: Path, count: int, seed: int) -> tuple[dict, list[Query]]:
    rng = np.random.default_rng(seed)
    records = _records(con, truth)
    children = pd.read_csv(truth / "children.csv", dtype=str).set_index("child_id")
    by_child = dict(tuple(records.groupby("child_id")))
    ids = sorted(by_child)
    order = rng.permutation(len(ids))
    asked: dict[str, list[tuple[Query, set[str], str]]] = {kind: [] for kind in KINDS}
    for i in order:
        child_id = ids[i]
        variants = by_child[child_id]
        for kind, query in _queries(children.loc[child_id], variants, rng).items():
            if len(asked[kind]) < count:
                asked[kind].append((query, set(variants["person_key"]), _main_key(variants)))
        if all(len(asked[k]) >= count for k in KINDS):
            break
    figures = {}
    for kind, pairs in asked.items():
        found = find_children(con, model, [q for q, _, _ in pairs])
        ranks = [next((r for r, result in enumerate(results) if result.person_key in keys), None)
                 for (_, keys, _), results in zip(pairs, found)]
        figures[kind] = {"queries": len(pairs),
                         "first": round(float(np.mean([r == 0 for r in ranks])), 4),
                         "top5": round(float(np.mean([r is not None and r < 5 for r in ranks])), 4),
                         "missed": int(sum(r is None for r in ranks)),
                         "first_main": round(float(np.mean([bool(results) and results[0].person_key == main
                                                            for (_, _, main), results in zip(pairs, found)])), 4),
                         "split": sum(len(keys) > 1 for _, keys, _ in pairs)}
    every = list(figures.values())
    total = sum(f["queries"] for f in every)
    figures["all"] = {"queries": total,
                      **{figure: round(sum(f[figure] * f["queries"] for f in every) / total, 4)
                         for figure in ("first", "top5", "first_main")}}
    return figures, [q for pairs in asked.values() for q, _, _ in pairs]


def latency(con, model, queries: list[Query], count: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        engine = connect(get_settings().at_home(Path(scratch)))
        seconds = []
        for query in queries[:count]:
            started = time.perf_counter()
            search_as_operator(con, engine, model, "bench", [query])
            seconds.append(time.perf_counter() - started)
        engine.dispose()
    return {"queries": len(seconds), "p50_ms": round(float(np.percentile(seconds, 50)) * 1000, 1),
            "p95_ms": round(float(np.percentile(seconds, 95)) * 1000, 1),
            "max_ms": round(max(seconds) * 1000, 1), "load_average_1m": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", required=True, help="the generator's truth folder of the warehouse's landing")
    parser.add_argument("--count", type=int, default=300, help="children per kind of query")
    parser.add_argument("--latency-queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    settings = get_settings()
    with read_only(settings.warehouse_path) as con:
        started = time.perf_counter()
        model = load_model(settings.linkage_dir / MODEL_FILE, con)
        loaded = time.perf_counter() - started
        figures, queries = quality(con, model, Path(args.truth), args.count, args.seed)
        timing = latency(con, model, queries[::max(1, len(queries) // args.latency_queries)], args.latency_queries)
    print(json.dumps({"quality": figures, "latency": timing, "model_load_s": round(loaded, 2)}, indent=1))


if __name__ == "__main__":
    main()
