"""Storage: the event log, the view tables, migrations and the group-commit writer."""
