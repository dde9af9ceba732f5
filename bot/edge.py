"""The request boundary in front of the platform endpoints (Slack ``/slack/events``, Teams ``/api/messages``).

Everything a platform sends passes through here before Bolt or the Bot Framework sees it: the body is read
with a size cap, decoded as UTF-8, parsed, checked to be an object of bounded depth and then checked against
the shape the platform publishes (:class:`Spec`: the types of the fields Starling and the SDKs read, id
lengths that fit the database, no NUL characters). What fails is refused with :class:`Rejected`, a 4xx
status and one short log line (:func:`refuse`): the reason, the size, and at most a short excerpt of the
body with control characters escaped, so a refused request can neither flood the log nor forge a line in it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MAX_BODY = 1024 * 1024  # bytes; Slack and Teams payloads are far smaller
MAX_DEPTH = 48  # nesting of objects and arrays; published payloads stay below 15
EXCERPT = 160  # characters of a refused body that may reach the log
LOG_VALUE_MAX = 300  # characters of any one logged value


class Rejected(Exception):
    """A request the boundary refuses: ``status`` for the platform, ``reason`` for the log (short, no body)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def escape_log(value: object, limit: int = LOG_VALUE_MAX) -> str:
    """A value safe for one log line: control characters (newlines too) escaped, at most ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit * 4:
        text = text[: limit * 4]
    out = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return out if len(out) <= limit else out[: limit - 1] + "…"


def excerpt(raw: bytes) -> str:
    """The start of a body for a log line: decoded leniently, escaped, capped."""
    head = raw[: EXCERPT * 2].decode("utf-8", "backslashreplace")
    return escape_log(head, EXCERPT)


def refuse(log: Any, request: web.Request, err: Rejected, raw: bytes = b"", **facts: Any) -> web.Response:
    """Log one short line for a refused request and answer it with ``err.status``."""
    log.info(
        "request_refused",
        path=request.path,
        status=err.status,
        reason=escape_log(err.reason),
        size=len(raw) if raw else request.content_length,
        body=excerpt(raw) if raw else None,
        **{k: escape_log(v) for k, v in facts.items()},
    )
    return web.json_response({"error": PUBLIC.get(err.status, "invalid request")}, status=err.status)


PUBLIC = {
    400: "invalid request",
    401: "invalid request",
    413: "request too large",
    415: "unsupported content type",
}


async def read_body(request: web.Request, limit: int = MAX_BODY) -> bytes:
    """The raw body, refused with 413 beyond ``limit`` bytes (checked before and while reading)."""
    if request.content_length is not None and request.content_length > limit:
        raise Rejected(413, f"body of {request.content_length} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Rejected(400, f"body is not UTF-8 (byte {err.start})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str) -> Any:
    """JSON of bounded depth (``NaN``/``Infinity`` refused); :class:`Rejected` (400) otherwise."""
    if _too_deep(text):
        raise Rejected(400, "nested too deeply")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise Rejected(400, f"not JSON: {str(err)[:80]}") from None


def _too_deep(text: str) -> bool:
    """True when brackets (outside strings) nest deeper than ``MAX_DEPTH``: checked before parsing, so a
    10,000-deep body costs one pass and no recursion."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def parse_object(text: str) -> dict[str, Any]:
    data = parse_json(text)
    if not isinstance(data, dict):
        raise Rejected(400, f"JSON {type(data).__name__} where an object belongs")
    return data


# --- shapes -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """What one field may hold: JSON types, a string length limit, the fields of an object, a list's items.

    Fields not named are not checked (beyond the NUL and depth rules that hold everywhere); a field named
    may always be null or missing.
    """

    types: tuple[type, ...]
    max_len: int | None = None
    fields: Mapping[str, Spec] = field(default_factory=dict)
    items: Spec | None = None
    values: Spec | None = None  # every value of an object with free keys (Slack's view state)
    ascii: bool = False  # ids: printable ASCII only (they end up in URLs and headers)

    def __or__(self, other: Spec) -> Spec:
        return Spec(
            types=self.types + other.types,
            max_len=self.max_len or other.max_len,
            fields={**self.fields, **other.fields},
            items=self.items or other.items,
            values=self.values or other.values,
            ascii=self.ascii or other.ascii,
        )


def text(max_len: int = 40_000) -> Spec:
    return Spec((str,), max_len=max_len)


def ident(max_len: int) -> Spec:
    """An id: printable ASCII of at most ``max_len`` characters."""
    return Spec((str,), max_len=max_len, ascii=True)


def obj(values: Spec | None = None, /, **fields: Spec) -> Spec:
    return Spec((dict,), fields=fields, values=values)


def array(items: Spec | None = None) -> Spec:
    return Spec((list,), items=items)


BOOL = Spec((bool,))
NUMBER = Spec((int, float))
ANY = Spec((str, int, float, bool, dict, list))


def check(value: Any, spec: Spec, path: str = "body") -> None:
    """Raise :class:`Rejected` (400) where ``value`` does not fit ``spec``; NUL characters and unpaired
    surrogates are refused anywhere."""
    stack: list[tuple[Any, Spec | None, str]] = [(value, spec, path)]
    while stack:
        item, want, where = stack.pop()
        if item is None:
            continue
        if want is not None:
            if not isinstance(item, want.types) or (isinstance(item, bool) and bool not in want.types):
                raise Rejected(400, f"{where}: {type(item).__name__} where {_names(want.types)} belongs")
            if want.max_len is not None and isinstance(item, str) and len(item) > want.max_len:
                raise Rejected(400, f"{where}: {len(item)} characters (at most {want.max_len})")
            if want.ascii and isinstance(item, str) and not (item.isascii() and item.isprintable()):
                raise Rejected(400, f"{where}: not a printable ASCII id")
        if isinstance(item, str):
            if "\x00" in item:
                raise Rejected(400, f"{where}: NUL character")
            if not item.isascii() and not _is_text(item):
                raise Rejected(400, f"{where}: unpaired surrogate")
        elif isinstance(item, dict):
            for key, sub in item.items():
                if "\x00" in key or len(key) > 255 or not _is_text(key):
                    raise Rejected(400, f"{where}: unreadable key")
                inner = None
                if want is not None:
                    inner = want.fields.get(key, want.values)
                stack.append((sub, inner, f"{where}.{key[:40]}"))
        elif isinstance(item, list):
            inner = want.items if want is not None else None
            for index, sub in enumerate(item):
                stack.append((sub, inner, f"{where}[{index}]"))


def _is_text(value: str) -> bool:
    """False for a string JSON can carry but UTF-8 cannot (a lone ``\\ud800`` escape)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _names(types: tuple[type, ...]) -> str:
    names = {str: "a string", dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))
