"""The managers' statistics: small cells withheld with complementary suppression (property-based over random
tables), the rules cell by cell, and on a built world the measures, the read layer's access rule and audit,
and ``kodomo export-stats`` writing exactly what the read layer publishes."""
from __future__ import annotations

import csv
import itertools

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodomo.statistics.publish import COLUMNS, publish
from kodomo.statistics.suppression import complementary, fiscal_year_of, primary

QUARTERS = ["2023Q1", "2023Q2", "2023Q3", "2023Q4"]
BREAKDOWNS = {"route": ["police", "school", "neighbor"], "age_band": ["infant", "school_age"]}


# --- the rules, cell by cell --------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "population", "numerator", "children", "withheld"), [
    ("count", 0, None, 0, False),  # a zero rests on no child
    ("count", 1, None, 1, True),
    ("count", 9, None, 9, True),
    ("count", 10, None, 10, False),
    ("count", 25, None, 7, True),  # 25 reports of 7 children
    ("rate", 9, 0, 9, True),  # population under 10
    ("rate", 40, 0, 30, False),  # none of 40: published
    ("rate", 40, 3, 30, True),  # numerator 1-9
    ("rate", 40, 35, 30, True),  # complement 5
    ("rate", 40, 40, 30, False),  # all of 40
    ("rate", 40, 20, 30, False),
    ("median", 9, None, 9, True),
    ("median", 12, None, 12, False),
])
def test_primary_suppression(kind, population, numerator, children, withheld):
    assert primary(kind, population, numerator, children) is withheld


def test_an_unknown_measure_kind_is_an_error():
    with pytest.raises(ValueError, match="measure kind 'mean'"):
        primary("mean", 10, None, 10)


@pytest.mark.parametrize(("period", "year"), [("2024Q3", "FY2024"), ("2019Q4", "FY2019"), ("FY2024", None)])
def test_quarters_belong_to_their_fiscal_year(period, year):
    assert fiscal_year_of(period) == year


@pytest.mark.parametrize(("sizes", "lines", "primary_cells", "expected"), [
    # one withheld member: the smallest other member goes with it, not the total
    ({"T": 50, "A": 5, "B": 25, "C": 20}, [["T", "A", "B", "C"]], {"A"}, {"A", "C"}),
    # a zero is skipped while a positive cell is left
    ({"T": 20, "A": 5, "B": 0, "C": 15}, [["T", "A", "B", "C"]], {"A"}, {"A", "C"}),
    # two withheld already: nothing to add
    ({"T": 14, "A": 5, "B": 9}, [["T", "A", "B"]], {"A", "B"}, {"A", "B"}),
    # the added cell makes another line have one withheld cell: that line gets its own complement
    ({"T": 50, "A": 5, "B": 20, "C": 25, "U": 60, "D": 40},
     [["T", "A", "B", "C"], ["U", "B", "D"]], {"A"}, {"A", "B", "D"}),
    # a line of a total and its only member: both go
    ({"T": 4, "A": 4}, [["T", "A"]], {"A"}, {"T", "A"}),
])
def test_complementary_suppression(sizes, lines, primary_cells, expected):
    assert complementary(sizes, lines, primary_cells) == expected


# --- property: random tables -------------------------------------------------------------------------------

def mart_cells(facts: pd.DataFrame) -> pd.DataFrame:
    """What marts.statistics_cells makes of count facts (agency, quarter, one category per breakdown, child):
    every agency and 'all', quarters and FY2023, categories and 'total' (independent of the mart's SQL)."""
    rows = []
    for breakdown in BREAKDOWNS:
        for period, agency, category in itertools.product(QUARTERS + ["FY2023"], ["all", *sorted(facts.agency_id.unique())],
                                                          ["total", *BREAKDOWNS[breakdown]]):
            cell = facts[((facts.quarter == period) | (period == "FY2023"))
                         & ((facts.agency_id == agency) | (agency == "all"))
                         & ((facts[breakdown] == category) | (category == "total"))]
            if len(cell):
                rows.append({"table_name": "reports", "period": period, "agency_id": agency, "breakdown": breakdown,
                             "category": category, "measure": "report_count", "measure_kind": "count",
                             "population": len(cell), "numerator": None,
                             "child_count": cell.child.nunique(), "value": float(len(cell))})
    return pd.DataFrame(rows)


def additive_equations(published: pd.DataFrame) -> list[tuple[tuple, list[tuple]]]:
    """(total, members) of every line of the published table, keyed (period, agency, breakdown, category),
    written out from the table's meaning (not from the suppression module)."""
    keys = set(zip(published.period, published.agency_id, published.breakdown, published.category, strict=True))
    agencies = sorted({k[1] for k in keys} - {"all"})
    equations = []
    for period, agency, breakdown in itertools.product(QUARTERS + ["FY2023"], ["all", *agencies], BREAKDOWNS):
        equations.append(((period, agency, breakdown, "total"),
                          [(period, agency, breakdown, c) for c in BREAKDOWNS[breakdown]]))
    for period, breakdown in itertools.product(QUARTERS + ["FY2023"], BREAKDOWNS):
        for category in ["total", *BREAKDOWNS[breakdown]]:
            equations.append(((period, "all", breakdown, category), [(period, a, breakdown, category) for a in agencies]))
    for agency, breakdown in itertools.product(["all", *agencies], BREAKDOWNS):
        for category in ["total", *BREAKDOWNS[breakdown]]:
            equations.append((("FY2023", agency, breakdown, category), [(q, agency, breakdown, category) for q in QUARTERS]))
    return equations


def derivable(published: pd.DataFrame) -> dict[tuple, float]:
    """Every cell an outsider can work out from the published table by subtraction along lines, repeated until
    nothing more follows. A total is the same number under each breakdown."""
    known: dict[tuple, float] = {}
    for row in published.itertuples(index=False):
        if not row.suppressed:
            known[(row.period, row.agency_id, row.breakdown, row.category)] = row.value
    present = set(zip(published.period, published.agency_id, published.breakdown, published.category, strict=True))
    equations = additive_equations(published)
    changed = True
    while changed:
        changed = False
        for (period, agency, _, category), value in list(known.items()):  # totals shared across breakdowns
            if category == "total":
                for other in BREAKDOWNS:
                    if (period, agency, other, "total") not in known:
                        known[(period, agency, other, "total")] = value
                        changed = True
        for total, members in equations:
            cells = [total, *members]
            value_of = {c: (known.get(c) if c in present else 0.0) for c in cells}  # an absent cell is zero
            unknown = [c for c, v in value_of.items() if v is None]
            if len(unknown) == 1:
                cell = unknown[0]
                rest = sum(v for c, v in value_of.items() if c not in (cell, total)) if cell != total else 0.0
                known[cell] = (value_of[total] - rest) if cell != total else sum(value_of[m] for m in members)
                changed = True
    return known


facts_strategy = st.lists(
    st.tuples(st.sampled_from(["A1", "A2", "A3"]), st.sampled_from(QUARTERS), st.sampled_from(BREAKDOWNS["route"]),
              st.sampled_from(BREAKDOWNS["age_band"]), st.integers(0, 400)),
    min_size=1, max_size=300)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts_strategy)
def test_no_small_cell_is_published_or_derivable(fact_tuples):
    facts = pd.DataFrame(fact_tuples, columns=["agency_id", "quarter", "route", "age_band", "child"])
    published = publish(mart_cells(facts))
    shown = published[~published.suppressed]
    assert not shown.value.between(1, 9).any()
    assert published[published.suppressed].value.isna().all()
    # a total is withheld under every breakdown or none
    totals = published[published.category == "total"].groupby(["period", "agency_id"]).suppressed.nunique()
    assert (totals == 1).all()
    known = derivable(published)
    for row in published[published.suppressed].itertuples(index=False):
        assert (row.period, row.agency_id, row.breakdown, row.category) not in known


def test_the_true_values_satisfy_the_lines_the_property_checks():
    """The equations of the property test hold on the unsuppressed table (else the test would prove nothing)."""
    facts = pd.DataFrame([("A1", q, r, a, i) for i, (q, r, a) in enumerate(
        itertools.product(QUARTERS, BREAKDOWNS["route"], BREAKDOWNS["age_band"]))],
        columns=["agency_id", "quarter", "route", "age_band", "child"])
    cells = mart_cells(pd.concat([facts, facts.assign(agency_id="A2")]))
    values = {(r.period, r.agency_id, r.breakdown, r.category): r.value for r in cells.itertuples()}
    published = cells.rename(columns={"table_name": "table"}).assign(suppressed=False)[COLUMNS]
    for total, members in additive_equations(published):
        assert values[total] == sum(values.get(m, 0.0) for m in members)


# --- on a built world ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(scored_world, tmp_path_factory):
    """The scored world's published statistics, read by a manager (audited) and exported."""
    import duckdb

    from kodomo.appdata.accounts import Account
    from kodomo.appdata.statistics import statistics
    from kodomo.operational import MANAGER, connect
    from kodomo.settings import get_settings
    from kodomo.statistics.export import export_stats

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(scored_world["home"]))
        mp.setenv("KODOMO_ENV", "local")
        settings = get_settings()
        engine = connect(settings)
        manager = Account("stats.manager", "統計 担当", "C1101", MANAGER)
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            shown = statistics(con, engine, manager)
            reports = con.execute("select received_at, agency_id, route, is_temporarily_protected "
                                  "from marts.case_history").df()
        exported = export_stats(settings, tmp_path_factory.mktemp("stats") / "out")
        yield {"settings": settings, "engine": engine, "shown": shown, "exported": exported, "reports": reports,
               "manager": manager}
        engine.dispose()


def test_export_is_exactly_what_the_read_layer_publishes(world):
    with world["exported"].open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == COLUMNS
    shown = world["shown"]
    assert len(rows) - 1 == len(shown)
    for line, row in zip(rows[1:], shown.itertuples(index=False), strict=True):
        assert line[:6] == [str(v) for v in row[:6]]
        assert line[7] == ("true" if row.suppressed else "false")
        assert (line[6] == "") == row.suppressed
        if not row.suppressed:
            assert float(line[6]) == pytest.approx(row.value)


def test_published_cells_are_never_small_and_withheld_ones_are_empty(world):
    shown = world["shown"]
    counts = shown[shown.measure.str.endswith("_count") & ~shown.suppressed]
    assert not counts.value.between(1, 9).any()
    assert shown[shown.suppressed].value.isna().all()
    rates = shown[shown.measure.str.endswith("_rate") & ~shown.suppressed]
    assert rates.value.between(0, 1).all()
    assert set(shown["table"]) == {"reports", "report_outcomes", "transfers", "checkups", "immunizations"}
    assert not shown.columns.str.contains("person|child|name").any()


def test_fiscal_year_report_counts_match_the_case_history(world):
    """Reports of a complete fiscal year (April-March), all agencies and by agency, from marts.case_history."""
    reports = world["reports"].copy()
    received = reports.received_at
    reports["fy"] = "FY" + (received.dt.year - (received.dt.month < 4)).astype(str)
    shown = world["shown"]
    totals = shown[(shown["table"] == "reports") & (shown.breakdown == "route") & (shown.category == "total")
                   & shown.period.str.startswith("FY") & ~shown.suppressed]
    assert len(totals) > 0
    for row in totals.itertuples(index=False):
        expected = reports[(reports.fy == row.period) & ((reports.agency_id == row.agency_id) | (row.agency_id == "all"))]
        assert row.value == len(expected), (row.period, row.agency_id)
    police = shown[(shown["table"] == "reports") & (shown.agency_id == "all") & (shown.category == "police")
                   & (shown.period == totals.period.iloc[0])]
    assert police.value.iloc[0] == ((reports.fy == totals.period.iloc[0]) & (reports.route == "police")).sum()
    protection = shown[(shown.measure == "temporary_protection_rate") & (shown.agency_id == "all")
                       & (shown.period == totals.period.iloc[0])]
    in_year = reports[reports.fy == totals.period.iloc[0]]
    assert protection.value.iloc[0] == pytest.approx(in_year.is_temporarily_protected.mean(), abs=1e-4)


def test_quarters_sum_to_their_fiscal_year(world):
    shown = world["shown"]
    police = shown[(shown.measure == "report_count") & (shown.agency_id == "all") & (shown.category == "police")
                   & ~shown.suppressed].set_index("period").value
    for year in [p for p in police.index if p.startswith("FY")]:
        quarters = [f"{year[2:]}Q{q}" for q in range(1, 5)]
        if all(q in police.index for q in quarters):
            assert police[quarters].sum() == police[year]


def test_only_managers_and_supervisors_see_statistics_and_each_view_is_audited(world):
    import duckdb
    from sqlalchemy import select

    from kodomo.appdata.access import AccessDenied
    from kodomo.appdata.accounts import Account
    from kodomo.appdata.statistics import VIEW_STATISTICS, statistics
    from kodomo.operational import CASEWORKER, DATA_SCIENTIST, SUPERVISOR, audit_log

    engine = world["engine"]

    def viewers() -> list[str]:  # the world's store is shared with other tests: compare what this test adds
        with engine.connect() as c:
            return [r.user_id for r in c.execute(select(audit_log).where(audit_log.c.action == VIEW_STATISTICS))]

    before = viewers()
    with duckdb.connect(str(world["settings"].warehouse_path), read_only=True) as con:
        for role in (CASEWORKER, DATA_SCIENTIST):
            with pytest.raises(AccessDenied, match=f"role {role}"):
                statistics(con, engine, Account(f"x.{role}", "誰か", "C1101", role))
        assert len(statistics(con, engine, Account("s.super", "係長", "C1101", SUPERVISOR))) == len(world["shown"])
    assert viewers()[len(before):] == ["s.super"]
    assert world["manager"].user_id in before  # the world's own read, as a manager


def _statistics_page_as(role: str) -> None:
    """AppTest script: the statistics page for a user of ``role``, in Japanese."""
    from app.views.statistics import render
    from kodomo.appdata.accounts import Account

    render("ja", Account(f"page.{role}", "閲覧者", "C1101", role))


@pytest.mark.parametrize(("role", "shown"), [("manager", True), ("caseworker", False)])
def test_the_page_shows_a_chart_a_table_and_a_download_to_managers_only(scored_world, monkeypatch, role, shown):
    from streamlit.testing.v1 import AppTest

    from app.i18n import t

    monkeypatch.setenv("KODOMO_HOME", str(scored_world["home"]))
    monkeypatch.setenv("KODOMO_ENV", "local")
    page = AppTest.from_function(_statistics_page_as, args=(role,), default_timeout=60).run()
    assert not page.exception
    charts, downloads = page.get("vega_lite_chart"), page.get("download_button")
    if shown:
        assert page.title[0].value == t("stats.title")
        assert charts and downloads and page.dataframe
        page.selectbox[0].set_value("transfers").run()
        assert not page.exception and page.get("download_button")
    else:
        assert [e.value for e in page.error] == [t("stats.denied")]
        assert not charts and not downloads
