"""Data scientist: the champion and the challenger of the risk model, their test metrics, promotion, model card;
retraining (a Dagster run followed here), recalibration of the champion and the override of the promotion gate.

Viewing is about models, not children, and is not audit-logged; a retraining or recalibration request and an
override are (their data layer checks the role and writes the audit row).
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import session
from app.i18n import t
from app.model_info import (VersionInfo, calibration_plot, comparisons_table, drift, metrics_table, model_card,
                            promotion_reason, runs_table, subgroups, version_info)
from app.services import operational_store
from kodomo.appdata.access import AccessDenied
from kodomo.appdata.accounts import Account
from kodomo.appdata.warehouse import WarehouseUnavailable
from kodomo.settings import Settings, get_settings
from ml.drift import CALIBRATION_BOUND
from ml.lifecycle import override_promotion
from ml.recalibration import request_recalibration
from ml.registry import CHALLENGER, CHAMPION, REJECTED, connect
from orchestration.defs.ml.retraining import RetrainingProgress, request_retraining, retraining_progress
from orchestration.lifecycle import RunRefused

RETRAINING_RUN = "model.retraining_run"  # the session's requested Dagster run ID
OVERRIDE_DONE = "model.override_done"  # the version just overridden, said once after the page is redrawn
POLL_SECONDS = 3


def show_promotion(info: VersionInfo, lang: str) -> None:
    if info.decision is None:
        st.write(t("promotion_pending", lang))
        return
    decision = t(info.decision, lang) if info.decision in ("promoted", "rejected") else info.decision
    st.markdown(f"**{t('promotion', lang, decision=decision)}**")
    st.markdown("\n".join(f"- {_reason(reason, lang)}" for reason in info.reasons))
    if info.override_reason is not None:
        st.warning(t("model.overridden", lang, user=info.override_by or "?", reason=info.override_reason))


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


def show_diagnostics(info: VersionInfo, lang: str) -> None:
    """The version's calibration plot and subgroup table (from its run's artifacts)."""
    plot = calibration_plot(info.run_id)
    if plot is not None:
        st.subheader(t("model.calibration", lang))
        st.image(plot)
    table = subgroups(info.run_id)
    if table is not None:
        st.subheader(t("model.subgroups", lang))
        st.dataframe(table, hide_index=True)


def show_drift(lang: str) -> None:
    st.header(t("model.drift", lang))
    table = drift(get_settings().warehouse_path)
    if table is None or table.empty:
        st.info(t("model.no_drift", lang))
        return
    alerts = table.loc[table["alert"], "window"].tolist()
    if alerts:
        st.warning(t("model.drift_alert", lang, bound=CALIBRATION_BOUND, windows=", ".join(alerts)))
    else:
        st.success(t("model.drift_ok", lang, bound=CALIBRATION_BOUND))
    st.dataframe(table.drop(columns=["model_version"], errors="ignore"), hide_index=True)


def show_override(info: VersionInfo, lang: str, user: Account, settings: Settings) -> None:
    """The form that promotes a challenger the gate rejected: a written reason is required, and audited."""
    with st.form(f"model.override_{info.version}"):
        st.markdown(f"**{t('model.override_title', lang)}**")
        st.caption(t("model.override_help", lang, version=info.version))
        reason = st.text_area(t("model.override_reason", lang), key=f"model.override_reason_{info.version}")
        if not st.form_submit_button(t("model.override_submit", lang)):
            return
    if not reason.strip():
        st.error(t("model.override_needs_reason", lang))
        return
    try:
        override_promotion(operational_store(settings), user, settings, info.version, reason)
    except AccessDenied:
        st.error(t("model.denied", lang))
        return
    except ValueError as exc:
        st.error(t("model.override_failed", lang, reason=str(exc)))
        return
    session.put(OVERRIDE_DONE, info.version)
    st.rerun()


def show_retraining(lang: str, user: Account, settings: Settings) -> bool:
    """The retraining button and the requested run's progress; whether that run is still going."""
    st.header(t("model.retraining", lang))
    st.caption(t("model.retraining_help", lang))
    run_id = session.value(RETRAINING_RUN)
    running = run_id is not None and not retraining_progress(settings, run_id).finished
    if st.button(t("model.retrain", lang), key="model.retrain", disabled=running):
        try:
            run_id = request_retraining(operational_store(settings), user, settings)
        except AccessDenied:
            st.error(t("model.denied", lang))
            return False
        except RunRefused as exc:
            st.error(t("model.retrain_refused", lang, reason=str(exc)))
            return False
        session.put(RETRAINING_RUN, run_id)
    if run_id is None:
        return False
    progress = retraining_progress(settings, run_id)
    if progress.finished:
        show_progress(progress, lang)
    else:
        # Redrawn on its own every few seconds while the run works; the rest of the page is not.
        st.fragment(follow_progress, run_every=POLL_SECONDS)(settings, run_id, lang)
    return not progress.finished


def show_recalibration(lang: str, user: Account, settings: Settings, retraining: bool) -> None:
    """The button that recalibrates the champion on its latest closed window, and the gate's verdict on it."""
    st.header(t("model.recalibration", lang))
    st.caption(t("model.recalibration_help", lang))
    if not st.button(t("model.recalibrate", lang), key="model.recalibrate", disabled=retraining):
        return
    try:
        result = request_recalibration(operational_store(settings), user, settings)
    except AccessDenied:
        st.error(t("model.denied", lang))
        return
    except (ValueError, WarehouseUnavailable) as exc:
        st.error(t("model.recalibrate_failed", lang, reason=str(exc)))
        return
    decision = t("promoted" if result.decision.promote else "rejected", lang)
    said = t("model.recalibrated", lang, version=result.registered.version, source=result.source_version,
             window=str(result.window), fitting=result.fitting_intakes, test=result.test_intakes, decision=decision)
    reasons = "\n".join(f"- {_reason(reason, lang)}" for reason in result.decision.reasons)
    (st.success if result.decision.promote else st.warning)(f"{said}\n\n{reasons}")


def follow_progress(settings: Settings, run_id: str, lang: str) -> None:
    progress = retraining_progress(settings, run_id)
    show_progress(progress, lang)
    if progress.finished:
        st.rerun()  # the whole page: the new challenger, its verdict and the drift


def show_progress(progress: RetrainingProgress, lang: str) -> None:
    st.write(t("model.retraining_run", lang, run_id=progress.run_id))
    status = t(f"model.run_status.{progress.status}", lang)
    if progress.status == "SUCCESS":
        st.success(status)
    elif progress.finished:
        st.error(status + (f" — {progress.message}" if progress.message else ""))
    else:
        st.info(status)
    if progress.steps:
        st.dataframe(pd.DataFrame(progress.steps, columns=[t("model.col_step", lang), t("model.col_status", lang)]),
                     hide_index=True)


def render() -> None:
    lang = session.language()
    st.title(t("model_header", lang))
    settings = get_settings()
    user = session.user()
    if session.value(OVERRIDE_DONE) is not None:
        st.success(t("model.override_done", lang, version=session.value(OVERRIDE_DONE)))
        session.put(OVERRIDE_DONE, None)
    retraining = show_retraining(lang, user, settings)
    # Before the registry is read below: a recalibration's new challenger and its verdict show at once.
    show_recalibration(lang, user, settings, retraining)
    client = connect(settings)
    champion, challenger = version_info(client, CHAMPION), version_info(client, CHALLENGER)
    if champion is None and challenger is None:
        st.info(t("no_model", lang))
        return
    distinct = challenger is not None and (champion is None or challenger.version != champion.version)
    shown = [(t("champion", lang), champion), *([(t("challenger", lang), challenger)] if distinct else [])]
    shown = [(title, info) for title, info in shown if info is not None]
    st.header(t("model.side_by_side", lang))
    for column, (title, info) in zip(st.columns(len(shown)), shown):
        with column:
            show_version(title, info, lang)
            show_diagnostics(info, lang)
            if info is challenger and distinct and info.decision == REJECTED and info.override_reason is None:
                show_override(info, lang, user, settings)
    if challenger is not None and not distinct:
        st.info(t("same_as_champion", lang))
    st.header(t("model.runs", lang))
    st.dataframe(runs_table(client), hide_index=True)
    show_drift(lang)

