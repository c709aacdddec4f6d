"""Refresh the samples' bundled vectors: `python -m embedviz.samples` (after a model or
precision change; tests/test_samples.py says when they no longer match)."""

from embedviz.backends import make_backend
from embedviz.backends.local import PRECISIONS
from embedviz.samples import write_bundled_vectors

if __name__ == "__main__":
    backends = [make_backend("sentence-transformers", precision=p) for p in PRECISIONS]
    for path in write_bundled_vectors(backends):
        print(path)
