from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from embedviz import register_backend
from tests.planted import PlantedBackend, planted_frame

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The int8 model is built once per test run (about 15 s), not once per test's store folder.
os.environ.setdefault("EMBEDVIZ_MODELS_DIR", tempfile.mkdtemp(prefix="embedviz-models-"))
register_backend("planted", PlantedBackend)


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """Every test gets its own store folder; nothing touches the user's cache."""
    monkeypatch.setenv("EMBEDVIZ_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def planted_csv(tmp_path) -> Path:
    path = tmp_path / "planted.csv"
    planted_frame().to_csv(path, index=False)
    return path


def shared_dataset(name: str) -> Path:
    path = SHARED / name / "data.csv.gz"
    if not path.exists():
        pytest.skip(f"shared dataset {name} not present (../shared/datasets is only in CI and dev)")
    return path
