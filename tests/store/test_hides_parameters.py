"""Issue 13, item 7: a failed statement's error never carries the values it was given.

On SQLite and PostgreSQL (``sessions`` runs each test on both): SQLAlchemy's
``[parameters: ...]`` line is hidden (``hide_parameters``), and on PostgreSQL so are the
server's ``DETAIL`` lines, which quote the duplicate key or the whole failing row.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from spendsense.store import create_tenant, create_user
from spendsense.store.models import User

EMAIL = "someone.private@example.com"
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0c2FsdA$secret-hash-value-1234"


def _no_values(exc: BaseException) -> None:
    for text in (str(exc), str(getattr(exc, "orig", ""))):
        assert EMAIL not in text
        assert PASSWORD_HASH not in text


def test_duplicate_email_error_does_not_quote_the_email_or_hash(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with sessions.begin() as session:
        tenant = create_tenant(session, "Acme").id
        create_user(session, tenant, EMAIL, PASSWORD_HASH)
    with pytest.raises(IntegrityError) as err, sessions.begin() as session:
        create_user(session, tenant, EMAIL, PASSWORD_HASH)
    _no_values(err.value)
    assert "hidden due to hide_parameters" in str(err.value)
    logging.getLogger("test").exception("store error", exc_info=err.value)
    assert EMAIL not in caplog.text and PASSWORD_HASH not in caplog.text


def test_failing_row_is_not_quoted(sessions: sessionmaker[Session]) -> None:
    # a user without a tenant: PostgreSQL's error names the row it refused, values and all
    with pytest.raises(DBAPIError) as err, sessions.begin() as session:
        session.add(User(tenant_id=None, email=EMAIL, password_hash=PASSWORD_HASH))
        session.flush()
    _no_values(err.value)
