"""Partition keys derived from S3 object keys: readable, reversible, safe for Dagster and paths.

Dagster does not validate dynamic partition keys, yet a comma breaks its partition selector,
`...` is its range syntax, and a `/` would nest the paths we derive from the key. So every
character outside a small readable set is percent-escaped (UTF-8), `%` and `~` included, which
makes `urllib.parse.unquote` the exact inverse.

S3 keys may be 1,024 bytes, which would escape to ~3 KB: too long for the UI and for the result
and marker keys we build from it. Keys whose escaped form exceeds `MAX_KEY_BYTES` keep a readable
head and end in `~` plus a digest of the full S3 key; `~` never appears otherwise, so such a key
is recognisable, and the object is found again by listing the head as a prefix (`resolve`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from urllib.parse import unquote

MAX_KEY_BYTES = 200
_HEAD_BYTES = 160
_DIGEST_CHARS = 16
_SAFE_PUNCTUATION = frozenset(" -_.()@+=")


def _escape_char(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8"))


def _escape(relative_key: str) -> list[str]:
    """One token per character: the character itself, or its %XX escapes."""
    out: list[str] = []
    last = len(relative_key) - 1
    for i, ch in enumerate(relative_key):
        readable = ch.isalnum() or ch in _SAFE_PUNCTUATION
        # Leading/trailing spaces vanish in UIs, and ".." could read as a range or a parent dir.
        if ch == " " and i in (0, last):
            readable = False
        if ch == "." and i > 0 and relative_key[i - 1] == ".":
            readable = False
        out.append(ch if readable else _escape_char(ch))
    return out


def _digest(object_key: str) -> str:
    return hashlib.blake2b(object_key.encode("utf-8"), digest_size=8).hexdigest()[:_DIGEST_CHARS]


def _head(tokens: list[str], max_bytes: int) -> str:
    """The longest run of whole characters (never half an escape) within max_bytes."""
    size = 0
    for i, token in enumerate(tokens):
        size += len(token.encode("utf-8"))
        if size > max_bytes:
            return "".join(tokens[:i])
    return "".join(tokens)


def encode(object_key: str, input_prefix: str) -> str:
    """The partition key for an object under `input_prefix`."""
    if not object_key.startswith(input_prefix) or object_key == input_prefix:
        raise ValueError("object key is not under the input prefix")
    tokens = _escape(object_key[len(input_prefix) :])
    escaped = "".join(tokens)
    if len(escaped.encode("utf-8")) <= MAX_KEY_BYTES:
        return escaped
    return f"{_head(tokens, _HEAD_BYTES)}~{_digest(object_key)}"


def is_digest_key(partition_key: str) -> bool:
    return "~" in partition_key


def decode(partition_key: str, input_prefix: str) -> str:
    """The object key for a partition key that is not a digest key."""
    if is_digest_key(partition_key):
        raise ValueError("a digest partition key needs resolve(), not decode()")
    return input_prefix + unquote(partition_key)


def resolve(
    partition_key: str,
    input_prefix: str,
    list_keys: Callable[[str], Iterable[str]],
) -> str | None:
    """The object key for any partition key; `list_keys(prefix)` lists object keys under prefix.

    Returns None when a digest key's object is no longer in the bucket.
    """
    if not is_digest_key(partition_key):
        return decode(partition_key, input_prefix)
    head, _, digest = partition_key.rpartition("~")
    for object_key in list_keys(input_prefix + unquote(head)):
        if _digest(object_key) == digest and encode(object_key, input_prefix) == partition_key:
            return object_key
    return None
