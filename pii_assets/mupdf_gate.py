"""One gate around PyMuPDF work, which is not thread-safe, let go while a thread waits.

Documents of a run are extracted on worker threads. Each worker holds the gate while it opens,
reads and renders pages, and lets go of it while it waits on something else: the LLM endpoint
(an HTTP call), a page's OCR (a forked child) or a LibreOffice conversion (a separate program).
So at most one thread is inside MuPDF, while LLM calls, OCR and conversions of several documents
proceed at once.
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
