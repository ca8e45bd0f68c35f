"""The store suite: contract, migrations, engine and CLI, on SQLite and PostgreSQL."""
