{{ stage_checkups(source('valid', 'checkups')) }}
