"""Data scientist: the champion and the challenger of the risk model, their test metrics, promotion, model card.

Read-only, and about models, not children: nothing here is audit-logged.
"""
from __future__ import annotations

import streamlit as st

from app import session
from app.i18n import t
from app.model_info import VersionInfo, promotion_reason, comparisons_table, metrics_table, model_card, version_info
from kodomo.settings import get_settings
from ml.registry import CHALLENGER, CHAMPION, connect


def show_promotion(info: VersionInfo, lang: str) -> None:
    if info.decision is None:
        st.write(t("promotion_pending", lang))
        return
    decision = t(info.decision, lang) if info.decision in ("promoted", "rejected") else info.decision
    st.markdown(f"**{t('promotion', lang, decision=decision)}**")
    st.markdown("\n".join(f"- {_reason(reason, lang)}" for reason in info.reasons))


def _reason(reason: str, lang: str) -> str:
    known = promotion_reason(reason)
    return reason if known is None else t(known[0], lang, **known[1])


def show_model_card(info: VersionInfo, lang: str) -> None:
    card = model_card(info.run_id)
    if card is None:
        st.write(t("no_card", lang))
        return
    st.download_button(t("download_card", lang), card, file_name=f"child_risk_v{info.version}_model_card.html",
                       mime="text/html", key=f"card_{info.version}")
    with st.expander(t("model_card", lang)):
        st.iframe(card, height=900)  # our own pipeline's HTML (ml.model_card), never user input


def show_version(title: str, info: VersionInfo, lang: str) -> None:
    st.header(title)
    st.write(t("version_line", lang, version=info.version, run_id=info.run_id,
               created=f"{info.registered:%Y-%m-%d %H:%M}"))
    show_promotion(info, lang)
    st.subheader(t("test_metrics", lang))
    st.dataframe(metrics_table(info.metrics).rename_axis(t("col_score", lang)))
    st.subheader(t("comparisons", lang))
    st.dataframe(comparisons_table(info.metrics))
    show_model_card(info, lang)


def render() -> None:
    lang = session.language()
    st.title(t("model_header", lang))
    client = connect(get_settings())
    champion, challenger = version_info(client, CHAMPION), version_info(client, CHALLENGER)
    if champion is None and challenger is None:
        st.info(t("no_model", lang))
        return
    if champion is not None:
        show_version(t("champion", lang), champion, lang)
    if challenger is not None and (champion is None or challenger.version != champion.version):
        show_version(t("challenger", lang), challenger, lang)
    elif challenger is not None:
        st.info(t("same_as_champion", lang))

