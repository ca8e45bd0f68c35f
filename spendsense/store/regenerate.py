"""Rewrite the initial migration from the models (``make migration``; pre-release convention).

Until the first release there is one revision, ``0001_initial``. This module
autogenerates it against an empty temporary SQLite database and formats it with
ruff, so the same models always give the same file.

    python -m spendsense.store.regenerate [--out DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from spendsense.settings import StoreSettings
from spendsense.store.engine import make_engine
from spendsense.store.migrate import MIGRATIONS, alembic_config

INITIAL = "0001"
MESSAGE = "initial"
FILENAME = f"{INITIAL}_{MESSAGE}.py"


def regenerate(out_dir: Path) -> Path:
    """Write ``0001_initial.py`` for the current models into ``out_dir``; returns its path."""
    with tempfile.TemporaryDirectory(prefix="spendsense-migration-") as tmp:
        scripts = Path(tmp) / "migrations"
        shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
        for old in (scripts / "versions").glob("*.py"):
            if old.name != "__init__.py":
                old.unlink()
        engine = make_engine(StoreSettings(url=f"sqlite:///{Path(tmp) / 'empty.db'}"))
        config = alembic_config(engine)
        config.set_main_option("script_location", str(scripts))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.revision(config, message=MESSAGE, autogenerate=True, rev_id=INITIAL)
        engine.dispose()
        generated = scripts / "versions" / FILENAME
        subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--quiet", str(generated)], check=True
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ruff",
                "check",
                "--quiet",
                "--fix",
                "--select",
                "I,F401",
                str(generated),
            ],
            check=False,
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / FILENAME
        shutil.copyfile(generated, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MIGRATIONS / "versions")
    args = parser.parse_args(argv)
    print(f"wrote {regenerate(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
