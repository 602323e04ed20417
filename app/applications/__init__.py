"""Applications (办件): working-day deadlines (``workdays``: ``Clock``, ``add_working_days``),
the hash-chained audit trail (``audit``: ``append``, ``verify_chain``), and (coming) the
application itself, its states and the back office."""
