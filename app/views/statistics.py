"""Manager: the published statistics (small cells withheld) with filters, a chart, the table and its CSV.

Everything shown comes from ``kodomo.appdata.statistics`` (published cells only; the read is audited there);
the download is exactly the table on the screen.
"""
from __future__ import annotations

import io

import altair as alt
import pandas as pd
import streamlit as st

from app.i18n import has, t
from app.services import agencies, operational_store
from kodomo.appdata.access import AccessDenied
from kodomo.appdata.accounts import Account
from kodomo.appdata.statistics import statistics
from kodomo.appdata.warehouse import WarehouseUnavailable, read_only
from kodomo.settings import get_settings
from kodomo.statistics.export import write_statistics

TABLES = ("reports", "report_outcomes", "transfers", "checkups", "immunizations")  # in the order offered

def category_label(breakdown: str, category: str, lang: str) -> str:
    """A category in words: the shared ones (total, several types, unknown), else the breakdown's own codes
    (routes, abuse types, age bands); vaccines, checkups and cohorts are shown as they are coded."""
    prefix = {"route": "route", "abuse_type": "abuse", "age_band": "age_band"}.get(breakdown)
    for key in (f"category.{category}", f"{prefix}.{category}"):
        if has(key, lang):
            return t(key, lang)
    return category


def formatted(measure: str, value: float) -> str:
    """A published value as the table shows it: a count, a percentage or days."""
    if measure.endswith("_rate"):
        return f"{value:.1%}"
    if measure.endswith("_count"):
        return f"{int(value):,}"
    return f"{value:.1f}"


def select_cells(published: pd.DataFrame, table: str, grain: str, agency_id: str, breakdown: str) -> pd.DataFrame:
    """The published rows of one table, period grain, agency (or 'all') and breakdown."""
    yearly = published["period"].str.startswith("FY")
    return published[(published["table"] == table) & (yearly if grain == "fiscal_year" else ~yearly)
                      & (published["agency_id"] == agency_id) & (published["breakdown"] == breakdown)]


def chart(rows: pd.DataFrame, breakdown: str, lang: str) -> alt.Chart:
    shown = rows[~rows["suppressed"]].assign(label=[category_label(breakdown, c, lang) for c in rows.loc[
        ~rows["suppressed"], "category"]])
    if breakdown != "all":
        shown = shown[shown["category"] != "total"]
    axis_period, axis_value = t("stats.col.period", lang), t("stats.col.value", lang)
    base = alt.Chart(shown).encode(x=alt.X("period:N", title=axis_period),
                                   y=alt.Y("value:Q", title=axis_value),
                                   tooltip=["period", "label", "value"])
    if breakdown == "all":
        return base.mark_line(point=True)
    return base.mark_line(point=True).encode(color=alt.Color("label:N", title=t(f"breakdown.{breakdown}", lang)))


def render(lang: str, user: Account) -> None:
    st.title(t("stats.title", lang))
    st.caption(t("stats.caption", lang))
    current = get_settings()
    try:
        with read_only(current.warehouse_path) as con:
            published = statistics(con, operational_store(current), user)
    except AccessDenied:
        st.error(t("stats.denied", lang))
        return
    except WarehouseUnavailable:
        st.error(t("warehouse_unavailable", lang))
        return
    names = {agency_id: agency.name for agency_id, agency in agencies(current).items()}

    tables = [table for table in TABLES if table in set(published["table"])]
    table = st.selectbox(t("stats.table", lang), tables, format_func=lambda v: t(f"table.{v}", lang))
    in_table = published[published["table"] == table]
    grain = st.radio(t("stats.grain", lang), ["fiscal_year", "quarter"], horizontal=True,
                     format_func=lambda v: t(f"stats.grain.{v}", lang))
    yearly = in_table["period"].str.startswith("FY")
    in_grain = in_table[yearly if grain == "fiscal_year" else ~yearly]
    agency_ids = ["all", *sorted(set(in_grain["agency_id"]) - {"all"})]
    agency_id = st.selectbox(t("stats.agency", lang), agency_ids,
                             format_func=lambda v: t("stats.agency.all", lang) if v == "all"
                             else f"{names.get(v, '')} ({v})")
    breakdowns = list(dict.fromkeys(in_grain.loc[in_grain["agency_id"] == agency_id, "breakdown"]))
    if not breakdowns:
        st.info(t("stats.no_cells", lang))
        return
    breakdown = st.selectbox(t("stats.breakdown", lang), breakdowns,
                             format_func=lambda v: t(f"breakdown.{v}", lang))
    rows = select_cells(published, table, grain, agency_id, breakdown)
    for measure in dict.fromkeys(rows["measure"]):
        of_measure = rows[rows["measure"] == measure]
        st.subheader(t(f"measure.{measure}", lang))
        if of_measure["suppressed"].all():
            st.info(t("stats.no_cells", lang))
        else:
            st.altair_chart(chart(of_measure, breakdown, lang), width="stretch")
        wide = (of_measure.assign(category=[category_label(breakdown, c, lang) for c in of_measure["category"]],
                                  shown=[t("stats.suppressed", lang) if s else formatted(measure, v)
                                         for s, v in zip(of_measure["suppressed"], of_measure["value"], strict=True)])
                .pivot(index="period", columns="category", values="shown"))
        st.dataframe(wide.rename_axis(index=t("stats.col.period", lang), columns=t("stats.col.category", lang)))
    csv = io.StringIO(newline="")
    write_statistics(rows, csv)
    st.download_button(t("stats.download", lang), csv.getvalue().encode("utf-8"),
                       file_name=f"statistics_{table}_{grain}_{agency_id}_{breakdown}.csv", mime="text/csv")
