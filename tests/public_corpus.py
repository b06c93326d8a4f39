"""Public real-world files for tests, read from repositories fetched onto this machine.

Nothing fetched is committed to this repository (the tool library's rule): tests that need a
library's own test files read them from the fetched snapshot (one bare git directory per
repository under `PII_PUBLIC_CORPUS_DIR`, default `/work/.mirror`) and are skipped, with the
repository to fetch named, when it is absent. Such tests carry the `public_corpus` marker, so a
run reports them (`pytest -m public_corpus -rs`).
"""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

DEFAULT_DIR = "/work/.mirror"


def corpus_dir() -> Path:
    return Path(os.environ.get("PII_PUBLIC_CORPUS_DIR", DEFAULT_DIR))


def _git_dir(repository: str) -> Path:
    return corpus_dir() / repository.replace("/", "+") / "repo"


@lru_cache(maxsize=256)
def _blob(repository: str, path: str, revision: str) -> bytes | None:
    git_dir = _git_dir(repository)
    if not git_dir.is_dir():
        return None
    shown = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{revision}:{path}"], capture_output=True
    )
    return shown.stdout if shown.returncode == 0 else None


def public_file(repository: str, path: str, revision: str = "HEAD") -> bytes:
    """The bytes of `path` at `revision` in the fetched `repository` ("owner/name"); skips the
    test when the repository has not been fetched (or the file is not in its snapshot)."""
    data = _blob(repository, path, revision)
    if data is None:
        pytest.skip(f"public corpus not present: fetch github:{repository} ({path})")
    return data


def public_files(repository: str, folder: str, suffixes: tuple[str, ...]) -> list[str]:
    """Paths under `folder` ending in one of `suffixes` (lower-case), [] when not fetched."""
    git_dir = _git_dir(repository)
    if not git_dir.is_dir():
        return []
    listing = subprocess.run(
        ["git", "--git-dir", str(git_dir), "ls-tree", "-r", "--name-only", "HEAD", folder],
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    return sorted(p for p in listing if p.lower().endswith(suffixes))
