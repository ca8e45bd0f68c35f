"""The CLI loads only the subcommand asked for: a store migration does not import the
model, the sandbox, the chaos run or the benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from spendsense.cli import build_parser, subcommands

PROBE = """
import json, sys
from spendsense.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""
HEAVY = ("numpy", "river", "moto", "sandbox", "devstack", "bench", "detector", "faust")


def loaded_by(tmp_path: Path, *argv: str) -> tuple[int, list[str]]:
    env = {**os.environ, "SPENDSENSE_STORE__URL": f"sqlite:///{tmp_path / 'store.db'}"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["code"], result["modules"]


def test_db_upgrade_imports_only_the_store(tmp_path: Path) -> None:
    code, modules = loaded_by(tmp_path, "db", "upgrade")
    assert code == 0
    heavy = sorted({m.partition(".")[0] for m in modules} & set(HEAVY))
    assert heavy == [], f"`spendsense db upgrade` imported {heavy}"
    assert (tmp_path / "store.db").exists()


def test_help_lists_every_component_s_commands() -> None:
    choices = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(choices) == set(subcommands())
    assert {"collect", "project", "bench", "demo", "db"} <= set(choices)
