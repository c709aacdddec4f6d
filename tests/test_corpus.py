from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pandas as pd
import pytest

from embedviz import InputError, Limits, corpus_from_text, load_corpus
from tests.robustness_cases import xlsx_bytes

ROWS = [
    {"id": 1, "title": "short", "body": "A much longer body of text about rockets and planets"},
    {"id": 2, "title": "tiny", "body": "Another long body text, about baking bread at home"},
    {"id": 3, "title": "x", "body": ""},
    {"id": 4, "title": "dup", "body": "Another long body text, about baking bread at home"},
]


TWO = ["rockets in orbit", "baking bread at home"]


def frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS)


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def as_parquet(df: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.to_parquet(buffer)
    return buffer.getvalue()


FORMATS = {
    "data.csv": lambda df: df.to_csv(index=False).encode(),
    "data.tsv": lambda df: df.to_csv(index=False, sep="\t").encode(),
    "data.jsonl": lambda df: df.to_json(orient="records", lines=True).encode(),
    "data.ndjson": lambda df: df.to_json(orient="records", lines=True).encode(),
    "data.json": lambda df: df.to_json(orient="records").encode(),
    "reply.json": lambda df: json.dumps(
        {"data": json.loads(df.to_json(orient="records")), "next": None}
    ).encode(),
    "data.parquet": as_parquet,
    "data.xlsx": lambda df: xlsx_bytes(("Sheet1", df)),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("gz", [False, True])
def test_every_table_format_picks_the_longest_text_column(tmp_path, name, gz):
    data = FORMATS[name](frame())
    if gz:
        data, name = gzip.compress(data), name + ".gz"
    corpus = load_corpus(write(tmp_path, name, data))
    assert corpus.text_column == "body"
    assert len(corpus) == 3
    assert corpus.report.n_dropped == 1
    assert corpus.report.n_duplicates == 1
    assert corpus.rows.tolist() == [0, 1, 3]
    assert set(corpus.metadata_columns) == {"id", "title"}
    assert corpus.texts[0].startswith("A much longer")


def test_a_column_named_text_wins_over_a_longer_label(tmp_path):
    words = pd.DataFrame({"Text": ["cat", "dog", "oak"], "category": ["animals", "animals", "trees"]})
    assert load_corpus(write(tmp_path, "w.csv", words.to_csv(index=False).encode())).text_column == "Text"
    codes = pd.DataFrame({"text": [1, 2, 3], "note": ["a longer note", "another note", "third"]})
    assert load_corpus(write(tmp_path, "n.csv", codes.to_csv(index=False).encode())).text_column == "note"
    # a JSON text field of mostly numbers, some texts: still the text field, not a constant label
    mixed = [{"text": i if i % 3 else f"a real text, number {i}", "label": "a"} for i in range(30)]
    path = write(tmp_path, "m.jsonl", "\n".join(json.dumps(r) for r in mixed).encode())
    corpus = load_corpus(path)
    assert corpus.text_column == "text" and corpus.texts[:2] == ["a real text, number 0", "1"]


def test_text_column_can_be_named_and_a_wrong_name_lists_the_columns(tmp_path):
    path = write(tmp_path, "d.csv", FORMATS["data.csv"](frame()))
    assert load_corpus(path, text_column="title").texts == ["short", "tiny", "x", "dup"]
    with pytest.raises(InputError, match="no column named 'nope'.*id, title, body"):
        load_corpus(path, text_column="nope")


def test_txt_and_pasted_text_drop_blank_lines():
    corpus = corpus_from_text("first line\n\n  \nsecond line\r\nthird\n")
    assert corpus.texts == ["first line", "second line", "third"]
    file_corpus = load_corpus(b"one\n\ntwo\n", name="notes.txt")
    assert file_corpus.texts == ["one", "two"]


def test_bytes_with_bom_and_other_encodings(tmp_path):
    text = "text\ncaf\u00e9 cr\u00e8me\nna\u00efve r\u00e9sum\u00e9\n"
    bom = load_corpus(b"\xef\xbb\xbf" + text.encode(), name="a.csv")
    assert bom.text_column == "text" and bom.texts[0] == "caf\u00e9 cr\u00e8me"
    assert not bom.report.warnings
    utf16 = load_corpus(text.encode("utf-16"), name="b.csv")
    assert utf16.texts == bom.texts
    latin = load_corpus(text.encode("latin-1"), name="c.csv")
    assert latin.texts == bom.texts
    assert latin.report.warnings and "not UTF-8" in latin.report.warnings[0]


def test_binary_file_named_csv_is_refused():
    data = bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8))
    with pytest.raises(InputError, match="binary"):
        load_corpus(data, name="image.csv")


def test_empty_and_header_only_files():
    with pytest.raises(InputError, match="empty"):
        load_corpus(b"", name="empty.csv")
    with pytest.raises(InputError, match="no rows"):
        load_corpus(b"text,label\n", name="header.csv")
    with pytest.raises(InputError, match="empty in every row"):
        load_corpus(b"text,label\n,a\n  ,b\n", name="blank.csv")


def test_jsonl_bad_line_is_named():
    data = b'{"text": "ok"}\n{"text": "fine"}\n{"text": broken}\n'
    with pytest.raises(InputError, match="line 3"):
        load_corpus(data, name="d.jsonl")


def test_limits_give_clear_errors():
    data = "\n".join(f"text {i}" for i in range(50)).encode()
    with pytest.raises(InputError, match="over the limit of 10.*EMBEDVIZ_MAX_ROWS"):
        load_corpus(data, name="d.txt", limits=Limits(max_rows=10))
    with pytest.raises(InputError, match="size limit"):
        load_corpus(data, name="d.txt", limits=Limits(max_bytes=100))
    with pytest.raises(InputError, match="uncompressed"):
        load_corpus(gzip.compress(data), name="d.txt.gz", limits=Limits(max_bytes=200))


def test_unsupported_suffix_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="unsupported file type '.docx'"):
        load_corpus(b"x", name="report.docx")
    with pytest.raises(InputError, match="no such file"):
        load_corpus(tmp_path / "missing.csv")


@pytest.mark.parametrize("sep", [";", "|", "\t"])
def test_a_csv_separated_otherwise_is_read_by_its_header(tmp_path, sep):
    # Excel in much of Europe writes .csv files with ';' and decimal commas
    scored = frame().assign(score=[1.5, 1234.25, -0.5, 2.0])
    data = scored.to_csv(index=False, sep=sep, decimal="," if sep == ";" else ".").encode()
    corpus = load_corpus(write(tmp_path, "data.csv", data))
    assert corpus.text_column == "body"
    assert corpus.texts[1] == "Another long body text, about baking bread at home"
    assert corpus.frame["score"].tolist() == [1.5, 1234.25, 2.0]
    excel = load_corpus(b"sep=;\r\n\r\n text ; n \r\nfirst, a comma;1\r\nsecond;2\r\n", name="e.csv")
    assert excel.texts == ["first, a comma", "second"] and excel.metadata_columns == ["n"]
    one_column = load_corpus(b"text\nfirst, with a comma; and a semicolon\nsecond\n", name="t.csv")
    assert one_column.texts == ["first, with a comma; and a semicolon", "second"]


def test_texts_nested_in_records_tab_tables_named_txt_and_token_lists():
    nested = "\n".join(json.dumps({"id": i, "data": {"text": t, "lang": "en"}}) for i, t in enumerate(TWO))
    corpus = load_corpus(nested.encode(), name="api.jsonl")
    assert (corpus.text_column, corpus.texts) == ("data.text", TWO)
    assert set(corpus.metadata_columns) == {"id", "data.lang"}
    # Excel's "Unicode Text": UTF-16, tab-separated, named .txt
    excel = ("text\tlabel\n" + "\n".join(f"{t}\tx" for t in TWO)).encode("utf-16")
    corpus = load_corpus(excel, name="export.txt")
    assert corpus.texts == TWO and corpus.metadata_columns == ["label"]
    assert any("read as a table whose first line names the columns" in w for w in corpus.report.warnings)
    assert load_corpus(b"one\ttwo\nthree\n", name="t.txt").texts == ["one\ttwo", "three"], (
        "tabs in some lines only"
    )
    tokens = load_corpus(as_parquet(pd.DataFrame({"tokens": [t.split() for t in TWO]})), name="t.parquet")
    assert tokens.texts == TWO
    beside = pd.DataFrame({"id": ["a", "b"], "tokens": [t.split() for t in TWO]})  # picked, not named
    assert load_corpus(as_parquet(beside), name="t.parquet").text_column == "tokens"


def test_an_excel_workbook_is_read_from_its_first_sheet_with_rows(tmp_path):
    notes, data = pd.DataFrame(), pd.DataFrame({" text ": TWO, "n": [1, 2]})
    corpus = load_corpus(xlsx_bytes(("Notes", notes), ("Data", data), ("More", data)), name="book.xlsx")
    assert corpus.texts == TWO and corpus.metadata_columns == ["n"]
    assert any("read sheet 'Data'" in w and "3 sheets" in w for w in corpus.report.warnings)
    with pytest.raises(InputError, match="save it as .xlsx or CSV"):
        load_corpus(b"\xd0\xcf\x11\xe0 an Excel 97 file", name="old.xlsx")
    with pytest.raises(InputError, match="unpacked.*over the size limit"):  # a small file of gigabytes
        big = pd.DataFrame({"text": ["the same long sentence about rockets and orbits"] * 20_000})
        load_corpus(xlsx_bytes(("S", big)), name="bomb.xlsx", limits=Limits(max_bytes=400_000))
    with pytest.raises(InputError, match="no rows found"):
        load_corpus(xlsx_bytes(("Empty", notes)), name="empty.xlsx")


def test_a_file_without_a_header_line_is_read_and_told():
    data = b"rocket in orbit,space\nbaking bread,food\nthe comet's tail,space\n"
    corpus = load_corpus(data, name="rows.csv")
    assert len(corpus) == 2
    assert any(
        "first row was read as the column names" in w and "'space'" in w for w in corpus.report.warnings
    )
    assert not load_corpus(b"text,label\nrocket in orbit,space\n", name="ok.csv").report.warnings


def test_ragged_csv_rows_are_skipped_and_counted():
    data = b"text,label\nfine row,a\nbad,row,extra,fields\nanother,b\n"
    corpus = load_corpus(data, name="r.csv")
    assert corpus.texts == ["fine row", "another"]
    assert any("skipped 1" in w for w in corpus.report.warnings)


def test_numbers_in_the_text_column_become_text():
    corpus = load_corpus(json.dumps([{"text": 12}, {"text": 3.5}]).encode(), name="n.json")
    assert corpus.texts == ["12", "3.5"]


def test_fingerprint_follows_texts_not_metadata():
    a = corpus_from_text("alpha\nbeta")
    b = load_corpus(b"text,extra\nalpha,1\nbeta,2\n", name="b.csv")
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != corpus_from_text("beta\nalpha").fingerprint


def test_text_with_stray_control_characters_is_read_cleaned_and_counted(tmp_path):
    lines = [
        "Hello \x07 world",
        "Привет, мир 😀",
        "\x1b[31mred\x1b[0m alert from a terminal log",
        "page one\x0cpage two",
        "日本語のテキスト",
        "MZ is also the start of a band name",
    ]
    path = tmp_path / "scraped.txt"
    path.write_bytes("\n".join(lines * 40).encode("utf-8"))
    corpus = load_corpus(path)
    assert len(corpus) == 240
    assert set(corpus.texts[:6]) == {
        "Hello  world",
        "Привет, мир 😀",
        "red alert from a terminal log",
        "page one page two",
        "日本語のテキスト",
        "MZ is also the start of a band name",
    }
    note = " ".join(corpus.report.warnings)
    assert "removed 80 terminal colour code(s) and 80 control character(s)" in note


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        b"PK\x03\x04" + b"word/document.xml" * 20,
        b"\x7fELF\x02\x01\x01" + bytes(300),
        "utf-16 without a byte order mark".encode("utf-16-le") * 20,
        bytes(range(32)) * 100,
    ],
    ids=["png", "zip", "executable", "utf16-no-bom", "control-bytes"],
)
def test_real_binary_files_are_still_refused(data):
    with pytest.raises(InputError, match="binary file"):
        load_corpus(data, name="upload.txt")
