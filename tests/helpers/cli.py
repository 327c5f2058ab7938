"""Run `latent` in-process (fast: no interpreter start) or as a real subprocess (signals, stdin, -m)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
LATENT = Path(sys.executable).with_name("latent")


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def invoke(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str | Path) -> CliResult:
    """Call the console-script entry point (`indexer.cli.main`) exactly as `latent ARGS` would."""
    from indexer.cli import main

    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["latent", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATENT_")}
    env.update(
        {
            "LATENT_HOME": str(home),
            "LATENT_MODEL": "fake",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def run(
    home: Path, *args: str | Path, input: bytes | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """`latent ARGS` in a child process with a fake-model home."""
    return subprocess.run(
        [str(LATENT), *map(str, args)],
        input=input.decode() if input is not None else None,
        cwd=REPO,
        env=cli_env(home, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def popen(home: Path, *args: str | Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(LATENT), *map(str, args)],
        cwd=REPO,
        env=cli_env(home, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
