"""Corpus loading: pasted text or a file (txt, csv, tsv, jsonl, json, parquet, and .gz forms).

The text column is picked automatically (the string column with the longest average text) or
named; every other column is kept as metadata. Empty texts are dropped and counted, duplicates
kept and counted.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from embedviz.errors import InputError

log = logging.getLogger(__name__)

FORMATS = (".txt", ".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".xlsx")
TEXT_COLUMN_DEFAULT = "text"


@dataclass(frozen=True)
class Limits:
    """Row and size limits; defaults can be changed by EMBEDVIZ_MAX_ROWS / EMBEDVIZ_MAX_MB."""

    max_rows: int = 1_000_000
    max_bytes: int = 1024 * 2**20

    @classmethod
    def from_env(cls) -> Limits:
        rows = os.environ.get("EMBEDVIZ_MAX_ROWS")
        mb = os.environ.get("EMBEDVIZ_MAX_MB")
        return cls(
            max_rows=int(rows) if rows else cls.max_rows,
            max_bytes=int(float(mb) * 2**20) if mb else cls.max_bytes,
        )


@dataclass(frozen=True)
class LoadReport:
    """What loading did: rows read, dropped (empty text), duplicates, encoding, warnings."""

    n_input_rows: int
    n_dropped: int
    n_duplicates: int
    encoding: str = "utf-8"
    warnings: tuple[str, ...] = ()

    def summary(self) -> str:
        kept = self.n_input_rows - self.n_dropped
        parts = [f"{kept:,} texts"]
        if self.n_dropped:
            parts.append(f"{self.n_dropped:,} dropped (empty or missing text)")
        if self.n_duplicates:
            parts.append(f"{self.n_duplicates:,} duplicates (kept)")
        return ", ".join(parts)


@dataclass(frozen=True, eq=False)
class Corpus:
    """Texts with their metadata.

    frame: the kept rows, every input column, index 0..n-1.
    rows: (n,) int, the 0-based input row of each kept row.
    """

    frame: pd.DataFrame
    text_column: str
    rows: np.ndarray
    report: LoadReport
    name: str = "corpus"
    source_digest: str = field(default="", repr=False)

    def __len__(self) -> int:
        return len(self.frame)

    @cached_property
    def texts(self) -> list[str]:
        return self.frame[self.text_column].tolist()

    @cached_property
    def text_hashes(self) -> list[bytes]:
        """sha256 of each text's UTF-8 bytes, in row order."""
        return [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in self.texts]

    @cached_property
    def mean_chars(self) -> float:
        """The texts' mean length in characters (what encoding time grows with)."""
        lengths = self.frame[self.text_column].str.len()
        return float(lengths.mean()) if len(lengths) else 0.0

    @cached_property
    def fingerprint(self) -> str:
        """Identifies the ordered texts (not the metadata)."""
        h = hashlib.sha256()
        for digest in self.text_hashes:
            h.update(digest)
        return h.hexdigest()

    @property
    def metadata_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c != self.text_column]


def load_corpus(
    source: str | os.PathLike | bytes,
    *,
    name: str | None = None,
    text_column: str | None = None,
    limits: Limits | None = None,
) -> Corpus:
    """Read a file into a Corpus: a path (`name`, if given, is only for display), or the
    file's bytes with `name` giving its file name (which tells the format)."""
    limits = limits or Limits.from_env()
    if isinstance(source, bytes):
        data, name = source, name or "upload.txt"
        file_name = name
    else:
        path = Path(source)
        name, file_name = name or path.name, path.name
        data = _read_path(path, limits)
    _check_size(name, len(data), limits)
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(name, data, limits)
    kind = _format_of(file_name)
    warn: list[str] = []
    if kind == ".parquet":
        frame, encoding = _read_parquet(name, data), "parquet"
    elif kind == ".xlsx":
        frame, encoding = _read_excel(name, data, limits, warn), "xlsx"
    else:
        text, encoding = _decode(name, data, warn)
        frame = _PARSERS[kind](file_name, text, warn)
    return corpus_from_frame(
        frame,
        text_column=text_column,
        name=name,
        limits=limits,
        encoding=encoding,
        warnings=warn,
        source_digest=hashlib.sha256(data).hexdigest(),
    )


def corpus_from_text(text: str, *, name: str = "pasted text", limits: Limits | None = None) -> Corpus:
    """One text per line; blank lines are dropped."""
    return corpus_from_frame(_parse_txt(name, text, []), name=name, limits=limits)


def corpus_from_frame(
    frame: pd.DataFrame,
    *,
    text_column: str | None = None,
    name: str = "table",
    limits: Limits | None = None,
    encoding: str = "utf-8",
    warnings: list[str] | None = None,
    source_digest: str = "",
) -> Corpus:
    """Pick the text column, drop empty texts, count duplicates."""
    limits = limits or Limits.from_env()
    frame = frame.reset_index(drop=True)
    names = [str(c).strip() for c in frame.columns]  # " text , label ", as spreadsheets are typed
    frame.columns = names if len(set(names)) == len(names) else [str(c) for c in frame.columns]
    if frame.empty or len(frame.columns) == 0:
        raise InputError(f"{name}: no rows found (the file is empty or has only a header).")
    if len(frame) > limits.max_rows:
        raise InputError(
            f"{name}: {len(frame):,} rows is over the limit of {limits.max_rows:,}; "
            "sample the file or raise EMBEDVIZ_MAX_ROWS."
        )
    column = text_column or pick_text_column(frame, name)
    if column not in frame.columns:
        raise InputError(f"{name}: no column named {column!r}; the columns are {', '.join(frame.columns)}.")
    texts = frame[column].map(_as_text)
    keep = texts.str.strip().str.len().fillna(0).to_numpy() > 0
    if not keep.any():
        raise InputError(f"{name}: the text column {column!r} is empty in every row.")
    kept = frame.loc[keep].copy()
    kept[column] = texts[keep].astype(object)
    kept = kept.reset_index(drop=True)
    report = LoadReport(
        n_input_rows=len(frame),
        n_dropped=int((~keep).sum()),
        n_duplicates=int(len(kept) - kept[column].nunique()),
        encoding=encoding,
        warnings=tuple(warnings or ()),
    )
    log.info("%s: %s", name, report.summary())
    return Corpus(
        frame=kept,
        text_column=column,
        rows=np.flatnonzero(keep),
        report=report,
        name=name,
        source_digest=source_digest,
    )


TEXT_NAMES = ("text", "texts", "content", "body", "document", "sentence", "utterance", "message")
"""A string column named one of these (any case) is the text column, however short its texts
(words, phrases) beside a longer label or category."""
NAMED_TEXT_SHARE = 0.1
"""A column named like texts is the text column when this share of its values are texts (the
rest, numbers and the like, are read as written); another column needs half."""


def pick_text_column(frame: pd.DataFrame, name: str = "table") -> str:
    """The column named like texts (TEXT_NAMES, in that order; NAMED_TEXT_SHARE of it strings),
    else the column of mostly strings with the longest average text."""
    best, best_len, named = None, -1.0, {}
    for column in frame.columns:
        values = frame[column].dropna()
        lengths = values.map(_text_length)
        lengths = lengths[lengths >= 0]
        label = str(column).strip().lower()
        least = NAMED_TEXT_SHARE if label in TEXT_NAMES else 0.5
        if len(lengths) == 0 or len(lengths) < least * len(values):
            continue
        named.setdefault(label, column)
        mean_len = float(lengths.mean())
        if mean_len > best_len:
            best, best_len = column, mean_len
    for text_name in TEXT_NAMES:
        if text_name in named:
            return named[text_name]
    if best is None:
        if len(frame.columns) == 1:
            return frame.columns[0]
        raise InputError(
            f"{name}: no text column found among {', '.join(frame.columns)}; "
            "name the column that holds the texts."
        )
    return best


def _text_length(value: object) -> int:
    """The length of a text, or of a list of them (tokens, sentences) as _as_text joins them;
    -1 for anything else."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) and isinstance(value[0], str):
        return len(_as_text(value) or "")
    return -1


def _as_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple, np.ndarray)):  # a list of tokens, or of sentences
        return " ".join(t for t in (_as_text(v) for v in value) if t)
    return value if isinstance(value, str) else str(value)


def _read_path(path: Path, limits: Limits) -> bytes:
    if not path.exists():
        raise InputError(f"{path}: no such file.")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file.")
    _check_size(path.name, path.stat().st_size, limits)
    return path.read_bytes()


def _check_size(name: str, size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise InputError(
            f"{name}: {size / 2**20:,.1f} MB is over the size limit of "
            f"{limits.max_bytes / 2**20:,.0f} MB; split the file or raise EMBEDVIZ_MAX_MB."
        )


def _gunzip(name: str, data: bytes, limits: Limits) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(limits.max_bytes + 1)
    except (OSError, EOFError) as e:
        raise InputError(f"{name}: not a readable gzip file ({e}).") from None
    _check_size(name + " (uncompressed)", len(out), limits)
    return out


def _format_of(name: str) -> str:
    stem = name[:-3] if name.lower().endswith(".gz") else name
    suffix = Path(stem).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"{name}: unsupported file type {suffix or '(none)'!r}; "
            f"use one of {', '.join(FORMATS)} (optionally .gz)."
        )
    return suffix


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""C0 control characters other than tab and line ends, and DEL."""
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
"""Terminal colour and cursor codes (ESC [ ... letter), removed whole."""
_BINARY_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"%PDF-",
    b"PK\x03\x04",
    b"\x7fELF",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"SQLite format 3\x00",
)
"""File signatures that no text starts with (others, such as executables, hold NULs)."""
BINARY_NUL_SHARE = 0.01
BINARY_CONTROL_SHARE = 0.3


def _looks_binary(data: bytes) -> bool:
    """Images, archives, executables and media by their first bytes; anything else with NUL
    bytes (UTF-16 without a BOM is half NULs; text has none) or mostly control bytes."""
    if data.startswith(_BINARY_MAGIC):
        return True
    head = data[:65536]
    if not head:
        return False
    if head.count(0) > BINARY_NUL_SHARE * len(head):
        return True
    controls = sum(head.count(b) for b in (*range(0, 9), 11, 12, *range(14, 32), 127))
    return controls > BINARY_CONTROL_SHARE * len(head)


def _decode(name: str, data: bytes, warn: list[str]) -> tuple[str, str]:
    """UTF-8 (BOM or not), UTF-16/32 with BOM, else the detected encoding with a warning.
    Stray control characters (a bell, an escape, a form feed) are dropped with a note; a file
    that is mostly such bytes, or starts like an image or an archive, is refused."""
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), None)
    if encoding is None:
        if _looks_binary(data):
            raise InputError(f"{name}: looks like a binary file, not text; upload a text or table file.")
        try:
            data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = _detect_encoding(name, data)
            warn.append(f"{name} is not UTF-8; read it as {encoding}. Check accents and symbols.")
    text = data.decode(encoding, errors="replace")
    text, codes = _ANSI.subn("", text)
    text, breaks = re.subn(r"[\x0b\x0c]", " ", text)  # vertical tab, form feed: a space
    text, stray = _CONTROL.subn("", text)
    stray += breaks
    if codes or stray:
        parts = ([f"{codes:,} terminal colour code(s)"] if codes else []) + (
            [f"{stray:,} control character(s) such as a bell, an escape or a form feed"] if stray else []
        )
        warn.append(f"{name}: removed {' and '.join(parts)}; the texts are otherwise as written.")
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


_SINGLE_BYTE_LATIN = {
    "cp1250",
    "cp1252",
    "cp1254",
    "cp1257",
    "latin_1",
    "iso8859_2",
    "iso8859_9",
    "iso8859_15",
    "iso8859_16",
    "mac_roman",
    "mac_latin2",
    "cp850",
    "cp437",
    "cp858",
}


def _detect_encoding(name: str, data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 2**20]).best()
    if best is None:
        raise InputError(f"{name}: looks like a binary file, not text; upload a text or table file.")
    if best.encoding in _SINGLE_BYTE_LATIN:
        # Short Latin-script samples fit several code pages equally; Windows-1252 is by far the
        # most common of them, and Latin-1 decodes every byte.
        for encoding in ("cp1252", "latin-1"):
            try:
                data.decode(encoding)
                return encoding
            except UnicodeDecodeError:
                continue
    return best.encoding


def _parse_txt(name: str, text: str, warn: list[str]) -> pd.DataFrame:
    lines = [line for line in text.splitlines() if line.strip()]
    tabs = {line.count("\t") for line in lines}
    if len(lines) >= 2 and len(tabs) == 1 and tabs != {0} and all(f.strip() for f in lines[0].split("\t")):
        # Excel's "Unicode Text" (UTF-16, tab-separated, named .txt)
        warn.append(
            f"{name}: every line has {tabs.pop()} tab(s), so it was read as a table whose first line names the columns."
        )
        return _parse_delimited(name, "\n".join(lines), warn, sep="\t")
    return pd.DataFrame({TEXT_COLUMN_DEFAULT: lines})


DELIMITERS = (",", ";", "\t", "|")
"""What a .csv may be separated by: Excel in much of Europe writes ';' (with decimal commas)."""
DECIMAL_COMMA = r"-?\d+(?:\.\d{3})*,\d+|-?\d+"


ONE_COLUMN = "\x1f"
"""The separator of a table whose header has one field: no character of its texts splits them."""


def _delimiter(text: str) -> str:
    """The separator of a .csv: ',' when its header has two fields or more by it, else the one of
    DELIMITERS that splits the header into the most fields; ONE_COLUMN where none splits it (a
    list of texts under one heading, commas and all)."""
    import csv

    header = next((line for line in text.lstrip("\ufeff").splitlines() if line.strip()), "")
    fields = {d: len(next(csv.reader([header], delimiter=d), [])) for d in DELIMITERS}
    if fields[","] >= 2:
        return ","
    best = max(DELIMITERS, key=lambda d: fields[d])
    return best if fields[best] >= 2 else ONE_COLUMN


def _decimal_commas(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of a ';'-separated file whose every value is a number with a decimal comma
    ("12,5", "1.234,5") as numbers."""

    def numbers(values: pd.Series) -> bool:
        return (
            bool(len(values)) and values.map(type).eq(str).all() and values.str.fullmatch(DECIMAL_COMMA).all()
        )

    for column in frame.columns:
        values = frame[column].dropna()
        if values.dtype != object and not pd.api.types.is_string_dtype(values):
            continue
        if numbers(values.head(1000)) and numbers(values):  # a text column fails at its first rows
            frame[column] = pd.to_numeric(
                frame[column].str.replace(".", "", regex=False).str.replace(",", ".")
            )
    return frame


def _parse_delimited(name: str, text: str, warn: list[str], sep: str | None = None) -> pd.DataFrame:
    if not text.strip():
        raise InputError(f"{name}: the file is empty.")
    hint = re.match(r"\ufeff?sep=(.)\r?\n", text)  # Excel's first line naming the separator
    if hint:
        sep, text = hint.group(1), text[hint.end() :]
    sep = sep or ("\t" if _format_of(name) == ".tsv" else _delimiter(text))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(io.StringIO(text), sep=sep, on_bad_lines="warn")
        except pd.errors.EmptyDataError:
            raise InputError(f"{name}: the file is empty.") from None
        except (pd.errors.ParserError, ValueError) as e:
            kind = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(sep)
            table = f"{kind}-separated values" if kind else "a one-column table"
            raise InputError(f"{name}: cannot be read as {table} ({e}).") from None
    skipped = sum(str(w.message).count("Skipping line") for w in caught)
    if skipped:
        warn.append(f"{name}: skipped {skipped} malformed row(s) with too many fields.")
    _warn_header_of_data(name, frame, sep, warn)
    return _decimal_commas(frame) if sep == ";" else frame


def _warn_header_of_data(name: str, frame: pd.DataFrame, sep: str, warn: list[str]) -> None:
    """A file without a header line gives its first row as the column names: say so where a
    column's name is also one of its values (a label, a number) in the first 10,000 rows."""
    head = frame.head(10_000)
    echoed = [
        c for c in head.columns if str(c).strip() and head[c].astype(str).str.strip().eq(str(c).strip()).any()
    ]
    if echoed:
        example = sep.join(["text", "label"]) if sep != ONE_COLUMN else "text"
        warn.append(
            f"{name}: the first row was read as the column names, and {str(echoed[0])[:40]!r} is also a value "
            f"of its column; if that row is data, add a header line (such as {example!r}) and load the file again."
        )


def _parse_jsonl(name: str, text: str, warn: list[str]) -> pd.DataFrame:
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{name}: line {number} is not valid JSON ({e.msg}).") from None
        records.append(value if isinstance(value, dict) else {TEXT_COLUMN_DEFAULT: value})
    return _records(records)


def _records(records: list) -> pd.DataFrame:
    """A table of JSON records; objects inside a record become columns of their own
    ({"data": {"text": ...}} gives a column "data.text")."""
    if any(isinstance(v, dict) for r in records[:1000] if isinstance(r, dict) for v in r.values()):
        return pd.json_normalize(records)
    return pd.DataFrame.from_records(records)


def _parse_json(name: str, text: str, warn: list[str]) -> pd.DataFrame:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{name}: not valid JSON at line {e.lineno} ({e.msg}).") from None
    if isinstance(value, dict):  # an API's reply: {"data": [records], "next": ...}
        held = [
            k for k, v in value.items() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)
        ]
        if len(held) == 1:
            warn.append(f"{name}: read the {len(value[held[0]]):,} records under {held[0]!r}.")
            value = value[held[0]]
    if isinstance(value, list):
        return _records([v if isinstance(v, dict) else {TEXT_COLUMN_DEFAULT: v} for v in value])
    if isinstance(value, dict) and value and all(isinstance(v, list) for v in value.values()):
        try:
            return pd.DataFrame(value)
        except ValueError as e:
            raise InputError(f"{name}: columns of unequal length ({e}).") from None
    raise InputError(
        f"{name}: expected a list of records, an object of equal-length lists, or an object "
        "holding one list of records."
    )


def _read_parquet(name: str, data: bytes) -> pd.DataFrame:
    try:
        return pd.read_parquet(io.BytesIO(data))
    except Exception as e:  # pyarrow raises many types for a bad file
        raise InputError(f"{name}: not a readable Parquet file ({type(e).__name__}).") from None


def _read_excel(name: str, data: bytes, limits: Limits, warn: list[str]) -> pd.DataFrame:
    """The first sheet with rows of an Excel workbook; its first row names the columns."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as workbook:
            unpacked = sum(part.file_size for part in workbook.infolist())
    except zipfile.BadZipFile:
        raise InputError(
            f"{name}: not a readable .xlsx workbook (Excel 97-2003 .xls files are not read: save it as "
            ".xlsx or CSV)."
        ) from None
    _check_size(f"{name} (unpacked)", unpacked, limits)  # a small file can unpack to gigabytes
    try:
        sheets = pd.read_excel(io.BytesIO(data), sheet_name=None, engine="openpyxl")
    except ImportError:
        raise InputError(f"{name}: reading .xlsx needs openpyxl (pip install openpyxl).") from None
    except Exception as e:  # openpyxl raises many types for a damaged workbook
        raise InputError(f"{name}: not a readable .xlsx workbook ({type(e).__name__}).") from None
    filled = [(sheet, frame) for sheet, frame in sheets.items() if not frame.dropna(how="all").empty]
    if not filled:
        raise InputError(f"{name}: no rows found (every sheet is empty or has only a header).")
    sheet, frame = filled[0]
    if len(sheets) > 1:
        warn.append(
            f"{name}: read sheet {sheet!r}, the first with rows of its {len(sheets)} sheets; to map another, "
            "save it as a workbook or CSV of its own."
        )
    return frame


_PARSERS = {
    ".txt": _parse_txt,
    ".csv": _parse_delimited,
    ".tsv": _parse_delimited,
    ".jsonl": _parse_jsonl,
    ".ndjson": _parse_jsonl,
    ".json": _parse_json,
}
