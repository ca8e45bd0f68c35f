"""After the reliability suite (named to run last in it): no secret it used is in any log.

The logs are every file the suite's child processes wrote (the actions worker, the
projector, the whole chaos stack) and every log record the test process emitted
(``test_log_records``). The secrets are the session secret, the link-signing key and
the users' passwords the suite set, session tokens it received, the demo passwords and
generated keys of the chaos stack and the sandbox vendor's AWS secret access key.
"""

from __future__ import annotations

from pathlib import Path

from sandbox.accounts import VENDOR_USER, user_credentials
from spendsense.settings import get_settings
from tests.reliability import api_app
from tests.reliability.conftest import LogRecords, Secrets


def test_no_secret_in_any_log(
    logs_dir: Path, secrets: Secrets, test_log_records: LogRecords
) -> None:
    secrets.add(api_app.PASSWORD)
    secrets.add(user_credentials(get_settings().sandbox.vendor_account_id, VENDOR_USER)[1])
    logs = {p.name: p.read_text(errors="replace") for p in sorted(logs_dir.glob("*.log"))}
    logs["test process log records"] = "\n".join(test_log_records.lines)
    assert logs["test process log records"], "the test process's log records were not captured"
    leaks = [
        f"{name}: a secret of {len(secret)} characters ({secret[:4]}...)"
        for name, text in logs.items()
        for secret in secrets.values
        if secret in text
    ]
    assert not leaks, leaks
    assert len(secrets.values) >= 4
