from __future__ import annotations

import json
import time

import numpy as np
import openai
import pytest

from embedviz import BackendError, InputError, Store, corpus_from_text, embed, make_backend
from embedviz.backends.openai import MAX_TOKENS_PER_INPUT, estimate_tokens
from embedviz.backends.precomputed import vectors_from_column, vectors_from_npy
from tests.openai_server import FakeOpenAI
from tests.planted import TOPICS, planted_frame

TEXTS = planted_frame(per_topic=8)["text"].tolist()


def check_unit_rows(vectors: np.ndarray, n: int) -> None:
    assert vectors.dtype == np.float32
    assert vectors.shape[0] == n
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_registry_error_lists_the_valid_names():
    with pytest.raises(
        BackendError, match="unknown backend 'nope'.*openai.*precomputed.*sentence-transformers.*tfidf"
    ):
        make_backend("nope")


def test_tfidf_vectors_follow_the_corpus():
    backend = make_backend("tfidf", dimensions=16)
    backend.fit(TEXTS)
    vectors = backend.encode(TEXTS)
    check_unit_rows(vectors, len(TEXTS))
    assert vectors.shape[1] == 16
    same_topic = vectors[0] @ vectors[1]
    other_topic = vectors[0] @ vectors[-1]
    assert same_topic > other_topic
    reversed_rows = backend.encode(TEXTS[::-1])
    np.testing.assert_allclose(reversed_rows[::-1], vectors, atol=1e-6)


def test_tfidf_gives_texts_of_function_words_only_a_vector():
    # Every word of the first two is on the English stop-word list: dropping them made zero
    # vectors, far from every text, which Insights then listed as the corpus's top outliers.
    texts = ["where are you from", "are you from here", "play some jazz music", "play loud rock music"]
    backend = make_backend("tfidf", dimensions=3)
    backend.fit(texts)
    vectors = backend.encode(texts)
    check_unit_rows(vectors, len(texts))
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2:].max()
    assert similarity[2, 3] > similarity[2, :2].max()


def test_tfidf_gives_texts_of_emoji_or_single_characters_a_vector():
    # no word of two letters: these were zero vectors, the top "outliers" of a tweet corpus
    texts = [
        "\U0001f602\U0001f602",
        "\U0001f602 !!",
        "\U0001f3b5\U0001f3b6",
        "\U0001f3b6",
        "k",
        "play jazz music",
    ]
    backend = make_backend("tfidf", dimensions=4)
    backend.fit(texts)
    vectors = backend.encode(texts)
    check_unit_rows(vectors, len(texts))
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > max(similarity[0, 2], similarity[0, 3])
    assert similarity[2, 3] > max(similarity[2, 0], similarity[2, 1])


def test_tfidf_reads_chinese_clauses_as_words():
    # a clause without spaces was one token, shared by no other text: every vector unrelated
    texts = ["我喜欢吃苹果和香蕉", "苹果和香蕉都是水果", "今天天气很好", "明天天气也很好"]
    backend = make_backend("tfidf", dimensions=3)
    backend.fit(texts)
    similarity = (vectors := backend.encode(texts)) @ vectors.T
    check_unit_rows(vectors, len(texts))
    assert similarity[0, 1] > similarity[0, 2:].max() + 0.3
    assert similarity[2, 3] > similarity[2, :2].max() + 0.3


def test_tfidf_reads_words_with_combining_marks_whole():
    # Hindi read in pieces at each vowel sign: texts shared fragments, not words
    from embedviz.backends.tfidf import _Words

    texts = ["क्रिकेट मैच", "क्रिकेट खिलाड़ी", "बारिश का मौसम", "मौसम सुहाना"]
    backend = make_backend("tfidf", dimensions=3)
    backend.fit(texts)
    assert _Words()(texts[1]) == ["क्रिकेट", "खिलाड़ी"]
    similarity = (vectors := backend.encode(texts)) @ vectors.T
    assert similarity[0, 1] > similarity[0, 2:].max() + 0.3
    # Thai: no spaces; a clause was one word, shared by no other text
    texts = ["ฉันชอบกินข้าวผัด", "ข้าวผัดร้านนี้อร่อย", "ดูฟุตบอลกับเพื่อน", "ทีมฟุตบอลเล่นดี"]
    backend.fit(texts)
    similarity = (vectors := backend.encode(texts)) @ vectors.T
    assert similarity[0, 1] > similarity[0, 2:].max() + 0.3
    assert similarity[2, 3] > similarity[2, :2].max() + 0.1  # one word shared of four


def test_tfidf_reads_korean_words_as_their_stems():
    # 서버를 and 서버가 were two words: texts about servers shared none
    from embedviz.backends.tfidf import _Words

    texts = ["서버를 설치합니다", "서버가 느리다", "서버", "게임을 샀다", "게임은 재미있다", "새 게임"]
    backend = make_backend("tfidf", dimensions=4)
    backend.fit(texts)
    similarity = (vectors := backend.encode(texts)) @ vectors.T
    assert similarity[0, 1] > similarity[0, 3:].max() + 0.2  # one word of three shared
    assert similarity[3, 4] > similarity[3, :3].max() + 0.2
    # a query's form the corpus never used is read as the corpus's word it holds
    assert backend.encode(["게임에서"])[0] @ vectors[5] > 0.5
    # a reader that learnt no forms reads words as written, and so does one pickled before
    # readers had forms
    assert _Words()("게임을 샀다") == ["게임을", "샀다"]
    older = _Words()
    del older.forms, older.stems
    assert older("게임을 샀다") == ["게임을", "샀다"]


def test_tfidf_does_not_tie_texts_by_their_links():
    # https, www, site, com were words shared by the two texts with a link, across topics
    texts = [
        "rocket orbit launch https://www.site.com/a1",
        "rocket orbit moon",
        "rocket launch pad",
        "bread flour oven https://www.site.com/b2",
        "bread flour yeast",
        "oven bread crust",
    ]
    backend = make_backend("tfidf", dimensions=4)
    backend.fit(texts)
    similarity = (vectors := backend.encode(texts)) @ vectors.T
    assert similarity[0, 3] < 0.05 and min(similarity[0, 1], similarity[0, 2]) > 0.5


def test_tfidf_says_when_it_fits_once_per_corpus():
    # the fit is one step of seconds per 100k texts: the page shows this while its bar stands at 0
    backend, told = make_backend("tfidf", dimensions=4), []
    backend.on_build = told.append
    backend.fit(TEXTS)
    backend.encode(TEXTS[:3])
    backend.encode(TEXTS[3:])
    backend.fit(TEXTS)  # the same corpus again (search fits before every query): no new fit
    backend.encode(TEXTS[:1])
    assert told == [f"fitting TF-IDF and LSA on {len(TEXTS):,} texts"]


def test_tfidf_identity_depends_on_the_corpus():
    a, b = make_backend("tfidf"), make_backend("tfidf")
    a.fit(TEXTS)
    b.fit(TEXTS[:-1])
    assert a.space() != b.space()


def test_precomputed_from_column_and_npy(tmp_path):
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(4, 6))
    corpus = corpus_from_text("a\nb\nc\nd")
    frame = corpus.frame.assign(vec=[list(r) for r in raw], as_text=[json.dumps(r.tolist()) for r in raw])
    for column in ("vec", "as_text"):
        backend = make_backend("precomputed", vectors=vectors_from_column(frame, column))
        result = embed(corpus.texts, backend)
        check_unit_rows(result.vectors, 4)
        np.testing.assert_allclose(
            result.vectors, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-5
        )
    path = tmp_path / "v.npy"
    np.save(path, raw)
    assert vectors_from_npy(path, np.array([0, 2]), 4).shape == (2, 6)
    with pytest.raises(InputError, match="4 vectors for 5 input rows"):
        vectors_from_npy(path, np.arange(5), 5)


def test_precomputed_rejects_wrong_dimension_nan_and_count():
    frame = corpus_from_text("a\nb").frame.assign(vec=[[1.0, 2.0], [1.0, 2.0, 3.0]])
    with pytest.raises(InputError, match="different lengths"):
        vectors_from_column(frame, "vec")
    with pytest.raises(InputError, match="NaN or infinite"):
        make_backend("precomputed", vectors=np.array([[1.0, np.nan], [1.0, 0.0]]))
    backend = make_backend("precomputed", vectors=np.eye(3))
    with pytest.raises(InputError, match="3 vectors for 2 texts"):
        embed(["a", "b"], backend)


def test_precomputed_refuses_vectors_with_no_direction_and_reads_huge_ones():
    # a zero row made NaN in t-SNE and UMAP ("internal error: Input X contains NaN"); one number
    # per row failed in PCA; norms past float32's range (1e30 per number) read as zero rows
    with pytest.raises(InputError, match="2 vector.s. are all zeros.*drop those rows"):
        make_backend("precomputed", vectors=np.array([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]]))
    with pytest.raises(InputError, match="2 or more numbers"):
        make_backend("precomputed", vectors=np.array([[1.0], [2.0]]))
    huge = make_backend("precomputed", vectors=np.array([[3e30, 4e30], [1e30, 0.0]])).vectors
    assert np.allclose(huge, [[0.6, 0.8], [1.0, 0.0]])


@pytest.mark.model
def test_bundled_model_puts_related_sentences_closer():
    backend = make_backend("sentence-transformers")
    sentences = [
        "The cat sat on the mat.",
        "A kitten was sleeping on the rug.",
        "The stock market fell sharply today.",
    ]
    vectors = backend.encode(sentences)
    check_unit_rows(vectors, 3)
    assert vectors.shape[1] == 384 == backend.dimension
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_a_model_that_would_need_a_download_is_a_clear_error():
    with pytest.raises(BackendError, match="not on this machine"):
        make_backend("sentence-transformers", model="someone/not-on-this-machine")


def openai_backend(server: FakeOpenAI, **options):
    client = openai.OpenAI(api_key=server.key, base_url=server.url, max_retries=3, timeout=5)
    return make_backend("openai", client=client, **options)


def test_openai_backend_against_a_compatible_server():
    with FakeOpenAI() as server:
        backend = openai_backend(server, dimensions=256)
        texts = TEXTS * 60  # 2,400 inputs: more than one request may hold
        vectors = backend.encode(texts)
    check_unit_rows(vectors, len(texts))
    assert vectors.shape[1] == 256
    assert len(server.requests) == 2
    assert max(len(r["input"]) for r in server.requests) <= 2048
    assert all(r["dimensions"] == 256 and r["model"] == "text-embedding-3-small" for r in server.requests)
    topics = [next(t for t, words in TOPICS.items() if any(w in text for w in words)) for text in TEXTS]
    assert topics[0] == topics[1] != topics[-1]
    assert vectors[0] @ vectors[1] > 0.8 > vectors[0] @ vectors[len(TEXTS) - 1]
    np.testing.assert_allclose(vectors[: len(TEXTS)], vectors[len(TEXTS) : 2 * len(TEXTS)])


def test_openai_base_url_and_key_are_used_and_kept_out_of_identity():
    with FakeOpenAI(key="sk-secret-123") as server:
        backend = make_backend(
            "openai", base_url=server.url, api_key="sk-secret-123", model="text-embedding-3-large"
        )
        vectors = backend.encode(["a planet and a rocket"])
    assert vectors.shape == (1, 3072)
    assert server.headers_seen[0]["authorization"] == "Bearer sk-secret-123"
    assert "sk-secret" not in repr(backend.identity()) and server.url not in repr(backend.identity())


def test_openai_retries_server_errors_and_rate_limits_then_succeeds():
    with FakeOpenAI() as server:
        server.faults = [(500, {}), (429, {"Retry-After": "0"}), (503, {})]
        vectors = openai_backend(server).encode(["orbit of a planet"])
    assert vectors.shape == (1, 1536)
    assert len(server.requests) == 4


def test_openai_gives_up_after_bounded_retries():
    with FakeOpenAI() as server:
        server.fail_after = 0
        with pytest.raises(BackendError, match="answered 500"):
            openai_backend(server).encode(["x"])
    assert len(server.requests) == 4  # the first try and 3 retries


def test_openai_bad_key_is_reported_without_retrying():
    with FakeOpenAI(key="right") as server:
        backend = make_backend("openai", base_url=server.url, api_key="wrong", max_retries=3)
        with pytest.raises(BackendError, match="rejected the API key") as error:
            backend.encode(["x"])
    assert len(server.requests) == 1
    assert "wrong" not in str(error.value)


def test_openai_without_a_key_says_how_to_set_one(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(BackendError, match="OPENAI_API_KEY"):
        make_backend("openai")
    with pytest.raises(BackendError, match="fixed size"):
        make_backend("openai", model="text-embedding-ada-002", dimensions=256, api_key="k")


def test_openai_truncates_over_long_texts_and_counts_them():
    long_text = "planet " * 40_000
    with FakeOpenAI() as server:
        backend = openai_backend(server)
        backend.encode([long_text, "short rocket"])
    sent = server.requests[0]["input"][0]
    assert estimate_tokens(sent) <= MAX_TOKENS_PER_INPUT
    assert backend.truncated == 1


def test_openai_failure_midway_keeps_finished_batches(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    texts = [f"rocket number {i}" for i in range(3000)]
    with FakeOpenAI() as server:
        server.fail_after = 1
        backend = openai_backend(server, dimensions=16)
        with pytest.raises(BackendError):
            embed(texts, backend, store)
        assert store.count_vectors(backend.space()) == 2048
        server.fail_after = None
        before = server.n_inputs
        result = embed(texts, backend, store)
        assert server.n_inputs - before == 3000 - 2048
    assert result.n_from_store == 2048


def test_openai_honours_retry_after():
    with FakeOpenAI() as server:
        server.faults = [(429, {"Retry-After": "1"})]
        started = time.monotonic()
        openai_backend(server).encode(["orbit"])
        waited = time.monotonic() - started
    assert len(server.requests) == 2
    assert waited >= 1.0, "the client waited as the server asked before retrying"


def test_openai_retries_a_timed_out_request():
    with FakeOpenAI() as server:
        server.delay, server.slow_requests = 2.0, 1
        client = openai.OpenAI(api_key=server.key, base_url=server.url, max_retries=2, timeout=0.5)
        vectors = make_backend("openai", client=client).encode(["galaxy"])
    assert vectors.shape == (1, 1536)
    assert len(server.requests) == 2


def test_openai_time_outs_end_in_a_clear_error():
    with FakeOpenAI() as server:
        server.delay, server.slow_requests = 2.0, 10
        client = openai.OpenAI(api_key=server.key, base_url=server.url, max_retries=1, timeout=0.3)
        with pytest.raises(BackendError, match="timed out"):
            make_backend("openai", client=client).encode(["galaxy"])


def test_a_wrong_option_is_the_callers_error_but_a_constructor_bug_is_not(monkeypatch):
    from embedviz import BackendError, register_backend
    from embedviz.backends import BACKENDS

    with pytest.raises(BackendError, match="does not take these options"):
        make_backend("tfidf", colour="blue")

    class Broken:
        def __init__(self, model: str | None = None):
            raise TypeError("a bug inside the constructor")

    monkeypatch.setitem(BACKENDS, "broken", BACKENDS["tfidf"])
    register_backend("broken", Broken)
    with pytest.raises(TypeError, match="a bug inside"):
        make_backend("broken", model="m")
