"""Each sandbox account's long-lived user keys (no moto import: clients use this too).

The sandbox gives SpendSense's own account a user ``spendsense`` and every tenant account a user
``admin`` (the customer, who creates SpendSense's role), each with a key derived from
the account id and user name, so both sides can compute them without asking.

>>> key, secret = user_credentials("111111111111", "admin")
>>> key.startswith("AKIA"), len(key), len(secret)
(True, 20, 40)
>>> user_credentials("111111111111", "admin") == (key, secret)
True
"""

from __future__ import annotations

import base64
import hashlib

VENDOR_USER = "spendsense"
TENANT_USER = "admin"


def user_credentials(account_id: str, user: str) -> tuple[str, str]:
    """The access key id and secret of ``user`` in ``account_id`` (deterministic)."""
    digest = hashlib.sha256(f"{account_id}:{user}".encode()).digest()
    key = "AKIA" + base64.b32encode(digest).decode()[:16]
    secret = hashlib.sha256(b"secret:" + digest).hexdigest()[:40]
    return key, secret
