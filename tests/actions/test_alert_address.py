"""Security issue 13, item 7: an alert address gets no digest until its mailed link is used.

The settings page keeps a new address in ``Tenant.alert_email_pending`` (the API mails it
a confirmation link); the worker's recipients are the confirmed ``alert_email`` only,
else the users' addresses (confirmed at sign-up). On PostgreSQL, through the sandbox's SES.
"""

from __future__ import annotations

import uuid

from spendsense.store import create_user, get_tenant
from tests.actions.conftest import Rig


def _set_pending(rig: Rig, address: str) -> None:
    with rig.store.sessions.begin() as session:
        tenant = get_tenant(session, "acme")
        assert tenant is not None
        tenant.alert_email_pending = address


def test_alert_address_unverified_gets_no_digest(rig: Rig) -> None:
    confirmed = rig.recipient
    pending = f"pending-{uuid.uuid4().hex[:8]}@acme.test"
    _set_pending(rig, pending)
    assert rig.runtime.handle(rig.detection(rig.run_instance())) == "emailed"
    assert len(rig.mail_to(confirmed)) == 1
    assert rig.mail_to(pending) == []


def test_without_a_confirmed_alert_address_digests_go_to_the_users(rig: Rig) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}@acme.test"
    pending = f"pending-{uuid.uuid4().hex[:8]}@acme.test"
    with rig.store.sessions.begin() as session:
        tenant = get_tenant(session, "acme")
        assert tenant is not None
        tenant.alert_email, tenant.alert_email_pending = None, pending
        create_user(session, "acme", user, "$argon2id$not-a-real-hash")
    assert rig.runtime.handle(rig.detection(rig.run_instance())) == "emailed"
    assert len(rig.mail_to(user)) == 1
    assert rig.mail_to(pending) == []
