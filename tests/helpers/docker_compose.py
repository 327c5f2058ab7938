"""Debian's docker-compose (v1.29): validates a compose file without a daemon. Installed when missing, as root."""

from __future__ import annotations

import os
import shutil
import subprocess


class Unavailable(Exception):
    """Why docker-compose cannot be had here (the fixture turns it into a skip)."""


def ensure() -> str:
    """The path of `docker-compose`, installing Debian's package when it is missing and we may."""
    found = shutil.which("docker-compose")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable("docker-compose is missing and this test cannot install it (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "docker-compose"]):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        if done.returncode != 0:
            raise Unavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()[-300:]}")
    found = shutil.which("docker-compose")
    if not found:
        raise Unavailable("apt-get installed docker-compose but it is not on PATH")
    return found
