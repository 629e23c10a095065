{#- The code lists the intake features spell out as columns. They are the contracts' (data_contracts/
    assessments.yml: the columns marked item; case_reports.yml: abuse_types); tests/test_dbt.py fails
    when the two drift apart. -#}
{% macro assessment_items() -%}
    {{ return([
        'injury_present', 'injury_head_face_abdomen', 'injury_severity', 'injury_old_and_new',
        'child_disclosure', 'child_wants_protection', 'child_disability', 'growth_concern',
        'sexual_abuse_suspected', 'caregiver_explanation_inconsistent', 'caregiver_substance_abuse',
        'caregiver_mental_illness', 'domestic_violence', 'caregiver_refuses_contact', 'caregiver_threatens_harm',
        'new_partner_in_household', 'single_parent', 'economic_hardship', 'social_isolation', 'sibling_reported',
        'caregiver_requests_help',
    ]) }}
{%- endmacro %}

{% macro abuse_type_codes() -%}
    {{ return(['physical', 'neglect', 'sexual', 'psychological']) }}
{%- endmacro %}
