"""The optional language model: any OpenAI-compatible server (OpenAI, Azure OpenAI, a local server),
behind the neutral :class:`bot.core.router.LanguageModel` protocol.

Every call has a hard time limit and returns None on any failure, so callers always have a fallback.
Calls belong in scheduled or background work, never on the request path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from bot.settings import Settings

if TYPE_CHECKING:
    import openai

log = structlog.get_logger("starling.llm")


class OpenAIModel:
    """Chat completions and embeddings from an OpenAI-compatible API."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        embedding_model: str = "text-embedding-3-small",
        timeout: float = 20.0,
        max_retries: int = 1,
    ) -> None:
        self.model = model
        self.embedding_model = embedding_model
        self.timeout = timeout
        import openai  # imported only when a model is configured: it is a large package

        self._client: openai.AsyncOpenAI = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    async def complete(self, system: str, prompt: str, *, max_tokens: int = 400) -> str | None:
        """The model's answer, or None when it failed or took longer than the time limit."""
        try:
            response = await asyncio.wait_for(
                self._client.chat.completions.create(
                    model=self.model,
                    messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                    max_tokens=max_tokens,
                    temperature=0.7,
                ),
                timeout=self.timeout,
            )
        except TimeoutError:
            log.warning("llm_timeout", op="complete", model=self.model, seconds=self.timeout)
            return None
        except Exception as err:
            log.warning("llm_failed", op="complete", model=self.model, error=f"{type(err).__name__}: {err}"[:300])
            return None
        if not response.choices:
            return None
        content = response.choices[0].message.content
        return content.strip() if content and content.strip() else None

    async def embed(self, texts: Sequence[str]) -> list[list[float]] | None:
        """One vector per text, or None when it failed or took longer than the time limit."""
        if not texts:
            return []
        try:
            response = await asyncio.wait_for(
                self._client.embeddings.create(model=self.embedding_model, input=list(texts)),
                timeout=self.timeout,
            )
        except TimeoutError:
            log.warning("llm_timeout", op="embed", model=self.embedding_model, seconds=self.timeout)
            return None
        except Exception as err:
            log.warning(
                "llm_failed", op="embed", model=self.embedding_model, error=f"{type(err).__name__}: {err}"[:300]
            )
            return None
        ordered = sorted(response.data, key=lambda d: d.index)
        return [list(d.embedding) for d in ordered] if len(ordered) == len(texts) else None

    async def close(self) -> None:
        await self._client.close()


def build_llm(settings: Settings) -> OpenAIModel | None:
    """The language model the settings describe; None without an API key (everything then works without it)."""
    if not settings.openai_api_key:
        return None
    return OpenAIModel(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        embedding_model=settings.openai_embedding_model,
        timeout=settings.openai_timeout_seconds,
    )
