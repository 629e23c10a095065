-- When each outcome of a report became known: the valid_from of the first version carrying it.
-- A report's substantiation is often 'undetermined' at intake and 'yes' in a later delivery; a model
-- scoring a report at time t may only count outcomes known at t.
with versions as (
    select * from {{ ref('int_case_report_versions') }}
)

select
    agency_id,
    report_id,
    min(valid_from) as first_recorded_at,
    min(valid_from) filter (where substantiation = 'yes') as substantiated_known_at,
    min(valid_from) filter (where substantiation = 'no') as unsubstantiated_known_at,
    min(valid_from) filter (where is_temporarily_protected) as protection_known_at,
    min(valid_from) filter (where is_severe_harm) as severe_harm_known_at,
    min(valid_from) filter (where safety_confirmed_at is not null) as safety_confirmation_known_at,
    count(*) as version_count
from versions
group by agency_id, report_id
