"""One gate around PyMuPDF work, which is not thread-safe, released while waiting on the network.

Documents of a run are extracted on worker threads so that LLM calls overlap. Each worker holds
the gate while it opens, reads, OCRs and renders pages, and the LLM extractor releases it for the
duration of an HTTP call, so at most one thread is inside MuPDF while many wait on the endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class MupdfGate:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the gate; re-entering from the thread that holds it is a no-op."""
        me = threading.get_ident()
        if self._owner == me:
            yield
            return
        with self._lock:
            self._owner = me
            try:
                yield
            finally:
                self._owner = None

    @contextmanager
    def released(self) -> Iterator[None]:
        """Let other threads in while this one waits; a no-op for a thread not holding the gate."""
        me = threading.get_ident()
        if self._owner != me:
            yield
            return
        self._owner = None
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._owner = me


MUPDF_GATE = MupdfGate()
