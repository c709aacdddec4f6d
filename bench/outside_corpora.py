"""Labelled corpora from outside ../shared, built from Debian's archive, for checking the
clusters on data the method was not chosen on (`bench/clusters.py PATH`).

    apt-get update -o Acquire::Languages=en,fr,de,ja,zh_CN,ko   # once, as root: the long descriptions
    python bench/outside_corpora.py [--out DIR]   # default ~/.cache/embedviz-bench/corpora
    python bench/clusters.py DIR/debian_sections DIR/debian_sections20 DIR/debian_works_with \
        DIR/wordnet_nouns DIR/wordnet_things DIR/python_docstrings DIR/debian_sections_fr DIR/debian_sections_de

Every package's text is its short and long English description. Two label sets, both of many
broad topics of uneven size, the kind of corpus on which automatic clusters used to collapse:

- debian_sections: the archive section, for 14 subject sections (games, sound, fonts, math,
  hamradio, ...), at most 400 packages each;
- debian_sections20: the same and six more sections (net, admin, web, text, devel, kernel), at
  most 300 packages each: 20 topics, some of them near one another;
- debian_works_with: the debtags facet `works-with` (audio, mail, db, image, ...), for packages
  with exactly one such tag, 18 values with at least 40 packages, at most 250 each.

- debian_sections_fr, debian_sections_de: the 14 sections again, from the French and German
  translations of the descriptions (fewer packages are translated), for clusters and names on
  corpora that are not in English (the bundled model is trained on English).
- debian_sections_ja, debian_sections_zh: the same from the Japanese and Chinese translations,
  written without spaces between words (`bench/words.py`: how their words are read).
- debian_sections_ko: the same from the Korean translations, whose words carry their particles
  and endings (`bench/words.py`).

Libraries, language bindings and -dev/-doc/-dbg/-data/-common packages are left out: their
section names a language or a role, not a subject.

A third, an encyclopedia-like set: wordnet_nouns, WordNet 3.0's noun entries (package
wordnet-base, fetched with `apt-get download`), each text its words and gloss ("dog, domestic
dog, Canis familiaris: a member of the genus Canis ..."), labelled by WordNet's lexicographer
file (noun.animal, noun.food, noun.artifact, noun.feeling, ...): the 23 files of at least 400
entries, 200 entries each. And wordnet_things, the nine files of physical things (noun.animal,
noun.plant, noun.person, noun.location, noun.food, noun.artifact, ...), 500 entries each: entity
types as an encyclopedia's categories are.

A fourth, API documentation: python_docstrings, the first paragraph of the docstring of every
public function and class of 68 modules of the standard library and of the packages embedviz
installs ("loads: Deserialize s to a Python object."), labelled by top-level package (about
60, of very uneven size) and kind (function or class). It follows the installed versions.
Nothing is written inside the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import re
import subprocess
import tempfile
import warnings
from pathlib import Path

import pandas as pd

LISTS = Path("/var/lib/apt/lists")
OUT = Path.home() / ".cache" / "embedviz-bench" / "corpora"
SECTIONS = [
    "games",
    "sound",
    "graphics",
    "fonts",
    "science",
    "math",
    "mail",
    "database",
    "video",
    "electronics",
    "hamradio",
    "editors",
    "tex",
    "vcs",
]
MORE_SECTIONS = ["net", "admin", "web", "text", "devel", "kernel"]
MODULES = [
    "json",
    "os",
    "re",
    "email",
    "http",
    "xml",
    "asyncio",
    "collections",
    "itertools",
    "functools",
    "pathlib",
    "sqlite3",
    "csv",
    "datetime",
    "decimal",
    "fractions",
    "statistics",
    "random",
    "math",
    "string",
    "textwrap",
    "unicodedata",
    "logging",
    "argparse",
    "subprocess",
    "threading",
    "multiprocessing",
    "socket",
    "ssl",
    "urllib",
    "zipfile",
    "tarfile",
    "gzip",
    "shutil",
    "tempfile",
    "glob",
    "pickle",
    "copy",
    "typing",
    "dataclasses",
    "enum",
    "abc",
    "unittest",
    "doctest",
    "pdb",
    "inspect",
    "ast",
    "dis",
    "tokenize",
    "numpy",
    "pandas",
    "scipy.sparse",
    "scipy.stats",
    "scipy.optimize",
    "scipy.linalg",
    "sklearn.cluster",
    "sklearn.metrics",
    "sklearn.linear_model",
    "sklearn.decomposition",
    "sklearn.preprocessing",
    "matplotlib.pyplot",
    "plotly.graph_objects",
    "streamlit",
    "torch.nn",
    "torch",
    "requests",
    "pyarrow",
    "umap",
    "openai",
]
NOT_A_SUBJECT = re.compile(
    r"^(?:lib|python3?-|ruby-|node-|golang-|r-cran|haskell|perl)|-(?:dev|doc|dbg|data|common)$"
)


def _read_lists(pattern: str) -> str:
    """The text of every apt list file matching pattern, decompressed by apt itself."""
    files = sorted(LISTS.glob(pattern))
    if not files:
        raise SystemExit(
            f"no {pattern} under {LISTS}: run `apt-get update -o Acquire::Languages=en,fr,de,ja,zh_CN,ko` (as root) first"
        )
    helper = "/usr/lib/apt/apt-helper"
    return "\n\n".join(
        subprocess.run([helper, "cat-file", str(f)], capture_output=True, text=True).stdout for f in files
    )


def _stanzas(text: str):
    for block in text.split("\n\n"):
        fields, key = {}, None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            yield fields


def packages(language: str = "en") -> pd.DataFrame:
    """package, section, works_with (one value or None), text: the description in `language`
    (en, or a translation apt fetched: fr, de, ...)."""
    meta = {}
    for f in _stanzas(_read_lists("*_binary-amd64_Packages*")):
        tags = [t.strip() for t in f.get("Tag", "").replace("\n", " ").split(",")]
        works = [t.split("::")[1] for t in tags if t.startswith("works-with::") and "{" not in t]
        works = [w for w in works if w != "TODO"]
        meta[f["Package"]] = (f.get("Section", "").split("/")[-1], works[0] if len(works) == 1 else None)
    rows = []
    for f in _stanzas(_read_lists(f"*_i18n_Translation-{language.replace('_', '%5f')}*")):
        if f["Package"] not in meta or f"Description-{language}" not in f:
            continue
        short, *body = f[f"Description-{language}"].split("\n")
        long = " ".join(line.strip() for line in body if line.strip() != ".")
        rows.append((f["Package"], *meta[f["Package"]], f"{short}. {long}".strip()))
    frame = pd.DataFrame(rows, columns=["package", "section", "works_with", "text"]).drop_duplicates(
        "package"
    )
    return frame[~frame["package"].str.contains(NOT_A_SUBJECT)]


# WordNet's lexicographer files for nouns, by number (lexnames(5WN)); 03 noun.Tops is not a subject.
NOUN_FILES = [
    "act",
    "animal",
    "artifact",
    "attribute",
    "body",
    "cognition",
    "communication",
    "event",
    "feeling",
    "food",
    "group",
    "location",
    "motive",
    "object",
    "person",
    "phenomenon",
    "plant",
    "possession",
    "process",
    "quantity",
    "relation",
    "shape",
    "state",
    "substance",
    "time",
]

THINGS = [
    f"noun.{name}"
    for name in ("animal", "artifact", "body", "food", "location", "object", "person", "plant", "substance")
]
"""The lexicographer files of physical things (under WordNet's physical_entity), the kind of
classes an encyclopedia's entity types are (animals, plants, places, people, works)."""


def wordnet_nouns() -> pd.DataFrame:
    """text ("words: gloss") and lexname for every WordNet noun entry, from Debian's wordnet-base."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", "wordnet-base"], cwd=tmp, check=True, capture_output=True)
        deb = next(Path(tmp).glob("wordnet-base_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), tmp], check=True)
        lines = (Path(tmp) / "usr/share/wordnet/data.noun").read_text(encoding="latin-1").splitlines()
    rows = []
    for line in lines:
        if line.startswith(" "):
            continue  # the licence at the head of the file
        head, _, gloss = line.partition(" | ")
        fields = head.split()
        number, count = int(fields[1]), int(fields[3], 16)
        if number < 4:
            continue
        words = [w.replace("_", " ") for w in fields[4 : 4 + 2 * count : 2]]
        rows.append((f"{', '.join(words)}: {gloss.strip()}", f"noun.{NOUN_FILES[number - 4]}"))
    return pd.DataFrame(rows, columns=["text", "lexname"])


def python_docstrings() -> pd.DataFrame:
    rows = []
    for name in MODULES:
        try:
            quiet = contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO())
            with quiet[0], quiet[1], warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(name)
        except Exception:  # a package this machine lacks: left out
            continue
        for attr, obj in list(vars(module).items()):
            if attr.startswith("_") or not (
                inspect.isfunction(obj) or inspect.isclass(obj) or inspect.isbuiltin(obj)
            ):
                continue
            doc = inspect.getdoc(obj)
            if doc:
                first = doc.strip().split("\n\n")[0].replace("\n", " ")
                kind = "class" if inspect.isclass(obj) else "function"
                rows.append(
                    {"text": f"{attr}: {first}", "label": name.split(".")[0], "module": name, "kind": kind}
                )
    return pd.DataFrame(rows).drop_duplicates("text")


def _balanced(frame: pd.DataFrame, column: str, cap: int, seed: int) -> pd.DataFrame:
    groups = [g.sample(min(len(g), cap), random_state=seed) for _, g in frame.groupby(column)]
    return pd.concat(groups).rename(columns={column: "label"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    out = parser.parse_args().out
    frame = packages()
    sections = _balanced(frame[frame["section"].isin(SECTIONS)], "section", 400, seed=0)
    sections20 = _balanced(frame[frame["section"].isin(SECTIONS + MORE_SECTIONS)], "section", 300, seed=0)
    works = frame.dropna(subset=["works_with"])
    counts = works["works_with"].value_counts()
    works = _balanced(works[works["works_with"].isin(counts[counts >= 40].index)], "works_with", 250, seed=2)
    french, german = (packages(language) for language in ("fr", "de"))
    sections_fr = _balanced(french[french["section"].isin(SECTIONS)], "section", 400, seed=0)
    sections_de = _balanced(german[german["section"].isin(SECTIONS)], "section", 400, seed=0)
    japanese, chinese, korean = (packages(language) for language in ("ja", "zh_CN", "ko"))
    sections_ja = _balanced(japanese[japanese["section"].isin(SECTIONS)], "section", 400, seed=0)
    sections_zh = _balanced(chinese[chinese["section"].isin(SECTIONS)], "section", 400, seed=0)
    sections_ko = _balanced(korean[korean["section"].isin(SECTIONS)], "section", 400, seed=0)
    nouns = wordnet_nouns()
    counts = nouns["lexname"].value_counts()
    things = _balanced(nouns[nouns["lexname"].isin(THINGS)], "lexname", 500, seed=0)
    nouns = _balanced(nouns[nouns["lexname"].isin(counts[counts >= 400].index)], "lexname", 200, seed=0)
    corpora = {
        "debian_sections": sections[["text", "label", "package"]],
        "debian_sections20": sections20[["text", "label", "package"]],
        "debian_works_with": works[["text", "label", "package"]],
        "debian_sections_fr": sections_fr[["text", "label", "package"]],
        "debian_sections_de": sections_de[["text", "label", "package"]],
        "debian_sections_ja": sections_ja[["text", "label", "package"]],
        "debian_sections_zh": sections_zh[["text", "label", "package"]],
        "debian_sections_ko": sections_ko[["text", "label", "package"]],
        "wordnet_nouns": nouns,
        "wordnet_things": things,
        "python_docstrings": python_docstrings(),
    }
    for name, corpus in corpora.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        corpus.to_csv(folder / "data.csv.gz", index=False)
        print(f"{folder}: {len(corpus):,} texts, {corpus['label'].nunique()} labels")


if __name__ == "__main__":
    main()
