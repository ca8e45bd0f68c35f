"""A signing key: the configured one, else a random one generated once into a file.

The API's session secret and the actions' link-signing key both come from here. The file
suits local runs only (one machine); production sets the variable, so that every process
shares the key. The file is written whole before it appears (mode 0600): processes starting
together agree on one key, and none reads a half-written file.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "secrets" / "demo.key"
>>> first = configured_or_generated(None, path, "SPENDSENSE_DEMO_KEY")
>>> len(first) >= MIN_KEY_LENGTH, configured_or_generated(None, path, "SPENDSENSE_DEMO_KEY") == first
(True, True)
>>> oct(path.stat().st_mode & 0o777)
'0o600'
>>> configured_or_generated(SecretStr("x" * 40), path, "SPENDSENSE_DEMO_KEY")
b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from spendsense.errors import ConfigError
from spendsense.settings import MIN_KEY_LENGTH

log = logging.getLogger(__name__)


def configured_or_generated(configured: SecretStr | None, path: Path, variable: str) -> bytes:
    """``configured``'s value, else the key kept in ``path`` (generated on first use).

    ``variable`` names the setting, for the messages: a file that cannot be written, or
    one that holds no usable key, is a :class:`ConfigError` saying to set it.
    """
    if configured is not None:
        return configured.get_secret_value().encode()
    if not path.exists():
        try:
            _create(path)
        except OSError as exc:
            raise ConfigError(
                f"{variable} is not set and {path} cannot be written ({exc.strerror}): "
                f"set the variable to a random string of {MIN_KEY_LENGTH}+ characters"
            ) from None
    key = path.read_text().strip()
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigError(f"{path} holds no usable key: delete it or set {variable}")
    return key.encode()


def _create(path: Path) -> None:
    """Write a new key into ``path`` unless another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        os.link(draft, path)  # atomic, and fails if the key exists: the first one wins
    except FileExistsError:
        return
    finally:
        draft.unlink(missing_ok=True)
    log.warning("generated a signing key in %s (set it in production)", path)
