"""Work in a forked child process with a deadline: the one way this package bounds the time of
code that cannot be interrupted from Python (MuPDF parsing a content stream, Tesseract on a page).

The child is forked while the calling thread holds the MuPDF gate, so no other thread was inside
MuPDF to leave it half-changed in the child's copy; while the child works the gate is let go, so
other documents' threads go on (and their own children run on other cores). Fork copies nothing
up front (copy-on-write): a few milliseconds, measured in `make bench` (document_deadline).

The child leads a process group of its own, so OCR grandchildren and the programs it starts die
with it; programs that start a session of their own (LibreOffice) are found through /proc and
killed too when the deadline passes. POSIX only: callers fall back to running in-process where
`os.fork` is missing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from pii_assets.mupdf_gate import MUPDF_GATE

# What the parent keeps of the child's stderr (Tesseract's and Leptonica's warnings).
_CHATTER_BYTES = 8192

CAN_FORK = hasattr(os, "fork")


@dataclass(frozen=True)
class ChildOutcome:
    """How a forked child ended. `value` is what `work` returned (unpickled) when `completed`;
    `timed_out` when the deadline passed and the child was killed; otherwise it ended abnormally
    (`exit_code`: a negative signal number or a non-zero status). `chatter` is the start of what
    the child wrote to file descriptor 2."""

    completed: bool
    value: Any = None
    timed_out: bool = False
    exit_code: int | None = None
    chatter: str = ""


def run_forked(work: Callable[[], Any], *, timeout_s: float) -> ChildOutcome:
    """Run `work` in a forked child killed (with its descendants) at `timeout_s` seconds.

    `work`'s return value must pickle; an exception raised in the child ends it abnormally (its
    text never leaves the child: it could quote document content). Raises OSError when the
    system refuses the fork or the pipes.
    """
    read_fd, write_fd = os.pipe()
    err_read, err_write = os.pipe()
    with MUPDF_GATE.held():
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child: measured by its outcome in the parent
            _child(work, read_fd, write_fd, err_read, err_write)
        os.close(write_fd)
        os.close(err_write)
        with MUPDF_GATE.released():
            return _await(pid, read_fd, err_read, timeout_s)


def _child(
    work: Callable[[], Any], read_fd: int, write_fd: int, err_read: int, err_write: int
) -> NoReturn:
    status = 0
    try:
        os.close(read_fd)
        os.close(err_read)
        os.setpgid(0, 0)  # its own process group: killed as one with whatever it starts
        os.dup2(err_write, 2)
        # Log handlers inherited from the parent may write to the Dagster instance's database,
        # whose connections must not be used from a forked copy; reading logs nothing above
        # debug level anyway.
        logging.disable(logging.CRITICAL)
        payload = pickle.dumps(work(), pickle.HIGHEST_PROTOCOL)
        view = memoryview(payload)
        while view:
            view = view[os.write(write_fd, view) :]
    except BaseException:
        status = 1
    finally:
        os._exit(status)  # no cleanup of the parent's copies (atexit, buffers, sockets)


def _await(pid: int, read_fd: int, err_read: int, timeout_s: float) -> ChildOutcome:
    chunks: list[bytes] = []
    chatter: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    timed_out = False
    try:
        open_fds = [read_fd, err_read]
        while read_fd in open_fds:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select(open_fds, [], [], remaining)
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    open_fds.remove(fd)
                elif fd == read_fd:
                    chunks.append(chunk)
                elif sum(map(len, chatter)) < _CHATTER_BYTES:
                    chatter.append(chunk)
    finally:
        os.close(read_fd)
        os.close(err_read)
        if timed_out:
            kill_tree(pid)
        _, status = os.waitpid(pid, 0)
    text = b"".join(chatter)[:_CHATTER_BYTES].decode("utf-8", "replace")
    if timed_out:
        return ChildOutcome(completed=False, timed_out=True, chatter=text)
    code = os.waitstatus_to_exitcode(status)
    if not chunks or code != 0:
        return ChildOutcome(completed=False, exit_code=code, chatter=text)
    return ChildOutcome(completed=True, value=pickle.loads(b"".join(chunks)), chatter=text)


def kill_tree(pid: int) -> None:
    """SIGKILL a child that leads its own process group, its group, and every descendant,
    including those in sessions of their own (LibreOffice's): the child is stopped first so it
    starts nothing new while its descendants are listed."""
    own_group = os.getpgid(0)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGSTOP)
    for descendant in _descendants(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            group = os.getpgid(descendant)
            if group not in (own_group, pid, 0, 1):
                os.killpg(group, signal.SIGKILL)
            os.kill(descendant, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    """Every descendant of `pid`, from /proc (Linux); empty where /proc is missing."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # proc(5): "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
