"""README stays true: every setting and every `hq` sub-command is documented."""

from __future__ import annotations

from pathlib import Path

from hq.cli import build_parser
from hq.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme() -> None:
    missing = [f"HQ_{name.upper()}" for name in Settings.model_fields if f"`HQ_{name.upper()}`" not in README]
    assert not missing


def test_every_command_is_in_the_readme() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    missing = [name for name in sub.choices if f"hq {name}" not in README]
    assert not missing
