{{ stage_assessments(source('valid', 'assessments')) }}
