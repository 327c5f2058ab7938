"""The derived FAISS file: index bytes plus the SQL seq they cover, written atomically, checked on read."""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"LATENTIX"
VERSION = 1
_HEADER = struct.Struct("<8sIQI")  # magic, version, seq, meta length


@dataclass(slots=True)
class IndexFile:
    spec: str
    seq: int
    payload: bytes


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """temp file + fsync + rename + fsync(dir): a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_index_file(path: Path, spec: str, seq: int, payload: bytes) -> None:
    meta = json.dumps({"spec": spec, "crc32": zlib.crc32(payload), "length": len(payload)}).encode()
    atomic_write_bytes(path, _HEADER.pack(MAGIC, VERSION, seq, len(meta)) + meta + payload)


def read_index_file(path: Path) -> IndexFile | None:
    """The file's contents, or None when it is missing, truncated or corrupt (the caller rebuilds)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < _HEADER.size:
        return None
    magic, version, seq, meta_len = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        return None
    try:
        meta = json.loads(data[_HEADER.size : _HEADER.size + meta_len])
    except ValueError:
        return None
    payload = data[_HEADER.size + meta_len :]
    if len(payload) != meta.get("length") or zlib.crc32(payload) != meta.get("crc32"):
        return None
    return IndexFile(spec=meta["spec"], seq=seq, payload=payload)


def _writer_alive(tmp: Path) -> bool:
    """Temp files are named .<file>.<pid>.tmp: one whose writer still runs is work in progress."""
    try:
        pid = int(tmp.name.rsplit(".", 2)[-2])
        os.kill(pid, 0)
        return pid != os.getpid() or False
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True


def leftover_temp_files(directory: Path) -> list[Path]:
    """Temp files whose writer is gone: what a crash mid-write leaves behind."""
    if not directory.exists():
        return []
    return sorted(p for p in directory.glob(".*.tmp") if not _writer_alive(p))


def remove_leftover_temp_files(path: Path) -> int:
    stale = [p for p in leftover_temp_files(path.parent) if p.name.startswith(f".{path.name}.")]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)
