"""The README documents every setting and every CLI command."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from indexer.cli import app
from latent.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def readme() -> str:
    return README.read_text(encoding="utf-8") if README.exists() else ""


def command_names() -> list[str]:
    """Every command, sub-groups' commands included, as `latent a b`."""
    names = []

    def walk(group, prefix):
        for name, command in group.commands.items():
            names.append(f"{prefix} {name}")
            if hasattr(command, "commands"):
                walk(command, f"{prefix} {name}")

    walk(typer.main.get_command(app), "latent")
    return names


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field):
    text = readme()
    assert f"LATENT_{field.upper()}" in text, f"README does not mention LATENT_{field.upper()}"


@pytest.mark.parametrize("command", command_names())
def test_every_cli_command_is_documented(command):
    assert command in readme(), f"README does not mention `{command}`"
