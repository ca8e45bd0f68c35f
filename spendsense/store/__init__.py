"""The relational store: SQLAlchemy 2 models, engine and sessions, Alembic migrations.

Processes start with :func:`open_store`, which builds the engine from
``StoreSettings`` and brings the schema to the newest revision:

>>> from spendsense.settings import StoreSettings
>>> store = open_store(StoreSettings(url="sqlite://"))
>>> with store.sessions.begin() as session:
...     create_tenant(session, "Acme", tenant_id="acme").id
'acme'
>>> store.dispose()
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from spendsense.settings import StoreSettings
from spendsense.store.audit import DecisionKeyConflict, append_audit, list_audit
from spendsense.store.engine import make_engine, session_factory
from spendsense.store.migrate import current_revision, ensure_schema, head_revision, upgrade
from spendsense.store.tenants import (
    add_aws_account,
    create_tenant,
    create_user,
    find_user_by_email,
    get_aws_account,
    get_tenant,
    get_user,
    list_aws_accounts,
    list_tenants,
    list_users,
    remove_aws_account,
    set_account_status,
    update_aws_account,
)


@dataclass(frozen=True)
class Store:
    """An engine and its session factory."""

    engine: Engine
    sessions: sessionmaker[Session]

    def dispose(self) -> None:
        """Close the pool's connections."""
        self.engine.dispose()


def open_store(settings: StoreSettings, *, migrate: bool = True) -> Store:
    """The store for ``settings``, its schema brought to head unless ``migrate`` is False."""
    engine = make_engine(settings)
    if migrate:
        ensure_schema(engine)
    return Store(engine=engine, sessions=session_factory(engine))


__all__ = [
    "DecisionKeyConflict",
    "Store",
    "add_aws_account",
    "append_audit",
    "create_tenant",
    "create_user",
    "current_revision",
    "ensure_schema",
    "find_user_by_email",
    "get_aws_account",
    "get_tenant",
    "get_user",
    "head_revision",
    "list_audit",
    "list_aws_accounts",
    "list_tenants",
    "list_users",
    "make_engine",
    "open_store",
    "remove_aws_account",
    "session_factory",
    "set_account_status",
    "update_aws_account",
    "upgrade",
]
