"""Subcommands of local orchestration: demo, chaos, kafka, sandbox, fleet."""
