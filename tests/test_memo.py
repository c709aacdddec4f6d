"""The server's shared memo (bounded by bytes, one computation per key) and uploads on disk."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from embedviz.errors import InputError
from embedviz.inputs import Inputs
from embedviz.memo import Memo, nbytes


def test_the_memo_is_bounded_by_bytes_and_drops_the_least_recently_used():
    memo = Memo(budget=3 * 4_000_000)
    block = lambda: np.zeros(1_000_000, np.float32)  # noqa: E731 - 4 MB each
    for key in "abc":
        memo.get_or_compute(key, block)
    memo.get_or_compute("a", block)  # a is used again: b is now the oldest
    memo.get_or_compute("d", block)
    assert memo.peek("b") is None and all(memo.peek(k) is not None for k in "acd")
    assert memo.used <= memo.budget and memo.computed == 4
    memo.get_or_compute("huge", lambda: np.zeros(4_000_000, np.float32))  # 16 MB: larger than all
    assert memo.peek("huge") is None and memo.peek("a") is not None


def test_sessions_asking_for_the_same_key_at_once_share_one_computation():
    memo, calls, waited = Memo(budget=2**30), [], []

    def slow():
        calls.append(1)
        time.sleep(0.5)
        return "map"

    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(memo.get_or_compute("k", slow, lambda: waited.append(1)))
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["map"] * 4 and len(calls) == 1 and memo.computed == 1 and len(waited) == 3


def test_a_failed_computation_is_not_kept_and_a_waiting_session_tries_itself():
    memo, started = Memo(budget=2**30), threading.Event()

    def failing():
        started.set()
        time.sleep(0.3)
        raise RuntimeError("stopped")

    out = []
    first = threading.Thread(target=lambda: pytest.raises(RuntimeError, memo.get_or_compute, "k", failing))
    first.start()
    started.wait()
    second = threading.Thread(target=lambda: out.append(memo.get_or_compute("k", lambda: "fine")))
    second.start()
    first.join()
    second.join()
    assert out == ["fine"] and memo.peek("k") == "fine"


def test_sizes_are_estimated_for_arrays_frames_and_nested_results():
    import pandas as pd

    assert nbytes(np.zeros((100, 10), np.float64)) == 8000
    frame = pd.DataFrame({"text": ["x" * 100] * 1000, "n": np.arange(1000)})
    assert 100_000 < nbytes(frame) < 400_000
    assert nbytes({"a": np.zeros(1000, np.float32), "b": [np.zeros(10)] * 3}) > 4000


def test_uploads_are_kept_on_disk_by_content_and_found_after_a_restart(tmp_path):
    data = b"text\nhello\nworld\n"
    digest = Inputs(tmp_path).put("my data.csv", data)
    again = Inputs(tmp_path)  # a new server process
    path = again.get(digest, "my data.csv")
    assert path.read_bytes() == data and path.name == "my data.csv"
    assert Inputs(tmp_path).put("my data.csv", data) == digest
    assert len(list(tmp_path.glob("*/*"))) == 1, "written once"
    with pytest.raises(InputError, match="upload the file again"):
        again.get("0" * 64, "gone.csv")
    with pytest.raises(InputError):
        again.get("../../etc", "passwd")
