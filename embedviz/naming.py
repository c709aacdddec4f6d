"""Optional cluster names from an OpenAI chat model (off unless the user asks and has a key).

The model sees each cluster's keywords and representative texts and answers with a short name.
Only those few texts leave the machine; the key is used, never kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from embedviz.errors import BackendError
from embedviz.labels import ClusterSummary

DEFAULT_CHAT_MODEL = "gpt-4o-mini"
PROMPT = (
    "These texts belong to one cluster of a larger collection. Keywords: {keywords}.\n"
    "Examples:\n{examples}\n\nAnswer with a topic name of 2 to 5 words, nothing else."
)


def name_clusters(
    summaries: Sequence[ClusterSummary], texts: Sequence[str], client, model: str = DEFAULT_CHAT_MODEL
) -> dict[int, str]:
    """cluster -> name, for every cluster but noise. `client` is an `openai.OpenAI`."""
    import openai

    names = {}
    for summary in summaries:
        if summary.cluster == -1:
            continue
        examples = "\n".join(f"- {texts[r][:300]}" for r in summary.representatives)
        prompt = PROMPT.format(keywords=", ".join(summary.keywords), examples=examples)
        try:
            reply = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": prompt}], max_tokens=20, temperature=0
            )
        except openai.AuthenticationError:
            raise BackendError("the chat server rejected the API key (401).") from None
        except openai.APIError as e:
            raise BackendError(f"naming clusters failed: {type(e).__name__}.") from None
        name = (reply.choices[0].message.content or "").strip().strip('".').splitlines()
        names[summary.cluster] = name[0][:60] if name and name[0] else summary.label
    return names


def chat_client(api_key: str | None, base_url: str | None = None):
    """An OpenAI client for naming; the key comes from the caller or OPENAI_API_KEY."""
    import os

    import openai

    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key and not base_url:
        raise BackendError("naming clusters needs an OpenAI API key; enter one or set OPENAI_API_KEY.")
    return openai.OpenAI(api_key=key or "unused", base_url=base_url, max_retries=2, timeout=60)
