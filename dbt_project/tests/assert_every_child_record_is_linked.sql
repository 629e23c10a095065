-- Every child record (agency_id, local_child_id) of every person-level feed has a person_key: a record
-- the linkage left out would silently drop out of every mart.
{{ config(meta={'dagster': {'ref': {'name': 'stg_person_links'}}}) }}

with child_records as (
    select agency_id, local_child_id from {{ ref('stg_case_reports') }}
    union
    select agency_id, local_child_id from {{ ref('stg_checkups') }}
    union
    select agency_id, local_child_id from {{ ref('stg_immunizations') }}
    union
    select agency_id, local_child_id from {{ ref('stg_resident_moves') }}
    union
    select agency_id, local_child_id from {{ ref('stg_alerts') }}
)

select child_records.*
from child_records
anti join {{ ref('stg_person_links') }} as links
    on child_records.agency_id = links.agency_id
    and child_records.local_child_id = links.local_child_id
