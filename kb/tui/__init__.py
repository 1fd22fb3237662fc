"""The Textual front end (`kb tui`). Textual is imported only when the TUI starts."""
