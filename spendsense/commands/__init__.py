"""Subcommands of the ``spendsense`` CLI: one module each, with ``register(subparsers)``."""
