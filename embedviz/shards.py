"""Parquet shards: a corpus too large for one table, on disk as part files with a manifest.

An embed folder holds the input columns, `row_id` (the input row, 0-based, counted across the
input files in name order) and `vector` (fixed-size list of float32) in `part-*.parquet`, and
`embedviz-embed.json` (the backend that made the vectors, the text column, the row count).
A map folder holds the same rows with x, y, cluster and names instead of the vector, and
`embedviz-map.json` with the fitted model beside it.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from embedviz.corpus import FORMATS, Corpus, load_corpus
from embedviz.errors import InputError

log = logging.getLogger(__name__)

EMBED_MANIFEST = "embedviz-embed.json"
MAP_MANIFEST = "embedviz-map.json"
ROW_ID = "row_id"
VECTOR = "vector"
RESERVED = (ROW_ID, VECTOR)
PART_GLOB = "*.parquet"


def input_files(path: str | Path) -> list[Path]:
    """A file, or the readable files of a folder in name order (what row ids count over)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder.")
    if path.is_file():
        return [path]
    files = sorted(
        p
        for p in path.iterdir()
        if p.is_file()
        and not p.name.startswith((".", "_", "~$"))  # hidden, Spark's _SUCCESS, Excel's lock files
        and Path(p.name.removesuffix(".gz")).suffix.lower() in FORMATS
    )
    if not files:
        raise InputError(f"{path}: the folder holds no {', '.join(FORMATS)} files.")
    return files


def read_inputs(path: str | Path, text_column: str | None = None) -> Iterator[tuple[Corpus, np.ndarray]]:
    """Each input file as a Corpus with the row id of each kept row: (n,) int64, counted from
    the first row of the first file (dropped rows keep their ids, so ids are stable)."""
    offset = 0
    column = text_column
    for file in input_files(path):
        corpus = load_corpus(file, text_column=column)
        if column is None:
            column = corpus.text_column  # picked once: every file must use the same one
        yield corpus, offset + corpus.rows.astype(np.int64)
        offset += corpus.report.n_input_rows


def shard_frame(corpus: Corpus, row_ids: np.ndarray) -> pd.DataFrame:
    """The input columns with row_id first (an input column named row_id or vector is kept as
    row_id_input / vector_input)."""
    frame = corpus.frame.rename(columns={c: f"{c}_input" for c in RESERVED if c in corpus.frame})
    frame.insert(0, ROW_ID, row_ids)
    return frame.reset_index(drop=True)


def vector_array(vectors: np.ndarray) -> pa.FixedSizeListArray:
    """(n, d) float32 -> a fixed-size list column."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1])


def vectors_of(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A vector column (fixed-size or plain lists of floats) -> float32 (n, d)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if len(column) == 0:
        return np.zeros((0, 0), np.float32)
    if pa.types.is_fixed_size_list(column.type):
        width = column.type.list_size
    else:
        lengths = pc_lengths(column)
        width = int(lengths[0])
        if (lengths != width).any():
            raise InputError("the vector column holds vectors of different lengths.")
    flat = column.flatten().to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(flat.reshape(-1, width), dtype=np.float32)


def pc_lengths(column: pa.Array) -> np.ndarray:
    import pyarrow.compute as pc

    return pc.list_value_length(column).to_numpy(zero_copy_only=False)


def with_vectors(frame: pd.DataFrame, vectors: np.ndarray) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.append_column(VECTOR, vector_array(vectors))


def write_part(table: pa.Table, folder: Path, name: str) -> Path:
    """Written under a temporary name and renamed: a part file is whole or absent."""
    path = folder / name
    work = folder / f".{name}.tmp"
    pq.write_table(table, work)
    work.replace(path)
    return path


def parts(folder: str | Path) -> list[Path]:
    return sorted(Path(folder).glob(PART_GLOB))


def prepare_output(folder: str | Path, manifest: str) -> Path:
    """An empty folder for output: created, or emptied when it holds an earlier run of the same
    kind (its manifest says so); any other non-empty folder is refused."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: is a file; give a folder for the output.")
    if folder.exists() and any(folder.iterdir()):
        if not (folder / manifest).exists():
            raise InputError(
                f"{folder}: the folder is not empty and was not written by embedviz; give a new or empty folder."
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_manifest(folder: Path, name: str, content: dict) -> None:
    work = folder / f".{name}.tmp"
    work.write_text(json.dumps(content, indent=2, sort_keys=True, default=str))
    work.replace(folder / name)


def read_manifest(folder: str | Path, name: str) -> dict:
    path = Path(folder) / name
    if not path.exists():
        kind = "embedviz embed" if name == EMBED_MANIFEST else "embedviz map"
        raise InputError(f"{folder}: not a folder written by `{kind}` (there is no {name}).")
    return json.loads(path.read_text())


def is_embed_folder(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / EMBED_MANIFEST).exists()


def is_map_folder(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / MAP_MANIFEST).exists()


def is_output_folder(path: str | Path) -> bool:
    """A folder written by `embedviz embed` or by `embedviz map FOLDER`."""
    return is_embed_folder(path) or is_map_folder(path)


def check_complete(folder: Path, expected: np.ndarray) -> None:
    """Every expected row id present exactly once in the folder's parts, or InputError."""
    found = np.concatenate(
        [pq.read_table(p, columns=[ROW_ID])[ROW_ID].to_numpy() for p in parts(folder)] or [np.zeros(0)]
    ).astype(np.int64)
    expected = np.sort(np.asarray(expected, dtype=np.int64))
    ids, counts = np.unique(found, return_counts=True)
    duplicated = int((counts > 1).sum())
    missing = np.setdiff1d(expected, ids).size
    extra = np.setdiff1d(ids, expected).size
    if duplicated or missing or extra:
        raise InputError(
            f"{folder}: the output is incomplete ({missing:,} rows missing, {duplicated:,} written twice, "
            f"{extra:,} unexpected); run the command again."
        )


def read_columns(folder: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The parts' columns (all but the vector, unless named) as one frame in row_id order."""
    tables = []
    for path in parts(folder):
        names = pq.read_schema(path).names
        wanted = [c for c in names if c != VECTOR] if columns is None else [c for c in columns if c in names]
        tables.append(pq.read_table(path, columns=wanted).to_pandas())
    if not tables:
        raise InputError(f"{folder}: there are no part files.")
    frame = pd.concat(tables, ignore_index=True)
    return frame.sort_values(ROW_ID, kind="stable").reset_index(drop=True)


def rows_of(folder: str | Path, row_ids: Sequence[int], columns: Sequence[str]) -> pd.DataFrame:
    """The given rows' columns (plus row_id), in the order of `row_ids`, reading only row groups
    that hold them."""
    import pyarrow.dataset as ds

    wanted = pa.array(np.asarray(row_ids, dtype=np.int64))
    dataset = ds.dataset([str(p) for p in parts(folder)], format="parquet")
    table = dataset.to_table(columns=[ROW_ID, *columns], filter=ds.field(ROW_ID).isin(wanted))
    frame = table.to_pandas().drop_duplicates(ROW_ID).set_index(ROW_ID)
    return frame.reindex(np.asarray(row_ids, dtype=np.int64)).reset_index()


def read_part(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    return pq.read_table(path, columns=list(columns) if columns is not None else None)


def iter_parts(folder: str | Path, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
    for path in parts(folder):
        yield pq.read_table(path, columns=list(columns) if columns is not None else None)


def read_vectors(folder: str | Path, row_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(row ids (m,), vectors (m, d)) in row_id order: all rows, or those in `row_ids`, read part
    by part so only the wanted vectors are held."""
    wanted = None if row_ids is None else np.asarray(row_ids, dtype=np.int64)
    ids, blocks = [], []
    for table in iter_parts(folder, [ROW_ID, VECTOR]):
        part_ids = table[ROW_ID].to_numpy().astype(np.int64)
        keep = np.ones(len(part_ids), bool) if wanted is None else np.isin(part_ids, wanted)
        if keep.any():
            ids.append(part_ids[keep])
            blocks.append(vectors_of(table[VECTOR])[keep])
    if not ids:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    all_ids, vectors = np.concatenate(ids), np.vstack(blocks)
    order = np.argsort(all_ids, kind="stable")
    return all_ids[order], vectors[order]
