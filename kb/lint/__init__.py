"""The lint job: structural checks (code), model checks (the linter agent), the report page."""
