"""Applications (办件): working-day deadlines, the audit trail, and (coming) the application
itself, its states and the back office."""
