"""Mail parsed with `email`'s modern API (`policy.default`), each distinct header parsed once.

`email` parses a header again every time it is read: `message["Subject"]`, and `get_content_type()`, which
the parser, `get_body()` and `get_content()` call a dozen times a message; each time it also makes a new
header class. A parsed header is immutable, so the same (name, value) can be one object: `POLICY` is
`policy.default` with a header factory that remembers the headers it made lately.
"""

from __future__ import annotations

import functools
from email import message_from_bytes, policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage

REMEMBERED = 256  # headers, some 20 KiB each: those of the message being read, and common ones ("MIME-Version: 1.0")


class _RememberingRegistry(HeaderRegistry):
    """`HeaderRegistry` whose headers are made once per (name, value) while they are in use."""

    def __init__(self) -> None:
        super().__init__()
        self._make = functools.lru_cache(maxsize=REMEMBERED)(super().__call__)

    def __call__(self, name: str, value: str) -> BaseHeader:
        return self._make(name, value)


POLICY = policy.default.clone(header_factory=_RememberingRegistry())


def parse(raw: bytes) -> EmailMessage:
    """A raw message as an `EmailMessage` (as `message_from_bytes(raw, policy=policy.default)` gives it)."""
    message = message_from_bytes(raw, policy=POLICY)
    assert isinstance(message, EmailMessage)
    return message
