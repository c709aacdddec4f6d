"""Typed accessors over st.session_state. State holds choices, never arrays or models."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import streamlit as st

from embedviz.backends import DEFAULT_BACKEND
from embedviz.cluster import ClusterParams
from embedviz.reduce import ReduceParams
from embedviz.samples import DEFAULT_SAMPLE


@dataclass(frozen=True)
class DataSource:
    kind: Literal["sample", "upload", "paste", "file"] = "sample"
    name: str = DEFAULT_SAMPLE
    digest: str = ""
    """sha256 of an upload's bytes or a paste's text; its content is in compute.inputs()."""
    path: str = ""
    """file: a path on the server, given as `streamlit run app.py -- FILE`."""


def startup_source() -> DataSource:
    """The file named on the server's command line (`streamlit run app.py -- FILE`), else the
    bundled sample. Large files open this way without an upload through the browser."""
    args = sys.argv[1:] if sys.argv and sys.argv[0].endswith("app.py") else []
    if args and not args[0].startswith("-"):
        path = Path(args[0]).expanduser().resolve()
        return DataSource("file", path.name, path=str(path))
    return DataSource()


@dataclass(frozen=True)
class BackendChoice:
    """What defines the vectors, without secrets (the API key lives only in its widget)."""

    name: str = DEFAULT_BACKEND
    model: str | None = None
    dimensions: int | None = None
    base_url: str | None = None
    batch_size: int = 32
    vectors: str | None = None
    """precomputed: the column that holds the vectors."""


def _get(key: str, default):
    if key not in st.session_state:
        st.session_state[key] = default
    return st.session_state[key]


def source() -> DataSource:
    return _get("data.source", startup_source())


def set_source(value: DataSource, text_column: str | None = None) -> None:
    st.session_state["data.source"] = value
    st.session_state["data.text_column"] = text_column


def text_column() -> str | None:
    return _get("data.text_column", None)


def set_text_column(value: str | None) -> None:
    st.session_state["data.text_column"] = value


def backend() -> BackendChoice:
    return _get("data.backend", BackendChoice())


def set_backend(value: BackendChoice) -> None:
    st.session_state["data.backend"] = value


def api_key() -> str | None:
    """The OpenAI key typed on the Data page, read from its password widget only."""
    return st.session_state.get("data.openai_key") or None


def reduce_params() -> ReduceParams:
    return _get("map.reduce", ReduceParams())


def set_reduce_params(**changes) -> None:
    st.session_state["map.reduce"] = replace(reduce_params(), **changes)


def cluster_params() -> ClusterParams:
    return _get("clusters.params", ClusterParams())


def set_cluster_params(value: ClusterParams) -> None:
    st.session_state["clusters.params"] = value


def color_by() -> str | None:
    """The map's colour choice; None until the user picks (the page then picks a default)."""
    return _get("map.color", None)


def set_color_by(value: str) -> None:
    st.session_state["map.color"] = value


def query() -> str:
    return _get("search.query", "")


def set_query(value: str) -> None:
    st.session_state["search.query"] = value
