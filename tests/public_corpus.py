"""Public real-world files for tests, read from repositories fetched onto this machine.

Nothing fetched is committed to this repository (the tool library's rule): tests that need a
library's own test files read them through `bench.public_corpus` and are skipped, naming the
repository to fetch, when it is absent. Such tests carry the `public_corpus` marker, so a run
reports them (`pytest -m public_corpus -rs`).
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from bench import public_corpus
from bench.public_corpus import CorpusMissing


@lru_cache(maxsize=256)
def _read(repository: str, path: str, revision: str) -> bytes | None:
    try:
        return public_corpus.read(repository, path, revision)
    except CorpusMissing:
        return None


def public_file(repository: str, path: str, revision: str = "HEAD") -> bytes:
    """The bytes of `path` at `revision` in the fetched `repository` ("owner/name"); skips the
    test when the repository has not been fetched (or the file is not in its snapshot)."""
    data = _read(repository, path, revision)
    if data is None:
        pytest.skip(f"public corpus not present: fetch github:{repository} ({path})")
    return data
