-- Every intake report as the platform first heard of it: the linked child, receipt time, the birth date
-- of the reporting agency's record (for the age and the immunization due dates), what the report's first
-- version said (route, abuse types) and the intake's assessment as first recorded (the report's earliest
-- assessment, in its first version). The features of an intake (macro intake_features) start from here.
with reports as (
    select * from {{ ref('stg_case_reports') }}
),

first_versions as (
    select * from {{ ref('int_case_report_versions') }}
    where version_number = 1
),

links as (
    select * from {{ ref('stg_person_links') }}
),

first_assessments as (
    select *
    from {{ ref('stg_assessments_versions') }}
    qualify row_number() over (
        partition by agency_id, report_id
        order by assessed_at, assessment_id, updated_at, delivered_on, delivery_seq
    ) = 1
)

select
    reports.agency_id,
    reports.report_id,
    reports.local_child_id,
    links.person_key,
    reports.received_at,
    reports.birth_date,
    first_versions.route,
    first_versions.abuse_types,
    first_assessments.report_id is not null as has_assessment,
    {%- for item in assessment_items() %}
    first_assessments.{{ item }}{{ "," if not loop.last }}
    {%- endfor %}
from reports
inner join links
    on reports.agency_id = links.agency_id
    and reports.local_child_id = links.local_child_id
inner join first_versions
    on reports.agency_id = first_versions.agency_id
    and reports.report_id = first_versions.report_id
left join first_assessments
    on reports.agency_id = first_assessments.agency_id
    and reports.report_id = first_assessments.report_id
