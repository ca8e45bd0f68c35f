"""``spendsense config check|example``: validate the settings, or print an example ``.env``.

``.env.example`` at the top of the checkout is ``spendsense config example``'s output (a
test keeps it so), so every setting is listed with its default.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from spendsense.settings import ROOT, Settings, load_settings


def _render(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value)
    return text.replace(str(ROOT), ".") if str(ROOT) in text else text


def _lines(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, info in model.model_fields.items():
        assert isinstance(info, FieldInfo)
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield ""
            yield f"# {annotation.__doc__.splitlines()[0] if annotation.__doc__ else name}"
            yield from _lines(annotation, f"{prefix}{name.upper()}__")
            continue
        default = info.get_default(call_default_factory=True)
        yield f"# {prefix}{name.upper()}={_render(default)}"


def example() -> str:
    """An example ``.env`` listing every setting, commented out, with its default.

    >>> "# SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:9092" in example().splitlines()
    True
    """
    head = [
        "# SpendSense settings: uncomment and change what you need (env vars override).",
        "# Nested groups use a double underscore. Paths are relative to the checkout.",
    ]
    return "\n".join([*head, *_lines(Settings, "SPENDSENSE_")]) + "\n"


def _check(args: argparse.Namespace) -> int:
    load_settings()
    print("settings are valid")
    return 0


def _example(args: argparse.Namespace) -> int:
    print(example(), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="validate settings or print an example .env")
    actions = parser.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    actions.add_parser("check", help="validate the settings (env and .env)").set_defaults(
        func=_check
    )
    actions.add_parser("example", help="print an example .env").set_defaults(func=_example)
