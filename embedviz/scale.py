"""Beyond one machine: embed a corpus into Parquet shards, fit a map on a sample and place every
row, place new texts on a map made earlier.

The heavy, row-parallel steps (encoding, placing) run in this process (engine "local") or on
Ray Data (engine "ray"): a pool of actors that each build the backend or load the fitted model
once, with Ray retrying the tasks of a worker that dies. Nothing here is a home-made pool.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from embedviz import fitted, shards
from embedviz.backends import BackendSettings
from embedviz.backends.base import Backend
from embedviz.cluster import ClusterParams, sample_rows
from embedviz.corpus import Corpus, Limits
from embedviz.embed import embed
from embedviz.errors import InputError
from embedviz.neighbors import Neighbors
from embedviz.progress import OnProgress, Progress, ignore
from embedviz.reduce import ReduceParams
from embedviz.store import Store

log = logging.getLogger(__name__)

Engine = Literal["local", "ray"]
ENGINES: tuple[Engine, ...] = ("local", "ray")
SHARD_ROWS = 50_000
"""Rows per part file the local engine writes."""
BATCH_ROWS = 1024
"""Rows per Ray task: small enough that a retried task repeats little work."""
DEFAULT_FIT_SAMPLE = 100_000
"""Rows the map is fitted on when not told: the whole corpus up to this size."""
UNEMBEDDABLE = ("tfidf", "precomputed")
FOLDER_MAX_ROWS = 20_000_000
"""Rows of a folder the dashboard reads (texts and columns, not vectors). Beyond the row limit
for vectors in memory (EMBEDVIZ_MAX_ROWS) a folder's vectors stay on disk: the dashboard shows
its own map, clusters and names, and searches it through its on-disk index."""


@dataclass(frozen=True)
class BackendSpec(BackendSettings):
    """How to build the backend on any machine: never a secret (an OpenAI key is read from
    OPENAI_API_KEY where the backend runs)."""

    name: str

    def build(self) -> Backend:  # type: ignore[override]
        if self.name in UNEMBEDDABLE:
            raise InputError(
                f"the {self.name} backend's vectors belong to one file and cannot be made shard by "
                "shard or for new texts; choose sentence-transformers or openai."
            )
        return super().build()


# Ray


def ray_session(address: str | None = None, quiet: bool = False):
    """Ray, connected to `address` (a running cluster) or started on this machine."""
    try:
        import ray
    except ImportError:
        raise InputError(
            "the ray engine needs Ray: pip install -r requirements-scale.txt (or use --engine local)."
        ) from None
    if not ray.is_initialized():
        env = {"HF_HUB_OFFLINE": "1"}
        for name in ("EMBEDVIZ_CACHE_DIR", "EMBEDVIZ_MODELS_DIR", "HF_HOME"):
            if os.environ.get(name) and not address:  # this machine's folders, for its workers
                env[name] = os.environ[name]
        options = {"address": address} if address else {"num_cpus": os.cpu_count()}
        ray.init(
            **options,
            include_dashboard=False,
            runtime_env={"env_vars": env},
            logging_level=logging.WARNING,
            log_to_driver=not quiet,
        )
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = not quiet
    return ray


ACTOR_CPUS = 0.9
IO_CPUS = 0.1
"""Actors hold their CPU for the whole run: each asks a little less than one, and the read and
write tasks between them a little, so on a small machine they never wait on each other."""


def _workers(ray) -> tuple[int, dict]:
    """How many actors, each with what: one per GPU when the cluster has GPUs, else one per CPU."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return gpus, {"num_gpus": 1, "num_cpus": IO_CPUS}
    return max(1, int(resources.get("CPU", 1))), {"num_cpus": ACTOR_CPUS}


RETRY = {"max_restarts": -1, "max_task_retries": -1}
"""A worker that dies is restarted and its batches run again."""


class _Encoder:
    """Ray actor: builds the backend once, then encodes batches."""

    def __init__(self, spec: BackendSpec, text_column: str) -> None:
        self.backend = spec.build()
        self.text_column = text_column

    def __call__(self, batch: pa.Table) -> pa.Table:
        vectors = self.backend.encode(batch[self.text_column].to_pylist())
        return batch.append_column(shards.VECTOR, shards.vector_array(vectors))


class _Counter:
    """Ray actor: places batches (clusters only) and counts their words per cluster."""

    def __init__(self, model, text_column: str) -> None:
        self.model = _resolve(model)
        self.text_column = text_column

    def __call__(self, batch: pa.Table) -> pd.DataFrame:
        vectors = shards.vectors_of(batch[shards.VECTOR])
        fine = self.model.place_clusters(vectors, batch[shards.ROW_ID].to_numpy())
        return _counts_and_sizes(self.model, batch[self.text_column].to_pylist(), fine)


class _Placer:
    """Ray actor: places batches on the map and names their clusters."""

    def __init__(self, model) -> None:
        self.model = _resolve(model)

    def __call__(self, batch: pa.Table) -> pa.Table:
        vectors = shards.vectors_of(batch[shards.VECTOR])
        return placed_table(self.model, batch.drop_columns([shards.VECTOR]), vectors)


def _resolve(model):
    if isinstance(model, fitted.FittedMap):
        return model
    import ray

    from embedviz.compiled import load_umap
    from embedviz.reduce import numba_cache_dir

    load_umap(numba_cache_dir())
    return ray.get(model)


def _counts_and_sizes(model: fitted.FittedMap, texts: list[str], fine: np.ndarray) -> pd.DataFrame:
    """Word counts per cluster, and each cluster's row count as word -1."""
    counts = model.count_words(texts, fine)
    sizes = np.bincount(fine, minlength=model.k)
    rows = pd.DataFrame({"cluster": np.arange(model.k), "word": -1, "count": sizes})
    return pd.concat([counts, rows[rows["count"] > 0]], ignore_index=True)


def placed_table(
    model: fitted.FittedMap, table: pa.Table, vectors: np.ndarray, mark_far: bool = False
) -> pa.Table:
    """`table` with x, y (z), cluster, cluster_label, broad_cluster, broad_cluster_label and
    similarity (to the nearest text the map was fitted on) appended."""
    rows = table[shards.ROW_ID].to_numpy() if shards.ROW_ID in table.column_names and not mark_far else None
    placed = model.place(vectors, mark_far=mark_far, rows=rows)
    for axis, name in enumerate("xyz"[: placed.coords.shape[1]]):
        table = _set(table, name, pa.array(placed.coords[:, axis]))
    table = _set(table, "cluster", pa.array(placed.fine))
    table = _set(table, "cluster_label", pa.array(model.label_names(placed.fine, "fine").astype(str)))
    table = _set(table, "broad_cluster", pa.array(placed.broad))
    table = _set(table, "broad_cluster_label", pa.array(model.label_names(placed.broad, "broad").astype(str)))
    return _set(table, "similarity", pa.array(placed.nearest))


def _set(table: pa.Table, name: str, column: pa.Array) -> pa.Table:
    if name in table.column_names:  # an input column of that name is kept as NAME_input
        table = table.rename_columns([f"{c}_input" if c == name else c for c in table.column_names])
    return table.append_column(name, column)


# embed


@dataclass(frozen=True)
class EmbedReport:
    rows: int
    seconds: float
    engine: str


def embed_folder(
    source: str | Path,
    out: str | Path,
    spec: BackendSpec,
    *,
    engine: Engine = "local",
    address: str | None = None,
    text_column: str | None = None,
    store: Store | None = None,
    on_progress: OnProgress = ignore,
    quiet: bool = False,
) -> EmbedReport:
    """Embed every text of a file or folder into Parquet parts under `out` (see shards)."""
    started = time.perf_counter()
    backend = spec.build()  # a bad model name fails here, before any work
    out = shards.prepare_output(out, shards.EMBED_MANIFEST)
    inputs = list(shards.read_inputs(source, text_column))
    column = inputs[0][0].text_column
    expected = np.concatenate([ids for _, ids in inputs])
    if engine == "ray":
        _embed_on_ray(inputs, out, spec, column, address, quiet)
    else:
        _embed_here(inputs, out, backend, store, on_progress)
    shards.check_complete(out, expected)
    dimension = len(shards.vectors_of(next(shards.iter_parts(out, [shards.VECTOR]))[shards.VECTOR])[0])
    shards.write_manifest(
        out,
        shards.EMBED_MANIFEST,
        {
            "source": str(Path(source).resolve()),
            "text_column": column,
            "rows": int(len(expected)),
            "input_rows": int(sum(c.report.n_input_rows for c, _ in inputs)),
            "backend": backend.identity(),
            "spec": {k: v for k, v in spec.__dict__.items() if k != "base_url"},
            "dimension": dimension,
            "engine": engine,
        },
    )
    seconds = time.perf_counter() - started
    log.info("embed: %s rows on %s in %.1f s; wrote %s", f"{len(expected):,}", engine, seconds, out)
    return EmbedReport(int(len(expected)), seconds, engine)


def _embed_here(inputs, out: Path, backend: Backend, store: Store | None, on_progress: OnProgress) -> None:
    total = sum(len(c) for c, _ in inputs)
    done = 0
    for index, (corpus, ids) in enumerate(inputs):
        frame = shards.shard_frame(corpus, ids)
        hashes = corpus.text_hashes
        for start in range(0, len(frame), SHARD_ROWS):
            stop = start + SHARD_ROWS
            texts = corpus.texts[start:stop]

            def step(event: Progress, before: int = done, size: int = len(texts)) -> None:
                on_progress(Progress("embed", before + event.done * size // max(event.total, 1), total))

            emb = embed(texts, backend, store, hashes=hashes[start:stop], on_progress=step)
            table = shards.with_vectors(frame.iloc[start:stop], emb.vectors)
            shards.write_part(table, out, f"part-{index:05d}-{start // SHARD_ROWS:05d}.parquet")
            done += len(texts)


def _embed_on_ray(
    inputs, out: Path, spec: BackendSpec, column: str, address: str | None, quiet: bool
) -> None:
    ray = ray_session(address, quiet)
    workers, resources = _workers(ray)
    tables = [pa.Table.from_pandas(shards.shard_frame(c, ids), preserve_index=False) for c, ids in inputs]
    blocks = [t.slice(start, BATCH_ROWS) for t in tables for start in range(0, len(t), BATCH_ROWS)]
    dataset = ray.data.from_arrow(blocks)
    encoded = dataset.map_batches(
        _Encoder,
        fn_constructor_kwargs={"spec": spec, "text_column": column},
        batch_size=BATCH_ROWS,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=workers),
        **resources,
        **RETRY,
    )
    encoded.write_parquet(str(out), min_rows_per_file=SHARD_ROWS, ray_remote_args={"num_cpus": IO_CPUS})


# map


@dataclass(frozen=True)
class MapReport:
    rows: int
    fit_rows: int
    k: int
    broad_k: int
    seconds_fit: float
    seconds_place: float
    engine: str
    broad_options: tuple[int, ...] = ()


def fit_sample(folder: Path, size: int | None) -> np.ndarray:
    """Row ids the map is fitted on (sorted): all, or `size` of them by cluster.sample_rows, the
    same rows every run and inside the sample the in-memory pipeline clusters a corpus on."""
    ids = np.concatenate([t[shards.ROW_ID].to_numpy() for t in shards.iter_parts(folder, [shards.ROW_ID])])
    return sample_rows(ids, DEFAULT_FIT_SAMPLE if size is None else size)


def map_folder(
    source: str | Path,
    out: str | Path,
    *,
    engine: Engine = "local",
    address: str | None = None,
    sample: int | None = None,
    reduce_params: ReduceParams = ReduceParams(method="umap"),
    cluster_params: ClusterParams = ClusterParams(),
    quiet: bool = False,
    on_progress: OnProgress = ignore,
) -> MapReport:
    """Fit the map and clusters on a sample of an embed folder, place every row, and write
    the rows with x, y, clusters and names to `out` (with the fitted model, for --onto)."""
    source = Path(source)
    manifest = shards.read_manifest(source, shards.EMBED_MANIFEST)
    column = manifest["text_column"]
    if sample is not None and sample < 20:
        raise InputError("--fit-sample must be at least 20 rows.")
    out = shards.prepare_output(out, shards.MAP_MANIFEST)
    started = time.perf_counter()
    on_progress(Progress("fit", 0, 1))
    ids = fit_sample(source, sample)
    ids, vectors = shards.read_vectors(source, ids)
    texts = shards.rows_of(source, ids, [column])[column].tolist()
    model = fitted.fit(vectors, texts, ids, reduce_params, cluster_params, manifest["backend"])
    del vectors
    fit_seconds = time.perf_counter() - started
    on_progress(Progress("fit", 1, 1))
    log.info("map: fitted on %s rows in %.1f s: %d clusters", f"{len(ids):,}", fit_seconds, model.k)
    started = time.perf_counter()
    if engine == "ray":
        _map_on_ray(model, source, out, column, address, quiet)
    else:
        _map_here(model, source, out, column, on_progress)
    shards.check_complete(
        out, np.concatenate([t[shards.ROW_ID].to_numpy() for t in shards.iter_parts(source, [shards.ROW_ID])])
    )
    fitted.save(model, out)
    content = {"embedded": str(source.resolve()), "text_column": column, "backend": manifest["backend"]}
    content.update(rows=int(sum(model.sizes["fine"].values())), engine=engine, model=fitted.summary(model))
    shards.write_manifest(out, shards.MAP_MANIFEST, content)
    place_seconds = time.perf_counter() - started
    log.info(
        "map: placed %s rows on %s in %.1f s; wrote %s", f"{content['rows']:,}", engine, place_seconds, out
    )
    broad_k = int(model.parent.max()) + 1
    return MapReport(
        content["rows"], len(ids), model.k, broad_k, fit_seconds, place_seconds, engine, model.broad_options
    )


def _map_here(model: fitted.FittedMap, source: Path, out: Path, column: str, on_progress: OnProgress) -> None:
    """Two passes over the parts: count words per cluster (names need every row), then place
    and write. Clusters are computed in both: placing is deterministic."""
    paths = shards.parts(source)
    counts = []
    for i, path in enumerate(paths):
        table = shards.read_part(path, [shards.ROW_ID, column, shards.VECTOR])
        counts.append(_count_table(model, table, column))
        on_progress(Progress("count words", i + 1, len(paths)))
    _name(model, counts)
    for i, path in enumerate(paths):
        table = shards.read_part(path)
        vectors = shards.vectors_of(table[shards.VECTOR])
        placed = placed_table(model, table.drop_columns([shards.VECTOR]), vectors)
        shards.write_part(placed, out, path.name)
        on_progress(Progress("place", i + 1, len(paths)))


def _count_table(model: fitted.FittedMap, table: pa.Table, column: str) -> pd.DataFrame:
    vectors = shards.vectors_of(table[shards.VECTOR])
    fine = model.place_clusters(vectors, table[shards.ROW_ID].to_numpy())
    return _counts_and_sizes(model, table[column].to_pylist(), fine)


def _name(model: fitted.FittedMap, counts: list[pd.DataFrame]) -> None:
    counts_all = pd.concat(counts, ignore_index=True)
    sizes_rows = counts_all[counts_all["word"] == -1].groupby("cluster")["count"].sum()
    sizes = np.zeros(model.k, dtype=np.int64)
    sizes[sizes_rows.index.to_numpy()] = sizes_rows.to_numpy()
    model.name_clusters(counts_all[counts_all["word"] >= 0], sizes)


def _map_on_ray(
    model: fitted.FittedMap, source: Path, out: Path, column: str, address: str | None, quiet: bool
) -> None:
    ray = ray_session(address, quiet)
    workers, _ = _workers(ray)  # placing runs on CPUs
    dataset = ray.data.read_parquet(
        str(source), file_extensions=["parquet"], ray_remote_args={"num_cpus": IO_CPUS}
    )
    common = {
        "batch_size": BATCH_ROWS * 4,
        "batch_format": "pyarrow",
        # from one actor up: Ray's file listing takes a whole CPU before the first block is read
        "compute": ray.data.ActorPoolStrategy(min_size=1, max_size=workers),
        "num_cpus": ACTOR_CPUS,
    }
    counted = dataset.select_columns([shards.ROW_ID, column, shards.VECTOR]).map_batches(
        _Counter, fn_constructor_kwargs={"model": ray.put(model), "text_column": column}, **common, **RETRY
    )
    _name(model, [counted.to_pandas()])
    placed = dataset.map_batches(_Placer, fn_constructor_kwargs={"model": ray.put(model)}, **common, **RETRY)
    placed.write_parquet(str(out), min_rows_per_file=SHARD_ROWS, ray_remote_args={"num_cpus": IO_CPUS})


# new texts onto a map made earlier


def place_onto(
    corpus: Corpus,
    map_folder_path: str | Path,
    backend: Backend,
    store: Store | None,
    on_progress: OnProgress = ignore,
) -> pd.DataFrame:
    """New texts placed on an existing map, which does not move: every input column, then x, y,
    the map's clusters and names (or 'far from every cluster') and the similarity to the
    nearest text the map was fitted on."""
    model = fitted.load(map_folder_path)
    check_backend(model.backend, backend)
    emb = embed(corpus.texts, backend, store, hashes=corpus.text_hashes, on_progress=on_progress)
    table = pa.Table.from_pandas(corpus.frame, preserve_index=False)
    frame = placed_table(model, table, emb.vectors, mark_far=True).to_pandas()
    frame.attrs["text_column"] = corpus.text_column
    return frame


def check_backend(identity: dict, backend: Backend) -> None:
    if identity and backend.identity() != identity:
        made = ", ".join(f"{k} {v}" for k, v in sorted(identity.items()) if v is not None)
        raise InputError(
            f"the map was made from vectors of another backend ({made}); embed with that backend "
            "(the CLI does so unless told otherwise)."
        )


def folder_manifest(folder: str | Path) -> dict:
    """A map folder's manifest, else an embed folder's."""
    if shards.is_map_folder(folder):
        return shards.read_manifest(folder, shards.MAP_MANIFEST)
    return shards.read_manifest(folder, shards.EMBED_MANIFEST)


def seed_store(folder: str | Path, store: Store) -> int:
    """Put a folder's vectors (an embed folder's, or those a map folder was made from) into the
    store under their backend, so opening the folder encodes nothing; returns how many were added."""
    from embedviz.backends.base import space_of
    from embedviz.embed import text_hash

    manifest = folder_manifest(folder)
    embedded = embedded_folder(folder)
    if not shards.is_embed_folder(embedded):
        log.warning(
            "%s: the vectors this map was made from are gone (%s); texts will be encoded again.",
            folder,
            embedded,
        )
        return 0
    space, column, added = space_of(manifest["backend"]), manifest["text_column"], 0
    for table in shards.iter_parts(embedded, [column, shards.VECTOR]):
        hashes = [text_hash(t) for t in table[column].to_pylist()]
        present = store.get_vectors(space, hashes)
        new = [i for i, sha in enumerate(hashes) if sha not in present]
        if new:
            vectors = shards.vectors_of(table[shards.VECTOR])
            store.name_space(space, manifest["backend"])
            store.put_vectors(space, [hashes[i] for i in new], vectors[new])
            added += len(new)
    return added


def corpus_of_folder(folder: str | Path, text_column: str | None = None) -> Corpus:
    """A map or embed folder as a Corpus (every column but the vectors), so the dashboard and
    the CLI open it like a file."""
    folder = Path(folder)
    manifest = folder_manifest(folder)
    frame = shards.read_columns(folder)
    from embedviz.corpus import corpus_from_frame

    limits = Limits.from_env()
    limits = Limits(max(limits.max_rows, FOLDER_MAX_ROWS), limits.max_bytes)
    column = text_column or manifest["text_column"]
    return corpus_from_frame(frame, text_column=column, name=folder.name, limits=limits)


def vectors_fit(n: int) -> bool:
    """Whether the vectors of n texts may be held in memory (EMBEDVIZ_MAX_ROWS)."""
    return n <= Limits.from_env().max_rows


def beyond_memory_message(n: int, dimension: int) -> str:
    """What a page that needs a folder's vectors in memory says when they are too many."""
    limit = Limits.from_env().max_rows
    return (
        f"this folder holds {n:,} texts, more than the {limit:,} whose vectors the dashboard keeps in "
        "memory (EMBEDVIZ_MAX_ROWS), so its vectors stay on disk: the Map, Search and Clusters pages "
        "show the folder's own map, clusters and search. For this page, open a sample of its texts as a file, "
        f"or raise EMBEDVIZ_MAX_ROWS on a machine with about {max(1, round(n * dimension * 8 / 2**30))} GB "
        "free for its vectors."
    )


def map_first_message(n: int) -> str:
    """What the Map and Clusters pages say on an embed folder beyond the in-memory limit."""
    return (
        f"{n:,} texts are more than the dashboard maps and clusters from vectors in memory "
        "(EMBEDVIZ_MAX_ROWS); map the folder first (embedviz map FOLDER --out MAPPED --fit-sample "
        "100000) and open MAPPED."
    )


def embedded_folder(folder: str | Path) -> Path:
    """The embed folder that holds a folder's vectors: itself, or the one a map was made from."""
    return Path(folder_manifest(folder).get("embedded", folder))


def corpus_rows(corpus: Corpus, row_ids: np.ndarray) -> np.ndarray:
    """Positions in a folder's corpus (rows in row_id order) of input row ids, -1 where absent:
    same shape as row_ids."""
    ids = corpus.frame[shards.ROW_ID].to_numpy(dtype=np.int64)
    row_ids = np.asarray(row_ids, dtype=np.int64)
    if not len(ids):
        return np.full(row_ids.shape, -1, dtype=np.int64)
    at = np.clip(np.searchsorted(ids, row_ids), 0, len(ids) - 1)
    return np.where((ids[at] == row_ids) & (row_ids >= 0), at, -1)


def search_folder(
    index, corpus: Corpus, queries: np.ndarray, k: int, without: int | None = None
) -> Neighbors:
    """The k texts of a folder's corpus nearest each unit query (q, d), found by its on-disk
    index (embedviz.shard_index): corpus positions (q, k), -1 past the last found; `without`
    (a corpus position) is left out of the results ("more like this")."""
    wanted = k + (without is not None)
    found = index.search(np.atleast_2d(queries), wanted)
    rows = corpus_rows(corpus, found.row_ids)
    scores = np.where(rows >= 0, found.scores, -np.inf).astype(np.float32)
    indices = np.full((len(rows), k), -1, dtype=np.int64)
    best = np.full((len(rows), k), -np.inf, dtype=np.float32)
    for q in range(len(rows)):
        keep = rows[q] >= 0
        if without is not None:
            keep &= rows[q] != without
        taken = rows[q][keep][:k]
        indices[q, : len(taken)], best[q, : len(taken)] = taken, scores[q][keep][:k]
    return Neighbors(indices, best, exact=False)


def folder_vector(index, corpus: Corpus, row: int) -> np.ndarray:
    """The stored vector (d,) of a folder corpus's row, read from the on-disk index."""
    if not 0 <= row < len(corpus):
        raise InputError(f"row {row} is out of range (0 to {len(corpus) - 1}).")
    return index.vectors_of([int(corpus.frame[shards.ROW_ID].iat[row])])[0]
