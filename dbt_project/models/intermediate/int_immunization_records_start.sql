-- When the immunization records begin, as known at each moment: from known_at on, the earliest
-- administration on record is records_start_on (one row per moment it moved earlier). A dose that fell
-- due before the records begin says nothing about a child: the intake features judge doses from here.
with doses as (
    select
        greatest(cast(administered_date as timestamp), updated_at) as known_at,
        administered_date
    from {{ ref('stg_immunizations') }}
),

running as (
    select distinct
        known_at,
        min(administered_date) over (order by known_at) as records_start_on
    from doses
)

select known_at, records_start_on
from running
qualify records_start_on < coalesce(lag(records_start_on) over (order by known_at), date '9999-12-31')
