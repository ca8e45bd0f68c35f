"""The anonymous CSRF token: an itsdangerous signature of a random nonce under the
session secret (no request, no store)."""

from __future__ import annotations

from api.security import Keys

SECRET = b"s" * 32


def test_an_anonymous_csrf_token_is_refused_with_another_key_or_one_character_changed() -> None:
    keys = Keys(SECRET)
    token = keys.new_anonymous_csrf()
    assert keys.anonymous_csrf_valid(token)
    assert token != keys.new_anonymous_csrf()  # a fresh nonce each time
    assert not Keys(b"t" * 32).anonymous_csrf_valid(token)
    # base64's last character carries unused bits: some changes there decode the same
    for i, char in enumerate(token[:-1]):
        if char != ".":
            altered = f"{token[:i]}{'B' if char == 'A' else 'A'}{token[i + 1 :]}"
            assert not keys.anonymous_csrf_valid(altered), i
    for junk in ("", ".", "made-up.token", token.partition(".")[0], "é.é"):
        assert not keys.anonymous_csrf_valid(junk)
