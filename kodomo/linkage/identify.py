"""Identifying the child of one new record (an intake typed in the app) with the linkage's own trained model.

The batch links child records pairwise with Splink and clusters them (``kodomo.linkage.pipeline``). A new record
is identified the same way, one record against the warehouse, without running Splink:

- the record gets the batch's comparison columns (``records.with_comparison_columns``, names cut with a lexicon
  of the warehouse's own names, so a name is cut as the batch cut it); its places are its agency and its
  address municipality, it has no moves;
- candidates are the records of ``linkage.person_records`` that share a block of the batch's prediction
  blocking rules (``model.PREDICTION_BLOCKING_RULES``: the birth date; the given name's reading with the birth
  month or with the day/month pair, for a day off or a swap; the name with the birth year; the reading with the
  birth year), found in an index of the blocks held in memory with the records (``load_model``: read once per
  saved model, about a second on a prefecture warehouse);
- each candidate pair gets the comparison level of every comparison by the saved model's own SQL conditions
  (run on DuckDB, as Splink runs them), and the match weight of those levels: the prior's log-odds plus each
  level's ``log2(m/u)``, with the term-frequency adjustment of an exact name, all read from the model through
  Splink's own settings objects (its defaults for untrained levels included). ``tests/test_identify.py`` checks
  the weights against Splink's ``predict`` on the same pairs;
- candidates are grouped by ``person_key`` (best record pair per child; ties: more agreeing evidence fields,
  then the key); those at or above ``model.SCORE_FLOOR`` (even odds) are shown, at most ``MAX_CANDIDATES``,
  and the best child at or above ``cluster.LINK_THRESHOLD`` is the record's child (``existing``), otherwise the
  child is ``new`` (with a pseudonymous key made from the intake's own ID).

Unlike the batch, records of the entering agency itself are candidates too: a new intake has no
``local_child_id`` yet, so the agency's own earlier record of the child is the first thing to find.

When no model was saved (a landing too small to train on, where the batch links exact name, kana and birth
date only), identification follows the batch's cold start: an existing child agrees on the folded kana or
failing that the folded name, on the birth date, and on the sex (unknown agrees with any).

The caseworkers' search (``kodomo.appdata.search``) scores its queries the same way (``scored_pairs``). A query
may leave out the birth date, the sex, the name or the kana: what is left out is no evidence (Splink's null
level), and a query without a birth date is blocked on the name alone (the folded full name or reading).
"""
from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from kodomo.linkage.cluster import LINK_THRESHOLD, person_key as pseudonymous_key
from kodomo.linkage.model import MODEL_COLUMNS, PREDICTION_BLOCKING_RULES, SCORE_FLOOR
from kodomo.linkage.normalise import NameLexicon
from kodomo.linkage.records import NODE_SEPARATOR, with_comparison_columns
from kodomo.parsing.text import fold_kana, fold_kanji

RECORDS = "linkage.person_records"
LINKS = "linkage.person_links"
UNKNOWN_SEX = "9"
#: The fields a worker sees agree or differ between the new record and a candidate child's best record.
EVIDENCE_FIELDS = ("name", "kana", "birth_date", "sex", "address")
#: Most candidates shown to the worker.
MAX_CANDIDATES = 5
EXISTING, NEW = "existing", "new"


@dataclass(frozen=True)
class Candidate:
    """A child of the warehouse the new record may be, with the evidence for the worker to confirm it."""

    person_key: str
    probability: float
    match_weight: float                # inf on the cold start's exact rule
    agencies: tuple[str, ...]          # agencies holding records of that child
    agreeing: tuple[str, ...]          # of EVIDENCE_FIELDS
    differing: tuple[str, ...]


@dataclass(frozen=True)
class Identification:
    person_key: str
    match: str                         # EXISTING or NEW
    candidates: tuple[Candidate, ...]  # best first


@dataclass(frozen=True)
class NewRecord:
    agency_id: str
    report_id: str
    name: str                          # "" when not known (a search by kana only)
    kana: str                          # "" when not known
    birth_date: dt.date | None         # None when not known (a search by name only)
    sex: str
    municipality_code: str | None


@dataclass(frozen=True)
class _Level:
    sql: str
    weight: float                      # log2(m/u); 0 for the null level
    tf_column: str | None = None       # term-frequency adjusted on this column
    tf_weight: float = 0.0
    log2_u_exact: float = 0.0
    tf_minimum_u: float = 0.0


@dataclass(frozen=True)
class _Comparison:
    name: str
    levels: tuple[_Level, ...]


@dataclass(frozen=True)
class LinkageModel:
    """The saved model's weights with what scoring a new record needs of the warehouse, held in memory: the
    lexicon to cut new names as the batch cut them, the term frequencies of the adjusted columns (Splink's: a
    value's share among the records where the column is known), the person records with their child, and per
    prediction blocking rule the records of each block."""

    prior_weight: float
    comparisons: tuple[_Comparison, ...]
    lexicon: NameLexicon
    term_frequencies: dict[str, dict[str, float]]
    records: pd.DataFrame
    blocks: tuple[tuple[tuple[str, ...], dict[tuple, np.ndarray]], ...]
    holders: dict[str, tuple[str, ...]]        # person_key -> agencies holding a record of the child
    prefectures: dict[str, str]                # agency_id -> prefecture_code


def _model_levels(model: dict) -> tuple[float, tuple[_Comparison, ...]]:
    """Prior weight and levels read through Splink's settings objects, so that untrained levels take Splink's
    own defaults."""
    from splink.internals.settings_creator import SettingsCreator  # heavy: imported when a model is loaded

    settings = SettingsCreator.from_path_or_dict(model).get_settings("duckdb")
    prior = settings._probability_two_random_records_match
    comparisons = []
    for comparison in settings.comparisons:
        levels = []
        for level in comparison.comparison_levels:
            if level.is_null_level:
                levels.append(_Level(level.sql_condition, 0.0))
            elif level._has_tf_adjustments and level._tf_adjustment_weight != 0:
                levels.append(_Level(
                    level.sql_condition, level._match_weight, level._tf_adjustment_input_column.unquote().name,
                    level._tf_adjustment_weight,
                    math.log2(level._u_probability_corresponding_to_exact_match(comparison.comparison_levels)),
                    level._tf_minimum_u_value))
            else:
                levels.append(_Level(level.sql_condition, level._match_weight))
        comparisons.append(_Comparison(comparison.output_column_name, tuple(levels)))
    return math.log2(prior / (1 - prior)), tuple(comparisons)


def _read(model_path: Path, con: duckdb.DuckDBPyConnection) -> LinkageModel:
    model = json.loads(model_path.read_text(encoding="utf-8"))
    prior_weight, comparisons = _model_levels(model)
    tf_columns = dict.fromkeys(level.tf_column for c in comparisons for level in c.levels if level.tf_column)
    records = con.execute(f"""select r.*, k.person_key from {RECORDS} r join {LINKS} k using (agency_id, local_child_id)
                              order by r.rowid""").df()
    frequencies = {column: (records[column].value_counts() / records[column].count()).to_dict()
                   for column in tf_columns}
    names = records[["child_name", "child_kana"]].drop_duplicates()
    blocks = tuple((rule.equal_columns, records.dropna(subset=rule.equal_columns)
                    .groupby(list(rule.equal_columns)).indices) for rule in PREDICTION_BLOCKING_RULES)
    # groupby keys one column as a scalar, several as a tuple: always a tuple here
    blocks = tuple((columns, {(k if isinstance(k, tuple) else (k,)): v for k, v in index.items()})
                   for columns, index in blocks)
    holders = {key: tuple(sorted(set(agencies))) for key, agencies in records.groupby("person_key")["agency_id"]}
    prefectures = dict(con.execute("select agency_id, prefecture_code from valid.agencies").fetchall())
    return LinkageModel(prior_weight, comparisons, NameLexicon.from_names(names.itertuples(index=False)),
                        frequencies, records, blocks, holders, prefectures)


_loaded: dict[tuple[str, int], LinkageModel] = {}


def load_model(model_path: Path, con: duckdb.DuckDBPyConnection) -> LinkageModel | None:
    """The saved linkage model, or None when the batch saved none. Kept while the file is unchanged: each run
    that links writes it anew, beside new person records."""
    if not model_path.exists():
        return None
    key = (str(model_path), model_path.stat().st_mtime_ns)
    if key not in _loaded:
        model = _read(model_path, con)
        _loaded.clear()
        _loaded[key] = model
    return _loaded[key]


#: Comparison columns made from each field of a new record, emptied when the field is not known.
_NAME_COLUMNS = ("surname", "given", "full_name")
_KANA_COLUMNS = ("surname_kana", "given_kana", "full_kana", "surname_kana_ascii", "given_kana_ascii")
_BIRTH_COLUMNS = ("birth_date", "birth_year", "birth_month", "birth_day_month_set")
#: The blocks of a record without a birth date (every prediction blocking rule needs one).
NAME_BLOCKS = (("full_name",), ("full_kana",))
#: A stand-in birth date for the comparison columns of a record without one; emptied right after.
_NO_BIRTH_DATE = dt.date(2000, 1, 1)


def comparison_records(model: LinkageModel, records: list[NewRecord]) -> pd.DataFrame:
    """The new records as the batch's comparison columns, one row each (``left_id`` = position), with the
    address municipality beside (the evidence ``address``). Fields not known leave their columns empty."""
    variants = pd.DataFrame([{
        "agency_id": r.agency_id, "local_child_id": f"new:{r.report_id}", "child_name": r.name,
        "address_municipality_code": r.municipality_code, "child_kana": r.kana, "sex": r.sex,
        "birth_date": pd.Timestamp(r.birth_date or _NO_BIRTH_DATE),
        "places": sorted({r.agency_id, *([r.municipality_code] if r.municipality_code else [])} - {""}),
        "move_keys": [],
    } for r in records])
    variants["prefecture_code"] = variants["agency_id"].map(model.prefectures)
    # with_comparison_columns merges on the names: the order is restored by position
    variants["left_id"] = range(len(variants))
    left = with_comparison_columns(variants, model.lexicon).sort_values("left_id", ignore_index=True)
    left["birth_year"] = left["birth_year"].astype("Int32")
    for columns, unknown in ((_NAME_COLUMNS, [not r.name.strip() for r in records]),
                             (_KANA_COLUMNS, [not r.kana.strip() for r in records]),
                             (_BIRTH_COLUMNS, [r.birth_date is None for r in records])):
        left.loc[unknown, list(columns)] = None
    return left


def _level_sql(comparison: _Comparison) -> str:
    cases = " ".join(f"when {level.sql} then {i}" for i, level in enumerate(comparison.levels)
                     if level.sql.strip().upper() != "ELSE")
    return f'case {cases} else {len(comparison.levels) - 1} end as "gamma_{comparison.name}"'


def _known(value) -> bool:
    return not (value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)))


def blocked_pairs(model: LinkageModel, left: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(row of ``left``, row of ``model.records``) of the pairs in a block of any prediction blocking rule; a
    record without a birth date, of the name blocks (``NAME_BLOCKS``)."""
    left_rows, record_rows = [], []
    for i, row in enumerate(left.to_dict("records")):
        found = set()
        for columns, index in model.blocks:
            key = tuple(row[c] for c in columns)
            if all(_known(v) for v in key):
                found.update(index.get(key, ()))
        if not _known(row["birth_date"]):
            for [column] in NAME_BLOCKS:
                if _known(row[column]) and row[column]:
                    found.update(np.flatnonzero(model.records[column].to_numpy() == row[column]))
        left_rows.extend([i] * len(found))
        record_rows.extend(sorted(found))
    return np.array(left_rows, dtype=int), np.array(record_rows, dtype=int)


def pair_levels(con: duckdb.DuckDBPyConnection, model: LinkageModel, left: pd.DataFrame,
                left_rows: np.ndarray, record_rows: np.ndarray) -> pd.DataFrame:
    """Per pair (row of ``left``, row of ``model.records``): ``left_id``, the candidate's child record and child,
    the evidence columns (``address``: the new record's municipality is among the candidate's places) and the
    level index of each comparison, by the model's own SQL conditions."""
    columns = [c for c in MODEL_COLUMNS if c != "unique_id"]
    right = model.records.iloc[record_rows].reset_index(drop=True)
    pairs = pd.concat([left[columns].iloc[left_rows].reset_index(drop=True).add_suffix("_l"),
                       right[columns].add_suffix("_r"),
                       left[["left_id", "address_municipality_code"]].iloc[left_rows].reset_index(drop=True),
                       right[["local_child_id", "person_key"]]], axis=1)
    frame_name = f"_pairs_{id(pairs):x}"
    con.register(frame_name, pairs)
    lists = ", ".join(f"{c}::varchar[] as {c}" for c in ("places_l", "places_r", "move_keys_l", "move_keys_r"))
    text = ", ".join(f"{c}::varchar as {c}" for c in ("sex_l", "sex_r", "address_municipality_code"))
    try:
        return con.execute(f"""
            with pairs as (select * replace ({lists}, {text}) from {frame_name})
            select left_id, node_id_r as node_id, agency_id_r as agency_id, local_child_id, person_key,
                   full_name_l = full_name_r as same_name, full_kana_l = full_kana_r as same_kana,
                   birth_date_l = birth_date_r as same_birth_date, sex_l = sex_r as same_sex,
                   list_contains(places_r, address_municipality_code) as same_address,
                   {", ".join(f"{c}_l, {c}_r" for c in model.term_frequencies)},
                   {", ".join(_level_sql(c) for c in model.comparisons)}
            from pairs""").df()
    finally:
        con.unregister(frame_name)


def match_weights(model: LinkageModel, levels: pd.DataFrame) -> np.ndarray:
    """Splink's match weight of each pair of ``pair_levels``."""
    total = np.full(len(levels), model.prior_weight)
    for comparison in model.comparisons:
        index = levels[f"gamma_{comparison.name}"].to_numpy()
        total += np.array([level.weight for level in comparison.levels])[index]
        for i, level in enumerate(comparison.levels):
            at_level = index == i
            if level.tf_column is None or not at_level.any():
                continue
            frequencies = model.term_frequencies[level.tf_column]
            tf_l = levels[f"{level.tf_column}_l"].map(frequencies).to_numpy(dtype=float)
            tf_r = levels[f"{level.tf_column}_r"].map(frequencies).to_numpy(dtype=float)
            tf = np.fmax(np.fmax(tf_l, tf_r), level.tf_minimum_u)
            with np.errstate(divide="ignore", invalid="ignore"):
                adjustment = np.where(np.isnan(tf_l) & np.isnan(tf_r), 0.0,
                                      level.tf_weight * (level.log2_u_exact - np.log2(tf)))
            total += np.where(at_level, adjustment, 0.0)
    return total


def probability(weight: np.ndarray) -> np.ndarray:
    odds = np.exp2(np.asarray(weight, dtype=float))
    with np.errstate(invalid="ignore"):
        return np.where(np.isposinf(odds), 1.0, odds / (1.0 + odds))


def _agencies(con: duckdb.DuckDBPyConnection, keys: list[str]) -> dict[str, tuple[str, ...]]:
    rows = con.execute(f"select person_key, list(distinct agency_id order by agency_id) from {LINKS} "
                       "where person_key in (select unnest(?)) group by all", [keys]).fetchall()
    return {key: tuple(agencies) for key, agencies in rows}


def best_pairs(pairs: pd.DataFrame, limit: int) -> pd.DataFrame:
    """Per new record: its best pair with each child, best child first (ties: more agreeing fields, then the
    key), at most ``limit`` children."""
    evidence = [f"same_{f}" for f in EVIDENCE_FIELDS]
    pairs = pairs.assign(agree_count=pairs[evidence].fillna(False).astype(bool).sum(axis=1))
    return (pairs.sort_values(["left_id", "match_weight", "agree_count", "person_key"],
                              ascending=[True, False, False, True])
            .drop_duplicates(["left_id", "person_key"]).groupby("left_id").head(limit))


def _candidates(pairs: pd.DataFrame, count: int, holders: dict[str, tuple[str, ...]]) -> list[tuple[Candidate, ...]]:
    """Per new record (``left_id`` < count): best pair per child, best child first."""
    best = best_pairs(pairs, MAX_CANDIDATES)
    found: list[list[Candidate]] = [[] for _ in range(count)]
    for row in best.to_dict("records"):
        found[row["left_id"]].append(Candidate(
            person_key=row["person_key"], probability=float(probability(row["match_weight"])),
            match_weight=float(row["match_weight"]), agencies=holders.get(row["person_key"], ()),
            agreeing=tuple(f for f in EVIDENCE_FIELDS if row[f"same_{f}"] is True),
            differing=tuple(f for f in EVIDENCE_FIELDS if row[f"same_{f}"] is False)))
    return [tuple(c) for c in found]


def _exact_rule(con: duckdb.DuckDBPyConnection, record: NewRecord) -> pd.DataFrame:
    """The cold start's pairs: equal folded kana (or failing that folded name), birth date and sex."""
    kana, name = fold_kana(record.kana).replace(" ", ""), fold_kanji(record.name)
    sex = None if record.sex == UNKNOWN_SEX else record.sex
    found = con.execute(f"""
        select agency_id, local_child_id, k.person_key, full_name = $name as same_name, full_kana = $kana as same_kana,
               true as same_birth_date, sex = $sex as same_sex, list_has_any(places, [$place]) as same_address,
               full_kana = $kana as by_kana
        from {RECORDS} join {LINKS} k using (agency_id, local_child_id)
        where birth_date = $birth and (sex is null or $sex is null or sex = $sex)
          and (full_kana = $kana or full_name = $name)""",
                        {"name": name, "kana": kana, "sex": sex, "place": record.municipality_code or "",
                         "birth": record.birth_date.isoformat()}).df()
    if found["by_kana"].any():
        found = found[found["by_kana"]]
    return found.drop(columns="by_kana").assign(match_weight=math.inf)


def new_person_key(agency_id: str, report_id: str) -> str:
    """The pseudonymous key of a child not found: made from the intake's own ID, like the batch's keys."""
    return pseudonymous_key(f"{agency_id}{NODE_SEPARATOR}new:{report_id}")


def scored_pairs(con: duckdb.DuckDBPyConnection, model: LinkageModel | None, records: list[NewRecord],
                 floor: float = SCORE_FLOOR) -> pd.DataFrame | None:
    """The candidate pairs of the new records (``left_id`` = position) of probability ``floor`` or more, with their
    evidence, comparison levels and ``match_weight``; None when no record shares a block with any child. Without a
    model, the cold start's exact pairs (a record without a birth date has none)."""
    if model is None:
        dated = [(i, r) for i, r in enumerate(records) if r.birth_date is not None]
        if not dated:
            return None
        return pd.concat([_exact_rule(con, r).assign(left_id=i) for i, r in dated], ignore_index=True)
    left = comparison_records(model, records)
    left_rows, record_rows = blocked_pairs(model, left)
    if len(left_rows) == 0:
        return None
    pairs = pair_levels(con, model, left, left_rows, record_rows)
    pairs["match_weight"] = match_weights(model, pairs)
    return pairs[probability(pairs["match_weight"]) >= floor]


def identify_records(con: duckdb.DuckDBPyConnection, model: LinkageModel | None,
                     records: list[NewRecord]) -> list[Identification]:
    """Each new record's child: the best candidate at or above the link threshold, else a new child."""
    if not records:
        return []
    pairs = scored_pairs(con, model, records)
    if pairs is None:
        return [Identification(new_person_key(r.agency_id, r.report_id), NEW, ()) for r in records]
    found = []
    holders = model.holders if model is not None else _agencies(con, pairs["person_key"].unique().tolist())
    for record, candidates in zip(records, _candidates(pairs, len(records), holders)):
        if candidates and candidates[0].probability >= LINK_THRESHOLD:
            found.append(Identification(candidates[0].person_key, EXISTING, candidates))
        else:
            found.append(Identification(new_person_key(record.agency_id, record.report_id), NEW, candidates))
    return found


def child_identity(con: duckdb.DuckDBPyConnection, person_key: str, agencies: Iterable[str]) -> dict[str, str] | None:
    """How a caseworker recognises the child on its record: the name, reading and birth date most of its records
    held by ``agencies`` (those the user's grant opened) carry; None when none of them holds a record."""
    row = con.execute("""
        select records.child_name, records.child_kana, records.birth_date, count(*) as carried
        from linkage.person_links as links
        inner join linkage.person_records as records using (agency_id, local_child_id)
        where links.person_key = $key and list_contains($agencies, links.agency_id)
        group by all order by carried desc, records.child_kana, records.child_name, records.birth_date limit 1""", {"key": person_key, "agencies": list(agencies)}).fetchone()
    return None if row is None else {"name": row[0], "kana": row[1], "birth_date": str(row[2])[:10]}
