"""One child's health record as a FHIR Bundle (type ``collection``), following the JP Core profiles where they apply.

Built and validated with ``fhir.resources`` 8.3's R4B models (the package ships R4B, not R4; Patient, Immunization,
ImmunizationRecommendation, Observation and Bundle are the same in R4 and R4B, and the bundle's JSON is what an R4
system such as the receiving municipality's or マイナポータル takes). The bundle holds:

- ``Patient`` (profile JP_Patient): the pseudonymous person key as identifier (``PERSON_KEY_SYSTEM``), the birth
  year and month (a FHIR partial date: the marts keep no exact birth date) and sex;
- one ``Immunization`` (JP_Immunization) per dose given by the record's as-of date: the vaccine coded in
  ``VACCINE_SYSTEM``, the platform's code system, whose codes are the immunizations feed's vaccine codes
  (../shared/spec/source-feeds.md: hib, pcv, hepb, rota, dpt_ipv_hib, dpt_ipv, bcg, mr, var, je) with their
  Japanese names as display; the dose number and the programme (``protocolApplied``); the reporting municipality;
- one ``Observation`` (JP_Observation_BodyMeasurement) per growth measurement of an attended checkup: LOINC
  29463-7 body weight (kg), 8302-2 body height (cm), 9843-4 head circumference (cm), UCUM units;
- one ``ImmunizationRecommendation`` with each dose not given and its status as of the record's date (coded in
  ``STATUS_SYSTEM``, and in HL7's immunization-recommendation-status where it is due or overdue) and dates (LOINC
  30981-5 earliest date to give, 59778-1 date when overdue, 59777-3 latest date to give).
"""
from __future__ import annotations

import datetime as dt
import uuid

from fhir.resources.R4B.bundle import Bundle

from kodomo.health.record import DONE, DUE, OVERDUE, Checkup, Dose, HealthRecord

JP_CORE = "http://jpfhir.jp/fhir/core/StructureDefinition/"
JP_PATIENT, JP_IMMUNIZATION = JP_CORE + "JP_Patient", JP_CORE + "JP_Immunization"
JP_BODY_MEASUREMENT = JP_CORE + "JP_Observation_BodyMeasurement"
PERSON_KEY_SYSTEM = "urn:kodomo:person-key"
AGENCY_SYSTEM = "urn:kodomo:agency-id"
VACCINE_SYSTEM = "urn:kodomo:vaccine"
STATUS_SYSTEM = "urn:kodomo:immunization-status"
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
HL7_RECOMMENDATION_STATUS = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
VACCINES = {
    "hib": "ヒブ", "pcv": "小児用肺炎球菌", "hepb": "B型肝炎", "rota": "ロタウイルス", "dpt_ipv_hib": "5種混合",
    "dpt_ipv": "4種混合", "bcg": "BCG", "mr": "麻しん風しん混合（MR）", "var": "水痘", "je": "日本脳炎",
}
#: Growth measurement -> (LOINC code, display, UCUM unit).
MEASUREMENTS = {
    "weight_kg": ("29463-7", "Body weight", "kg"),
    "height_cm": ("8302-2", "Body height", "cm"),
    "head_circumference_cm": ("9843-4", "Head Occipital-frontal circumference", "cm"),
}
SEX = {"1": "male", "2": "female", "9": "unknown"}
DATE_CRITERIA = (("eligible_from", "30981-5", "Earliest date to give"),
                 ("overdue_from", "59778-1", "Date when overdue for immunization"),
                 ("window_ends_on", "59777-3", "Latest date to give immunization"))


def _urn(record: HealthRecord, *parts) -> str:
    """A stable urn:uuid for one resource of the record (the same record gives the same bundle)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, ("kodomo-health", record.person_key, *parts)))).urn


def _patient(record: HealthRecord) -> dict:
    patient = {"resourceType": "Patient", "meta": {"profile": [JP_PATIENT]},
               "identifier": [{"system": PERSON_KEY_SYSTEM, "value": record.person_key}],
               "gender": SEX.get(record.sex or "9", "unknown")}
    if record.birth_year_month:
        patient["birthDate"] = record.birth_year_month
    return patient


def _vaccine(dose: Dose) -> dict:
    return {"coding": [{"system": VACCINE_SYSTEM, "code": dose.vaccine, "display": VACCINES[dose.vaccine]}],
            "text": VACCINES[dose.vaccine]}


def _immunization(dose: Dose, patient: str) -> dict:
    immunization = {
        "resourceType": "Immunization", "meta": {"profile": [JP_IMMUNIZATION]}, "status": "completed",
        "vaccineCode": _vaccine(dose), "patient": {"reference": patient},
        "occurrenceDateTime": dose.administered_on.isoformat(), "primarySource": False,
        "protocolApplied": [{"series": dose.programme, "doseNumberPositiveInt": dose.dose}],
    }
    if dose.agency_id:
        immunization["performer"] = [{"actor": {"identifier": {"system": AGENCY_SYSTEM, "value": dose.agency_id}}}]
    return immunization


def _observations(checkup: Checkup, patient: str) -> list[dict]:
    if checkup.exam_date is None:
        return []
    return [{
        "resourceType": "Observation", "meta": {"profile": [JP_BODY_MEASUREMENT]}, "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]},
        "subject": {"reference": patient}, "effectiveDateTime": checkup.exam_date.isoformat(),
        "valueQuantity": {"value": round(float(value), 1), "unit": unit, "system": UCUM, "code": unit},
        "performer": [{"identifier": {"system": AGENCY_SYSTEM, "value": checkup.agency_id}}],
    } for field, (loinc, display, unit) in MEASUREMENTS.items() if (value := getattr(checkup, field)) is not None]


def _recommendation(record: HealthRecord, patient: str) -> dict | None:
    pending = [d for d in record.doses if d.status != DONE]
    if not pending:
        return None
    recommendations = []
    for dose in pending:
        status = [{"system": STATUS_SYSTEM, "code": dose.status}]
        if dose.status in (DUE, OVERDUE):
            status.append({"system": HL7_RECOMMENDATION_STATUS, "code": dose.status})
        dates = {"eligible_from": dose.eligible_from, "window_ends_on": dose.window_ends_on,
                 # never overdue when the standard period runs to the window's end (missed then)
                 "overdue_from": dose.due_by + dt.timedelta(days=1)
                 if dose.due_by and (dose.window_ends_on is None or dose.due_by < dose.window_ends_on) else None}
        recommendation = {"vaccineCode": [_vaccine(dose)], "doseNumberPositiveInt": dose.dose, "series": dose.programme,
                          "forecastStatus": {"coding": status, "text": dose.status}}
        criteria = [{"code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                     "value": dates[name].isoformat()}
                    for name, code, display in DATE_CRITERIA if dates[name] is not None]
        if criteria:
            recommendation["dateCriterion"] = criteria
        recommendations.append(recommendation)
    return {"resourceType": "ImmunizationRecommendation", "patient": {"reference": patient},
            "date": record.as_of.isoformat(), "recommendation": recommendations}


def fhir_bundle(record: HealthRecord) -> dict:
    """The record as a FHIR Bundle (JSON-ready dict), validated by ``fhir.resources``: a bundle it cannot parse
    raises (pydantic's ValidationError) rather than being written."""
    patient = _urn(record, "Patient")
    entries = [(patient, _patient(record))]
    entries += [(_urn(record, "Immunization", d.vaccine, d.dose), _immunization(d, patient)) for d in record.given]
    for checkup in record.checkups:
        entries += [(_urn(record, "Observation", checkup.agency_id, checkup.checkup_type,
                          observation["code"]["coding"][0]["code"]), observation)
                    for observation in _observations(checkup, patient)]
    if recommendation := _recommendation(record, patient):
        entries.append((_urn(record, "ImmunizationRecommendation", record.as_of), recommendation))
    bundle = {"resourceType": "Bundle", "identifier": {"system": PERSON_KEY_SYSTEM,
                                                       "value": f"{record.person_key}/{record.as_of.isoformat()}"},
              "type": "collection", "timestamp": dt.datetime.combine(record.as_of, dt.time(), dt.UTC).isoformat(),
              "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries]}
    return Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)
