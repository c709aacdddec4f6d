"""Curation: tags on texts and the user's edits of the clusters, kept in the store.

Tags belong to the texts (their sha256) of a dataset (its set of texts), not to row positions,
so they survive a restart and a re-upload of the same file, reordered or not, whatever the
backend. Cluster edits (rename, merge, split, move)
belong to one clustering (the texts, the vector space and the cluster settings) and are kept
as an ordered log: applying the log to the automatic clusters gives the user's clusters, and
undo drops its last entry. Both are rows added to the store, so two sessions add to them
without overwriting each other.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence

import numpy as np

from embedviz.cluster import CLUSTER_VERSION, ClusterParams
from embedviz.corpus import Corpus
from embedviz.errors import InputError
from embedviz.store import Store, digest

MAX_TAG_CHARS = 60
EDIT_OPS = ("rename", "merge", "split", "move")


# tags


def tags_dataset(corpus: Corpus) -> str:
    """The set of texts, in any order: the same file reordered keeps its tags."""
    h = hashlib.sha256()
    for sha in sorted(set(corpus.text_hashes)):
        h.update(sha)
    return f"texts:{h.hexdigest()}"


def _tag_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise InputError("the tag is empty; type a name for it.")
    if len(name) > MAX_TAG_CHARS:
        raise InputError(f"the tag is {len(name)} characters long; keep it to {MAX_TAG_CHARS}.")
    return name


def _shas(corpus: Corpus, rows: Sequence[int]) -> list[bytes]:
    hashes = corpus.text_hashes
    bad = [int(r) for r in rows if not 0 <= int(r) < len(hashes)]
    if bad:
        raise InputError(f"row {bad[0]} is out of range (0 to {len(hashes) - 1}).")
    return [hashes[int(r)] for r in rows]


def tag(corpus: Corpus, store: Store, rows: Sequence[int], name: str) -> str:
    """Give the texts at corpus positions `rows` the tag `name` (a text can hold several)."""
    name = _tag_name(name)
    if len(rows) == 0:
        raise InputError("no texts are selected to tag; select points, a cluster or search results first.")
    store.add_tags(tags_dataset(corpus), _shas(corpus, rows), name)
    return name


def untag(corpus: Corpus, store: Store, name: str, rows: Sequence[int] | None = None) -> None:
    """Take the tag off the texts at `rows`, or off every text (removing the tag)."""
    store.remove_tags(tags_dataset(corpus), name, None if rows is None else _shas(corpus, rows))


def rename_tag(corpus: Corpus, store: Store, old: str, new: str) -> str:
    new = _tag_name(new)
    store.rename_tag(tags_dataset(corpus), old, new)
    return new


def row_tags(corpus: Corpus, store: Store, dataset: str | None = None) -> list[tuple[str, ...]]:
    """Each row's tags (sorted), in row order. A text that occurs twice has its tags twice.
    `dataset`: tags_dataset(corpus), when the caller keeps it."""
    by_sha: dict[bytes, set[str]] = {}
    for sha, name in store.tags(dataset or tags_dataset(corpus)):
        by_sha.setdefault(bytes(sha), set()).add(name)
    if not by_sha:
        return [()] * len(corpus)
    return [tuple(sorted(by_sha.get(sha, ()))) for sha in corpus.text_hashes]


def tag_counts(tags: Sequence[tuple[str, ...]]) -> dict[str, int]:
    """tag -> number of rows holding it, most used first."""
    counts = Counter(name for names in tags for name in names)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def first_tags(tags: Sequence[tuple[str, ...]]) -> list[str | None]:
    """One label per row for a classifier or a colour: the row's tag when it holds exactly one,
    None when it holds none or several (ambiguous examples are left out)."""
    return [names[0] if len(names) == 1 else None for names in tags]


# cluster edits


def edits_dataset(fingerprint: str, params: ClusterParams) -> str:
    """The clustering edits belong to: the embeddings' fingerprint (texts and space) and the
    cluster settings. The graph width is left out: the clusters read only its first columns."""
    return "clusters:" + digest({"of": fingerprint, "params": params})


def edits(store: Store, fingerprint: str, params: ClusterParams) -> list[dict]:
    return [json.loads(e) for e in store.edits(edits_dataset(fingerprint, params))]


def add_edit(
    store: Store,
    fingerprint: str,
    params: ClusterParams,
    edit: dict,
    labels: np.ndarray,
    broad: np.ndarray,
    vectors: np.ndarray,
    version: int = CLUSTER_VERSION,
) -> None:
    """Check an edit against the automatic clusters `labels`, `broad` that cluster() of
    `version` made, with the log applied; then append it to the log, marked with that version."""
    log = edits(store, fingerprint, params)
    if log and edits_version(log) != version:
        raise InputError(
            f"the {len(log)} earlier edit(s) were made on other clusters (an earlier embedviz's); "
            "undo them before editing these."
        )
    apply_edits(labels, broad, vectors, [*log, edit])
    store.add_edit(edits_dataset(fingerprint, params), json.dumps({**edit, "v": version}, sort_keys=True))


def edits_version(log: Sequence[dict]) -> int:
    """The version of cluster() whose clusters the edits were made on (1: edits made before
    they were marked)."""
    return int(log[0].get("v", 1)) if log else CLUSTER_VERSION


def undo(store: Store, fingerprint: str, params: ClusterParams) -> None:
    store.undo_edit(edits_dataset(fingerprint, params))


def apply_edits(
    labels: np.ndarray, broad: np.ndarray, vectors: np.ndarray, log: Sequence[dict]
) -> tuple[np.ndarray, np.ndarray, dict[str, dict[int, str]]]:
    """The automatic clusters (fine labels (n,), broad topics (n,)) with the edits applied in
    order: (labels, broad, names {"fine": {cluster: name}, "broad": {...}}). Cluster numbers
    stay as they are, so later edits still name the clusters they meant."""
    labels, broad = labels.copy(), broad.copy()
    names: dict[str, dict[int, str]] = {"fine": {}, "broad": {}}
    for edit in log:
        op = edit.get("op")
        if op == "rename":
            level = edit.get("level", "fine")
            if level not in names:
                raise InputError(f"unknown level {level!r}; rename a fine cluster or a broad topic.")
            _existing(broad if level == "broad" else labels, [edit["cluster"]])
            name = " ".join(str(edit["name"]).split())
            if not name:
                raise InputError("the new name is empty; type a name.")
            names[level][int(edit["cluster"])] = name
        elif op == "merge":
            clusters = [int(c) for c in edit["clusters"]]
            if len(set(clusters)) < 2:
                raise InputError("pick two or more clusters to merge.")
            _existing(labels, clusters)
            target = clusters[0]
            topic = broad[labels == target][0]
            for c in clusters[1:]:
                members = labels == c
                labels[members], broad[members] = target, topic
                names["fine"].pop(c, None)
        elif op == "split":
            cluster, k = int(edit["cluster"]), int(edit["k"])
            _existing(labels, [cluster])
            members = np.nonzero(labels == cluster)[0]
            if not 2 <= k <= len(members):
                raise InputError(
                    f"a cluster of {len(members)} texts splits into 2 to {len(members)} parts, not {k}."
                )
            parts = _kmeans(vectors[members], k)
            first = int(labels.max()) + 1
            labels[members] = np.where(parts == 0, cluster, first + parts - 1)
        elif op == "move":
            rows, to = np.asarray(edit["rows"], dtype=np.int64), int(edit["to"])
            _existing(labels, [to])
            if len(rows) == 0 or rows.min() < 0 or rows.max() >= len(labels):
                raise InputError("select the texts to move first.")
            labels[rows], broad[rows] = to, broad[labels == to][0]
        else:
            raise InputError(f"unknown edit {op!r}; one of {', '.join(EDIT_OPS)}.")
    return labels, broad, names


def _existing(labels: np.ndarray, clusters: Sequence[int]) -> None:
    present = set(labels.tolist())
    missing = [int(c) for c in clusters if int(c) not in present]
    if missing:
        raise InputError(f"there is no cluster {missing[0]} (any more); pick one from the list.")


def _kmeans(vectors: np.ndarray, k: int) -> np.ndarray:
    """Parts numbered by size, largest 0: the largest keeps the cluster's number."""
    from sklearn.cluster import KMeans

    parts = KMeans(k, n_init=3, random_state=0).fit_predict(vectors)
    order = np.argsort(-np.bincount(parts, minlength=k), kind="stable")
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    return rank[parts]
