"""Typed accessors over st.session_state. State holds choices, never arrays or models."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import streamlit as st

from embedviz.backends import DEFAULT_BACKEND, BackendSettings
from embedviz.cluster import CLUSTER_METHODS, ClusterParams
from embedviz.drawing import NAME_LEVELS, NameLevels
from embedviz.errors import EmbedvizError
from embedviz.filters import Filter
from embedviz.reduce import REDUCERS, ReduceParams
from embedviz.samples import DEFAULT_SAMPLE
from embedviz.scale import folder_manifest
from embedviz.shards import is_output_folder


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
class BackendChoice(BackendSettings):
    """What defines the vectors, without secrets (the API key lives only in its widget)."""

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
    return _get("data.backend", startup_backend())


def startup_backend() -> BackendChoice:
    """The backend a folder opened with the server was embedded with, else the default."""
    source = startup_source()
    if source.kind != "file" or not is_output_folder(source.path):
        return BackendChoice()
    try:
        identity = folder_manifest(source.path)["backend"]
    except (EmbedvizError, KeyError, ValueError):
        return BackendChoice()
    name = identity.get("backend", DEFAULT_BACKEND)
    if name == "sentence-transformers":
        return BackendChoice(name, model=identity.get("model"), precision=identity.get("precision", "fp32"))
    if name == "openai":
        return BackendChoice(name, model=identity.get("model"), dimensions=identity.get("dimension"))
    return BackendChoice(name, model=identity.get("model"))


def set_backend(value: BackendChoice) -> None:
    st.session_state["data.backend"] = value


def api_key() -> str | None:
    """The OpenAI key typed on the Data page, read from its password widget only."""
    return st.session_state.get("data.openai_key") or None


def reduce_params() -> ReduceParams:
    return _get("map.reduce", ReduceParams())


def set_reduce_params(**changes) -> None:
    st.session_state["map.reduce"] = replace(reduce_params(), **changes)


def from_file() -> bool | None:
    """Whether the map shows the file's own x, y; None until the Map page first runs."""
    return st.session_state.get("map.from_file")


def set_from_file(value: bool) -> None:
    st.session_state["map.from_file"] = value


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


def names_level() -> NameLevels:
    return _get("map.names", "both")


def set_names_level(value: NameLevels) -> None:
    st.session_state["map.names"] = value


def predictions(fingerprint: str):
    """The last classifier's Predictions for these embeddings (from the Insights page), or None."""
    kept = _get("insights.predictions", None)
    return kept[1] if kept is not None and kept[0] == fingerprint else None


def set_predictions(fingerprint: str, value) -> None:
    st.session_state["insights.predictions"] = (fingerprint, value)


def added() -> tuple[str, str] | None:
    """(name, digest) of the texts last added to an opened map folder on the Data page."""
    return st.session_state.get("data.added")


def set_added(name: str, digest: str) -> None:
    st.session_state["data.added"] = (name, digest)


def map_filter() -> Filter:
    return _get("map.filter", Filter())


def set_map_filter(value: Filter) -> None:
    st.session_state["map.filter"] = value


# the shareable link: every setting that changes what the map shows

_REDUCE_FIELDS = {"n_neighbors": int, "min_dist": float, "perplexity": float, "n_iter": int, "seed": int}


def link() -> dict[str, str]:
    """The view as URL parameters (no secrets: the backend's key is never part of it)."""
    r, c, f = reduce_params(), cluster_params(), map_filter()
    out = {"reducer": r.method, "dims": str(r.dims)}
    defaults = ReduceParams()
    for name in _REDUCE_FIELDS:
        if getattr(r, name) != getattr(defaults, name):
            out[name] = (
                f"{getattr(r, name):g}" if isinstance(getattr(r, name), float) else str(getattr(r, name))
            )
    if c.method != "auto":
        out["clusters"] = c.method
    if c.k is not None:
        out["k"] = str(c.k)
    if c.broad_k is not None:
        out["broad_k"] = str(c.broad_k)
    if c.min_cluster_size is not None:
        out["min_size"] = str(c.min_cluster_size)
    if not c.keep_noise:
        out["noise"] = "assign"
    if color_by():
        out["color"] = color_by()
    if names_level() != "both":
        out["names"] = names_level()
    if query():
        out["q"] = query()
    if f.text.strip():
        out["filter"] = f.text
    if f.column is not None:
        out["filter_column"] = f.column
        if f.values:
            out["filter_values"] = "\x1f".join(f.values)
        if f.low is not None and f.high is not None:
            out["filter_range"] = f"{f.low:.15g}:{f.high:.15g}"  # a date's seconds to the second
    return out


def apply_link_once() -> None:
    """A shared link's settings (the page's URL) are applied once per session."""
    if st.session_state.get("map.link_applied"):
        return
    st.session_state["map.link_applied"] = True
    apply_link(st.query_params.to_dict())


def apply_link(params: dict[str, str]) -> None:
    """Settings from a shared link, applied over the defaults; values that do not parse are
    ignored (a link typed by hand shows the default view, not an error)."""
    reduce_changes: dict = {}
    if params.get("reducer") in REDUCERS:
        reduce_changes["method"] = params["reducer"]
    if params.get("dims") in ("2", "3"):
        reduce_changes["dims"] = int(params["dims"])
    for name, kind in _REDUCE_FIELDS.items():
        if name in params:
            try:
                reduce_changes[name] = kind(params[name])
            except ValueError:
                continue
    if reduce_changes:
        with contextlib.suppress(EmbedvizError):  # an out-of-range value: keep the defaults
            set_reduce_params(**reduce_changes)
    cluster_changes: dict = {}
    if params.get("clusters") in CLUSTER_METHODS:
        cluster_changes["method"] = params["clusters"]
    for name, field in (("k", "k"), ("broad_k", "broad_k"), ("min_size", "min_cluster_size")):
        if params.get(name, "").isdigit():
            cluster_changes[field] = int(params[name])
    if params.get("noise") == "assign":
        cluster_changes["keep_noise"] = False
    if cluster_changes:
        with contextlib.suppress(Exception):
            set_cluster_params(replace(cluster_params(), **cluster_changes))
    if params.get("color"):
        set_color_by(params["color"])
    if params.get("names") in NAME_LEVELS:
        set_names_level(params["names"])
    if params.get("q"):
        set_query(params["q"])
    flt = {}
    if params.get("filter"):
        flt["text"] = params["filter"]
    if params.get("filter_column"):
        flt["column"] = params["filter_column"]
        if params.get("filter_values"):
            flt["values"] = tuple(params["filter_values"].split("\x1f"))
        low, _, high = params.get("filter_range", "").partition(":")
        with contextlib.suppress(ValueError):
            flt["low"], flt["high"] = float(low), float(high)
    if flt:
        set_map_filter(Filter(**flt))
