{{ stage_case_reports(source('valid', 'case_reports')) }}
