"""The child health record (issue 11): checkups, growth and immunizations against the schedule as of a date; its
FHIR export; the handover to the municipality a child moves to; the parents' one-time access code.

- ``record``: ``health_record(con, person_key, as_of)`` from ``marts.child_health_record``, with each dose's status
  by the dbt macro ``immunization_status`` (one copy of the rules) and what is due next;
- ``fhir``: ``fhir_bundle(record)``, a FHIR Bundle with JP Core profiles, validated by ``fhir.resources``;
- ``access``: health staff of the holding jurisdiction open a record (audited), or refused with ``AccessDenied``;
- ``store``: the handover acknowledgements and parent access codes in the operational store;
- ``export``: ``export_health(settings, person_key, out, as_of)`` behind ``kodomo export-health``.
"""
