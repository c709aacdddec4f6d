"""Uploaded and pasted inputs, kept on disk by the sha256 of their bytes (beside the store), so
the server holds none of them in memory and a restart still finds them."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from embedviz.errors import InputError

KEEP_DAYS = 14
"""Inputs not used for this long are removed when a new one arrives."""


class Inputs:
    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        if folder is None:
            from embedviz.store import default_store_path

            folder = default_store_path().parent / "inputs"
        self.folder = Path(folder)

    def put(self, name: str, data: bytes) -> str:
        """Keep the bytes under their digest (written once, atomically); returns the digest."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path(digest, name)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}.part")
            partial.write_bytes(data)
            partial.replace(path)
            self._forget_old()
        os.utime(path)
        return digest

    def path(self, digest: str, name: str) -> Path:
        """Where an input lives: <folder>/<digest>/<its file name> (the name tells its format)."""
        if not all(c in "0123456789abcdef" for c in digest) or len(digest) != 64:
            raise InputError("this input is not known; upload the file again on the Data page.")
        return self.folder / digest / (Path(name).name or "input.txt")

    def get(self, digest: str, name: str) -> Path:
        path = self.path(digest, name)
        if not path.exists():
            raise InputError("this upload is no longer kept; upload the file again on the Data page.")
        return path

    def _forget_old(self) -> None:
        cutoff = time.time() - KEEP_DAYS * 86400
        for entry in self.folder.glob("*/*"):
            try:
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    entry.parent.rmdir()
            except OSError:
                continue
