"""Supervisor: who opened this agency's records from outside the jurisdiction, and the purpose they stated."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import session
from app.i18n import t
from app.services import operational_store
from kodomo.appdata.access import AccessDenied, flags_for
from kodomo.settings import get_settings

_FLAGS = "flags.read"


def render() -> None:
    lang = session.language()
    user = session.user()
    st.title(t("nav.flags", lang))
    st.caption(t("flags_help", lang))
    # Reading the flags is itself audited: once per visit to the page, kept for its reruns.
    if session.value(_FLAGS) is None:
        try:
            session.put(_FLAGS, flags_for(operational_store(get_settings()), user))
        except AccessDenied as refused:
            st.error(t("refused", lang, reason=str(refused)))
            return
    flags = session.value(_FLAGS)
    if not flags:
        st.info(t("no_flags", lang))
        return
    st.dataframe(pd.DataFrame({
        t("col_at", lang): [f"{f.at:%Y-%m-%d %H:%M}" for f in flags],
        t("col_worker", lang): [f.user_id for f in flags],
        t("col_role", lang): [t(f"role.{f.role}", lang) for f in flags],
        t("col_report", lang): [f.report_id or "—" for f in flags],
        t("col_purpose", lang): [f.purpose for f in flags],
    }), hide_index=True, key="flags.table")
    if st.button(t("refresh", lang), key="flags.refresh"):
        session.put(_FLAGS, None)
        st.rerun()
