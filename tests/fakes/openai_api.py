"""Fake OpenAI-compatible API: chat completions, deterministic embeddings and the model list."""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import math
import re
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from .slack_api import FakeHTTPServer, Recorded

Messages = list[dict[str, Any]]
Responder = Callable[[Messages], str | Awaitable[str]]

_WORD = re.compile(r"[a-z0-9]+")


def embed_text(text: str, dim: int = 64) -> list[float]:
    """Deterministic embedding: signed hashed bag of lowercase word tokens, L2-normalised.

    Texts sharing words get similar vectors; an empty text maps to the first unit vector.
    """
    vector = [0.0] * dim
    for token in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "big")
        vector[value % dim] += 1.0 if (value >> 63) & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        vector[0] = 1.0
        return vector
    return [x / norm for x in vector]


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def default_responder(messages: Messages) -> str:
    """Default reply: echoes the last user message."""
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    return f"Fake reply to: {_message_text(last_user)}" if last_user else "Fake reply."


def _count_tokens(text: str) -> int:
    return len(text.split())


def _error(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class FakeOpenAI(FakeHTTPServer):
    """Fake OpenAI API at ``/v1``; use ``openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test")``.

    Chat replies come from :meth:`queue_reply` (first in, first out) and, once the queue is empty, from
    ``responder(messages)``. Embeddings are :func:`embed_text` vectors (``float`` or ``base64``
    encoded, honouring ``dimensions``). A wrong or missing key gets HTTP 401 in OpenAI's error shape.
    """

    name = "FakeOpenAI"

    def __init__(
        self,
        api_key: str = "sk-test",
        *,
        responder: Responder | None = None,
        embedding_dim: int = 64,
        models: Iterable[str] = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small"),
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.responder: Responder = responder or default_responder
        self.embedding_dim = embedding_dim
        self.models = list(models)
        self._replies: deque[str] = deque()
        self._counter = 0
        self._add_route("POST", r"^/v1/chat/completions/?$", "chat.completions", self._chat_completions)
        self._add_route("POST", r"^/v1/embeddings/?$", "embeddings", self._embeddings)
        self._add_route("GET", r"^/v1/models/?$", "models", self._list_models)
        self._add_route("GET", r"^/v1/models/(?P<model>.+)$", "models.retrieve", self._get_model)

    @property
    def base_url(self) -> str:
        """``<url>/v1``, the ``base_url`` for the ``openai`` client."""
        return self.url + "/v1"

    # -- scripting ------------------------------------------------------------------------------------

    def queue_reply(self, *texts: str) -> None:
        """Queue reply texts for the next chat completions (used before ``responder``)."""
        self._replies.extend(texts)

    @property
    def pending_replies(self) -> list[str]:
        """Queued replies not yet served."""
        return list(self._replies)

    def reset(self) -> None:
        """Forget requests, faults, delays and queued replies."""
        super().reset()
        self._replies.clear()

    # -- inspection helpers ---------------------------------------------------------------------------

    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of answered chat completion requests (model, messages, ...)."""
        return [rec.json for rec in self.calls("chat.completions") if rec.accepted and isinstance(rec.json, dict)]

    def prompts(self) -> list[Messages]:
        """The ``messages`` list of each answered chat completion request."""
        return [body.get("messages", []) for body in self.chat_requests()]

    def replies(self) -> list[str]:
        """Reply texts served, in order."""
        result = []
        for rec in self.calls("chat.completions"):
            if rec.accepted and isinstance(rec.response, dict):
                if "choices" in rec.response:
                    result.append(rec.response["choices"][0]["message"]["content"])
                elif "streamed_content" in rec.response:
                    result.append(rec.response["streamed_content"])
        return result

    def embedding_inputs(self) -> list[str]:
        """Every text embedded, in order."""
        texts: list[str] = []
        for rec in self.calls("embeddings"):
            if rec.accepted and isinstance(rec.json, dict):
                texts.extend(_inputs(rec.json.get("input")) or [])
        return texts

    # -- HTTP handlers --------------------------------------------------------------------------------

    def _fault_body(self, status: int) -> Any:
        if status == 429:
            return _error("Rate limit reached for requests. Please try again in 1s.", "requests", "rate_limit_exceeded")
        if status == 503:
            return _error("The engine is currently overloaded, please try again later.", "server_error")
        return _error("The server had an error while processing your request. Sorry about that!", "server_error")

    async def _not_found(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        message = f"Invalid URL ({rec.method} {rec.path})"
        return self._respond(rec, _error(message, "invalid_request_error"), status=404)

    def _denied(self, rec: Recorded) -> web.Response | None:
        key = rec.bearer
        if key == self.api_key:
            return None
        if not key:
            message = (
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return self._respond(rec, _error(message, "invalid_request_error"), status=401)
        shown = key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 7 else "*" * len(key)
        message = (
            f"Incorrect API key provided: {shown}. "
            "You can find your API key at https://platform.openai.com/account/api-keys."
        )
        return self._respond(rec, _error(message, "invalid_request_error", "invalid_api_key"), status=401)

    def _bad_request(self, rec: Recorded, message: str, param: str | None = None) -> web.Response:
        return self._respond(rec, _error(message, "invalid_request_error", None, param), status=400)

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:06d}"

    async def _reply_for(self, messages: Messages) -> str:
        if self._replies:
            return self._replies.popleft()
        result = self.responder(messages)
        if inspect.isawaitable(result):
            result = await result
        return str(result)

    async def _chat_completions(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        if denied := self._denied(rec):
            return denied
        body = rec.json
        if not isinstance(body, dict):
            return self._bad_request(rec, "We could not parse the JSON body of your request.")
        if not body.get("model"):
            return self._bad_request(rec, "you must provide a model parameter", "model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._bad_request(rec, "'messages' is a required property and must be a non-empty array", "messages")
        text = await self._reply_for(messages)
        completion_id = self._next_id("chatcmpl-fake")
        created = int(time.time())
        prompt_tokens = sum(_count_tokens(_message_text(m)) for m in messages if isinstance(m, dict))
        completion_tokens = _count_tokens(text)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if body.get("stream"):
            return await self._stream(rec, request, completion_id, created, body["model"], text, usage)
        completion = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
            "system_fingerprint": "fp_fake",
        }
        return self._respond(rec, completion)

    async def _stream(
        self,
        rec: Recorded,
        request: web.Request,
        completion_id: str,
        created: int,
        model: str,
        text: str,
        usage: dict[str, int],
    ) -> web.StreamResponse:
        """Answer ``stream: true`` as server-sent events, one chunk per word."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)

        async def send(delta: dict[str, Any], finish_reason: str | None) -> None:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"role": "assistant", "content": ""}, None)
        for piece in re.findall(r"\S+\s*|\s+", text):
            await send({"content": piece}, None)
        await send({}, "stop")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        rec.response = {"id": completion_id, "streamed_content": text, "usage": usage}
        return response

    async def _embeddings(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        if denied := self._denied(rec):
            return denied
        body = rec.json
        if not isinstance(body, dict):
            return self._bad_request(rec, "We could not parse the JSON body of your request.")
        if not body.get("model"):
            return self._bad_request(rec, "you must provide a model parameter", "model")
        texts = _inputs(body.get("input"))
        if texts is None:
            return self._bad_request(rec, "'input' must be a string or an array of strings", "input")
        dim = body.get("dimensions") or self.embedding_dim
        if not isinstance(dim, int) or dim < 1:
            return self._bad_request(rec, "'dimensions' must be a positive integer", "dimensions")
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector = embed_text(text, dim)
            encoded: list[float] | str = (
                base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode("ascii") if as_base64 else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(_count_tokens(t) for t in texts)
        result = {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return self._respond(rec, result)

    def _model_object(self, model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "starling-fake"}

    async def _list_models(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        if denied := self._denied(rec):
            return denied
        return self._respond(rec, {"object": "list", "data": [self._model_object(m) for m in self.models]})

    async def _get_model(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        if denied := self._denied(rec):
            return denied
        model = rec.path_params["model"]
        if model not in self.models:
            message = f"The model '{model}' does not exist or you do not have access to it."
            return self._respond(rec, _error(message, "invalid_request_error", "model_not_found"), status=404)
        return self._respond(rec, self._model_object(model))


def _inputs(value: Any) -> list[str] | None:
    """Normalise an embeddings ``input`` (string, list of strings, or token arrays) to texts."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return list(value)
        if all(isinstance(v, int) for v in value):
            return [" ".join(str(v) for v in value)]
        if all(isinstance(v, list) for v in value):
            return [" ".join(str(t) for t in v) for v in value]
    return None
