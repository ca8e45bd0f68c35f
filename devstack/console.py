"""What the person running the local stack reads: its steps, its milestones, and what goes
wrong, one line each.

Every line a process writes goes to its log file (the supervisor's job); the console shows
a line of it only when it warns or fails (:func:`alert_level`), as one line with the log
file to read, and at most one such line per process every ``quiet_s`` seconds (the rest
are counted on the next one shown); once every process is being stopped, what they say of
it stays in their files. ``verbose`` shows every line of every process as well, as
``spendsense demo --verbose`` does.

>>> import io
>>> out = io.StringIO()
>>> console = Console(out)
>>> console.output("model", "2026-12-06T13:40:00+0000 [INFO] [entry_service:m:1] POST /score_batch 200",
...                Path("var/log/model.log"))
>>> console.output("api", "2026-12-06 13:40:01,753 WARNING spendsense.secrets_file: key generated",
...                Path("var/log/api.log"))
>>> print(out.getvalue().split(" ", 1)[1], end="")
WARNING   api: 2026-12-06 13:40:01,753 WARNING spendsense.secrets_file: key generated  [var/log/api.log]
"""

from __future__ import annotations

import math
import re
import sys
import threading
import time
from pathlib import Path
from typing import IO

from devstack.milestones import Milestone, from_output

ALERT = re.compile(r"(?<![\w.-])\[?(WARN(?:ING)?|ERROR|CRITICAL|FATAL)\]?:?(?=\s|$)")
HEADER_CHARS = 64
"""Where a line's level can be: the header of every format the stack's processes log in
(the spendsense CLI's, Faust's, uvicorn's, BentoML's, the broker's log4j)."""
SHOWN_CHARS = 240
"""A warning or error line is cut to this many characters on the console."""


def alert_level(line: str) -> str | None:
    """The level of a line that warns or fails, or ``None`` for any other line.

    >>> alert_level("2026-12-06 12:14:50,753 WARNING spendsense.secrets_file: generated a key")
    'WARNING'
    >>> alert_level("[2026-12-06 12:16:26,046] [31475] [ERROR] Unable to update metadata from [1]")
    'ERROR'
    >>> alert_level("[2026-12-06 12:16:26,046] WARN [BrokerServer id=1] slow")
    'WARN'
    >>> alert_level("Traceback (most recent call last):")
    'ERROR'
    >>> alert_level("2026-12-06 12:14:50,753 INFO ingest.runner: 0 errors, state ERROR-free") is None
    True
    """
    if line.startswith("Traceback (most recent call last)"):
        return "ERROR"
    found = ALERT.search(line[:HEADER_CHARS])
    return found.group(1) if found else None


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Console:
    """Prints the local stack's steps, milestones and processes' trouble to ``out``."""

    def __init__(
        self,
        out: IO[str] | None = None,
        *,
        verbose: bool = False,
        quiet_s: float = 10.0,
        repeat_s: float = 5.0,
    ) -> None:
        self.out = out or sys.stdout
        self.verbose = verbose
        self.quiet_s = quiet_s
        """After a process's warning is shown, how long its next ones are only counted."""
        self.repeat_s = repeat_s
        """How long a repeating milestone (a backfill's progress) waits for its next line."""
        self._lock = threading.Lock()
        self._alert_shown: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._milestone_shown: dict[str, float] = {}
        self._stopping = False

    def _print(self, text: str) -> None:
        with self._lock:
            print(text, file=self.out, flush=True)

    @staticmethod
    def _stamped(kind: str, text: str) -> str:
        return f"{time.strftime('%H:%M:%S')} {kind:<9} {text}"

    def step(self, text: str) -> None:
        """One of the stack's own steps (starting a process, onboarding the tenants)."""
        self._print(f"==> {text}")

    def stopping(self) -> None:
        """Every process is being stopped: what they say of it stays in their log files."""
        self._stopping = True
        self.step("stopping every process")

    def milestone(self, milestone: Milestone) -> None:
        """One line for ``milestone``; a repeat of a keyed one is left out if it comes
        within ``repeat_s`` of the last shown, unless it is final."""
        now = time.monotonic()
        key = milestone.key
        with self._lock:
            if key is not None:
                last = self._milestone_shown.get(key, -math.inf)
                if not milestone.final and now - last < self.repeat_s:
                    return
                self._milestone_shown[key] = now
            print(self._stamped(milestone.kind, milestone.text), file=self.out, flush=True)

    def output(self, name: str, line: str, log_path: Path | None) -> None:
        """One line a process wrote (it is in ``log_path`` already)."""
        if self.verbose:
            self._print(f"{name:<10} | {line}")
        elif not self._stopping and (level := alert_level(line)) is not None:
            self._alert(name, level, line, log_path)
        milestone = from_output(line)
        if milestone is not None:
            self.milestone(milestone)

    def _alert(self, name: str, level: str, line: str, log_path: Path | None) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._alert_shown.get(name, -math.inf) < self.quiet_s:
                self._held[name] = self._held.get(name, 0) + 1
                return
            self._alert_shown[name] = now
            held = self._held.pop(name, 0)
        where = [_shown_path(log_path)] if log_path is not None else []
        if held:
            where.append(f"{held} more since the last shown")
        note = f"  [{'; '.join(where)}]" if where else ""
        self._print(self._stamped(level, f"{name}: {line[:SHOWN_CHARS]}{note}"))

    def exited(self, name: str, code: int, log_path: Path | None) -> None:
        """A process exited on its own (it is restarted)."""
        where = f"; its log: {_shown_path(log_path)}" if log_path is not None else ""
        self._print(self._stamped("EXITED", f"{name} exited with {code}, restarting{where}"))
