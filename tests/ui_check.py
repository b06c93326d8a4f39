"""`make ui-check`: the Dagster UI, in headless Chromium, shows a failed document as failed.

Not part of the default suite (about a minute, and it needs Chromium): on free loopback ports it
starts the embedded S3 server with one good and one corrupt document, processes them with
`pii-pipeline process` into a fresh Dagster instance, starts the Dagster webserver on that
instance, and loads the `document_pii` asset's partitions page in headless Chromium (Debian's
`chromium`, which `make ui-check` installs when missing and run as root). The rendered DOM must
show the failed partition (the "Failed (1)" filter, the partition's "Run … failed, and did not
materialize" banner) and, one click away, its error class: in the run's log the partition links
to, and in the partition's events (its observation). Each page's DOM and a screenshot are written
to --out for a person to look at.

Usage: python -m tests.ui_check [--out DIR]; exit status 0 when the check passes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3

from pii_pipeline.corpus import single_page_pdf
from pii_pipeline.local_s3 import LocalS3Server, use_local_credentials

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "ui-check"
FAILED_KEY = "broken.pdf"
GOOD_KEY = "letter.pdf"
# The flags Chromium needs headless, as root, on a machine without outside network: no sandbox
# (root), no GPU, no background connections, a fresh profile.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1600,1000",
)
# Virtual time Chromium gives the page's scripts and GraphQL requests before it dumps the DOM.
_VIRTUAL_TIME_MS = 30_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("ui-check: Chromium not found (Debian: apt-get install chromium)")


def wait_for(url: str, process: subprocess.Popen, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"ui-check: the webserver exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise SystemExit(f"ui-check: {url} did not answer within {timeout_s:.0f}s")


def render(url: str, out: Path, name: str, profile: Path) -> str:
    """The DOM Chromium rendered for `url` (saved as out/name.html) and a screenshot (name.png)."""
    browser = chromium()
    common = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    timing = f"--virtual-time-budget={_VIRTUAL_TIME_MS}"
    dom = subprocess.run(
        [browser, *common, timing, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    (out / f"{name}.html").write_text(dom)
    subprocess.run(
        [browser, *common, timing, f"--screenshot={out / (name + '.png')}", url],
        capture_output=True,
        timeout=180,
    )
    return dom


def visible_text(dom: str) -> str:
    without_scripts = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", without_scripts))


def expect(problems: list[str], page: str, text: str, *expected: str) -> None:
    problems.extend(f"{page}: {e!r} not rendered" for e in expected if e not in text)


def check(out: Path) -> list[str]:
    """Run the scenario; returns the problems found (empty: the failed state is rendered)."""
    problems: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="ui-check-"))
    use_local_credentials()
    s3 = LocalS3Server(port=free_port()).start()
    webserver = None
    try:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL_S3": s3.endpoint_url,
            "DAGSTER_HOME": str(work / "dagster_home"),
            "PII_S3_BUCKET": BUCKET,
        }
        client = boto3.client("s3", endpoint_url=s3.endpoint_url)
        client.create_bucket(Bucket=BUCKET)
        letter = single_page_pdf(["Letter", "Name: Ada Example", "Email: ada@example.com"])
        client.put_object(Bucket=BUCKET, Key=f"documents/{GOOD_KEY}", Body=letter)
        client.put_object(Bucket=BUCKET, Key=f"documents/{FAILED_KEY}", Body=b"%PDF-1.7\n1 0 obj")
        (work / "dagster_home").mkdir()
        (work / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        cli = Path(sys.executable).with_name("pii-pipeline")
        done = subprocess.run(
            [str(cli), "process", "--json"], env=env, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            return [f"pii-pipeline process exited with {done.returncode}: {done.stderr[-2000:]}"]

        port = free_port()
        webserver = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster-webserver")),
                "-w",
                str(ROOT / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=(work / "webserver.log").open("w"),
        )
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/server_info", webserver)
        profile = work / "chromium"
        asset = f"{base}/assets/document_pii"
        partitions_dom = render(f"{asset}?view=partitions", out, "partitions", profile)
        expect(problems, "partitions page", visible_text(partitions_dom), GOOD_KEY, "Failed (1)")
        detail_dom = render(
            f"{asset}?view=partitions&partition={FAILED_KEY}", out, "failed_partition", profile
        )
        expect(problems, "failed partition", visible_text(detail_dom), "failed, and did not")
        # One click away: the run's log ("View logs") and the partition's events.
        runs = re.findall(r'href="(/runs/[0-9a-f-]{36})"', detail_dom)
        if not runs:
            problems.append("failed partition: no link to its run")
        else:
            run_dom = render(base + runs[0], out, "failed_run", profile)
            expect(problems, "run log", visible_text(run_dom), f"{FAILED_KEY} (corrupt)")
        events_dom = render(f"{asset}?view=events&partition={FAILED_KEY}", out, "events", profile)
        expect(problems, "events", visible_text(events_dom), "failed: corrupt")
        return problems
    finally:
        if webserver is not None:
            webserver.terminate()
            try:
                webserver.wait(timeout=30)
            except subprocess.TimeoutExpired:
                webserver.kill()
        s3.stop()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ui-check", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".ui-check", help="where DOMs and screenshots go")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    problems = check(out)
    took = time.monotonic() - started
    for problem in problems:
        print(f"ui-check: {problem}", file=sys.stderr)
    print(
        f"ui-check: {'FAILED' if problems else 'passed'} in {took:.0f}s "
        f"(DOMs and screenshots in {out})"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
