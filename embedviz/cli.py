"""Command line: `embedviz map` and `embedviz search`. Bad input exits 2 with one line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from embedviz.backends import BACKENDS, DEFAULT_BACKEND, BackendSettings, make_backend
from embedviz.backends.base import Backend, space_of
from embedviz.backends.local import DEFAULT_PRECISION, PRECISIONS
from embedviz.cluster import CLUSTER_METHODS, ClusterParams
from embedviz.corpus import Corpus, load_corpus
from embedviz.errors import EmbedvizError, InputError
from embedviz.progress import Progress
from embedviz.reduce import REDUCERS, ReduceParams, resolve
from embedviz.scale import DEFAULT_FIT_SAMPLE, ENGINES, BackendSpec
from embedviz.shards import is_embed_folder, is_output_folder
from embedviz.store import STORE_FILE, Store, default_store_path

log = logging.getLogger("embedviz")
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    commands: dict[str, argparse.ArgumentParser] = {}

    def error(self, message: str) -> None:  # one line, exit 2
        sys.stderr.write(f"embedviz: error: {message} (see {self.prog} --help)\n")
        sys.exit(EXIT_BAD_INPUT)

    def parse_args(self, args=None, namespace=None):  # a stray argument: the command's help
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            self.commands.get(parsed.command, self).error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed


def _clusters(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number, not {value!r}") from None
    if k < 1:
        raise argparse.ArgumentTypeError("the number of clusters must be at least 1")
    return k


def _output(value: str) -> Path:
    path = Path(value)
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise argparse.ArgumentTypeError(f"{path.name}: the output must end in .csv or .parquet")
    return path


def check_table_output(path: Path) -> None:
    try:
        _output(str(path))
    except argparse.ArgumentTypeError as e:
        raise InputError(f"{e}; a folder is written only for a folder made by `embedviz embed`.") from None


def _figure(value: str) -> Path:
    from embedviz.drawing import FIGURE_FORMATS

    path = Path(value)
    if path.suffix.lower() not in FIGURE_FORMATS:
        raise argparse.ArgumentTypeError(f"{path.name}: the figure must end in {', '.join(FIGURE_FORMATS)}")
    return path


def _days(value: str) -> float:
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not days >= 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days (0 or more, e.g. 7 or 0.5)")
    return days


def _query(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("the query is empty; type some text to search for")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="embedviz", description="Explore text embeddings.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r, c = ReduceParams(), ClusterParams()

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("input", help="a .txt, .csv, .tsv, .jsonl, .json, .parquet or .xlsx file (or .gz)")
        p.add_argument("--text-column", help="the column holding the texts (default: picked)")
        p.add_argument("--backend", default=DEFAULT_BACKEND, choices=sorted(BACKENDS))
        p.add_argument("--model", help="model name or local folder (backend's default)")
        p.add_argument("--dimensions", type=int, help="vector size (openai text-embedding-3-*, tfidf)")
        p.add_argument("--base-url", help="OpenAI-compatible server (openai backend)")
        p.add_argument("--batch-size", type=int, default=32, help="sentence-transformers batch size")
        p.add_argument(
            "--precision",
            choices=PRECISIONS,
            default=DEFAULT_PRECISION,
            help=f"sentence-transformers on the CPU: int8 (ONNX, built once from the bundled weights) or fp32 (default {DEFAULT_PRECISION})",
        )
        p.add_argument("--vectors", help="precomputed backend: a column name or a .npy file")
        p.add_argument("--cache-dir", help="store folder (default: $EMBEDVIZ_CACHE_DIR or user cache)")
        p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")

    def engine(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--engine",
            choices=ENGINES,
            default="local",
            help="where encoding and placing run: this process, or Ray (pip install -r requirements-scale.txt)",
        )
        p.add_argument(
            "--address", help="ray: a running cluster's address (default: start Ray on this machine)"
        )

    m = sub.add_parser(
        "map",
        help="write a table with map coordinates and clusters (or, for a folder from `embed`, "
        "fit on a sample and place every row)",
    )
    common(m)
    m.set_defaults(backend=None, precision=None)  # with --onto: the map's own, unless given
    m.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output .parquet or .csv; a folder when the input is a folder written by `embedviz embed`",
    )
    m.add_argument(
        "--onto",
        type=Path,
        help="a map folder made earlier: place the input's texts on it without moving its points",
    )
    m.add_argument(
        "--fit-sample",
        type=int,
        help=f"embed folder: fit the map and clusters on this many rows, the same ones every run (default all, up to {DEFAULT_FIT_SAMPLE:,})",
    )
    engine(m)
    m.add_argument(
        "--figure",
        type=Path,
        help="also write the labelled map: .html (names and a text filter), .png or .svg",
    )
    m.add_argument("--reducer", default=r.method, choices=REDUCERS)
    m.add_argument("--dims", type=int, default=r.dims, choices=(2, 3))
    m.add_argument(
        "--clusters", type=_clusters, default=c.k, help="fine clusters: 'auto' or a number (default auto)"
    )
    m.add_argument(
        "--broad-clusters",
        type=_clusters,
        default=c.broad_k,
        help="broad topics above the fine clusters: 'auto' or a number (default auto)",
    )
    m.add_argument("--cluster-method", default=c.method, choices=CLUSTER_METHODS)
    m.add_argument("--min-cluster-size", type=int, default=c.min_cluster_size, help="hdbscan")
    m.add_argument(
        "--assign-noise",
        action="store_true",
        help="hdbscan: give outliers their nearest cluster (default: -1)",
    )
    m.add_argument("--n-neighbors", type=int, default=r.n_neighbors, help="umap")
    m.add_argument("--min-dist", type=float, default=r.min_dist, help="umap")
    m.add_argument("--perplexity", type=float, default=r.perplexity, help="tsne")
    m.add_argument("--seed", type=int, default=r.seed)

    e = sub.add_parser("embed", help="embed a file or a folder of files into Parquet parts (row_id, vector)")
    common(e)
    e.add_argument("--out", required=True, type=Path, help="the output folder (created)")
    engine(e)

    v = sub.add_parser("serve", help="serve embeddings over an OpenAI-compatible HTTP API")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=8000)
    v.add_argument(
        "--backend", default=DEFAULT_BACKEND, choices=sorted(b for b in BACKENDS if b != "precomputed")
    )
    v.add_argument("--model", help="model name or local folder (backend's default)")
    v.add_argument("--dimensions", type=int, help="vector size (openai backend)")
    v.add_argument("--base-url", help="upstream OpenAI-compatible server (openai backend)")
    v.add_argument("--batch-size", type=int, default=32)
    v.add_argument("--precision", choices=PRECISIONS, default=DEFAULT_PRECISION, help="sentence-transformers")
    v.add_argument("--cache-dir", help="store folder (default: $EMBEDVIZ_CACHE_DIR or user cache)")

    h = sub.add_parser("store", help="what the store holds; drop what can be made again")
    h.add_argument("--cache-dir", help="store folder (default: $EMBEDVIZ_CACHE_DIR or user cache)")
    h.add_argument(
        "--drop-computed",
        action="store_true",
        help="drop maps, neighbour graphs, clusterings, ... (made again when next asked for); vectors, tags and edits stay",
    )
    h.add_argument(
        "--older-than",
        type=_days,
        metavar="DAYS",
        help="with --drop-computed: only results made more than DAYS ago",
    )
    h.add_argument(
        "--drop-vectors",
        metavar="SPACE",
        help="drop one vector space (its key as listed, or the key's start); its texts are encoded again when next used",
    )

    s = sub.add_parser("search", help="print the texts nearest a query as JSON lines")
    common(s)
    s.set_defaults(backend=None, precision=None)  # for a folder: its own backend, unless given
    s.add_argument("--query", required=True, type=_query)
    s.add_argument("-k", type=int, default=10)

    t = sub.add_parser("train", help="learn a classifier from the labelled rows of a file")
    common(t)
    t.add_argument("--label-column", required=True, help="rows with an empty label are ignored")
    t.add_argument("--out", required=True, type=Path, help="the classifier's folder (written)")

    k = sub.add_parser("classify", help="label every text with a classifier made by `train`")
    k.add_argument("classifier", type=Path, help="a folder written by `embedviz train`")
    common(k)
    k.set_defaults(backend=None, precision=None)  # the classifier's own, unless given
    k.add_argument("--out", required=True, type=_output, help="output .parquet or .csv")
    parser.commands = sub.choices
    return parser


def backend_from_args(args: argparse.Namespace, corpus: Corpus | None = None) -> Backend:
    vectors = _precomputed_vectors(args.vectors, corpus) if args.backend == "precomputed" else None
    return settings_from_args(args).build(vectors=vectors, source=getattr(args, "vectors", None))


def settings_from_args(
    args: argparse.Namespace, kind: type[BackendSettings] = BackendSettings
) -> BackendSettings:
    """The backend options every command shares (precision where the command has it)."""
    return kind(
        args.backend,
        model=args.model,
        dimensions=args.dimensions,
        base_url=args.base_url,
        batch_size=args.batch_size,
        precision=getattr(args, "precision", None),
    )


def _precomputed_vectors(source: str | None, corpus: Corpus):
    from embedviz.backends.precomputed import vectors_from_column, vectors_from_npy

    if not source:
        raise InputError("the precomputed backend needs --vectors COLUMN or --vectors FILE.npy.")
    if source.endswith(".npy"):
        return vectors_from_npy(source, corpus.rows, corpus.report.n_input_rows)
    return vectors_from_column(corpus.frame, source)


class _Bars:
    """tqdm bars, one per stage, on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict = {}

    def __call__(self, event: Progress) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(event.stage)
        if bar is None:
            bar = self.bars[event.stage] = tqdm(total=event.total, desc=event.stage, unit="", leave=False)
        bar.total = event.total
        bar.n = event.done
        if event.detail:
            bar.set_postfix_str(event.detail, refresh=False)
        bar.refresh()
        if event.done >= event.total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def reduce_params_from(args: argparse.Namespace) -> ReduceParams:
    return ReduceParams(
        method=args.reducer,
        dims=args.dims,
        seed=args.seed,
        n_neighbors=args.n_neighbors,
        min_dist=args.min_dist,
        perplexity=args.perplexity,
    )


def cluster_params_from(args: argparse.Namespace) -> ClusterParams:
    return ClusterParams(
        method=args.cluster_method,
        k=args.clusters,
        broad_k=args.broad_clusters,
        min_cluster_size=args.min_cluster_size,
        keep_noise=not args.assign_noise,
        seed=args.seed,
    )


def run_map_folder(args: argparse.Namespace) -> None:
    """map FOLDER (from `embed`) --out FOLDER: fit on a sample, place every row."""
    from embedviz.scale import map_folder

    params = reduce_params_from(args)
    if params.method == "auto":
        params = ReduceParams(**{**params.__dict__, "method": "umap"})
    report = map_folder(
        args.input,
        args.out,
        engine=args.engine,
        address=args.address,
        sample=args.fit_sample,
        reduce_params=params,
        cluster_params=cluster_params_from(args),
        quiet=args.quiet,
    )
    log.info(
        "map: fitted on %s of %s rows, %d clusters in %d broad topics (fit %.1f s, place %.1f s)",
        f"{report.fit_rows:,}",
        f"{report.rows:,}",
        report.k,
        report.broad_k,
        report.seconds_fit,
        report.seconds_place,
    )
    _log_topic_options(report.broad_options, report.broad_k)


def run_embed(args: argparse.Namespace, store: Store, bars: _Bars) -> None:
    from embedviz.scale import embed_folder

    embed_folder(
        args.input,
        args.out,
        settings_from_args(args, BackendSpec),
        engine=args.engine,
        address=args.address,
        text_column=args.text_column,
        store=store,
        on_progress=bars,
        quiet=args.quiet,
    )


def run_onto(args: argparse.Namespace, corpus: Corpus, backend: Backend, store: Store, bars: _Bars) -> None:
    from embedviz.export import write_table
    from embedviz.scale import place_onto

    frame = place_onto(corpus, args.onto, backend, store, on_progress=bars)
    write_table(frame, args.out)
    far = int((frame["cluster"] == -2).sum())
    log.info(
        "map: %d texts placed on %s (%d far from every cluster); wrote %s",
        len(frame),
        args.onto,
        far,
        args.out,
    )


def run_map(args: argparse.Namespace, corpus: Corpus, backend: Backend, store: Store, bars: _Bars) -> None:
    from embedviz.drawing import write_figure
    from embedviz.export import write_table
    from embedviz.pipeline import build_map

    if args.onto is not None:
        return run_onto(args, corpus, backend, store, bars)
    out = args.out
    reduce_params, cluster_params = reduce_params_from(args), cluster_params_from(args)
    if resolve(reduce_params, len(corpus)).method == "umap":
        from embedviz.reduce import warm_up_in_background

        warm_up_in_background()  # compiles or loads UMAP's numba code while the texts are encoded
    result = build_map(corpus, backend, store, reduce_params, cluster_params, on_progress=bars)
    write_table(result.frame, out)
    if args.figure is not None:
        write_figure(
            corpus.frame,
            corpus.text_column,
            corpus.metadata_columns,
            result.projection.coords,
            result.clusters,
            args.figure,
        )
        log.info("figure: wrote %s", args.figure)
    trust = result.projection.trustworthiness
    clustering = result.clusters.clustering
    log.info(
        "map: %s, trustworthiness %s; %s in %s; wrote %s",
        result.projection.method,
        f"{trust:.3f}" if trust is not None else "n/a",
        _counted(clustering.k, "cluster"),
        _counted(clustering.broad_k, "broad topic"),
        out,
    )
    _log_topic_options(clustering.broad_options, clustering.broad_k)


def _log_topic_options(options: tuple[int, ...], broad_k: int) -> None:
    others = [str(b) for b in options if b != broad_k]
    if others:
        log.info("the neighbour graph also supports %s broad topics: --broad-clusters N", " or ".join(others))


def run_train(args: argparse.Namespace, corpus: Corpus, backend: Backend, store: Store, bars: _Bars) -> None:
    from embedviz.classifier import save
    from embedviz.pipeline import train_classifier

    if args.label_column not in corpus.frame:
        columns = ", ".join(c for c in corpus.frame.columns if c != corpus.text_column) or "none"
        raise InputError(f"there is no column {args.label_column!r}; the file's other columns: {columns}.")
    labels = corpus.frame[args.label_column].tolist()
    model = train_classifier(corpus, backend, store, labels, on_progress=bars)
    save(model, args.out)
    accuracy = "n/a (a label has one example)" if model.cv_accuracy is None else f"{model.cv_accuracy:.3f}"
    log.info(
        "train: %d examples of %d labels (%d rows without a label ignored); cross-validated accuracy %s; wrote %s",
        model.examples,
        len(model.classes),
        len(corpus) - model.examples,
        accuracy,
        args.out,
    )


def run_classify(
    args: argparse.Namespace, corpus: Corpus, backend: Backend, store: Store, bars: _Bars
) -> None:
    from embedviz.export import write_table
    from embedviz.pipeline import classify

    found = classify(corpus, backend, store, args.trained, on_progress=bars)
    frame = corpus.frame.assign(prediction=found.labels, confidence=found.confidence)
    write_table(frame, args.out)
    log.info("classify: %d texts labelled; wrote %s", len(frame), args.out)


def classifier_backend(args: argparse.Namespace, corpus: Corpus) -> Backend:
    """classify: the backend the classifier was trained on, unless the command line names one
    (which must then make the same vectors)."""
    from embedviz.classifier import load

    args.trained = load(args.classifier)
    return backend_like(args, args.trained.backend, corpus)


def backend_like(args: argparse.Namespace, identity: dict, corpus: Corpus) -> Backend:
    """The backend of `identity` (a classifier's or a map's), unless the command line names one."""
    if args.backend is None:
        args.backend = identity.get("backend")
        args.model = args.model or identity.get("model")
        if args.backend == "sentence-transformers":
            args.precision = args.precision or identity.get("precision", "fp32")
        if args.backend == "openai" and args.dimensions is None:
            args.dimensions = identity.get("dimension")
    return backend_from_args(args, corpus)


def map_backend(args: argparse.Namespace, corpus: Corpus) -> Backend:
    """map: the named backend (default sentence-transformers); with --onto, the map's own."""
    if args.onto is None:
        return backend_from_args(args, corpus)
    from embedviz.shards import MAP_MANIFEST, read_manifest

    return backend_like(args, read_manifest(args.onto, MAP_MANIFEST)["backend"], corpus)


def run_search_folder(args: argparse.Namespace, store: Store) -> None:
    """search FOLDER: the on-disk index of an embed folder (or of the one a map was made from),
    so the vectors never have to fit in memory."""
    from embedviz.embed import embed_query
    from embedviz.scale import check_backend, embedded_folder, folder_manifest
    from embedviz.shard_index import open_index
    from embedviz.shards import rows_of

    manifest = folder_manifest(args.input)
    embedded = embedded_folder(args.input)
    backend = backend_like(args, manifest["backend"], None)
    check_backend(manifest["backend"], backend)
    index = open_index(embedded)
    found = index.search(embed_query(args.query, backend, store), args.k)
    keep = found.row_ids[0] >= 0
    row_ids, scores = found.row_ids[0][keep], found.scores[0][keep]
    texts = rows_of(embedded, row_ids, [manifest["text_column"]])[manifest["text_column"]]
    for rank, (row, score, text) in enumerate(zip(row_ids, scores, texts, strict=True), start=1):
        print(
            json.dumps(
                {"rank": rank, "row": int(row), "score": round(float(score), 6), "text": text},
                ensure_ascii=False,
            )
        )


def run_search(args: argparse.Namespace, corpus: Corpus, backend: Backend, store: Store, bars: _Bars) -> None:
    from embedviz.pipeline import search

    for hit in search(corpus, backend, store, args.query, args.k, on_progress=bars):
        print(
            json.dumps(
                {"rank": hit.rank, "row": hit.row, "score": round(hit.score, 6), "text": hit.text},
                ensure_ascii=False,
            )
        )


def _log_to_stderr() -> None:
    """The library's log lines, prefixed, on this process's stderr (once per call of main)."""
    for handler in list(log.handlers):
        log.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("embedviz: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
    log.propagate = False


def _store_path(args: argparse.Namespace) -> Path:
    """The store file: in --cache-dir if given, else default_store_path()."""
    return Path(args.cache_dir) / STORE_FILE if args.cache_dir else default_store_path()


def run_serve(args: argparse.Namespace) -> int:
    from embedviz.serve import serve

    if args.backend == "tfidf":
        raise InputError(
            "tfidf is fitted on one corpus and cannot serve arbitrary texts; pick a model backend."
        )
    backend = backend_from_args(args)
    store = Store(_store_path(args))
    serve(backend, store, args.host, args.port, os.environ.get("EMBEDVIZ_API_KEY") or None)
    return 0


def run_store(args: argparse.Namespace) -> int:
    """Print what the store holds (a table on stdout); drop what was asked, then compact."""
    if args.older_than is not None and not args.drop_computed:
        raise InputError(
            "--older-than says which computed results --drop-computed drops; add --drop-computed."
        )
    path = _store_path(args)
    if not path.exists():
        raise InputError(
            f"no store at {path}; the dashboard and the other commands make it when they first run."
        )
    store = Store(path)
    dropped = {}
    if args.drop_vectors:
        dropped["vectors"] = store.drop_vectors(args.drop_vectors)
    if args.drop_computed:
        dropped["computed results"] = store.drop_computed(args.older_than)
    if dropped:
        before = store.size()
        if sum(dropped.values()):
            store.compact()
        what = " and ".join(f"{n:,} {part}" for part, n in dropped.items())
        sys.stdout.write(f"dropped {what}; the file went from {_mb(before)} to {_mb(store.size())}\n")
    rows = [("part", "name", "entries", "size", "about")]
    rows += [
        (h.part, h.name, f"{h.entries:,}", _mb(h.bytes), h.about) for h in store.holdings(_bundled_spaces())
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    sys.stdout.write(f"{store.path}: {_mb(store.size())}\n")
    for row in rows:
        sys.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)))
        sys.stdout.write(f"  {row[4]}\n")
    return 0


def _counted(n: int, thing: str) -> str:
    return f"{n:,} {thing}" + ("" if n == 1 else "s")


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _bundled_spaces() -> dict[str, dict]:
    """The bundled model's vector spaces (int8 and fp32) by key, to name them in stores that
    were filled before spaces were recorded by name."""
    identities = [make_backend("sentence-transformers", precision=p).identity() for p in PRECISIONS]
    return {space_of(identity): identity for identity in identities}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _log_to_stderr()
    if args.command in ("serve", "store"):
        try:
            return run_serve(args) if args.command == "serve" else run_store(args)
        except EmbedvizError as e:
            sys.stderr.write(f"embedviz: error: {e}\n")
            return EXIT_BAD_INPUT
    started = time.perf_counter()
    bars = _Bars(enabled=not args.quiet and sys.stderr.isatty())
    try:
        if getattr(args, "figure", None) is not None:  # before any work: said at once
            from embedviz.drawing import check_figure_path

            check_figure_path(args.figure, args.dims)
        store = Store(_store_path(args))
        if args.command == "embed" or (args.command == "map" and is_embed_folder(args.input)):
            if not args.quiet:
                log.setLevel(logging.INFO)
            run_embed(args, store, bars) if args.command == "embed" else run_map_folder(args)
            bars.close()
            log.info("done in %.1f s", time.perf_counter() - started)
            return 0
        if args.command == "search" and is_output_folder(args.input):
            run_search_folder(args, store)
            return 0
        if args.command in ("map", "search") and args.backend is None and getattr(args, "onto", None) is None:
            args.backend = DEFAULT_BACKEND
        if args.command == "map":
            check_table_output(args.out)
        corpus = load_corpus(args.input, text_column=args.text_column)
        if args.command == "classify":
            backend = classifier_backend(args, corpus)
        elif args.command == "map":
            backend = map_backend(args, corpus)
        else:
            backend = backend_from_args(args, corpus)
        if not args.quiet:
            log.setLevel(logging.INFO)  # only after the input proved usable: bad input stays one line
            log.info("%s: %s", corpus.name, corpus.report.summary())
        for warning in corpus.report.warnings + tuple(store.warnings):  # shown even when quiet
            log.warning(warning)
        commands = {"map": run_map, "search": run_search, "train": run_train, "classify": run_classify}
        commands[args.command](args, corpus, backend, store, bars)
    except EmbedvizError as e:
        bars.close()
        sys.stderr.write(f"embedviz: error: {e}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        bars.close()
        sys.stderr.write("embedviz: interrupted; work done so far is in the store.\n")
        return 130
    except Exception as e:
        if os.environ.get("EMBEDVIZ_DEBUG"):
            raise
        sys.stderr.write(
            f"embedviz: internal error: {type(e).__name__}: {e} (set EMBEDVIZ_DEBUG=1 for details)\n"
        )
        return 1
    bars.close()
    log.info("done in %.1f s", time.perf_counter() - started)
    return 0
