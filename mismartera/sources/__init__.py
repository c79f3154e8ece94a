"""Where a session's bars come from: the live feed (ordered, once-only, gaps backfilled) and the
registered market-data sources."""
