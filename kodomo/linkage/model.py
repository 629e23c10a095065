"""The Splink model: blocking rules, comparisons, unsupervised training and scoring.

Every comparison is a custom one, because the evidence is Japanese: names are compared as folded kanji
and as folded kana separately (a typo in one usually leaves the other intact), surname and given name
separately (a surname can change), the birth date with the two typos agencies make (a day off, day and
month swapped), and the place history (a move seen from both ends, a shared municipality). An exact
name match is term-frequency adjusted: two children called 佐藤 陽翔 born the same day happen.

Pairs are only scored across agencies: within an agency ``local_child_id`` already decides (one ID per
child), so two IDs of one agency are two children — which also keeps twins known to the same
municipality apart.

Training uses no labels: the prior from pairs equal on name, kana and birth date (with an assumed
recall), u from random pairs, m by EM in two sessions (blocked on birth date, then on the reading of
the full name). One m is fixed rather than learned: that of "given names differ" (see below).
"""
from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
import pyarrow as pa
import splink.comparison_level_library as cll
from splink import DuckDBAPI, Linker, SettingsCreator
from splink.blocking_rule_library import CustomRule
from splink.comparison_library import CustomComparison

from kodomo.linkage.records import equal_pairs

if TYPE_CHECKING:  # Splink exports no name for the registered-table and database types
    from splink.internals.database_api import DatabaseAPI
    from splink.internals.splink_dataframe import SplinkDataFrame

logger = logging.getLogger(__name__)

#: Columns of the person records that the model reads.
MODEL_COLUMNS = ("unique_id", "node_id", "agency_id", "surname", "given", "surname_kana", "given_kana",
                 "surname_kana_ascii", "given_kana_ascii", "full_name", "full_kana", "sex", "birth_date",
                 "birth_year", "birth_month", "birth_day_month_set", "prefecture_code", "places", "move_keys")
#: Pairs scored below this are dropped at prediction; the review band starts here.
SCORE_FLOOR = 0.5
#: Share of true matching pairs that agree exactly on name, kana and birth date: sets the prior.
EXACT_RULE_RECALL = 0.75
#: m of "given names differ": a child's given name does not change, but EM cannot learn that, because
#: twins agree on everything else (surname, birth date, places, moves) and look like matches to it.
#: Fixed from that knowledge, so that twins stay apart; every other m is estimated by EM.
GIVEN_NAME_DIFFERS_M = 1e-5
#: Fewest cross-agency pairs an EM block must hold for the data to train a model on (see ``can_train``).
MIN_TRAINING_PAIRS = 200
#: Smallest m kept between EM sessions (see ``floored``).
M_FLOOR = 1e-9
RANDOM_SEED = 42
U_SAMPLE_PAIRS = 5e6
#: Most blocked pairs an EM session reads (Splink samples beyond it: a national world blocks ~20M).
EM_MAX_PAIRS = 2e6

ACROSS_AGENCIES = "l.agency_id <> r.agency_id"


class AcrossAgencies(CustomRule):
    """Block on equal columns, never pairing two records of one agency."""

    def __init__(self, *equal_columns: str):
        self.equal_columns = list(equal_columns)
        super().__init__(" and ".join([*(f"l.{c} = r.{c}" for c in equal_columns), ACROSS_AGENCIES]))

    def pair_count(self, records: pd.DataFrame) -> int:
        """Pairs this rule makes from ``records``: pairs within each block less those within an agency."""
        blocked = records.dropna(subset=self.equal_columns)
        per_block = blocked.groupby(self.equal_columns).size()
        per_agency = blocked.groupby([*self.equal_columns, "agency_id"]).size()
        return int((per_block * (per_block - 1) // 2).sum() - (per_agency * (per_agency - 1) // 2).sum())



#: Prediction blocking, for recall: each rule tolerates the variations the others cannot.
PREDICTION_BLOCKING_RULES = (
    AcrossAgencies("birth_date"),                           # any name change or name typo
    AcrossAgencies("given_kana", "birth_month"),            # a day off, even with a surname change
    AcrossAgencies("given_kana", "birth_day_month_set"),    # day and month swapped, idem
    AcrossAgencies("surname", "given", "birth_year"),       # a kana typo with a birth-date typo
    AcrossAgencies("full_kana", "birth_year"),              # unsplit names with a birth-date typo
)
#: EM sessions: each estimates the comparisons its blocking rule does not fix.
TRAINING_BLOCKING_RULES = (
    AcrossAgencies("birth_date"),                    # names, sex, place
    AcrossAgencies("surname_kana", "given_kana"),    # birth date, sex, place
)
DETERMINISTIC_RULES = (AcrossAgencies("full_name", "full_kana", "birth_date"),)


def _null(column: str) -> cll.CustomLevel:
    return cll.CustomLevel(f"{column}_l is null or {column}_r is null", "missing").configure(is_null_level=True)


def _level(sql: str, label: str) -> cll.CustomLevel:
    return cll.CustomLevel(sql, label)


def name_comparison(part: str, kanji: str, kana: str, else_level: cll.ElseLevel) -> CustomComparison:
    """Kanji (variants folded) and kana of one name part.

    A typo changes one script and leaves the other: a kana typo keeps the kanji (and its reading is one
    kana off, counted on the one-byte transcription), a kanji typo or an unfolded variant keeps the
    reading. A reading that could not be cut from an unspaced kana is unknown, not different. Equal full
    names agree whatever the cut, so a wrong cut of an unspaced name costs nothing.
    """
    same_full = "full_name_l = full_name_r and full_kana_l = full_kana_r"
    return CustomComparison(
        output_column_name=part,
        comparison_description=f"{part}: kanji and kana",
        comparison_levels=[
            _null(kanji),
            # A shared common name (佐藤, 陽翔) says less than a rare one: term-frequency adjusted, against
            # this level's own u (Splink would otherwise take the u of the bare kanji equality below).
            _level(f"({kana}_l = {kana}_r and {kanji}_l = {kanji}_r) or ({same_full})", "same kanji and reading")
            .configure(tf_adjustment_column=kanji, disable_tf_exact_match_detection=True),
            # "and kanji differ" is implied by the order, but spelled out: a bare equality would be taken by
            # Splink for the exact-match level of a training block on the reading.
            _level(f"{kana}_l = {kana}_r and {kanji}_l <> {kanji}_r", "same reading, other kanji"),
            _level(f"{kanji}_l = {kanji}_r and damerau_levenshtein({kana}_ascii_l, {kana}_ascii_r) <= 1",
                   "same kanji, reading one kana off"),
            _level(f"{kanji}_l = {kanji}_r", "same kanji, other or unknown reading"),
            else_level,
        ],
    )


def birth_date_comparison() -> CustomComparison:
    """The two typing mistakes of source-feeds.md §3 (a day off, day and month swapped) share one level."""
    swapped = ("substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) "
               "and substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2) "
               "and substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)")
    a_day_off = "abs(date_diff('day', birth_date_l::date, birth_date_r::date)) = 1"
    return CustomComparison(
        output_column_name="birth_date",
        comparison_description="birth date with typing mistakes",
        comparison_levels=[
            _null("birth_date"),
            _level("birth_date_l = birth_date_r", "same date"),
            _level(f"({swapped}) or {a_day_off}", "day and month swapped, or a day off"),
            cll.ElseLevel(),
        ],
    )


def sex_comparison() -> CustomComparison:
    return CustomComparison(
        output_column_name="sex",
        comparison_levels=[_null("sex"), _level("sex_l = sex_r", "same sex"), cll.ElseLevel()],
    )


def place_comparison() -> CustomComparison:
    """The strongest place evidence first: one move seen from both ends, then any shared place."""
    return CustomComparison(
        output_column_name="place",
        comparison_description="place history: moves, addresses, alert destinations",
        comparison_levels=[
            _null("prefecture_code"),  # never: every agency has a prefecture
            _level("list_has_any(move_keys_l, move_keys_r)", "same move"),
            _level("list_has_any(places_l, places_r)", "shared municipality or agency"),
            _level("prefecture_code_l = prefecture_code_r", "same prefecture"),
            cll.ElseLevel(),
        ],
    )


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            name_comparison("given_name", "given", "given_kana", cll.ElseLevel().configure(
                m_probability=GIVEN_NAME_DIFFERS_M, fix_m_probability=True)),
            name_comparison("surname", "surname", "surname_kana", cll.ElseLevel()),  # a surname can change
            birth_date_comparison(),
            sex_comparison(),
            place_comparison(),
        ],
        blocking_rules_to_generate_predictions=list(PREDICTION_BLOCKING_RULES),
        additional_columns_to_retain=["node_id"],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


@contextmanager
def linkage_database(engine: str, scratch: Path, memory_limit: str | None = None) -> Iterator[DatabaseAPI]:
    """Splink's database for one linkage run, by ``engine`` (``Settings.linkage_engine``): a private in-memory
    DuckDB, so that Splink's work tables never touch the warehouse, or a local Spark working in ``scratch``.

    DuckDB is capped at ``memory_limit`` (the warehouse's, ``Settings.duckdb_memory_limit``) and spills into
    ``scratch`` beyond it: uncapped, it takes up to 80% of the machine (a Tokyo linkage passed 15 GiB).
    """
    if engine == "spark":
        from kodomo.linkage.spark import spark_database  # pyspark and a JVM only for the engine that needs them

        with spark_database(scratch) as db_api:
            yield db_api
    elif engine == "duckdb":
        capped = {}
        if memory_limit is not None:
            spill = scratch / "duckdb"
            spill.mkdir(parents=True, exist_ok=True)  # DuckDB makes the folder only, not its parents
            capped = {"memory_limit": memory_limit, "temp_directory": str(spill)}
        con = duckdb.connect(config=capped)
        try:
            yield DuckDBAPI(con)
        finally:
            con.close()
    else:
        raise ValueError(f"unknown linkage engine {engine!r}")


def register_records(records: pd.DataFrame, db_api: DatabaseAPI) -> SplinkDataFrame:
    """The person records, as Arrow, in Splink's database."""
    table = pa.Table.from_pandas(records[list(MODEL_COLUMNS)], preserve_index=False)
    return db_api.register(table, table_name="person_records")


def _linker(frame: SplinkDataFrame, model: SettingsCreator | dict) -> Linker:
    # Splink's warnings (levels never observed in a session…) are model diagnostics: the saved model
    # shows them; the pipeline's log stays for what needs an operator.
    return Linker(frame, model, log_level=logging.ERROR)


def floored(model: dict) -> dict:
    """The model with every trained m at least ``M_FLOOR``.

    A level that holds no match in a session (sex differs, say) sends its m towards 0 at every EM
    iteration, and the next session starts from there; below 1e-300 Splink refuses the value. Any m
    under the floor already says "practically never", so it is held there between sessions.
    """
    model = copy.deepcopy(model)
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if isinstance(level.get("m_probability"), float):
                level["m_probability"] = max(level["m_probability"], M_FLOOR)
    return model


def can_train(records: pd.DataFrame) -> bool:
    """Whether every EM block holds enough pairs (a handful of hand-made rows does not)."""
    return all(rule.pair_count(records) >= MIN_TRAINING_PAIRS for rule in TRAINING_BLOCKING_RULES)


def exact_pair_scores(records: pd.DataFrame) -> pd.DataFrame:
    """The cold start, when there is too little data to train on: equal name, kana and birth date link."""
    pairs = equal_pairs(records, ["full_name", "full_kana", "birth_date"], across_agencies=True)
    return pairs.assign(match_probability=1.0, match_weight=float("inf"))


def train(frame: SplinkDataFrame) -> dict:
    """Unsupervised: the prior from near-certain pairs, u from random pairs, m by EM. No labels.

    Each EM session runs on a linker of its own, built from the model so far: a session that fails
    (Splink raising on a vanishing m) leaves the model as it was, not half-changed.
    """
    linker = _linker(frame, settings())
    linker.training.estimate_probability_two_random_records_match(list(DETERMINISTIC_RULES),
                                                                  recall=EXACT_RULE_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=RANDOM_SEED)
    model = floored(linker.misc.save_model_to_json())
    for rule in TRAINING_BLOCKING_RULES:
        session = _linker(frame, model)
        try:
            session.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=EM_MAX_PAIRS)
        except ValueError as exc:
            logger.warning("EM session blocked on %s skipped: %s", rule.sql_condition, exc)
            continue
        model = floored(session.misc.save_model_to_json())
    return model


def save_model(model: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_model(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def node_pair_scores(frame: SplinkDataFrame, model: dict) -> pd.DataFrame:
    """Best score of each pair of child records (nodes) over their variants, above the score floor."""
    linker = _linker(frame, model)
    predictions = linker.inference.predict(threshold_match_probability=SCORE_FLOOR, warning_mode="never")
    return linker.misc.query_sql(f"""
        select least(node_id_l, node_id_r) as node_l, greatest(node_id_l, node_id_r) as node_r,
               max(match_probability) as match_probability, max(match_weight) as match_weight
        from {predictions.physical_name}
        group by all
        order by node_l, node_r
    """).as_pyarrow_table().to_pandas()  # through Arrow from either engine
