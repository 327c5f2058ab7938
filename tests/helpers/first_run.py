"""`make run`'s steps, read from the Makefile's `run` target, run on a fresh home (the serve step left out)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from helpers.cli import REPO, run

MAKEFILE = REPO / "Makefile"


def run_steps(makefile: Path = MAKEFILE, collection: str = "demo") -> list[list[str]]:
    """The `latent …` commands of the `run` target before `latent serve`, variables filled as `make run` fills them."""
    lines = makefile.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("run:"))
    steps = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        command = line.strip().replace("$(CORPUS)", "").replace("$(COLLECTION)", collection)
        if not command.startswith("$(BIN)/latent "):
            continue
        args = shlex.split(command)[1:]
        if args[0] == "serve":
            break
        assert not re.search(r"\$\(", " ".join(args)), f"unfilled make variable in {command!r}"
        steps.append(args)
    return steps


def first_run(home: Path, collection: str = "demo", timeout: float = 600) -> list[subprocess.CompletedProcess[str]]:
    """Run every step on `home` (fake encoder unless the caller's environment says otherwise); all must succeed."""
    results = []
    for args in run_steps(collection=collection):
        done = run(home, *args, timeout=timeout)
        assert done.returncode == 0, f"latent {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        results.append(done)
    return results
