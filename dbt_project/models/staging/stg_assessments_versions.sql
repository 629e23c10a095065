{{ stage_assessments(source('valid', 'assessments_versions')) }}
