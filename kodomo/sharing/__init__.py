"""Records shared across agencies (issue 11): case records, notices, change notifications, the child's record."""
