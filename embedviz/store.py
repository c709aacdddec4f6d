"""Persistent store on disk: embeddings per (backend space, text sha256), and artifacts
(projections, neighbour graphs, clusterings) per (kind, embeddings fingerprint, params, version).

SQLite in WAL mode: a write is one transaction, so an interrupted write never damages earlier
entries, and several processes may write at once. A file SQLite cannot read is moved aside with
a warning and a new store is started.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from embedviz.errors import EmbedvizError, InputError

log = logging.getLogger(__name__)

PIPELINE_VERSION = 8
"""Bump when what a stored artifact means changes; old artifacts are then ignored."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    space TEXT NOT NULL,
    sha BLOB NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (space, sha)
);
CREATE TABLE IF NOT EXISTS artifacts (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    value BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS spaces (
    space TEXT PRIMARY KEY,
    identity TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    dataset TEXT NOT NULL,
    sha BLOB NOT NULL,
    tag TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (dataset, sha, tag)
);
CREATE TABLE IF NOT EXISTS edits (
    dataset TEXT NOT NULL,
    seq INTEGER NOT NULL,
    edit TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (dataset, seq)
);
"""
_CHUNK = 500
PAGE_SIZE = 16384
"""A new store's page: ten 384-d vectors fit one page. (The first schema kept vectors in a
WITHOUT ROWID table, where every vector spilled onto an overflow page of its own: 4.6 kB per
1.5 kB vector. Such a store is moved into the new table when opened.)"""


STORE_FILE = "store.sqlite"
"""The store's file name inside its folder (EMBEDVIZ_CACHE_DIR, the CLI's --cache-dir)."""


def default_store_path() -> Path:
    """`$EMBEDVIZ_CACHE_DIR/store.sqlite`, else the user's cache folder."""
    folder = os.environ.get("EMBEDVIZ_CACHE_DIR")
    if not folder:
        from platformdirs import user_cache_dir

        folder = user_cache_dir("embedviz")
    return Path(folder) / STORE_FILE


def digest(value: object) -> str:
    """A stable hex key for JSON-able values and dataclasses."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:40]


def artifact_key(kind: str, fingerprint: str, params: object = None) -> str:
    return digest({"kind": kind, "of": fingerprint, "params": params, "v": PIPELINE_VERSION})


def _migrate(conn: sqlite3.Connection) -> None:
    """Move vectors from the first schema's table into `vectors` (once, in one transaction)."""
    exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'embeddings'"
    if conn.execute(exists).fetchone() is None:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute(exists).fetchone() is not None:  # another process may have done it
            conn.execute("INSERT OR IGNORE INTO vectors (space, sha, vector) SELECT * FROM embeddings")
            conn.execute("DROP TABLE embeddings")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    with contextlib.suppress(sqlite3.OperationalError):  # busy elsewhere: the space is reused later
        conn.execute("VACUUM")  # give the old table's pages back to the disk, once


class StoreFull(EmbedvizError):
    """The disk (or SQLite's page limit) leaves the store no room to grow."""


class StoreError(EmbedvizError):
    """The store cannot be opened where it is (a cache folder that is a file, or not writable)."""


class Holding(NamedTuple):
    """One line of what a store holds (Store.holdings)."""

    part: str  # "vectors", "computed", "tags" or "cluster edits"
    name: str  # the vector space's key, or the kind of result
    entries: int
    bytes: int
    about: str  # the backend of a vector space; the age of the oldest result of a kind


def _space_name(identity: Mapping | None) -> str:
    if identity is None:
        return "backend not recorded (stored before embedviz named spaces)"
    return ", ".join(f"{key} {value}" for key, value in identity.items())


def _age(made: float) -> str:
    hours = (time.time() - made) / 3600
    return (
        f"{hours / 24:.0f} d" if hours >= 48 else f"{hours:.0f} h" if hours >= 1 else f"{hours * 60:.0f} min"
    )


class Store:
    """Thread-safe handle on one store file. Reads of a damaged file count as misses.

    `path`: the store file, or a folder (the CLI's --cache-dir) that holds it as store.sqlite;
    default: default_store_path()."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path else default_store_path()
        if self.path.is_dir():  # a folder was set aside as a damaged file, with all it held
            self.path = self.path / STORE_FILE
        self.warnings: list[str] = []
        self._named: set[str] = set()
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise self._unusable(e) from None
        self._conn = self._open()

    def _unusable(self, error: Exception) -> StoreError:
        return StoreError(
            f"the store {self.path} cannot be opened ({error}); point EMBEDVIZ_CACHE_DIR (or "
            "--cache-dir) to a folder you can write to."
        )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # takes effect on a new file only
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        _migrate(conn)
        conn.execute("SELECT count(*) FROM (SELECT 1 FROM vectors LIMIT 1)").fetchone()
        return conn

    def _open(self) -> sqlite3.Connection:
        """A damaged .sqlite file is set aside and a new one started; a file that cannot be opened
        at all (no permission, a read-only folder), or another file given as the store (a
        data.csv), is an error that names the way out, and is kept: it may hold every vector the
        user computed, or be the user's data."""
        try:
            return self._connect()
        except sqlite3.OperationalError as e:
            if "locked" in str(e):
                raise
            raise self._unusable(e) from None
        except sqlite3.DatabaseError as e:
            if self.path.suffix != ".sqlite":  # not a store's name: a file given by mistake is kept
                raise StoreError(
                    f"{self.path} is not a store ({e}); give a folder or a .sqlite file as the store."
                ) from None
            self._move_aside(e)
            return self._connect()

    def _move_aside(self, error: Exception) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(self.path) + suffix)
            if part.exists():
                part.replace(Path(str(target) + suffix))
        message = (
            f"The store {self.path} could not be read ({error}); moved it to {target} and started a new one."
        )
        log.warning(message)
        self.warnings.append(message)

    def _recover(self, error: sqlite3.DatabaseError) -> None:
        """A damaged file found mid-session: set it aside and continue with a new one."""
        if isinstance(error, sqlite3.OperationalError):
            raise error
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        self._move_aside(error)
        self._conn = self._connect()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # embeddings
    def get_vectors(self, space: str, shas: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """Stored vectors for the given text hashes (float32, 1-D); missing ones are absent."""
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(shas))
        with self._lock:
            try:
                for start in range(0, len(unique), _CHUNK):
                    chunk = unique[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows = self._conn.execute(
                        f"SELECT sha, vector FROM vectors WHERE space = ? AND sha IN ({marks})",
                        [space, *chunk],
                    )
                    for sha, blob in rows:
                        found[bytes(sha)] = np.frombuffer(blob, dtype=np.float32)
            except sqlite3.DatabaseError as e:
                self._recover(e)
                return {}
        return found

    def put_vectors(self, space: str, shas: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store rows of `vectors` (n, d) under `shas` (n,), in one transaction."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        rows = [(space, sha, vectors[i].tobytes()) for i, sha in enumerate(shas)]
        self._keep("INSERT OR IGNORE INTO vectors (space, sha, vector) VALUES (?, ?, ?)", rows)

    def name_space(self, space: str, identity: Mapping) -> None:
        """Record which backend a vector space's key stands for (its identity: backend, model,
        dimension; never a key), so `holdings` can name it."""
        if space in self._named:  # once per handle: a query's vector must not pay a second write
            return
        self._keep("INSERT OR REPLACE INTO spaces VALUES (?, ?)", [(space, json.dumps(dict(identity)))])
        self._named.add(space)

    def count_present(self, space: str, shas: Sequence[bytes]) -> int:
        """How many of the given text hashes have a stored vector (no vector is read)."""
        unique = list(dict.fromkeys(shas))
        found = 0
        with self._lock:
            try:
                for start in range(0, len(unique), _CHUNK):
                    chunk = unique[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    query = f"SELECT count(*) FROM vectors WHERE space = ? AND sha IN ({marks})"
                    found += self._conn.execute(query, [space, *chunk]).fetchone()[0]
            except sqlite3.DatabaseError as e:
                self._recover(e)
                return 0
        return found

    def count_vectors(self, space: str | None = None) -> int:
        with self._lock:
            if space is None:
                return self._conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
            query = "SELECT count(*) FROM vectors WHERE space = ?"
            return self._conn.execute(query, [space]).fetchone()[0]

    # artifacts
    def get_artifact(self, key: str) -> dict[str, np.ndarray] | None:
        with self._lock:
            try:
                row = self._conn.execute("SELECT value FROM artifacts WHERE key = ?", [key]).fetchone()
            except sqlite3.DatabaseError as e:
                self._recover(e)
                return None
        if row is None:
            return None
        with np.load(io.BytesIO(row[0]), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}

    def has_artifact(self, key: str) -> bool:
        """Whether an artifact is stored, without reading it."""
        with self._lock:
            try:
                query = "SELECT 1 FROM artifacts WHERE key = ?"
                return self._conn.execute(query, [key]).fetchone() is not None
            except sqlite3.DatabaseError as e:
                self._recover(e)
                return False

    def put_artifact(self, key: str, kind: str, arrays: Mapping[str, np.ndarray]) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        self._keep(
            "INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?)",
            [(key, kind, buffer.getvalue(), time.time())],
        )

    # what the store holds, and dropping what can be made again
    def holdings(self, known: Mapping[str, Mapping] | None = None) -> list[Holding]:
        """Every vector space (named by its backend's identity: recorded, else from `known`, space
        -> identity), every kind of computed result, then the tags and cluster edits: entries and
        bytes of each."""
        known = known or {}
        vectors = self._read(
            "SELECT v.space, s.identity, count(*), sum(length(v.vector)) FROM vectors v "
            "LEFT JOIN spaces s ON s.space = v.space GROUP BY v.space ORDER BY 3 DESC",
            [],
        )
        computed = self._read(
            "SELECT kind, count(*), sum(length(value)), min(created) FROM artifacts GROUP BY kind ORDER BY 3 DESC",
            [],
        )
        curation = [
            (
                "tags",
                *self._read("SELECT count(*), coalesce(sum(length(sha) + length(tag)), 0) FROM tags", [])[0],
            ),
            (
                "cluster edits",
                *self._read("SELECT count(*), coalesce(sum(length(edit)), 0) FROM edits", [])[0],
            ),
        ]
        return [
            *(
                Holding(
                    "vectors",
                    space,
                    n,
                    size,
                    _space_name(json.loads(identity) if identity else known.get(space)),
                )
                for space, identity, n, size in vectors
            ),
            *(
                Holding("computed", kind, n, size, f"the oldest made {_age(made)} ago")
                for kind, n, size, made in computed
            ),
            *(Holding(part, "", n, size, "kept by every drop") for part, n, size in curation if n),
        ]

    def drop_computed(self, older_than_days: float | None = None) -> int:
        """Delete computed results (maps, neighbour graphs, clusterings, ...), all or those made
        more than `older_than_days` ago; each is computed again when next asked for. Vectors,
        tags and edits stay. Returns how many were deleted."""
        made_before = time.time() - older_than_days * 86400 if older_than_days is not None else float("inf")
        return self._write("DELETE FROM artifacts WHERE created < ?", [(made_before,)])

    def drop_vectors(self, space: str) -> int:
        """Delete one vector space's vectors (the key or its unique start, as `holdings` lists
        it); texts are encoded again when next used. Returns how many were deleted."""
        found = [
            row[0]
            for row in self._read("SELECT DISTINCT space FROM vectors WHERE space LIKE ?", [f"{space}%"])
        ]
        if len(found) != 1:
            held = ", ".join(h.name for h in self.holdings() if h.part == "vectors") or "none"
            what = "no" if not found else f"{len(found)}"
            raise InputError(f"{what} vector spaces start with {space!r}; the store holds: {held}.")
        deleted = self._write("DELETE FROM vectors WHERE space = ?", [(found[0],)])
        self._write("DELETE FROM spaces WHERE space = ?", [(found[0],)])
        self._named.discard(found[0])
        return deleted

    def compact(self) -> bool:
        """Give the pages that deletes freed back to the disk (SQLite's VACUUM: it rewrites
        the file, so it needs as much free space as the file takes). False when another
        process holds the store open in a transaction: the pages are then only reused."""
        with self._lock:
            try:
                self._conn.execute("VACUUM")
                self._conn.execute("PRAGMA busy_timeout = 5000")  # a reader elsewhere: do not wait a minute
                # VACUUM wrote the whole file through the log: empty it
                busy = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.OperationalError as e:
                log.warning("the store was not compacted (%s); its freed space is reused by new entries.", e)
                return False
            finally:
                self._conn.execute("PRAGMA busy_timeout = 60000")
        if busy:
            log.warning(
                "the store is in use elsewhere: its file shrinks when the other process lets go of it."
            )
        return not busy

    def size(self) -> int:
        """Bytes on disk: the file and its write-ahead log."""
        return sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())

    # curation: tags by text, and cluster edits as an ordered log (rows, so sessions add, never overwrite)
    def add_tags(self, dataset: str, shas: Sequence[bytes], tag: str) -> None:
        now = time.time()
        self._write("INSERT OR IGNORE INTO tags VALUES (?, ?, ?, ?)", [(dataset, s, tag, now) for s in shas])

    def remove_tags(self, dataset: str, tag: str, shas: Sequence[bytes] | None = None) -> None:
        """Take `tag` off the given texts, or off every text when shas is None."""
        if shas is None:
            self._write("DELETE FROM tags WHERE dataset = ? AND tag = ?", [(dataset, tag)])
        else:
            self._write(
                "DELETE FROM tags WHERE dataset = ? AND tag = ? AND sha = ?",
                [(dataset, tag, s) for s in shas],
            )

    def rename_tag(self, dataset: str, old: str, new: str) -> None:
        """Rename a tag; texts holding both keep one."""
        self._write(
            "INSERT OR IGNORE INTO tags SELECT dataset, sha, ?, created FROM tags WHERE dataset = ? AND tag = ?",
            [(new, dataset, old)],
        )
        self.remove_tags(dataset, old)

    def tags(self, dataset: str) -> list[tuple[bytes, str]]:
        """(text sha, tag) pairs, in the order they were given."""
        return self._read("SELECT sha, tag FROM tags WHERE dataset = ? ORDER BY created, tag", [dataset])

    def add_edit(self, dataset: str, edit: str) -> None:
        """Append an edit (JSON text) to the dataset's log."""
        self._write(
            "INSERT INTO edits SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ? FROM edits WHERE dataset = ?",
            [(dataset, edit, time.time(), dataset)],
        )

    def edits(self, dataset: str) -> list[str]:
        return [
            row[0] for row in self._read("SELECT edit FROM edits WHERE dataset = ? ORDER BY seq", [dataset])
        ]

    def undo_edit(self, dataset: str) -> None:
        """Drop the last edit (nothing when there is none)."""
        self._write(
            "DELETE FROM edits WHERE dataset = ? AND seq = (SELECT MAX(seq) FROM edits WHERE dataset = ?)",
            [(dataset, dataset)],
        )

    def _read(self, sql: str, params: list) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as e:
                self._recover(e)
                return []

    def _keep(self, sql: str, rows: list[tuple]) -> int:
        """_write for what can be made again (vectors, results): on a full disk the work goes on
        without keeping it, with one warning, instead of failing."""
        try:
            return self._write(sql, rows)
        except StoreFull as e:
            message = f"{e} Until then, vectors and results are computed but not kept."
            if message not in self.warnings:
                log.warning("%s", message)
                self.warnings.append(message)
            return 0

    def _write(self, sql: str, rows: list[tuple]) -> int:
        """Run `sql` for each of `rows` in one transaction; returns how many rows it changed."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                    before = self._conn.total_changes
                    try:
                        self._conn.executemany(sql, rows)
                        self._conn.execute("COMMIT")
                    except BaseException:
                        with contextlib.suppress(sqlite3.Error):
                            self._conn.execute("ROLLBACK")
                        raise
                    return self._conn.total_changes - before
                except sqlite3.DatabaseError as e:
                    if isinstance(e, sqlite3.OperationalError) and "full" in str(e):  # SQLITE_FULL
                        raise StoreFull(
                            f"the store {self.path} cannot grow ({e}); free space on that disk "
                            "(`embedviz store --drop-computed` drops results that can be made again) and try again."
                        ) from e
                    if attempt == 2:
                        raise
                    self._recover(e)
