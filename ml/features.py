"""Features of each intake, as known at its receipt (``received_at``), and the model's design matrix.

Three kinds of columns:
- the intake's own assessment (the items of the assessments contract, ``unknown`` kept as a value) and
  what the report said when first recorded (route, abuse types);
- the child's age at receipt;
- the child's history across every agency (or within the intake's agency only, ``scope="agency"``):
  a past event counts only if a version of it recorded at or before ``received_at`` says so — a report
  substantiated later, a checkup marked no-show later, a move entered later are all invisible.
"""
from __future__ import annotations

from functools import cache

import duckdb
import numpy as np
import pandas as pd

from kodomo.contracts import Column, contract
from kodomo.dbt_sources import DBT_PROJECT_DIR
from ml.people import PERSON_KEYS, Scope, create_person_keys

# The routine immunization schedule has one source: the dbt seed (documented in seeds/_seeds.yml).
SCHEDULE_SEED = DBT_PROJECT_DIR / "seeds" / "immunization_schedule.csv"
KEY = ["agency_id", "report_id"]
HISTORY_FEATURES = (
    "prior_reports_1y", "prior_reports_2y", "prior_reports_total", "prior_substantiated", "prior_protections",
    "prior_severe_harm", "prior_agencies_2y", "moves_2y", "moves_total", "missed_checkups",
    "overdue_immunizations", "open_alerts",
)
NUMERIC_FEATURES = ("age_years", "has_assessment", *HISTORY_FEATURES)
# Carried for subgroup analysis and scoring, never fed to the model.
CONTEXT_COLUMNS = ("local_child_id", "person_key", "received_at", "agency_type", "prefecture_code")


@cache
def assessment_items() -> tuple[Column, ...]:
    """The assessment items, as the contract marks them (``item: true``)."""
    return tuple(c for c in contract("assessments").columns if c.item)


def route_codes() -> tuple[str, ...]:
    return contract("case_reports").column("route").codes


def abuse_type_codes() -> tuple[str, ...]:
    return contract("case_reports").column("abuse_types").codes


def _create_schedule(con: duckdb.DuckDBPyConnection) -> None:
    """The schedule seed as the temp table ``_ml_schedule``: the columns the features use, typed as in
    ``seeds/_seeds.yml``; ages and intervals become DuckDB intervals, so months are added as calendar months."""
    con.execute("""
        create or replace temp table _ml_schedule as
        select programme_group, programme, cast(programme_rank as integer) as programme_rank, vaccine,
               cast(dose as integer) as dose, timing_basis, cast(earliest_age as interval) as earliest_age,
               cast(due_by_age as interval) as due_by_age, cast(max_interval as interval) as max_interval,
               cast(first_dose_from as date) as first_dose_from, cast(first_dose_before as date) as first_dose_before,
               cast(routine_for_births_from as date) as routine_for_births_from
        from read_csv(?, header = true, all_varchar = true)""", [str(SCHEDULE_SEED)])


def _create_intakes(con: duckdb.DuckDBPyConnection) -> None:
    """Every report, with its person key and what its first recorded version said."""
    con.execute(f"""
        create or replace temp table _ml_intakes as
        with first_version as (
            select agency_id, report_id, route, abuse_types
            from valid.case_reports_versions
            qualify row_number() over (partition by agency_id, report_id
                                       order by updated_at, _delivery_date, _seq, _file, _line) = 1)
        select r.agency_id, r.report_id, r.local_child_id, p.person_key, r.received_at, r.birth_date,
               f.route, f.abuse_types, a.agency_type, a.prefecture_code
        from valid.case_reports r
        join {PERSON_KEYS} p using (agency_id, local_child_id)
        join first_version f using (agency_id, report_id)
        left join valid.agencies a using (agency_id)""")


def _with_person(feed: str) -> str:
    return f"(select v.*, p.person_key from valid.{feed}_versions v join {PERSON_KEYS} p using (agency_id, local_child_id))"


def _report_history_sql() -> str:
    report = "v.agency_id || '/' || v.report_id"
    return f"""
        select i.agency_id, i.report_id,
            count(distinct case when v.received_at >= i.received_at - interval 365 day then {report} end)
                as prior_reports_1y,
            count(distinct case when v.received_at >= i.received_at - interval 730 day then {report} end)
                as prior_reports_2y,
            count(distinct {report}) as prior_reports_total,
            count(distinct case when v.substantiated = 'yes' then {report} end) as prior_substantiated,
            count(distinct case when v.temporary_protection = 'yes' then {report} end) as prior_protections,
            count(distinct case when v.severe_harm = 'yes' then {report} end) as prior_severe_harm,
            count(distinct case when v.received_at >= i.received_at - interval 730 day then v.agency_id end)
                as prior_agencies_2y
        from _ml_intakes i
        join {_with_person('case_reports')} v
          on v.person_key = i.person_key
         and v.updated_at <= i.received_at
         and v.received_at < i.received_at
         and not (v.agency_id = i.agency_id and v.report_id = i.report_id)
        group by all"""


def _moves_sql() -> str:
    # The origin's move_out and the destination's move_in describe one move: count distinct moves.
    move = "(m.move_date, m.from_municipality_code, m.to_municipality_code)"
    return f"""
        select i.agency_id, i.report_id,
               count(distinct case when m.move_date >= i.received_at - interval 730 day then {move} end) as moves_2y,
               count(distinct {move}) as moves_total
        from _ml_intakes i
        join {_with_person('resident_moves')} m
          on m.person_key = i.person_key
         and m.updated_at <= i.received_at
         and m.move_date <= i.received_at
        group by all"""


def _missed_checkups_sql() -> str:
    """Checkups whose record in force at receipt says no-show, and not attended in any agency's record."""
    return f"""
        with in_force as (
            select i.agency_id, i.report_id, c.checkup_type, c.status
            from _ml_intakes i
            join {_with_person('checkups')} c
              on c.person_key = i.person_key
             and c.updated_at <= i.received_at
             and c.scheduled_date <= i.received_at
            qualify row_number() over (
                partition by i.agency_id, i.report_id, c.agency_id, c.local_child_id, c.checkup_type
                order by c.updated_at desc, c._delivery_date desc, c._seq desc, c._file desc, c._line desc) = 1)
        select agency_id, report_id, count(*) as missed_checkups
        from (select agency_id, report_id, checkup_type from in_force group by all
              having bool_or(status = 'no_show') and not bool_or(status = 'attended'))
        group by all"""


def _school_entry_sql(birth_date: str) -> str:
    """The April 1 the child enters elementary school, as the dbt macro ``school_entry_date`` computes it
    (the April 1 after turning 6; a child born on April 1 joins the year above)."""
    return (f"make_date(cast(year({birth_date}) - case when {birth_date} <= make_date(year({birth_date}), 4, 1) "
            f"then 1 else 0 end + 7 as integer), 4, 1)")


def _standard_due_dates_sql() -> str:
    """Each scheduled dose's standard-timing due date, for every birth date of the intakes.

    The last day the dose is on time if every earlier dose came on time: birth + ``due_by_age`` - 1 day (the
    seed's "before age X"); without a due-by age, the previous dose's standard due date + ``max_interval``;
    ``year_before_school`` (MR 2nd dose), the day before the child enters elementary school.
    """
    return f"""
        with recursive births as (select distinct birth_date from _ml_intakes where birth_date is not null),
        standard_due(birth_date, programme, vaccine, dose, due_on) as (
            select b.birth_date, s.programme, s.vaccine, s.dose,
                   cast(case when s.timing_basis = 'year_before_school' then {_school_entry_sql('b.birth_date')}
                             else b.birth_date + s.due_by_age end - interval 1 day as date)
            from births b
            join _ml_schedule s on s.timing_basis = 'year_before_school' or s.due_by_age is not null
            union all
            select d.birth_date, s.programme, s.vaccine, s.dose, cast(d.due_on + s.max_interval as date)
            from standard_due d
            join _ml_schedule s
              on s.programme = d.programme and s.vaccine = d.vaccine and s.dose = d.dose + 1
             and s.timing_basis = 'age' and s.due_by_age is null and s.max_interval is not null)
        select * from standard_due"""


def _overdue_immunizations_sql() -> str:
    """Scheduled doses past their standard-timing due date at receipt (``_standard_due_dates_sql``) and not given.

    - A dose is given when a record of its vaccine and dose number was known at receipt; a vaccine is routine
      only for births from ``routine_for_births_from``.
    - Only doses falling due since the records begin (the earliest administration in any agency's records as
      known at receipt) are judged: an older child's infant doses predate the records and say nothing about
      the child.
    - Within a ``programme_group`` a child follows one programme (5-in-1 or 4-in-1 + Hib; rota 2 or 3 doses),
      judged by its own vaccines only. A programme is offered to the child when a dose of one of its vaccines
      is recorded, or when its standard first dose (birth + dose 1's ``earliest_age``) falls within
      [``first_dose_from``, ``first_dose_before``). The group counts the fewest overdue doses among the offered
      programmes (the rank-1 programme's if none is): the child is judged against the programme that fits best.
    """
    return f"""
        with records as (
            select i.agency_id, i.report_id, r.since
            from _ml_intakes i
            asof join (select updated_at, min(administered_date) over (order by updated_at) as since
                       from valid.immunizations_versions) r
              on i.received_at >= r.updated_at),
        known as (
            select distinct i.agency_id, i.report_id, g.vaccine, g.dose
            from _ml_intakes i
            join {_with_person('immunizations')} g
              on g.person_key = i.person_key
             and g.administered_date <= i.received_at
             and g.updated_at <= i.received_at),
        known_vaccines as (select distinct agency_id, report_id, vaccine from known),
        doses as (
            select i.agency_id, i.report_id, s.programme_group, s.programme, s.programme_rank,
                   s.first_dose_from, s.first_dose_before, s.dose,
                   cast(i.birth_date + s.earliest_age as date) as standard_dose_on,
                   d.due_on < cast(i.received_at as date) and d.due_on >= r.since
                       and k.dose is null as overdue,
                   v.vaccine is not null as vaccine_recorded
            from _ml_intakes i
            join records r using (agency_id, report_id)
            join _ml_schedule s on s.routine_for_births_from is null or i.birth_date >= s.routine_for_births_from
            join ({_standard_due_dates_sql()}) d using (birth_date, programme, vaccine, dose)
            left join known k using (agency_id, report_id, vaccine, dose)
            left join known_vaccines v using (agency_id, report_id, vaccine)),
        programmes as (
            select agency_id, report_id, programme_group, programme, programme_rank,
                   count(*) filter (where overdue) as overdue_doses,
                   bool_or(vaccine_recorded) as vaccine_recorded,
                   min(standard_dose_on) filter (where dose = 1) as standard_first_dose_on,
                   any_value(first_dose_from) as first_dose_from,
                   any_value(first_dose_before) as first_dose_before
            from doses
            group by agency_id, report_id, programme_group, programme, programme_rank),
        offered as (
            select *,
                   vaccine_recorded
                   or ((first_dose_from is null or standard_first_dose_on >= first_dose_from)
                       and (first_dose_before is null or standard_first_dose_on < first_dose_before)) as is_offered
            from programmes),
        groups as (
            select agency_id, report_id,
                   coalesce(min(overdue_doses) filter (where is_offered), arg_min(overdue_doses, programme_rank))
                       as overdue_doses
            from offered
            group by agency_id, report_id, programme_group)
        select agency_id, report_id, cast(sum(overdue_doses) as bigint) as overdue_immunizations
        from groups
        group by all"""


def _open_alerts_sql() -> str:
    """Moved / missing notices known at receipt and not followed by a ``found`` notice known by then."""
    return f"""
        with known as (
            select i.agency_id, i.report_id, a.alert_type, a.issued_at, a.agency_id || '/' || a.alert_id as alert
            from _ml_intakes i
            join {_with_person('alerts')} a
              on a.person_key = i.person_key
             and a.updated_at <= i.received_at
             and a.issued_at <= i.received_at),
        last_found as (
            select agency_id, report_id, max(issued_at) as found_at from known where alert_type = 'found'
            group by all)
        select k.agency_id, k.report_id, count(distinct k.alert) as open_alerts
        from known k left join last_found f using (agency_id, report_id)
        where k.alert_type in ('moved', 'missing') and (f.found_at is null or k.issued_at > f.found_at)
        group by all"""


def _first_assessment_sql() -> str:
    """The intake's assessment as first recorded: the earliest assessment of the report, earliest version."""
    items = ", ".join(c.name for c in assessment_items())
    return f"""
        select agency_id, report_id, {items}
        from valid.assessments_versions
        qualify row_number() over (partition by agency_id, report_id
                                   order by assessed_at, assessment_id, updated_at, _delivery_date, _seq) = 1"""


def build_features(con: duckdb.DuckDBPyConnection, scope: Scope = "linked") -> pd.DataFrame:
    """One row per intake report: context columns, assessment items, route, abuse types and numeric features."""
    create_person_keys(con, scope)
    _create_intakes(con)
    _create_schedule(con)
    items = ", ".join(f"a.{c.name}" for c in assessment_items())
    abuse = ", ".join(f"list_contains(string_split(i.abuse_types, ';'), '{t}') as abuse_{t}" for t in abuse_type_codes())
    history = ", ".join(f"coalesce({name}, 0) as {name}" for name in HISTORY_FEATURES)
    sql = f"""
        select i.agency_id, i.report_id, {", ".join(f"i.{c}" for c in CONTEXT_COLUMNS)},
               date_diff('day', i.birth_date, i.received_at) / 365.25 as age_years,
               a.report_id is not null as has_assessment,
               i.route, {abuse}, {items}, {history}
        from _ml_intakes i
        left join ({_first_assessment_sql()}) a using (agency_id, report_id)
        left join ({_report_history_sql()}) using (agency_id, report_id)
        left join ({_moves_sql()}) using (agency_id, report_id)
        left join ({_missed_checkups_sql()}) using (agency_id, report_id)
        left join ({_overdue_immunizations_sql()}) using (agency_id, report_id)
        left join ({_open_alerts_sql()}) using (agency_id, report_id)
        order by i.received_at, i.agency_id, i.report_id"""
    frame = con.execute(sql).df()
    for name in ("has_assessment", *(f"abuse_{t}" for t in abuse_type_codes())):
        frame[name] = frame[name].astype("int8")
    return frame


def feature_names() -> list[str]:
    """The model's input columns, in a fixed order derived from the contracts (never from the data)."""
    names = list(NUMERIC_FEATURES)
    names += [f"abuse_{t}" for t in abuse_type_codes()]
    names += [f"route={code}" for code in route_codes()]
    names += [f"{c.name}={code}" for c in assessment_items() for code in c.codes]
    return names


@cache
def _feature_index() -> pd.Index:
    # Built once: the columns of design_matrix's blocks are in exactly this order.
    return pd.Index(feature_names())


def feature_groups() -> dict[str, str]:
    """Model column -> the input it encodes (a one-hot column belongs to its item), for grouped explanations."""
    groups = {name: name for name in feature_names()}
    for name in groups:
        if "=" in name:
            groups[name] = name.split("=", 1)[0]
    return groups


def _categorical_inputs() -> list[tuple[str, tuple[str, ...]]]:
    return [("route", route_codes())] + [(c.name, c.codes) for c in assessment_items()]


def design_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """The model input: numeric columns as they are, categorical ones one-hot (a missing item is all zeros).

    Built with numpy in a few bulk operations: scoring one intake must stay within milliseconds.
    """
    numeric = [*NUMERIC_FEATURES, *(f"abuse_{t}" for t in abuse_type_codes())]
    categorical = _categorical_inputs()
    blocks = [features[numeric].to_numpy(dtype=np.float64)]
    values = features[[name for name, _ in categorical]].to_numpy(dtype=object)
    for j, (_, codes) in enumerate(categorical):
        blocks.append((values[:, j, None] == np.array(codes, dtype=object)[None, :]).astype(np.float64))
    return pd.DataFrame(np.hstack(blocks), columns=_feature_index(), index=features.index)


@cache
def _group_index() -> pd.Index:
    return pd.Index(sorted(set(feature_groups().values())))


def feature_values(features: pd.DataFrame) -> pd.DataFrame:
    """The human-readable value of each feature group (an item's code, a count), for explanations."""
    values = features[_group_index()].to_numpy(dtype=object)
    values[pd.isna(values)] = "missing"
    return pd.DataFrame(values, columns=_group_index(), index=features.index, dtype=object)


def age_band(age_years: pd.Series) -> pd.Series:
    """The age bands of the national statistics: 0-2, 3 to school age, elementary school, older."""
    bands = pd.cut(age_years, bins=[-np.inf, 3, 7, 13, np.inf], right=False, labels=["0-2", "3-6", "7-12", "13+"])
    return bands.astype("string")
