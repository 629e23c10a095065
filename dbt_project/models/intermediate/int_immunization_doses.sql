-- One row per linked child, vaccine and dose: the dose as given. A child's records follow it between
-- municipalities, so two agencies may report the same dose; the earliest report of it counts.
with doses as (
    select
        links.person_key,
        immunizations.agency_id,
        immunizations.vaccine,
        immunizations.dose,
        immunizations.administered_date,
        greatest(cast(immunizations.administered_date as timestamp), immunizations.updated_at) as known_at
    from {{ ref('stg_immunizations') }} as immunizations
    inner join {{ ref('stg_person_links') }} as links
        on immunizations.agency_id = links.agency_id
        and immunizations.local_child_id = links.local_child_id
)

select
    person_key,
    vaccine,
    dose,
    administered_date as administered_on,
    agency_id,
    known_at
from doses
qualify row_number() over (
    partition by person_key, vaccine, dose
    order by administered_date, known_at, agency_id
) = 1
