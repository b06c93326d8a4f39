"""Public repositories fetched onto this machine: where they are and how to read their files.

Nothing fetched is ever committed here (the tool library's rule); benchmarks, `make eval`,
`make robustness` and some tests read public files from the fetched snapshots instead: one bare
git directory per repository under `PII_PUBLIC_CORPUS_DIR` (default `/work/.mirror`, where the
`fetch` tool puts them), e.g. `/work/.mirror/microsoft+presidio/repo`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

DEFAULT_DIR = "/work/.mirror"


class CorpusMissing(RuntimeError):
    """A public repository (or a file or revision in it) is not on this machine."""


def corpus_dir() -> Path:
    return Path(os.environ.get("PII_PUBLIC_CORPUS_DIR", DEFAULT_DIR))


def git_dir(repository: str) -> Path:
    """The fetched bare git directory of `repository` ("owner/name"); raises CorpusMissing."""
    found = corpus_dir() / repository.replace("/", "+") / "repo"
    if not found.is_dir():
        raise CorpusMissing(f"public corpus not present: fetch github:{repository}")
    return found


def read(repository: str, path: str, revision: str = "HEAD") -> bytes:
    """The bytes of `path` at `revision`; raises CorpusMissing when absent."""
    shown = subprocess.run(
        ["git", "--git-dir", str(git_dir(repository)), "show", f"{revision}:{path}"],
        capture_output=True,
    )
    if shown.returncode != 0:
        raise CorpusMissing(f"{path} at {revision} is not in the fetched github:{repository}")
    return shown.stdout


def listing(repository: str, folder: str = "", revision: str = "HEAD") -> list[str]:
    """Every file path under `folder` at `revision`, sorted; raises CorpusMissing when absent."""
    shown = subprocess.run(
        ["git", "--git-dir", str(git_dir(repository)), "ls-tree", "-r", "--name-only", revision]
        + ([folder] if folder else []),
        capture_output=True,
        text=True,
    )
    if shown.returncode != 0:
        raise CorpusMissing(f"{revision} is not in the fetched github:{repository}")
    return sorted(shown.stdout.splitlines())
