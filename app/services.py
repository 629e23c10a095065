"""The resources kept for the app's life: the operational store, the scoring models, the agencies."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import streamlit as st
from sqlalchemy import Engine

from kodomo import operational
from kodomo.appdata.access import Agency, load_agencies
from kodomo.appdata.warehouse import read_only
from kodomo.settings import Settings
from ml.live_scoring import Champion, champion_version, load_champion
from ml.model import RiskModel
from ml.registry import MODEL_NAME, connect, load_version, tracking_uri


# One connection pool per store for the app's life; keyed by URL, since the configuration may point elsewhere.
@st.cache_resource(show_spinner=False)
def _engine(url: str, _settings: Settings) -> Engine:
    return operational.connect(_settings)


def operational_store(current: Settings) -> Engine:
    return _engine(operational.database_url(current), current)


# Loading a model from MLflow takes seconds: once per server, with a message, before the first page is drawn.
@st.cache_resource(show_spinner="予測モデルを読み込んでいます（初回のみ、数秒かかります）… / Loading the prediction model…")
def _champion(uri: str, version: str | None, _settings: Settings) -> Champion | None:
    return None if version is None else load_champion(_settings, version)


def champion(current: Settings) -> Champion | None:
    """Today's champion (None when no model has been promoted): loaded once per version, so a run or an override
    that promotes another version is followed on the next page, without a restart."""
    return _champion(tracking_uri(current), champion_version(current), current)


@st.cache_resource(show_spinner="予測モデルを読み込んでいます… / Loading the prediction model…")
def _model(uri: str, version: str, _settings: Settings) -> RiskModel:
    client = connect(_settings)
    return load_version(client, client.get_model_version(MODEL_NAME, version))


def scoring_model(current: Settings, version: str) -> RiskModel:
    """The registered version that produced a stored score (not merely today's champion): what-ifs and reasons
    must come from the model whose probability the worker sees."""
    known = champion(current)
    if known is not None and known.version == version:
        return known.model
    return _model(tracking_uri(current), version, current)


# The agencies change only with a new warehouse: read again when the published file changes.
@st.cache_data(show_spinner=False)
def _agencies(path: str, modified: float) -> dict[str, Agency]:
    with read_only(Path(path)) as con:
        return load_agencies(con)


def agencies(current: Settings) -> Mapping[str, Agency]:
    path = current.warehouse_path
    return _agencies(str(path), path.stat().st_mtime)


def missing_secret(current: Settings) -> str | None:
    """Why the deployment's secret is unusable (production without ``KODOMO_SECRET``), or None."""
    try:
        current.app_secret
    except ValueError as missing:
        return str(missing)
    return None
