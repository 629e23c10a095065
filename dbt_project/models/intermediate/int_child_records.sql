-- Every person-level row of every feed with the linked child's person_key: who knows the child and
-- what each agency recorded as the child's sex and birth date (names stay in staging).
with links as (
    select * from {{ ref('stg_person_links') }}
),

records as (
    select 'case_reports' as feed, agency_id, local_child_id, sex, birth_date, updated_at
    from {{ ref('stg_case_reports') }}
    union all
    select 'checkups', agency_id, local_child_id, sex, birth_date, updated_at
    from {{ ref('stg_checkups') }}
    union all
    select 'immunizations', agency_id, local_child_id, sex, birth_date, updated_at
    from {{ ref('stg_immunizations') }}
    union all
    select 'resident_moves', agency_id, local_child_id, sex, birth_date, updated_at
    from {{ ref('stg_resident_moves') }}
    union all
    select 'alerts', agency_id, local_child_id, sex, birth_date, updated_at
    from {{ ref('stg_alerts') }}
)

select
    links.person_key,
    records.feed,
    records.agency_id,
    records.local_child_id,
    records.sex,
    records.birth_date,
    records.updated_at
from records
inner join links
    on records.agency_id = links.agency_id
    and records.local_child_id = links.local_child_id
