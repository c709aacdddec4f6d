"""Writing tables: CSV (spreadsheet formulas defused) and Parquet."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from embedviz.errors import InputError

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_bytes(frame: pd.DataFrame) -> bytes:
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(defuse)
    return safe.to_csv(index=False).encode("utf-8")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet; a metadata column Arrow cannot type (mixed numbers and text) is written as text."""
    import pyarrow as pa

    fixed = frame.copy()
    for column in fixed.columns:
        if fixed[column].dtype == object:
            try:
                pa.array(fixed[column])
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                fixed[column] = fixed[column].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    buffer = io.BytesIO()
    fixed.to_parquet(buffer, index=False)
    return buffer.getvalue()


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write .csv or .parquet by the file's suffix."""
    path = Path(path)
    writers = {".csv": csv_bytes, ".parquet": parquet_bytes}
    if path.suffix.lower() not in writers:
        raise InputError(f"{path.name}: the output must end in .csv or .parquet.")
    if path.parent and not path.parent.exists():
        raise InputError(f"{path.parent}: no such folder for the output.")
    path.write_bytes(writers[path.suffix.lower()](frame))
    return path


def classifier_zip(model) -> bytes:
    """A trained classifier's folder (embedviz.classifier.save) as zip bytes: unzip it and pass
    the folder to `embedviz classify`."""
    import tempfile
    import zipfile

    from embedviz.classifier import save

    with tempfile.TemporaryDirectory() as folder:
        saved = save(model, Path(folder) / "classifier")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(saved.iterdir()):
                archive.write(path, f"classifier/{path.name}")
        return buffer.getvalue()
