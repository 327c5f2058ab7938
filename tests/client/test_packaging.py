"""`pip install ./client` into a fresh venv: the client and its two dependencies' trees, no torch, no latent."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "client"


@pytest.mark.slow
def test_client_installs_alone_without_torch(tmp_path: Path) -> None:
    source = tmp_path / "client"  # a copy: building in place would leave build/ in the checkout
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)]
    subprocess.run(install, check=True, capture_output=True, text=True, timeout=600)
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], check=True, capture_output=True, text=True
    )
    names = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert {"latent-client", "httpx", "pydantic"} <= names
    assert not names & {"torch", "latent", "fastapi", "numpy", "sentence-transformers"}
    code = "import latent_client, sys; print(latent_client.__version__, latent_client.LatentClient.__name__)"
    # run from the temp folder: the checkout's own `latent/` must not be found through the working directory
    done = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.split() == ["0.1.0", "LatentClient"]
    no_core = subprocess.run([str(python), "-c", "import latent"], capture_output=True, text=True, cwd=tmp_path)
    assert no_core.returncode != 0
