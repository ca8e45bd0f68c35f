"""Passwords, session tokens and CSRF tokens.

Passwords are hashed with argon2id. A session cookie carries a random token; the
store keeps only its HMAC (keyed by the session secret), so a copy of the table opens
no session. Anonymous forms (log-in, sign-up, e-mailed link pages) use a signed
double-submit CSRF token (an ``itsdangerous`` signature of a random nonce); logged-in
calls use the session's own synchronizer token.

>>> keys = Keys(b"k" * 32)
>>> token = keys.new_anonymous_csrf()
>>> keys.anonymous_csrf_valid(token)
True
>>> keys.anonymous_csrf_valid(("A" if token[0] != "A" else "B") + token[1:])
False
>>> Keys(b"o" * 32).anonymous_csrf_valid(token), keys.anonymous_csrf_valid("made-up.token")
(False, False)
>>> h = hash_password("correct horse")
>>> verify_password(h, "correct horse"), verify_password(h, "wrong")
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadData, Signer

from spendsense.secrets_file import configured_or_generated
from spendsense.settings import ApiSettings

_hasher = PasswordHasher()
KEY_FILE_NAME = "api-session-secret"
CSRF_SALT = "spendsense.anonymous-csrf"


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (never raises on a mismatch)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A real hash to verify against when the e-mail is unknown, so timing does not tell.
DUMMY_HASH = hash_password(secrets.token_hex(16))


def session_secret(settings: ApiSettings, var_dir: Path) -> bytes:
    """The configured session secret, or one generated once and kept under ``var_dir``."""
    return configured_or_generated(
        settings.session_secret, var_dir / KEY_FILE_NAME, "SPENDSENSE_API__SESSION_SECRET"
    )


class Keys:
    """HMAC operations under the session secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._csrf = Signer(secret, salt=CSRF_SALT, digest_method=hashlib.sha256)

    def token_hash(self, token: str, kind: str = "session") -> str:
        """The stored form of a token: a session's, or a mailed link's (``kind`` keeps
        the two apart, so one never opens the other)."""
        message = kind.encode() + b":" + token.encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def new_anonymous_csrf(self) -> str:
        """A double-submit token for forms used before logging in: ``<nonce>.<signature>``."""
        return self._csrf.sign(secrets.token_urlsafe(16)).decode()

    def anonymous_csrf_valid(self, token: str) -> bool:
        """Whether ``token`` was made by :meth:`new_anonymous_csrf` with this secret."""
        try:
            return bool(self._csrf.unsign(token))
        except BadData:
            return False


def new_token() -> str:
    """A fresh random token (session id or synchronizer CSRF token)."""
    return secrets.token_urlsafe(32)


def tokens_match(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; a missing side never matches."""
    return bool(given) and bool(expected) and hmac.compare_digest(str(given), str(expected))
