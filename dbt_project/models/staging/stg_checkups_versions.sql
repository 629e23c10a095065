{{ stage_checkups(source('valid', 'checkups_versions')) }}
