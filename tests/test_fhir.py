"""The FHIR export of the health record on a generated `small` world: every child's bundle parses and validates
with ``fhir.resources`` (R4B models), with one Immunization per valid immunization record, one Observation per
growth measurement, and JP Core profiles; ``kodomo export-health`` writes it."""
from __future__ import annotations

import json

import duckdb
import pytest
from fhir.resources.R4B.bundle import Bundle

from kodomo.cli import main
from kodomo.health.fhir import JP_BODY_MEASUREMENT, JP_IMMUNIZATION, JP_PATIENT, VACCINE_SYSTEM, fhir_bundle
from kodomo.health.record import health_record


@pytest.fixture(scope="module")
def con(scored_world):
    with duckdb.connect(str(scored_world["home"] / "warehouse.duckdb"), read_only=True) as connection:
        yield connection


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_every_childs_bundle_validates_with_one_immunization_per_valid_record(con):
    # the valid immunization records of each linked child, a dose reported by two agencies once
    valid = dict(con.execute("""
        select links.person_key, count(distinct (immunizations.vaccine, immunizations.dose))
        from valid.immunizations as immunizations
        inner join linkage.person_links as links
            on immunizations.agency_id = links.agency_id and immunizations.local_child_id = links.local_child_id
        group by all""").fetchall())
    growth = dict(con.execute("""
        select person_key, count(height_cm) + count(weight_kg) + count(head_circumference_cm)
        from marts.child_health_record
        where record_type = 'checkup' and exam_date is not null group by all""").fetchall())
    children = [k for (k,) in con.execute("select distinct person_key from marts.child_health_record order by 1")
                .fetchall()]
    assert len(children) > 500
    for person_key in children:
        bundle = fhir_bundle(health_record(con, person_key))
        parsed = Bundle.model_validate_json(json.dumps(bundle))
        assert parsed.type == "collection"
        [patient] = _resources(bundle, "Patient")
        assert patient["meta"]["profile"] == [JP_PATIENT] and patient["identifier"][0]["value"] == person_key
        immunizations = _resources(bundle, "Immunization")
        assert len(immunizations) == valid.get(person_key, 0), person_key
        assert all(i["meta"]["profile"] == [JP_IMMUNIZATION]
                   and i["vaccineCode"]["coding"][0]["system"] == VACCINE_SYSTEM for i in immunizations)
        observations = _resources(bundle, "Observation")
        assert len(observations) == growth.get(person_key, 0), person_key
        assert all(o["meta"]["profile"] == [JP_BODY_MEASUREMENT] for o in observations)


def test_growth_is_coded_in_loinc_with_ucum_units(con):
    key = con.execute("select person_key from marts.child_health_record where head_circumference_cm is not null "
                      "order by person_key limit 1").fetchone()[0]
    observations = _resources(fhir_bundle(health_record(con, key)), "Observation")
    units = {o["code"]["coding"][0]["code"]: o["valueQuantity"]["code"] for o in observations}
    assert units == {"29463-7": "kg", "8302-2": "cm", "9843-4": "cm"}
    assert all(o["valueQuantity"]["system"] == "http://unitsofmeasure.org" for o in observations)


def test_export_health_writes_the_bundle_and_refuses_an_unknown_child(scored_world, con, monkeypatch, tmp_path,
                                                                       capsys):
    monkeypatch.setenv("KODOMO_HOME", str(scored_world["home"]))
    key = con.execute("select person_key from marts.child_health_record where administered_on is not null "
                      "order by person_key limit 1").fetchone()[0]
    out = tmp_path / "health.json"
    assert main(["export-health", "--person-key", key, "--out", str(out), "--as-of", "2024-01-01"]) == 0
    bundle = json.loads(out.read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    assert all(i["occurrenceDateTime"] <= "2024-01-01" for i in _resources(bundle, "Immunization"))
    assert bundle["identifier"]["value"] == f"{key}/2024-01-01"
    assert main(["export-health", "--person-key", "P_UNKNOWN", "--out", str(tmp_path / "x.json")]) == 1
    assert "P_UNKNOWN" in capsys.readouterr().err.splitlines()[-1] and not (tmp_path / "x.json").exists()
    with pytest.raises(SystemExit) as bad_date:
        main(["export-health", "--person-key", key, "--out", str(out), "--as-of", "2024-02-30"])
    assert bad_date.value.code == 2
