-- The delivering agencies (agencies.csv): municipalities and child guidance centres.
select
    agency_id,
    agency_type,
    agency_name as name,
    prefecture_code,
    covering_cgc_id as cgc_id
from {{ ref('stg_agencies') }}
