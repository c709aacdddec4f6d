"""embedviz: explore text embeddings. The Python API is the same pipeline the app and CLI use.

from embedviz import load_corpus, make_backend, Store, build_map
corpus = load_corpus("data.csv")
result = build_map(corpus, make_backend("sentence-transformers"), Store())
result.frame  # input columns + x, y, cluster, cluster_label
"""

from __future__ import annotations

from embedviz.backends import BACKENDS, make_backend, register_backend
from embedviz.cluster import Clustering, ClusterParams, cluster
from embedviz.corpus import Corpus, Limits, corpus_from_frame, corpus_from_text, load_corpus
from embedviz.embed import Embeddings, embed, embed_query
from embedviz.errors import BackendError, EmbedvizError, InputError
from embedviz.neighbors import Neighbors, knn_graph, top_k
from embedviz.pipeline import MapResult, build_map, search, similar
from embedviz.reduce import Projection, ReduceParams, reduce
from embedviz.store import Store

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "BackendError",
    "ClusterParams",
    "Clustering",
    "Corpus",
    "EmbedvizError",
    "Embeddings",
    "InputError",
    "Limits",
    "MapResult",
    "Neighbors",
    "Projection",
    "ReduceParams",
    "Store",
    "build_map",
    "cluster",
    "corpus_from_frame",
    "corpus_from_text",
    "embed",
    "embed_query",
    "knn_graph",
    "load_corpus",
    "make_backend",
    "reduce",
    "register_backend",
    "search",
    "similar",
    "top_k",
]
