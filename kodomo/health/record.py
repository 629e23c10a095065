"""One child's health record from ``marts.child_health_record``, with the immunization statuses as of any date.

The mart holds each scheduled dose's dates (due from, overdue after, legal window end, when the schedule leaves it
to the health centre, whether the records can hold it) and its status as of the data's end. The status as of
another date is the dbt macro ``immunization_status`` rendered here from ``dbt_project/macros`` and run over the
mart's columns: the rules exist once, in the seed and the macros; nothing here restates them. The statuses only
use what was on record by the date (a dose given later is not done).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

import duckdb
import jinja2

from kodomo.dbt_sources import DBT_PROJECT_DIR

HEALTH_RECORD = "marts.child_health_record"
CHILD = "marts.child"
STATUS_MACROS = DBT_PROJECT_DIR / "macros" / "immunization_status.sql"
DONE, DUE, OVERDUE, MISSED_WINDOW = "done", "due", "overdue", "missed_window"
ASK_HEALTH_CENTRE, NOT_ON_RECORD, NOT_YET_DUE = "ask_health_centre", "not_on_record", "not_yet_due"
#: Every status the macro gives, in the order a health nurse reads them.
STATUSES = (DONE, DUE, OVERDUE, MISSED_WINDOW, ASK_HEALTH_CENTRE, NOT_ON_RECORD, NOT_YET_DUE)
#: Doses to act on now.
ACTIONABLE = (OVERDUE, DUE, ASK_HEALTH_CENTRE)


class NoHealthRecord(LookupError):
    """The warehouse holds no checkup or immunization record of the child."""


@dataclass(frozen=True)
class Checkup:
    agency_id: str
    checkup_type: str  # m4 / m18 / y3
    scheduled_date: dt.date | None
    status: str  # attended / no_show / scheduled
    exam_date: dt.date | None
    age_months: int | None
    height_cm: float | None
    weight_kg: float | None
    head_circumference_cm: float | None
    bmi: float | None
    height_gain_cm: float | None
    weight_gain_kg: float | None
    result: str | None  # normal / observe / refer / treatment


@dataclass(frozen=True)
class Dose:
    programme: str
    vaccine: str
    dose: int
    eligible_from: dt.date | None  # due from
    due_by: dt.date | None  # overdue after
    window_ends_on: dt.date | None  # legal window: missed after
    administered_on: dt.date | None  # given on or before the record's as-of date
    agency_id: str | None  # the municipality that reported it
    status: str


@dataclass(frozen=True)
class HealthRecord:
    person_key: str
    birth_year_month: str | None  # YYYY-MM: the marts keep no exact birth date
    sex: str | None  # 1 male, 2 female, 9 unknown (source-feeds.md)
    as_of: dt.date
    checkups: tuple[Checkup, ...]  # oldest first
    doses: tuple[Dose, ...]  # in schedule order

    @property
    def given(self) -> tuple[Dose, ...]:
        return tuple(d for d in self.doses if d.status == DONE)

    @property
    def due_next(self) -> tuple[Dose, ...]:
        """What to do next: the doses overdue, due or for the health centre to settle, then the doses that fall
        due soonest after the as-of date (those with a date)."""
        now = sorted((d for d in self.doses if d.status in ACTIONABLE),
                     key=lambda d: (ACTIONABLE.index(d.status), d.due_by or dt.date.max, d.vaccine, d.dose))
        upcoming = [d for d in self.doses if d.status == NOT_YET_DUE and d.eligible_from is not None
                    and d.eligible_from > self.as_of]
        if upcoming:
            first = min(d.eligible_from for d in upcoming)
            now += sorted((d for d in upcoming if d.eligible_from == first), key=lambda d: (d.vaccine, d.dose))
        return tuple(now)

    def status_counts(self) -> dict[str, int]:
        return {s: n for s in STATUSES if (n := sum(d.status == s for d in self.doses))}


@cache
def status_sql(as_of: str = "$as_of") -> str:
    """The SQL expression of the dbt macro ``immunization_status`` as of ``as_of`` (a SQL date expression)."""
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        STATUS_MACROS.read_text(encoding="utf-8") + "{{ immunization_status(as_of) }}")
    return template.render(as_of=as_of).strip()


def statuses_as_of(con: duckdb.DuckDBPyConnection, person_keys: list[str], as_of: dt.date):
    """Every scheduled dose of the children, with its status as of ``as_of`` by the macro: a DataFrame of the
    mart's immunization rows with ``immunization_status`` and ``status_as_of`` recomputed."""
    return con.execute(f"""
        select * replace (
            cast($as_of as date) as status_as_of,
            {status_sql('cast($as_of as date)')} as immunization_status,
            case when administered_on <= cast($as_of as date) then administered_on end as administered_on,
            case when administered_on <= cast($as_of as date) then agency_id end as agency_id)
        from {HEALTH_RECORD}
        where record_type = 'immunization' and list_contains($keys, person_key)
        order by person_key, programme, vaccine, dose""", {"as_of": as_of, "keys": list(person_keys)}).df()


def data_end(con: duckdb.DuckDBPyConnection) -> dt.date:
    """The date the mart's statuses are computed as of (the data's end)."""
    found = con.execute(f"select max(status_as_of) from {HEALTH_RECORD}").fetchone()[0]
    if found is None:
        raise NoHealthRecord(f"{HEALTH_RECORD} holds no immunization rows: run the pipeline first")
    return found


def _value(value):
    """pandas' missing values (NaN, NaT, <NA>) as None; numpy scalars as Python ones."""
    if value is None:
        return None
    try:
        import pandas as pd
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    return value.item() if hasattr(value, "item") else value


def health_record(con: duckdb.DuckDBPyConnection, person_key: str, as_of: dt.date | None = None) -> HealthRecord:
    """The child's checkups and growth, and every scheduled dose with its status as of ``as_of`` (default: the
    data's end). Only what happened by ``as_of`` counts: later checkups and doses are left out. Reads the marts
    only; who may call it is decided in ``kodomo.health.access`` and ``kodomo.health.store``."""
    as_of = as_of or data_end(con)
    child = con.execute(f"select birth_year_month, sex from {CHILD} where person_key = ?", [person_key]).fetchone()
    checkups = con.execute(f"""
        select agency_id, checkup_type, scheduled_date, checkup_status, exam_date, age_months_at_exam, height_cm,
               weight_kg, head_circumference_cm, bmi, height_gain_cm, weight_gain_kg, checkup_result
        from {HEALTH_RECORD}
        where record_type = 'checkup' and person_key = $key
            and coalesce(exam_date, scheduled_date) <= $as_of
        order by coalesce(exam_date, scheduled_date), checkup_type, agency_id""",
                           {"key": person_key, "as_of": as_of}).fetchall()
    doses = statuses_as_of(con, [person_key], as_of)
    if child is None or (not checkups and doses.empty):
        raise NoHealthRecord(f"no health record of child {person_key} as of {as_of}")
    return HealthRecord(
        person_key=person_key, birth_year_month=child[0], sex=child[1], as_of=as_of,
        checkups=tuple(Checkup(*[_value(v) for v in row]) for row in checkups),
        doses=tuple(Dose(*(_value(row[c]) for c in ("programme", "vaccine", "dose", "eligible_from", "due_by",
                                                      "window_ends_on", "administered_on", "agency_id",
                                                      "immunization_status")))
                    for _, row in doses.iterrows()))
