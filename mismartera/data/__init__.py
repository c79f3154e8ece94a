"""Storage and market data: schema, database, bar store, importers, derived bars, quality."""
