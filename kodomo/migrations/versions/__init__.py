"""The revisions, oldest first by their numbers; each file is frozen once released."""
