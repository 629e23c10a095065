"""Supervisors: the pairs of child records the linkage is unsure of, side by side, to decide
(kodomo/linkage/decisions.py).

The queue lists the undecided pairs with a record held in the supervisor's jurisdiction (no names); opening a
pair shows both records' names, kana, birth dates and places with the fields that agree and the match
probability (audited); the decision (same child / different children) is kept and applied by every later run.
"""
from __future__ import annotations

import streamlit as st

from app import session
from app.i18n import literal, t
from app.services import agencies, operational_store
from kodomo.appdata.access import AccessDenied
from kodomo.appdata.warehouse import WarehouseUnavailable, read_only
from kodomo.linkage.decisions import (DIFFERENT, SAME, InvalidLinkageDecision, decide_pair, open_pair,
                                      review_queue)
from kodomo.settings import get_settings

_QUEUE, _OPEN = "linkage_review.queue", "linkage_review.open"

def _fields(fields, lang: str) -> str:
    return "、".join(t(f"linkage_review.field.{f}", lang) for f in fields) if fields else "—"


def _decide(store, user, known, pair, outcome: str) -> None:
    """A button's callback: the decision recorded, or why not kept for the page."""
    key = f"{pair.left.node_id}/{pair.right.node_id}"
    try:
        decide_pair(store, user, pair, outcome, known, session.value(f"linkage_review.comment.{key}"))
    except (InvalidLinkageDecision, AccessDenied) as refused:
        session.put(f"linkage_review.error.{key}", str(refused))
        return
    session.put("linkage_review.decided", True)
    session.put(_QUEUE, None)  # read (and audited) again
    session.put(_OPEN, None)


def _show_variants(variants, lang: str) -> None:
    for v in variants:
        st.markdown("- " + t("linkage_review.variant", lang, name=literal(v.name), kana=literal(v.kana),
                                  birth=literal(str(v.birth_date or "—")), sex=literal(v.sex or "—"),
                                  places=literal("・".join(v.places) or "—")))


def render(lang: str, user) -> None:
    st.title(t("linkage_review.title", lang))
    st.caption(t("linkage_review.help", lang))
    if session.value("linkage_review.decided"):
        st.success(t("linkage_review.decided", lang))
        session.put("linkage_review.decided", None)
    settings = get_settings()
    store, known = operational_store(settings), agencies(settings)
    try:
        with read_only(settings.warehouse_path) as con:
            if session.value(_QUEUE) is None:  # audited once per visit, not per rerun
                session.put(_QUEUE, review_queue(con, store, user, known))
            pairs = session.value(_QUEUE)
            if not pairs:
                st.info(t("linkage_review.none", lang))
                return
            for pair in pairs:
                key = f"{pair.left.node_id}/{pair.right.node_id}"
                with st.container(border=True):
                    probability = "—" if pair.match_probability is None else f"{pair.match_probability:.1%}"
                    st.markdown(t("linkage_review.pair", lang, left=literal(pair.left.node_id),
                                  right=literal(pair.right.node_id), probability=probability,
                                  reason=t(f"linkage_review.reason.{pair.reason}", lang)))
                    if session.value(_OPEN) != key:
                        st.button(t("linkage_review.open", lang), key=f"linkage_review.open.{key}",
                                  on_click=session.put, args=(_OPEN, key))
                        continue
                    # Opened (and audited) once; its reruns show the evidence kept in the session.
                    if session.value(f"{_OPEN}.{key}") is None:
                        session.put(f"{_OPEN}.{key}", open_pair(con, store, user, pair, known))
                    evidence = session.value(f"{_OPEN}.{key}")
                    left, right = st.columns(2)
                    with left:
                        st.subheader(t("linkage_review.left", lang))
                        _show_variants(evidence.left, lang)
                    with right:
                        st.subheader(t("linkage_review.right", lang))
                        _show_variants(evidence.right, lang)
                    st.markdown(t("linkage_review.agree", lang, fields=_fields(evidence.agreeing, lang)))
                    st.markdown(t("linkage_review.differ", lang, fields=_fields(evidence.differing, lang)))
                    st.text_input(t("linkage_review.comment", lang), key=f"linkage_review.comment.{key}")
                    error = session.value(f"linkage_review.error.{key}")
                    if error:
                        st.error(t("linkage_review.refused", lang, reason=error))
                    same, different = st.columns(2)
                    same.button(t("linkage_review.same", lang), key=f"linkage_review.same.{key}", on_click=_decide,
                                args=(store, user, known, pair, SAME))
                    different.button(t("linkage_review.different", lang), key=f"linkage_review.different.{key}",
                                     on_click=_decide, args=(store, user, known, pair, DIFFERENT))
    except AccessDenied as refused:
        st.error(t("linkage_review.refused", lang, reason=str(refused)))
    except WarehouseUnavailable:
        st.error(t("linkage_review.unavailable", lang))
