"""The pipeline's assets and the libraries they use.

Dagster warns about its beta and preview APIs we use (e.g. `backfill_policy`) in every process
that loads the code location: the webserver's and daemon's code servers and each run worker, so
`make dev` printed the same warning many times. They are addressed to us (Dagster is pinned to a
minor version in pyproject.toml), not to operators: filtered here, once, for every such process.
"""

import warnings

warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview)")
