"""Caseworkers: search a child across agencies by name, kana and birth date (kodomo/appdata/search.py).

Each result shows its score, the reason in words, the agencies holding records with the first and last time each
knew the child, and a mark when the child has a review pair nobody has decided. The name of the matched record
is shown only when its agency is in the user's jurisdiction; otherwise the existence answer alone. Each result
opens the child's record (app/views/child_record.py), which decides what the user may see of it.
"""
from __future__ import annotations

import streamlit as st

from app.i18n import literal, t
from app.services import agencies, operational_store
from app.views.child_record import follow_request, request_open
from kodomo.appdata.access import AccessDenied, in_jurisdiction
from kodomo.appdata.search import InvalidQuery, parse_query, search
from kodomo.appdata.warehouse import WarehouseUnavailable, read_only
from kodomo.linkage.identify import load_model
from kodomo.linkage.pipeline import MODEL_FILE
from kodomo.settings import get_settings


def _date(value) -> str:
    return "—" if value is None else f"{value:%Y-%m-%d}"


def render(lang: str, user) -> None:
    follow_request()
    st.title(t("search.title", lang))
    st.caption(t("search.help", lang))
    with st.form("search.form"):
        name = st.text_input(t("search.name", lang), key="search.name")
        kana = st.text_input(t("search.kana", lang), key="search.kana")
        birth_date = st.text_input(t("search.birth_date", lang), key="search.birth_date")
        sex = st.radio(t("search.sex", lang), ["", "1", "2"], horizontal=True, key="search.sex",
                       format_func=lambda code: t(f"search.sex_{code}" if code else "search.sex_any", lang))
        submitted = st.form_submit_button(t("search.submit", lang))
    if not submitted:
        return
    try:
        query = parse_query({"name": name, "kana": kana, "birth_date": birth_date, "sex": sex})
    except InvalidQuery as bad:
        st.error(t("search.bad_query", lang, reason=str(bad)))
        return
    settings = get_settings()
    known = agencies(settings)
    try:
        with read_only(settings.warehouse_path) as con:
            model = load_model(settings.linkage_dir / MODEL_FILE, con)
            results = search(con, operational_store(settings), model, user, query, known)
    except AccessDenied as refused:
        st.error(t("search.refused", lang, reason=str(refused)))
        return
    except WarehouseUnavailable:
        st.error(t("search.unavailable", lang))
        return
    if not results:
        st.info(t("search.none", lang))
        return
    for rank, result in enumerate(results, start=1):
        with st.container(border=True):
            st.markdown(t("search.result", lang, rank=rank, score=f"{result.score:.1%}", reason=result.reason(lang)))
            record = result.record
            if "name" in record and in_jurisdiction(user, str(record["agency_id"]), known):
                st.markdown(t("search.record", lang, name=literal(str(record["name"])),
                              kana=literal(str(record["kana"])), birth=literal(str(record["birth_date"])[:10])))
            else:
                st.caption(t("search.outside", lang))
            for holding in result.agencies:
                agency = known[holding.agency_id].name if holding.agency_id in known else holding.agency_id
                st.markdown("- " + t("search.holding", lang, agency=literal(agency), first=_date(holding.first_known),
                                      last=_date(holding.last_known)))
            if result.undecided_pair:
                st.warning(t("search.undecided", lang))
            st.caption(f"ID: {literal(result.person_key)}")
            st.button(t("search.open_record", lang), key=f"search.open.{result.person_key}", on_click=request_open,
                      args=(result.person_key,))
