"""New intakes scored as the app scores one a caseworker enters: ``kodomo score --batch FILE --json``.

Each input line (command-line.md, "Input lines of kodomo score") is validated against the contracts by the
ingestion's own row checks, the child is identified, the intake's point-in-time features are computed by the
marts' own SQL (``ml.online_features``, one query for the whole batch) and the champion scores them with its
reasons (``RiskModel.explain``, as ``ml.scoring`` does for ``ml.intake_scores``). Nothing is stored.

Identification is deliberately simple here: the child is ``existing`` when a child record of
``linkage.person_records`` agrees on the folded kana (or, failing that, the folded kanji name), the birth
date and the sex (an unknown sex, ``9``, agrees with any), normalised by the linkage's own functions; among
several such children the one with the most agreeing records wins (ties: the smallest key). Otherwise the
child is ``new`` with a fresh pseudonymous key made from the intake's own ID. Identifying with the trained
Splink model (fuzzy names, day/month swaps, surname changes) is the next step.

Bands (the one place they are defined): ``low`` below the base rate (the outcome's share among the champion's
training intakes), ``medium`` from the base rate up to the champion's review threshold, ``high`` at or above it.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pandas as pd

from ml.assessment import checklist, missing_items
from kodomo.contracts import contract
from kodomo.ingest.validate import check_rows
from kodomo.linkage.cluster import person_key as pseudonymous_key
from kodomo.linkage.records import NODE_SEPARATOR
from kodomo.parsing.text import fold_kana, fold_kanji
from kodomo.settings import Settings
from ml.checklist import EMERGENCY_PROTECTION, INTENSIVE_SUPPORT, NO_CONCERN, PROTECTION_BEFORE_NEXT_INCIDENT
from ml.features import assessment_items, design_matrix, feature_values
from ml.model import RiskModel
from ml.online_features import online_features
from ml.split import TRAIN

#: Input field of a line -> the contract column it is checked as (case_reports' columns and person fields).
REPORT_FIELDS = {
    "agency_id": "agency_id", "report_id": "report_id", "received_at": "received_at", "route": "route",
    "abuse_types": "abuse_types", "child.name": "child_name", "child.kana": "child_kana",
    "child.birth_date": "birth_date", "child.sex": "sex", "child.address_municipality_code": "address_municipality_code",
}
CHILD_FIELDS = ("name", "kana", "birth_date", "sex", "address_municipality_code")
UNKNOWN_SEX = "9"
VERDICTS = {EMERGENCY_PROTECTION: "emergency_protection", PROTECTION_BEFORE_NEXT_INCIDENT: "protection_before_next_incident",
            INTENSIVE_SUPPORT: "intensive_support", NO_CONCERN: "no_concern"}


@dataclass(frozen=True)
class Champion:
    model: RiskModel
    version: str
    base_rate: float

    def band(self, probability: float) -> str:
        if probability >= self.model.review_threshold:
            return "high"
        return "medium" if probability >= self.base_rate else "low"


def load_champion(settings: Settings) -> Champion | None:
    """The registry's champion with its base rate, or None when no model has been promoted."""
    from ml.registry import CHAMPION, connect, load_version, version_by_alias  # MLflow: imported when scoring

    client = connect(settings)
    version = version_by_alias(client, CHAMPION)
    if version is None:
        return None
    params = client.get_run(version.run_id).data.params
    base_rate = float(params[f"{TRAIN}_positives"]) / float(params[f"{TRAIN}_intakes"])
    return Champion(load_version(client, version), str(version.version), base_rate)


class InvalidLine(ValueError):
    """An input line that is not an intake: the message names the field."""


def _report_contract():
    reports = contract("case_reports")
    person = {c.name: c for c in reports.columns}
    return dataclasses.replace(reports, columns=tuple(person[c] for c in REPORT_FIELDS.values()), rules=())


def _items_contract():
    # A missing item means not recorded: every item is optional here.
    items = tuple(dataclasses.replace(c, required=False) for c in assessment_items())
    return dataclasses.replace(contract("assessments"), columns=items, rules=())


def _text(value, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        raise InvalidLine(f"{field}: expected a single value, not {json.dumps(value, ensure_ascii=False)}")
    return str(value)


def raw_fields(text: str) -> dict[str, str]:
    """One line's values as the raw strings a feed would carry (contract column -> text); structure checked."""
    try:
        line = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidLine(f"not a JSON object: {exc.msg}") from None
    if not isinstance(line, dict):
        raise InvalidLine("not a JSON object")
    child, assessment = line.get("child") or {}, line.get("assessment") or {}
    if not isinstance(child, dict):
        raise InvalidLine("child: expected an object")
    if not isinstance(assessment, dict):
        raise InvalidLine("assessment: expected an object")
    items = {c.name for c in assessment_items()}
    unknown = sorted(set(assessment) - items)
    if unknown:
        raise InvalidLine(f"assessment.{unknown[0]}: not an item of the assessments contract")
    abuse = line.get("abuse_types")
    if abuse is not None and not isinstance(abuse, list):
        raise InvalidLine("abuse_types: expected a list of codes")
    separator = contract("case_reports").column("abuse_types").separator
    raw = {column: _text(child.get(field.removeprefix("child.")) if field.startswith("child.") else line.get(field),
                         field)
           for field, column in REPORT_FIELDS.items() if field != "abuse_types"}
    raw["abuse_types"] = separator.join(_text(t, "abuse_types") for t in abuse or ())
    raw.update({name: _text(assessment.get(name), f"assessment.{name}") for name in items})
    return raw


def _field_name(column: str) -> str:
    reverse = {c: f for f, c in REPORT_FIELDS.items()}
    return reverse.get(column, f"assessment.{column}")


def validate(raw: pd.DataFrame, agencies: frozenset[str]) -> tuple[pd.DataFrame, pd.Series]:
    """Typed values of the rows, and per row its error (None when valid), by the ingestion's contract checks."""
    reports = check_rows(_report_contract(), raw[list(REPORT_FIELDS.values())], None, agencies)
    items = check_rows(_items_contract(), raw[[c.name for c in assessment_items()]], None, agencies)
    errors = []
    for i in raw.index:
        found = [v for v in (reports.violations[i], items.violations[i]) if not pd.isna(v)]
        if not found:
            errors.append(None)
            continue
        column, rule = found[0].split(";")[0].split(":")
        value = raw.at[i, column]
        errors.append(f"{_field_name(column)}: {rule.replace('_', ' ')}" + (f" ({value!r})" if value else ""))
    return pd.concat([reports.values, items.values], axis=1), pd.Series(errors, index=raw.index, dtype=object)


def identify(con: duckdb.DuckDBPyConnection, intakes: pd.DataFrame) -> pd.DataFrame:
    """``person_key`` and ``match`` (existing / new) per intake; see the module's docstring for the rule."""
    records = con.execute("""
        select r.full_kana, r.full_name, r.birth_date, r.sex, l.person_key
        from linkage.person_records r join linkage.person_links l using (agency_id, local_child_id)""").df()
    keys, matches = [], []
    for row in intakes.itertuples():
        birth = row.birth_date.strftime("%Y-%m-%d")
        same = records[(records["birth_date"] == birth)
                       & (records["sex"].isna() | (records["sex"] == row.sex) | (row.sex == UNKNOWN_SEX))]
        kana = fold_kana(row.child_kana).replace(" ", "")
        found = same[same["full_kana"] == kana]
        if found.empty:
            found = same[same["full_name"] == fold_kanji(row.child_name)]
        if found.empty:
            keys.append(pseudonymous_key(f"{row.agency_id}{NODE_SEPARATOR}new:{row.report_id}"))
            matches.append("new")
        else:
            counts = found.groupby("person_key").size().reset_index(name="n")
            keys.append(counts.sort_values(["n", "person_key"], ascending=[False, True])["person_key"].iloc[0])
            matches.append("existing")
    return pd.DataFrame({"person_key": keys, "match": matches}, index=intakes.index)


def score_valid(con: duckdb.DuckDBPyConnection, champion: Champion, intakes: pd.DataFrame) -> list[dict]:
    """Identify, compute the features of and score valid intakes (typed values), in their order."""
    who = identify(con, intakes)
    items = [c.name for c in assessment_items()]
    frame = intakes[["agency_id", "report_id", "received_at", "birth_date", "route", "abuse_types", *items]].assign(
        person_key=who["person_key"])
    features = online_features(con, frame.reset_index(drop=True))
    features = frame[["agency_id", "report_id"]].reset_index(drop=True).merge(features, on=["agency_id", "report_id"],
                                                                              how="left")
    probability, reasons = champion.model.explain(design_matrix(features), feature_values(features))
    results = []
    for i in range(len(features)):
        one = features.iloc[[i]]
        p = float(probability[i])
        results.append({"risk_score": round(p, 6), "band": champion.band(p), "person_key": who["person_key"].iloc[i],
                        "match": who["match"].iloc[i], "reasons": reasons[i], "missing": missing_items(one),
                        "checklist_verdict": VERDICTS[checklist(one)[1]], "model_version": champion.version})
    return results


def score_lines(con: duckdb.DuckDBPyConnection, champion: Champion, lines: Iterable[str]) -> list[dict]:
    """One result per input line, in order: the scored intake, or ``{"line", "error"}``."""
    out: dict[int, dict] = {}
    raw_rows: dict[int, dict[str, str]] = {}
    for number, text in enumerate(lines, start=1):
        try:
            raw_rows[number] = raw_fields(text)
        except InvalidLine as exc:
            out[number] = {"line": number, "error": str(exc)}
    if raw_rows:
        agencies = frozenset(r[0] for r in con.execute("select agency_id from valid.agencies").fetchall())
        raw = pd.DataFrame.from_dict(raw_rows, orient="index")
        values, errors = validate(raw, agencies)
        for number, error in errors.dropna().items():
            out[number] = {"line": number, "error": error}
        valid = values[errors.isna()]
        if len(valid):
            for number, result in zip(valid.index, score_valid(con, champion, valid)):
                out[number] = {"line": int(number), **result}
    return [out[n] for n in sorted(out)]


def intake_lines(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> list[tuple[str, str, str]]:
    """(agency_id, report_id, input line) of the scored intakes, as a caseworker would have entered them."""
    items = [c.name for c in assessment_items()]
    rows = con.execute(f"""
        with first_version as (
            select * from staging.stg_case_reports
            qualify row_number() over (partition by agency_id, report_id order by updated_at, delivered_on) = 1)
        select i.agency_id, i.report_id, i.received_at, i.route, i.abuse_types, r.child_name, r.child_kana,
               r.birth_date, r.sex, r.address_municipality_code, {", ".join(f"i.{c}" for c in items)}
        from ml.intake_scores s
        join intermediate.int_intakes i using (agency_id, report_id)
        join first_version r using (agency_id, report_id)
        order by i.received_at, i.agency_id, i.report_id
        {f"limit {int(limit)}" if limit else ""}""").fetchall()
    lines = []
    for row in rows:
        agency, report, received, route, abuse, *child, = row[:10]
        line = {"agency_id": agency, "report_id": report, "received_at": received.isoformat(sep=" "),
                "route": route, "abuse_types": abuse.split(";"),
                "child": dict(zip(CHILD_FIELDS, [child[0], child[1], child[2].isoformat(), child[3], child[4]])),
                "assessment": {c: v for c, v in zip(items, row[10:]) if v is not None}}
        lines.append((agency, report, json.dumps(line, ensure_ascii=False)))
    return lines
