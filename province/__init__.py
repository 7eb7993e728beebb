"""The province: every hall's events in PostgreSQL, province-wide reports (the collector's side)."""
