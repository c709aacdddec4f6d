"""The local model in int8, for CPUs with fast int8 matrix products (AVX-512 VNNI, AMX, ARM dot
products): the transformer is exported to ONNX from the weights on disk (nothing is
downloaded), its attention fused by onnxruntime's transformer optimizer, and its linear layers
quantized to int8 (dynamic, per channel; the embedding table stays fp32, which keeps every
text's vector within cosine 0.98 of fp32's). Mean pooling and normalisation follow the model's own
sentence-transformers configuration.

The result is kept beside the store under a folder named by the model, the precision and the
versions of every library that made it: a change of any of them builds a new one. A folder is
written whole under a temporary name and renamed into place, and its manifest holds the
model file's sha256, so a half-written or damaged model is never read: it is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np

from embedviz.errors import BackendError

log = logging.getLogger(__name__)

BUILD_VERSION = 2
"""Bump when the way the model is built changes."""
LIBRARIES = ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime")
MODEL_FILE, MANIFEST = "model.onnx", "manifest.json"

_sessions: dict[str, Int8Encoder] = {}
_lock = threading.Lock()


def versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def models_dir() -> Path:
    """`$EMBEDVIZ_MODELS_DIR`, else `models/` beside the default store."""
    folder = os.environ.get("EMBEDVIZ_MODELS_DIR")
    if folder:
        return Path(folder)
    from embedviz.store import default_store_path

    return default_store_path().parent / "models"


def folder_for(model_path: str, root: Path) -> Path:
    """Where the int8 build of the model at `model_path` lives under `root`."""
    weights = sorted(p for p in Path(model_path).rglob("*") if p.suffix in (".safetensors", ".bin", ".json"))
    identity = {
        "model": Path(model_path).name,
        "files": [(str(p.relative_to(model_path)), p.stat().st_size) for p in weights],
        "precision": "int8",
        "versions": versions(),
        "build": BUILD_VERSION,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return root / f"{Path(model_path).name}-int8-{digest}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _readable(folder: Path) -> dict | None:
    """The manifest of a complete, undamaged build, else None."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        if _sha256(folder / MODEL_FILE) != manifest["sha256"]:
            return None
        return manifest
    except (OSError, ValueError, KeyError):
        return None


def loaded() -> bool:
    return bool(_sessions)


def encoder(model_path: str, root: Path, on_build: Callable[[str], None] | None = None) -> Int8Encoder:
    """The int8 encoder of a model: loaded once per process, built first if needed (or if the
    build on disk is missing or damaged)."""
    key = f"{model_path}\0{root}"
    ready = _sessions.get(key)  # the usual case, without listing the model's files again
    if ready is not None:
        return ready
    folder = folder_for(model_path, root)
    with _lock:
        if key in _sessions:
            return _sessions[key]
        manifest = _readable(folder)
        if manifest is None:
            if folder.exists():
                log.warning("the int8 model in %s is damaged or incomplete; building it again", folder)
            message = "building the int8 model from the bundled weights (once per machine, about a minute)"
            log.info(message)
            if on_build is not None:
                on_build(message)
            started = time.perf_counter()
            build(model_path, folder)
            log.info("built the int8 model in %.1f s: %s", time.perf_counter() - started, folder)
            manifest = _readable(folder)
            if manifest is None:
                raise BackendError(f"the int8 model could not be built in {folder}.")
        _sessions[key] = Int8Encoder(folder, manifest)
        return _sessions[key]


def build(model_path: str, folder: Path) -> None:
    """Export, fuse and quantize; the folder appears whole or not at all."""
    try:
        import onnx
        import onnxruntime  # noqa: F401
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers import optimizer
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise BackendError(
            f"int8 needs onnx and onnxruntime ({e.name} is missing): pip install -r requirements.txt"
        ) from None

    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        # Eager attention exports as plain MatMul/Softmax, which the optimizer fuses into one
        # Attention op (and quantization into QAttention); scaled_dot_product_attention does not fuse.
        model = SentenceTransformer(model_path, device="cpu", model_kwargs={"attn_implementation": "eager"})
        transformer = model[0].auto_model.eval()
        config = transformer.config
        dummy = model.tokenizer(
            ["an example sentence", "a second, longer example sentence with padding"],
            padding=True,
            return_tensors="pt",
        )
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in dummy]
        axes = {n: {0: "batch", 1: "tokens"} for n in names} | {
            "last_hidden_state": {0: "batch", 1: "tokens"}
        }

        class Hidden(torch.nn.Module):  # the transformer's last hidden state only
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, *inputs):
                return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes it fixed: not the user's concern
            torch.onnx.export(
                Hidden(transformer),
                tuple(dummy[n] for n in names),
                str(work / "fp32.onnx"),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        fused = optimizer.optimize_model(
            str(work / "fp32.onnx"),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
        )
        fused.save_model_to_file(str(work / "fused.onnx"))
        quantize_dynamic(  # fused ops come from onnxruntime's own domain, beyond shape inference
            str(work / "fused.onnx"),
            str(work / MODEL_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        for name in ("fp32.onnx", "fused.onnx"):
            (work / name).unlink()
        model.tokenizer.save_pretrained(str(work / "tokenizer"))
        manifest = {
            "inputs": names,
            "max_tokens": int(model.max_seq_length),
            "pooling": _pooling(model),
            "normalize": any(type(m).__name__ == "Normalize" for m in model),
            "sha256": _sha256(work / MODEL_FILE),
            "versions": versions(),
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(work, folder)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _pooling(model) -> str:
    pooling = next((m for m in model if type(m).__name__ == "Pooling"), None)
    if pooling is None:
        return "mean"
    for mode in ("cls", "max", "mean"):
        if getattr(
            pooling, f"pooling_mode_{mode}_token" if mode != "mean" else "pooling_mode_mean_tokens", False
        ):
            return mode
    return "mean"


class Int8Encoder:
    """An onnxruntime session with the model's tokenizer and pooling: texts -> unit vectors."""

    def __init__(self, folder: Path, manifest: dict) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder / "tokenizer"))
        self.manifest = manifest
        self.workers = _cpus()

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(n,) texts -> float32 (n, d), input order; batches of similar length run together.

        One batch per CPU at a time, each on one thread: a short text's layers are too small
        to share among threads (on 2 cores, 10% more snips texts per second than one batch on
        two threads). A batch's vectors do not depend on which thread ran it. The batches run
        longest first, so the last to finish are short and no CPU waits long at the end (3,072
        ag_news texts in chunks of 512: 145 texts/s against 130 shortest first); they are cut
        from the shortest end, as before, so each text shares its batch with the same texts."""
        order = np.argsort([len(t) for t in texts], kind="stable")
        batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)][::-1]
        out: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        jobs = ([texts[i] for i in rows] for rows in batches)
        if len(batches) <= 1 or self.workers == 1:  # a query: no threads to start
            self._place(batches, map(self._batch, jobs), out)
        else:
            with ThreadPoolExecutor(min(self.workers, len(batches))) as pool:
                self._place(batches, pool.map(self._batch, jobs), out)
        vectors = np.vstack(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)
        if self.manifest["normalize"] and len(vectors):
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    @staticmethod
    def _place(batches: list[np.ndarray], pooled, out: list) -> None:
        for rows, vectors in zip(batches, pooled, strict=True):
            for i, row in zip(rows, vectors, strict=True):
                out[i] = row

    def _batch(self, texts: list[str]) -> np.ndarray:
        """One batch of texts -> pooled (b, d), not yet normalised."""
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.manifest["max_tokens"], return_tensors="np"
        )
        feeds = {n: batch[n].astype(np.int64) for n in self.manifest["inputs"]}
        hidden = self.session.run(None, feeds)[0]
        return _pool(hidden, feeds["attention_mask"], self.manifest["pooling"])


def _cpus() -> int:
    """CPUs this process may run on (a container's or a Ray worker's share, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """hidden (b, t, d), mask (b, t) -> (b, d)."""
    if mode == "cls":
        return hidden[:, 0]
    weights = mask[:, :, None].astype(hidden.dtype)
    if mode == "max":
        return np.where(weights > 0, hidden, -np.inf).max(axis=1)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
