"""A local SMTP server that accepts everything and keeps each message as an .eml file.

Used by `mailmerge demo` (nothing leaves the machine) and by the tests, which subclass the handler to
answer with the faults they need."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class FileSink:
    """aiosmtpd handler: write each message to `folder/NNNNN.eml` (atomically) and answer 250."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.numbers = itertools.count(len(list(folder.glob("*.eml"))) + 1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            number = next(self.numbers)
        target = self.folder / f"{number:05d}.eml"
        partial = target.with_suffix(".part")
        partial.write_bytes(envelope.original_content or envelope.content)
        os.replace(partial, target)
        return f"250 2.0.0 Ok: queued as {number:05d}"


class LocalServer(Controller):
    """An aiosmtpd Controller on 127.0.0.1 that may bind port 0 and then knows the port it got."""

    def __init__(self, handler: Any, *, port: int = 0, **kwargs: Any):
        super().__init__(handler, hostname="127.0.0.1", port=port, **kwargs)

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()
