"""A distributed Dagster deployment as processes on this machine, for `make test-postgres` and the
deployment benchmarks.

The same pieces as in production, minus the containers: PostgreSQL instance storage, the instance
configuration shipped in deploy/dagster.yaml (queued run coordinator, pools, run monitoring, run
retries), a gRPC code server started with the image's own command (`CODE_SERVER_COMMAND`, also
the Dockerfile's CMD) and `dagster-daemon` reading a workspace that points at that server. Runs are
launched by the default run launcher as processes of the code server, as in a single-VM deployment;
on Kubernetes or ECS they would be pods or tasks running the same code against the same instance.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
INSTANCE_YAML = ROOT / "deploy" / "dagster.yaml"
CODE_LOCATION = "pii_pipeline"
# The code location's server, exactly as deploy/Dockerfile starts it (host and port appended).
CODE_SERVER_COMMAND = ("dagster", "api", "grpc", "-m", "pii_assets.definitions")
DAEMON_COMMAND = ("dagster-daemon", "run")
# The engine event a run worker writes when it starts (dagster/_grpc/impl.py).
_WORKER_PID = re.compile(r"Started process for run \(pid: (\d+)\)")


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def instance_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """deploy/dagster.yaml, with `overrides` merged in key by key (nested mappings merge)."""
    return _merge(yaml.safe_load(INSTANCE_YAML.read_text()), overrides or {})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tool(name: str) -> str:
    """A console script of this virtualenv (next to the running interpreter)."""
    return str(Path(sys.executable).with_name(name))


class LocalDeployment:
    """`with LocalDeployment(workdir, env, postgres_url) as deployment:` a code server and a daemon
    on an instance in `workdir/dagster_home`, stopped (process groups, SIGTERM then SIGKILL) on
    exit. `env` is the pipeline's environment (PII_*, AWS_*); the processes' output goes to
    `workdir/*.log`. Raises RuntimeError when the code server does not answer within the timeout.
    """

    def __init__(
        self,
        workdir: Path,
        env: Mapping[str, str],
        postgres_url: str,
        *,
        instance_overrides: Mapping[str, Any] | None = None,
        start_timeout_s: float = 180.0,
    ) -> None:
        self.workdir = workdir
        self.home = workdir / "dagster_home"
        self.port = _free_port()
        self.env = {
            **os.environ,
            **env,
            "DAGSTER_HOME": str(self.home),
            "DAGSTER_POSTGRES_URL": postgres_url,
        }
        self.instance_overrides = instance_overrides or {}
        self.start_timeout_s = start_timeout_s
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self._processes[name] = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def _wait_for_code_server(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            server = self._processes["code_server"]
            if server.poll() is not None:
                raise RuntimeError(f"code server exited:\n{self.log_tail('code_server')}")
            check = subprocess.run(
                [_tool("dagster"), "api", "grpc-health-check", "-p", str(self.port)],
                env=self.env,
                capture_output=True,
                timeout=60,
            )
            if check.returncode == 0:
                return
            time.sleep(1)
        raise RuntimeError(f"code server not serving:\n{self.log_tail('code_server')}")

    def start(self) -> LocalDeployment:
        self.home.mkdir(parents=True, exist_ok=True)
        config = instance_config(self.instance_overrides)
        (self.home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        workspace = {
            "load_from": [
                {
                    "grpc_server": {
                        "host": "127.0.0.1",
                        "port": self.port,
                        "location_name": CODE_LOCATION,
                    }
                }
            ]
        }
        (self.workdir / "workspace.yaml").write_text(yaml.safe_dump(workspace))
        command = [_tool(CODE_SERVER_COMMAND[0]), *CODE_SERVER_COMMAND[1:]]
        self._spawn("code_server", [*command, "-h", "127.0.0.1", "-p", str(self.port)])
        self._wait_for_code_server()
        daemon = [_tool(DAEMON_COMMAND[0]), *DAEMON_COMMAND[1:]]
        self._spawn("daemon", [*daemon, "-w", str(self.workdir / "workspace.yaml")])
        return self

    def instance(self) -> Any:
        """The deployment's DagsterInstance for this process (close it when done). Sets
        DAGSTER_HOME and DAGSTER_POSTGRES_URL in this process's environment, where the instance
        configuration reads them."""
        import dagster as dg

        os.environ["DAGSTER_HOME"] = self.env["DAGSTER_HOME"]
        os.environ["DAGSTER_POSTGRES_URL"] = self.env["DAGSTER_POSTGRES_URL"]
        return dg.DagsterInstance.from_config(str(self.home))

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self._processes.items()}

    def stop(self) -> None:
        for proc in self._processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._processes.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        self._processes.clear()

    def __enter__(self) -> LocalDeployment:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_worker_pid(instance: Any, run_id: str) -> int | None:
    """The process id the run's worker reported when it started, or None (not started yet)."""
    import dagster as dg

    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        found = _WORKER_PID.search(record.message or "")
        if found:
            return int(found.group(1))
    return None
