"""What every page shares: the session's language and user, and the resources kept for the app's life."""
from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from app.i18n import DEFAULT_LANGUAGE
from kodomo import operational
from kodomo.settings import Settings
from ml.model import RiskModel
from ml.registry import MODEL_NAME, connect, load_version, tracking_uri

LANGUAGE_KEY, PAGE_KEY, USER_KEY = "language", "page", "user_id"


def language() -> str:
    return st.session_state.get(LANGUAGE_KEY, DEFAULT_LANGUAGE)


def user_id() -> str:
    return st.session_state.get(USER_KEY, "").strip()


# One connection pool per store for the app's life; keyed by URL, since the configuration may point elsewhere.
@st.cache_resource(show_spinner=False)
def _engine(url: str, _settings: Settings) -> Engine:
    return operational.connect(_settings)


def operational_store(current: Settings) -> Engine:
    return _engine(operational.database_url(current), current)


# Loading a version from MLflow takes seconds; a registered version never changes, so it is loaded once.
@st.cache_resource(show_spinner=False)
def _model(uri: str, version: str, _settings: Settings) -> RiskModel:
    client = connect(_settings)
    return load_version(client, client.get_model_version(MODEL_NAME, version))


def scoring_model(current: Settings, version: str) -> RiskModel:
    """The registered version that produced a stored score (not merely today's champion): what-ifs must
    rescore with the model whose probability the worker sees."""
    return _model(tracking_uri(current), version, current)
