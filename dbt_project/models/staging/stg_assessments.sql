with source as (
    select * from {{ source('valid', 'assessments') }}
),

renamed as (
    select
        agency_id,
        assessment_id,
        report_id,
        assessed_at,
        assessor_id,
        injury_present,
        injury_head_face_abdomen,
        injury_severity,
        injury_old_and_new,
        child_disclosure,
        child_wants_protection,
        child_disability,
        growth_concern,
        sexual_abuse_suspected,
        caregiver_explanation_inconsistent,
        caregiver_substance_abuse,
        caregiver_mental_illness,
        domestic_violence,
        caregiver_refuses_contact,
        caregiver_threatens_harm,
        new_partner_in_household,
        single_parent,
        economic_hardship,
        social_isolation,
        sibling_reported,
        caregiver_requests_help,
        worker_decision,
        worker_rationale,
        updated_at,
        _file as source_file,
        _line as source_line,
        _delivery_date as delivered_on
    from source
)

select * from renamed
