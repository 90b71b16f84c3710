"""Settings, database, migrations runner, clock and shared errors: nothing domain-specific."""
