"""New intakes scored as the app scores one a caseworker enters, and ``kodomo score --batch FILE --json``.

One path for both: ``assess_entry`` (the app, one intake) and ``score_valid`` (the command line, a batch) run
``assess``. Each intake, typed by the ingestion's own row checks (``validate``), is

1. identified with the linkage's own trained model (``kodomo.linkage.identify``: blocked candidates scored with
   the saved Splink model's weights, grouped by child, with the evidence for the worker), or given the child the
   worker confirmed;
2. given its point-in-time features by the marts' own SQL (``ml.online_features``, one query for a batch);
3. scored by the champion with its reasons (``RiskModel.explain``, as ``ml.scoring`` does for ``ml.intake_scores``),
   the interval of its probability (``ml.calibrate``), its band, the missing items and their what-ifs, and the
   official checklist's verdict (``ml.assessment``). Nothing is stored.

Without a champion the checklist still stands and the risk fields are None.

Bands (the one place they are defined): ``low`` below the base rate (the outcome's share among the champion's
training intakes), ``medium`` from the base rate up to the champion's review threshold, ``high`` at or above it.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pandas as pd

from kodomo.contracts import contract
from kodomo.ingest.validate import check_rows
from kodomo.linkage.identify import EXISTING, NEW, Candidate, Identification, LinkageModel, NewRecord, identify_records
from kodomo.linkage.identify import load_model as load_linkage_model
from kodomo.linkage.pipeline import MODEL_FILE
from kodomo.settings import Settings, get_settings
from ml.assessment import WHAT_IF_COLUMNS, checklist, missing_items, what_ifs
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

    def interval(self, probability: float) -> tuple[float, float] | None:
        """The 95 % interval of the calibrated probability (``ml.calibrate``); None for a version registered
        before intervals were kept."""
        return self.model.interval(probability)


def champion_version(settings: Settings) -> str | None:
    """The version the champion alias points at now (a few milliseconds): what a long-lived process compares to
    the champion it holds, so that a run promoting another version is followed without a restart."""
    from ml.registry import CHAMPION, connect, version_by_alias  # MLflow: imported when scoring

    found = version_by_alias(connect(settings), CHAMPION)
    return None if found is None else str(found.version)


def load_champion(settings: Settings, version: str | None = None) -> Champion | None:
    """The registry's champion (or the given version of it) with its base rate; None when no model has been
    promoted."""
    from ml.registry import CHAMPION, MODEL_NAME, connect, load_version, version_by_alias

    client = connect(settings)
    version = (version_by_alias(client, CHAMPION) if version is None
               else client.get_model_version(MODEL_NAME, version))
    if version is None:
        return None
    params = client.get_run(version.run_id).data.params
    base_rate = float(params[f"{TRAIN}_positives"]) / float(params[f"{TRAIN}_intakes"])
    return Champion(load_version(client, version), str(version.version), base_rate)


class InvalidLine(ValueError):
    """An input line that is not an intake: the message names the field."""


def report_contract():
    reports = contract("case_reports")
    person = {c.name: c for c in reports.columns}
    return dataclasses.replace(reports, columns=tuple(person[c] for c in REPORT_FIELDS.values()), rules=())


def items_contract():
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
    reports = check_rows(report_contract(), raw[list(REPORT_FIELDS.values())], None, agencies)
    items = check_rows(items_contract(), raw[[c.name for c in assessment_items()]], None, agencies)
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


@dataclass(frozen=True)
class LiveAssessment:
    """What the intake page shows for an intake entered now (and ``kodomo score`` prints)."""

    features: pd.DataFrame               # one row, columns as marts.intake_features
    candidates: tuple[Candidate, ...]    # best first (may be empty)
    person_key: str
    match: str                           # 'existing' | 'new', as used for the features
    risk_score: float | None
    interval: tuple[float, float] | None
    band: str | None
    reasons: list[dict]
    missing: list[str]
    what_ifs: pd.DataFrame               # ml.assessment.what_ifs; empty without a champion
    checklist_verdict: str
    model_version: str | None


def linkage_model(con: duckdb.DuckDBPyConnection) -> LinkageModel | None:
    """The batch's saved linkage model (None on a landing too small to train one)."""
    return load_linkage_model(get_settings().linkage_dir / MODEL_FILE, con)


def _new_record(row) -> NewRecord:
    return NewRecord(agency_id=row["agency_id"], report_id=row["report_id"], name=row["child_name"],
                     kana=row["child_kana"], birth_date=pd.Timestamp(row["birth_date"]).date(), sex=row["sex"],
                     municipality_code=None if pd.isna(row["address_municipality_code"])
                     else row["address_municipality_code"])


def _confirmed(con: duckdb.DuckDBPyConnection, found: Identification, person_key: str) -> Identification:
    """The worker's choice: a child of the warehouse (existing) or a key of their own (new)."""
    known = con.execute("select count(*) from linkage.person_links where person_key = ?", [person_key]).fetchall()
    return Identification(person_key, EXISTING if known[0][0] else NEW, found.candidates)


def assess(con: duckdb.DuckDBPyConnection, champion: Champion | None, intakes: pd.DataFrame,
           person_keys: list[str | None] | None = None, with_what_ifs: bool = True) -> list[LiveAssessment]:
    """Identify, compute the features of and score valid intakes (typed values), in their order.

    ``person_keys[i]``, when given, is the child the worker confirmed for intake ``i``; identification still
    lists the candidates beside it."""
    identified = identify_records(con, linkage_model(con), [_new_record(row) for _, row in intakes.iterrows()])
    chosen = person_keys or [None] * len(intakes)
    found = [_confirmed(con, who, key) if key else who for who, key in zip(identified, chosen)]
    items = [c.name for c in assessment_items()]
    frame = intakes[["agency_id", "report_id", "received_at", "birth_date", "route", "abuse_types", *items]].assign(
        person_key=[f.person_key for f in found]).reset_index(drop=True)
    features = frame[["agency_id", "report_id"]].merge(online_features(con, frame), on=["agency_id", "report_id"],
                                                       how="left")
    if champion is not None:
        probability, reasons = champion.model.explain(design_matrix(features), feature_values(features))
    results = []
    for i, who in enumerate(found):
        one = features.iloc[[i]].reset_index(drop=True)
        p = float(probability[i]) if champion is not None else None
        results.append(LiveAssessment(
            features=one, candidates=who.candidates, person_key=who.person_key, match=who.match,
            risk_score=p, interval=champion.interval(p) if champion is not None else None,
            band=champion.band(p) if champion is not None else None,
            reasons=reasons[i] if champion is not None else [], missing=missing_items(one),
            what_ifs=what_ifs(champion.model, one) if champion is not None and with_what_ifs
            else pd.DataFrame(columns=WHAT_IF_COLUMNS),
            checklist_verdict=VERDICTS[checklist(one)[1]],
            model_version=champion.version if champion is not None else None))
    return results


def assess_entry(con: duckdb.DuckDBPyConnection, champion: Champion | None, typed: pd.DataFrame,
                 person_key: str | None = None) -> LiveAssessment:
    """One intake entered in the app: ``typed`` is its one row as ``validate`` returns it; ``person_key`` the
    child the worker confirmed (or a new key), else identification decides."""
    if len(typed) != 1:
        raise ValueError(f"assess_entry takes one intake, not {len(typed)}")
    return assess(con, champion, typed, [person_key])[0]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def as_output(assessment: LiveAssessment) -> dict:
    """The ``kodomo score`` output of an assessment: the spec's keys, then ``interval`` and ``candidates``."""
    return {
        "risk_score": None if assessment.risk_score is None else round(assessment.risk_score, 6),
        "band": assessment.band, "person_key": assessment.person_key, "match": assessment.match,
        "reasons": assessment.reasons, "missing": assessment.missing,
        "checklist_verdict": assessment.checklist_verdict, "model_version": assessment.model_version,
        "interval": None if assessment.interval is None else [round(v, 6) for v in assessment.interval],
        "candidates": [{"person_key": c.person_key, "probability": round(c.probability, 6),
                        "match_weight": _finite(round(c.match_weight, 4)), "agencies": list(c.agencies),
                        "agreeing": list(c.agreeing), "differing": list(c.differing)} for c in assessment.candidates],
    }


def score_valid(con: duckdb.DuckDBPyConnection, champion: Champion | None, intakes: pd.DataFrame) -> list[dict]:
    """``kodomo score``'s output of valid intakes (typed values), in their order: ``assess`` without what-ifs."""
    return [as_output(a) for a in assess(con, champion, intakes, with_what_ifs=False)]


def score_lines(con: duckdb.DuckDBPyConnection, champion: Champion | None, lines: Iterable[str]) -> list[dict]:
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


def intake_lines(con: duckdb.DuckDBPyConnection, limit: int | None = None,
                 every_intake: bool = False) -> list[tuple[str, str, str]]:
    """(agency_id, report_id, input line) of the scored intakes (``ml.intake_scores``: the open ones), or of every
    intake of the warehouse, as a caseworker would have entered them: the report as first recorded."""
    scored = "" if every_intake else "semi join ml.intake_scores s using (agency_id, report_id)"
    items = [c.name for c in assessment_items()]
    rows = con.execute(f"""
        with first_version as (
            select * from staging.stg_case_reports
            qualify row_number() over (partition by agency_id, report_id order by updated_at, delivered_on) = 1)
        select i.agency_id, i.report_id, i.received_at, i.route, i.abuse_types, r.child_name, r.child_kana,
               r.birth_date, r.sex, r.address_municipality_code, {", ".join(f"i.{c}" for c in items)}
        from intermediate.int_intakes i
        join first_version r using (agency_id, report_id)
        {scored}
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
