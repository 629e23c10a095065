-- Every version of every case report (int_case_report_versions) with the linked child's person_key: the
-- prior reports an intake's history reads as of its receipt (macro intake_features).
with versions as (
    select * from {{ ref('int_case_report_versions') }}
),

links as (
    select * from {{ ref('stg_person_links') }}
)

select
    links.person_key,
    versions.*
from versions
inner join links
    on versions.agency_id = links.agency_id
    and versions.local_child_id = links.local_child_id
