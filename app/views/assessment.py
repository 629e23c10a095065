"""What one intake shows, fed from the feeds or entered in the app (one rendering for both): the report, every
assessment answer, the history behind the features, the probability with its interval, base rate and review
threshold, the signed reasons, the what-ifs, and the official checklist beside the model."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from app.i18n import age_text, feature_label, literal, t, value_label
from app.presentation import (HISTORY_COUNTS, ITEM_GROUPS, checklist_answers,
                              disagreement, safety_check, signed_reasons)
from kodomo.appdata.access import Agency, Holding
from ml.assessment import checklist, what_ifs
from ml.features import abuse_type_codes
from ml.model import RiskModel


def percent(p: float) -> str:
    return f"{p:.1%}"


@dataclass(frozen=True)
class Scored:
    """The model's side of an intake: the probability a worker sees and where it comes from."""
    probability: float
    interval: tuple[float, float] | None
    band: str
    base_rate: float | None
    model: RiskModel
    model_version: str


def show_report(features: pd.DataFrame, agency: Agency | None, report_id: str, safety_confirmed_at,
                lang: str) -> None:
    row = features.iloc[0]
    received = pd.Timestamp(row["received_at"]).to_pydatetime()
    where = agency.name if agency else row["agency_id"]
    st.header(t("intake_header", lang, report_id=literal(report_id), agency=literal(where)))
    abuse = [t(f"abuse.{code}", lang) for code in abuse_type_codes() if row.get(f"abuse_{code}") in (1, True)]
    check = safety_check(received, safety_confirmed_at)
    state = check.state(dt.datetime.now())
    safety = (t("safety_confirmed", lang, at=f"{check.confirmed_at:%Y-%m-%d %H:%M}") if state == "confirmed" else
              t(f"safety_{state}", lang, deadline=f"{check.deadline:%Y-%m-%d %H:%M}"))
    st.markdown("\n".join([
        f"- **{t('received_at', lang)}**: {received:%Y-%m-%d %H:%M}",
        f"- **{t('route_label', lang)}**: {value_label('route', row['route'], lang)}",
        f"- **{t('abuse_types_label', lang)}**: {'・'.join(abuse) or t('none_recorded', lang)}",
        f"- **{t('age', lang)}**: {age_text(float(row['age_years']), lang)}",
        f"- **{t('safety_check', lang)}**: {safety}",
    ]))
    if state == "overdue":
        st.error(t("safety_overdue", lang, deadline=f"{check.deadline:%Y-%m-%d %H:%M}"))


def show_answers(features: pd.DataFrame, lang: str) -> None:
    st.subheader(t("answers_header", lang))
    row = features.iloc[0]
    if not row["has_assessment"]:
        st.info(t("no_assessment", lang))
    # Two groups a column and the answer first: at 1366 px four columns cut the answers off.
    columns = st.columns(2)
    for i, (group, items) in enumerate(ITEM_GROUPS.items()):
        with columns[i % 2]:
            st.markdown(f"**{t(f'group.{group}', lang)}**")
            st.dataframe(pd.DataFrame({
                t("col_answer", lang): [value_label(item, row[item] if pd.notna(row[item]) else "missing", lang)
                                        for item in items],
                t("col_item", lang): [feature_label(item, lang) for item in items],
            }), hide_index=True, key=f"answers_{group}")


def show_history(features: pd.DataFrame, holdings: Sequence[Holding], agencies: Mapping[str, Agency],
                 lang: str) -> None:
    st.subheader(t("history_header", lang))
    st.caption(t("history_help", lang))
    row = features.iloc[0]
    st.dataframe(pd.DataFrame({
        t("col_item", lang): [feature_label(name, lang) for name in HISTORY_COUNTS],
        t("col_count", lang): [int(row[name]) for name in HISTORY_COUNTS],
    }), hide_index=True, key="history_counts")
    if holdings:
        st.markdown(t("holders", lang) + "\n" + "\n".join(
            f"- {literal(agencies[h.agency_id].name if h.agency_id in agencies else h.agency_id)}"
            + (f"（{t('since', lang, since=f'{h.since:%Y-%m-%d}')}）" if h.since is not None else "")
            for h in holdings))


def show_probability(scored: Scored, lang: str) -> None:
    st.subheader(t("outcome", lang))
    st.metric(t("probability", lang), percent(scored.probability))
    lines = []
    if scored.interval is not None:
        low, high = scored.interval
        lines.append(t("interval", lang, low=percent(low), high=percent(high)))
    if scored.base_rate is not None:
        lines.append(t("base_rate", lang, rate=percent(scored.base_rate)))
    lines.append(t("band_line", lang, band=t(f"band.{scored.band}", lang)))
    st.markdown("\n".join(f"- {line}" for line in lines))
    threshold = percent(scored.model.review_threshold)
    if scored.probability >= scored.model.review_threshold:
        st.warning(t("above_threshold", lang, threshold=threshold))
    else:
        st.info(t("below_threshold", lang, threshold=threshold))
    st.caption(t("probability_caption", lang, model=t("model_name", lang, version=scored.model_version)))


def show_reasons(scored: Scored, features: pd.DataFrame, lang: str) -> None:
    st.subheader(t("reasons", lang))
    table = signed_reasons(scored.model, features, scored.probability)
    if table.empty:
        st.write(t("no_reasons", lang))
        return
    labels = [f"{feature_label(f, lang)}: {value_label(f, v, lang)}" for f, v in zip(table["feature"], table["value"])]
    direction = [t("raised" if p > 0 else "lowered", lang) for p in table["points"]]
    chart = pd.DataFrame({"label": labels, "points": table["points"].round(1), "direction": direction})
    st.bar_chart(chart, x="label", y="points", color="direction", horizontal=True, sort="-points",
                 x_label=t("points_axis", lang), y_label="")
    st.dataframe(pd.DataFrame({
        t("col_item", lang): [feature_label(f, lang) for f in table["feature"]],
        t("col_value", lang): [value_label(f, v, lang) for f, v in zip(table["feature"], table["value"])],
        t("col_points", lang): [f"{p:+.1f}" for p in table["points"]],
    }), hide_index=True, key="reasons_table")
    st.caption(t("reasons_help", lang))
    if (table["value"] == "unknown").any():
        st.caption(t("unknown_moves", lang))


def show_missing_information(scored: Scored, features: pd.DataFrame, lang: str) -> None:
    st.subheader(t("missing_info", lang))
    st.caption(t("missing_info_help", lang))
    table = what_ifs(scored.model, features)  # leaves out what cannot apply at the child's age
    if table.empty:
        st.write(t("no_missing", lang))
        return
    st.dataframe(pd.DataFrame({
        t("col_item", lang): [feature_label(i, lang) for i in table["item"]],
        t("col_now", lang): [value_label(i, v, lang) for i, v in zip(table["item"], table["now"])],
        t("col_if", lang): [value_label(i, v, lang) for i, v in zip(table["item"], table["value"])],
        t("col_probability", lang): table["probability"].map(percent),
        t("col_change", lang): (100 * table["change"]).map("{:+.1f}".format),
    }), hide_index=True, key="what_ifs")


_ANSWER_MARK = {"yes": "✅", "no": "⬜", "unknown": "❓"}
_VERDICT_BOX = {3: st.error, 2: st.warning, 1: st.info, 0: st.info}


def show_checklist(features: pd.DataFrame, lang: str) -> int:
    st.subheader(t("checklist", lang))
    st.caption(t("checklist_help", lang))
    answers = checklist_answers(features)
    _, verdict = checklist(features)
    st.markdown("\n".join(
        f"- {_ANSWER_MARK[answer]} **{t(f'code.{answer}', lang)}** — {t(f'question.{q}', lang)}"
        for q, answer in answers.items()))
    _VERDICT_BOX[verdict](t("verdict", lang, verdict=t(f"verdict.{verdict}", lang)))
    return verdict


def show_assessment(features: pd.DataFrame, scored: Scored | None, no_score_reason: str | None,
                    lang: str) -> int:
    """The model and the checklist side by side; the checklist's verdict (0-3) returned."""
    model_side, checklist_side = st.columns([3, 2])
    with checklist_side:
        verdict = show_checklist(features, lang)
    with model_side:
        if scored is None:
            st.info(no_score_reason or t("no_champion", lang))
        else:
            show_probability(scored, lang)
            key = disagreement(scored.probability, scored.model.review_threshold, verdict)
            if key:
                st.warning(t(key, lang))
            show_reasons(scored, features, lang)
            show_missing_information(scored, features, lang)
    return verdict
