"""Value parsers for the formats of source-feeds.md section 3."""
