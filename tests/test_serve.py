"""The OpenAI-compatible server, through the official openai client on loopback."""

from __future__ import annotations

import base64
import threading
import time

import httpx2 as httpx
import numpy as np
import openai
import pytest

from embedviz import Store, make_backend
from embedviz.serve import MAX_INPUTS, create_app
from tests.browser import free_port


@pytest.fixture
def server(tmp_path):
    """Start a server over a backend; yields (base_url, backend, store)."""
    import uvicorn

    servers = []

    def start(backend, api_key=None):
        store = Store(tmp_path / "serve.sqlite")
        port = free_port()
        config = uvicorn.Config(
            create_app(backend, store, api_key=api_key), host="127.0.0.1", port=port, log_level="warning"
        )
        instance = uvicorn.Server(config)
        thread = threading.Thread(target=instance.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not instance.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        servers.append((instance, thread))
        return f"http://127.0.0.1:{port}/v1", store

    yield start
    for instance, thread in servers:
        instance.should_exit = True
        thread.join(timeout=10)


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=url, max_retries=0, timeout=30)


def test_openai_client_gets_the_local_vectors_in_float_and_base64(server):
    backend = make_backend("planted")
    url, _ = server(backend)
    texts = ["a rocket in orbit", "bake the flour", "the striker scored a goal"]
    expected = make_backend("planted").encode(texts)
    for encoding_format in ("float", "base64"):
        response = client(url).embeddings.create(
            model="planted-v1", input=texts, encoding_format=encoding_format
        )
        rows = [d.embedding for d in sorted(response.data, key=lambda d: d.index)]
        if encoding_format == "base64":  # asked for explicitly, the client hands the text back as is
            rows = [np.frombuffer(base64.b64decode(r), dtype="<f4") for r in rows]
        got = np.array(rows, dtype=np.float32)
        cosine = (got * expected).sum(axis=1)
        assert (cosine >= 0.9999).all()
    assert response.usage.prompt_tokens > 0 and response.model == "planted-v1"


def test_the_default_client_call_decodes_and_a_string_input_works(server):
    url, _ = server(make_backend("planted"))
    response = client(url).embeddings.create(model="planted-v1", input="one planet")
    assert len(response.data) == 1 and len(response.data[0].embedding) == 32


def test_dimensions_shorten_and_renormalise(server):
    url, _ = server(make_backend("planted"))
    response = client(url).embeddings.create(model="planted-v1", input=["orbit"], dimensions=8)
    vector = np.array(response.data[0].embedding)
    assert vector.shape == (8,) and abs(np.linalg.norm(vector) - 1) < 1e-5


def test_models_and_health(server):
    url, _ = server(make_backend("planted"))
    assert [m.id for m in client(url).models.list()] == ["planted-v1"]
    health = httpx.get(url.removesuffix("/v1") + "/health").json()
    assert health == {"status": "ok", "model": "planted-v1", "dimension": 32}


def test_bearer_token_is_required_when_set(server):
    url, _ = server(make_backend("planted"), api_key="s3cret")
    with pytest.raises(openai.AuthenticationError) as error:
        client(url, key="wrong").embeddings.create(model="planted-v1", input="x")
    assert error.value.body["code"] == "invalid_api_key"
    assert client(url, key="s3cret").embeddings.create(model="planted-v1", input="x").data


def test_limits_and_errors_in_openai_shape(server):
    url, _ = server(make_backend("planted"))
    api = client(url)
    with pytest.raises(openai.BadRequestError, match="at most 2048"):
        api.embeddings.create(model="planted-v1", input=["x"] * (MAX_INPUTS + 1))
    with pytest.raises(openai.BadRequestError, match="empty string"):
        api.embeddings.create(model="planted-v1", input=["ok", ""])
    with pytest.raises(openai.NotFoundError) as missing:
        api.embeddings.create(model="text-embedding-3-small", input="x")
    assert missing.value.body["code"] == "model_not_found"
    big = httpx.post(
        f"{url}/embeddings", content=b"x" * (17 * 2**20), headers={"content-type": "application/json"}
    )
    assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"
    bad = httpx.post(f"{url}/embeddings", json={"model": "planted-v1"})
    assert bad.status_code == 400 and "input" in bad.json()["error"]["message"]


def test_concurrent_requests_are_answered_correctly_and_reuse_the_store(server):
    backend = make_backend("planted")
    url, store = server(backend)
    texts = [f"rocket number {i}" for i in range(40)]
    results = {}

    def ask(i):
        response = client(url).embeddings.create(model="planted-v1", input=[texts[i]])
        results[i] = np.array(response.data[0].embedding)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = make_backend("planted").encode(texts)
    assert all(float(results[i] @ expected[i]) >= 0.9999 for i in range(40))
    assert backend.calls < 40, "requests waiting together are encoded together"
    before = backend.encoded
    client(url).embeddings.create(model="planted-v1", input=texts)
    assert backend.encoded == before, "texts seen before come from the store"


def test_embedviz_openai_backend_works_against_it(server):
    url, _ = server(make_backend("planted"))
    remote = make_backend("openai", base_url=url, model="planted-v1")
    vectors = remote.encode(["galaxy telescope", "garlic butter"])
    expected = make_backend("planted").encode(["galaxy telescope", "garlic butter"])
    assert ((vectors * expected).sum(axis=1) >= 0.9999).all()


@pytest.mark.model
def test_real_model_served_matches_local(server):
    url, _ = server(make_backend("sentence-transformers"))
    texts = ["The cat sat on the mat.", "Stocks fell sharply today."]
    response = client(url).embeddings.create(model="all-MiniLM-L6-v2", input=texts)
    got = np.array([d.embedding for d in response.data], dtype=np.float32)
    local = make_backend("sentence-transformers").encode(texts)
    assert ((got * local).sum(axis=1) >= 0.9999).all()
    tokenizer = make_backend("sentence-transformers").tokenizer()
    assert response.usage.prompt_tokens == sum(len(tokenizer.tokenize(t)) for t in texts)
