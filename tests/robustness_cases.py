"""Messy inputs, each with what embedviz must do with it: refuse it with a message naming the
problem ("error", fragment), or read it ("ok", number of texts, fragment of a warning or "")."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from tests.planted import planted_frame


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def xlsx_bytes(*sheets: tuple[str, pd.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as workbook:
        for name, sheet in sheets:
            sheet.to_excel(workbook, sheet_name=name, index=False)
    return buffer.getvalue()


TEXTS = planted_frame(per_topic=4)["text"].tolist()  # 20 texts
ACCENTED = "text\ncaf\u00e9 cr\u00e8me br\u00fbl\u00e9e\nna\u00efve fa\u00e7ade\nd\u00e9j\u00e0 vu\n"
STRANGE = [
    "emoji \U0001f680\U0001f30d rocket orbit",
    "\u05e9\u05dc\u05d5\u05dd right to left \u0645\u0631\u062d\u0628\u0627",
    "zero\u200bwidth\u200djoiner planet",
    "control \x07 bell and \x1b escape in a galaxy",
    "plain telescope text",
]
HTML = ['<script>alert("x")</script> rocket', "<b>bold</b> oven <img src=x onerror=alert(1)>", "normal bake"]

CASES: dict[str, tuple[str, bytes, tuple]] = {
    "empty file": ("empty.csv", b"", ("error", "empty")),
    "header only": ("header.csv", b"text,label\n", ("error", "no rows")),
    "binary named .csv": (
        "photo.csv",
        bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)),
        ("error", "binary"),
    ),
    "Latin-1 text": ("latin.csv", ACCENTED.encode("latin-1"), ("ok", 3, "not UTF-8")),
    "UTF-16 text": ("utf16.csv", ACCENTED.encode("utf-16"), ("ok", 3, "")),
    "UTF-8 with BOM": ("bom.csv", b"\xef\xbb\xbf" + ACCENTED.encode(), ("ok", 3, "")),
    "CRLF line ends": ("crlf.csv", ACCENTED.replace("\n", "\r\n").encode(), ("ok", 3, "")),
    "quoted newlines": (
        "quoted.csv",
        b'text,n\n"first line\nsecond line",1\n"another, with comma",2\nthird,3\n',
        ("ok", 3, ""),
    ),
    "ragged CSV rows": (
        "ragged.csv",
        b"text,label\nrocket orbit,a\nbad,row,extra\noven bake,b\n",
        ("ok", 2, "skipped 1"),
    ),
    "';'-separated CSV with decimal commas": (
        "excel.csv",
        b"text;score\nrocket orbit, far away;1,5\noven bake;2,25\ngoal match;-0,5\n",
        ("ok", 3, ""),
    ),
    "1 row": ("one.txt", TEXTS[0].encode(), ("ok", 1, "")),
    "2 rows": ("two.txt", "\n".join(TEXTS[:2]).encode(), ("ok", 2, "")),
    "5 rows": ("five.txt", "\n".join(TEXTS[:5]).encode(), ("ok", 5, "")),
    "all texts identical": ("same.txt", ("rocket orbit planet\n" * 12).encode(), ("ok", 12, "")),
    "all-empty text column": ("blank.csv", b"text,label\n,a\n  ,b\n,c\n", ("error", "empty in every row")),
    "numbers in the text column": (
        "numbers.json",
        json.dumps([{"text": i * 1.5} for i in range(8)]).encode(),
        ("ok", 8, ""),
    ),
    "100,000-character text": (
        "long.txt",
        ("planet " * 14_286 + "\nshort rocket text\nbake the flour\n").encode(),
        ("ok", 3, ""),
    ),
    "emoji, RTL, zero-width, control characters": (
        "strange.jsonl",
        "\n".join(json.dumps({"text": t}) for t in STRANGE).encode(),
        ("ok", 5, ""),
    ),
    "HTML and script tags": ("html.csv", _csv(pd.DataFrame({"text": HTML})), ("ok", 3, "")),
    "JSONL with one bad line": (
        "bad.jsonl",
        b'{"text": "rocket"}\n{"text": "oven"}\n{"text": oops}\n{"text": "goal"}\n',
        ("error", "line 3"),
    ),
    "nested Parquet columns": (
        "nested.parquet",
        _parquet(
            pd.DataFrame({"text": TEXTS[:6], "tags": [["a", "b"]] * 6, "meta": [{"k": 1, "v": "x"}] * 6})
        ),
        ("ok", 6, ""),
    ),
    "Excel workbook of two sheets": (
        "book.xlsx",
        xlsx_bytes(("Notes", pd.DataFrame()), ("Data", pd.DataFrame({"text": TEXTS[:6], "n": range(6)}))),
        ("ok", 6, "read sheet 'Data'"),
    ),
    "unsupported file type": ("report.docx", b"PK\x03\x04 not a table", ("error", "unsupported file type")),
}
OVER_SIZE = ("big.txt", ("rocket orbit planet\n" * 2000).encode(), ("error", "size limit"))
