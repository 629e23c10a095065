"""``kodomo backtest``: build the platform from a landing, train as of a cutoff, score the intakes after it.

Training sees only intakes whose 365-day window closed before the cutoff, labelled from the report
versions recorded before the cutoff; features are always as of each intake's own receipt. Every intake
received on or after the cutoff is scored with the calibrated probability of the §7 outcome.
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from kodomo.contracts import FEEDS
from ml.features import build_features, design_matrix
from ml.labels import build_labels
from ml.pipeline import NotEnoughData, fit_risk_model, labelled, split_labelled

PERSON_LINKS = ("linkage", "person_links")
OUTPUT_COLUMNS = ["agency_id", "report_id", "risk_score"]


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Point the platform's configuration (read from the environment) at a scratch home for a while."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build_platform(landing: Path, home: Path) -> Path:
    """Run the pipeline's assets up to every valid feed and the person links (ingest, validate, link).

    Returns the warehouse file. Runs on an ephemeral Dagster instance: a backtest is not a platform run.
    """
    import dagster as dg

    from orchestration.definitions import build_definitions
    from orchestration.defs.resources import resources_for_env

    with _environment(KODOMO_HOME=str(home), KODOMO_LANDING=str(landing)):
        defs = build_definitions(resources_for_env())  # resources of the scratch home and this landing
        inputs = [dg.AssetKey(list(PERSON_LINKS)), *(dg.AssetKey(["valid", feed]) for feed in FEEDS)]
        needed = dg.AssetSelection.keys(*inputs).upstream().resolve(defs.resolve_asset_graph())
        # Multi-assets (one per feed) cannot be split: run every asset definition that yields a needed key.
        assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and set(a.keys) & needed]
        with dg.DagsterInstance.ephemeral() as instance:
            dg.materialize(assets, resources=defs.resources, instance=instance, raise_on_error=True,
                           run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    return home / "warehouse.duckdb"


@dataclass(frozen=True)
class BacktestResult:
    trained_on: int  # labelled intakes (train + calibration slice)
    positives: int
    scored: int
    out: Path


def train_and_score(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> tuple[pd.DataFrame, int, int]:
    """Scores of the intakes received on or after ``cutoff`` by a model that knows only what came before."""
    known_before = dt.datetime.combine(cutoff, dt.time())
    labels = build_labels(con, close_before=cutoff, known_before=known_before)
    features = build_features(con, "linked")
    frame = labelled(features, labels)
    try:
        split = split_labelled(frame, valid_fraction=0.2, test_fraction=0.0)
    except NotEnoughData as exc:
        raise NotEnoughData(f"cannot train before {cutoff} ({exc}): choose a later cutoff") from None
    model, _ = fit_risk_model(frame, split.assign(frame["received_at"]))
    after = features[pd.to_datetime(features["received_at"]) >= pd.Timestamp(cutoff)].reset_index(drop=True)
    scores = after[["agency_id", "report_id"]].assign(risk_score=model.predict_proba(design_matrix(after)))
    return scores, len(frame), int(frame["outcome"].sum())


def run_backtest(landing: Path, cutoff: dt.date, out: Path, home: Path | None = None,
                 progress: Callable[[str], None] = lambda _: None) -> BacktestResult:
    """Build from ``landing`` (in ``home``, default a temporary folder), train before ``cutoff``, write the CSV."""
    with tempfile.TemporaryDirectory(prefix="kodomo-backtest-") as scratch:
        home = Path(home or scratch)
        progress(f"backtest: building the platform from {landing} in {home}")
        warehouse = build_platform(Path(landing), home)
        progress(f"backtest: training on intakes whose window closed before {cutoff}")
        with duckdb.connect(str(warehouse)) as con:
            scores, trained_on, positives = train_and_score(con, cutoff)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scores[OUTPUT_COLUMNS].to_csv(out, index=False, float_format="%.6f")
    progress(f"backtest: trained on {trained_on} intakes ({positives} with the outcome); "
             f"scored {len(scores)} intakes received from {cutoff} into {out}")
    return BacktestResult(trained_on, positives, len(scores), out)
