"""`make robustness`: the whole pipeline over public corpora of real-world and damaged files.

The files come from public repositories fetched onto this machine (PDF, Office and mail
libraries' own test files; see `CORPORA`), never from this repository: nothing fetched is
committed. They are uploaded to the embedded S3 server and processed by `pii-pipeline process`
in a child process with a real Dagster instance, exactly as a user would run it. Then:

- every uploaded object is in the published version exactly once (one row per object);
- the run ended (within `--timeout`), and `process` published a version;
- the child's peak resident memory (VmHWM, polled) stays under `--max-rss-mb`.

Status and error-class counts are printed and written to `.bench/robustness.json`. Exit status
1 when a check fails. Usage: `python -m bench.robustness [--limit N] ...`; the corpora are read
from `PII_PUBLIC_CORPUS_DIR` (`bench.public_corpus`).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import boto3

from bench import public_corpus
from bench.public_corpus import CorpusMissing
from pii_pipeline.local_s3 import LOCAL_CREDENTIALS, LocalS3Server

DOCUMENT_SUFFIXES = (
    ".pdf",
    ".xlsx",
    ".xlsm",
    ".xls",
    ".ods",
    ".docx",
    ".doc",
    ".odt",
    ".pptx",
    ".rtf",
    ".csv",
    ".eml",
    ".msg",
    ".zip",
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
)


@dataclass(frozen=True)
class Corpus:
    repository: str  # owner/name, as `fetch` names it
    folders: tuple[str, ...]  # paths inside the repository whose files are taken


CORPORA = (
    Corpus("py-pdf/pypdf", ("resources/",)),
    Corpus("pymupdf/PyMuPDF", ("tests/resources/",)),
    Corpus("qpdf/qpdf", ("qpdf/qtest/qpdf/", "libtests/qtest/")),
    Corpus("tafia/calamine", ("tests/",)),
    Corpus("python-openxml/python-docx", ("tests/test_files/", "features/steps/test_files/")),
    Corpus("TeamMsgExtractor/msg-extractor", ("example-msg-files/", "tests/")),
)


def collect(target: Path, limit: int | None) -> tuple[list[Path], list[str]]:
    """Copies the corpora's document files into `target`; returns them and the missing corpora."""
    files: list[Path] = []
    missing: list[str] = []
    for corpus in CORPORA:
        try:
            paths = public_corpus.listing(corpus.repository)
        except CorpusMissing:
            missing.append(corpus.repository)
            continue
        for path in paths:
            if not path.startswith(corpus.folders) or not path.lower().endswith(DOCUMENT_SUFFIXES):
                continue
            try:
                data = public_corpus.read(corpus.repository, path)
            except CorpusMissing:
                continue  # absent from the snapshot (files of 4 MiB and more are left out)
            out = target / corpus.repository.replace("/", "+") / path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            files.append(out)
            if limit is not None and len(files) >= limit:
                return files, missing
    return files, missing


def _hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(args: argparse.Namespace) -> dict:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pii-robustness-") as tmp:
        root = Path(tmp)
        files, missing = collect(root / "corpus", args.limit)
        if not files:
            raise SystemExit(
                "no public corpus found under "
                f"{public_corpus.corpus_dir()} (PII_PUBLIC_CORPUS_DIR): fetch "
                + ", ".join(f"github:{c.repository}" for c in CORPORA)
                + " (see docs/documents.md, 'Robustness on public files')"
            )
        for name, value in LOCAL_CREDENTIALS.items():
            os.environ.setdefault(name, value)
        server = LocalS3Server().start()
        try:
            client = boto3.client("s3", endpoint_url=server.endpoint_url)
            bucket = "robustness"
            client.create_bucket(Bucket=bucket)
            keys = []
            for path in files:
                key = "documents/" + path.relative_to(root / "corpus").as_posix()
                client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
                keys.append(key)
            env = {
                **os.environ,
                "AWS_ENDPOINT_URL_S3": server.endpoint_url,
                "PII_S3_BUCKET": bucket,
                "DAGSTER_HOME": str(root / "dagster_home"),
            }
            (root / "dagster_home").mkdir()
            command = [sys.executable, "-m", "pii_pipeline.cli", "process", "--json"]
            # Output to files, not pipes: this loop polls memory and never reads a pipe, and a
            # run that logs more than a pipe's buffer would block on its next write.
            out_path, err_path = root / "process.out", root / "process.err"
            with out_path.open("w") as out_file, err_path.open("w") as err_file:
                process = subprocess.Popen(command, env=env, stdout=out_file, stderr=err_file)
            peak_kb = 0
            deadline = time.monotonic() + args.timeout
            timed_out = False
            while process.poll() is None:
                peak_kb = max(peak_kb, _hwm_kb(process.pid))
                if time.monotonic() > deadline:
                    process.kill()
                    timed_out = True
                    break
                time.sleep(0.5)
            process.wait()
            stdout, stderr = out_path.read_text(), err_path.read_text()
            report = json.loads(stdout) if stdout.strip().startswith("{") else {}
            rows = _latest_documents(client, bucket)
        finally:
            server.stop()
    listed = set(keys)
    present = {key.split("#")[0] for key in rows}
    missing_rows = sorted(listed - present)
    duplicated = sorted(key for key in rows if "#" in key)
    statuses = collections.Counter(status for status, _ in rows.values())
    classes = collections.Counter(f"{s}/{c}" for s, c in rows.values() if c)
    checks = {
        "run ended": not timed_out,
        "exit status 0": process.returncode == 0,
        "version published": bool(report.get("dataset_version")),
        "every object exactly once": not missing_rows and not duplicated,
        f"peak RSS under {args.max_rss_mb} MB": peak_kb / 1024 <= args.max_rss_mb,
    }
    return {
        "objects": len(keys),
        "missing_corpora": missing,
        "seconds": round(time.monotonic() - started, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "statuses": dict(sorted(statuses.items())),
        "error_classes": dict(sorted(classes.items())),
        "missing_rows": missing_rows[:20],
        "duplicated_rows": duplicated[:20],
        "checks": checks,
        "exit_status": process.returncode,
        "stderr_tail": stderr.splitlines()[-15:] if process.returncode else [],
        "dataset_version": report.get("dataset_version"),
    }


def _latest_documents(client, bucket: str) -> dict[str, tuple[str, str | None]]:  # noqa: ANN001
    """document_key -> (status, error_class) of the latest published version, duplicates kept
    apart as key#2, key#3 so that they are counted."""
    from pii_assets.bucket import BucketLayout
    from pii_assets.dataset import latest_version, read_version

    layout = BucketLayout(bucket=bucket)
    version = latest_version(client, layout)
    if version is None:
        return {}
    documents, _ = read_version(client, layout, version)
    table = documents.select(["document_key", "status", "error_class"])
    rows: dict[str, tuple[str, str | None]] = {}
    for key, status, error_class in zip(
        *(table.column(i).to_pylist() for i in range(3)), strict=True
    ):
        name, n = key, 1
        while name in rows:
            n += 1
            name = f"{key}#{n}"
        rows[name] = (status, error_class)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.robustness")
    parser.add_argument("--limit", type=int, default=None, help="at most this many files")
    parser.add_argument("--timeout", type=float, default=3 * 3600, help="seconds for the run")
    parser.add_argument("--max-rss-mb", type=float, default=2048, help="peak RSS bound")
    parser.add_argument("--json", default=".bench/robustness.json")
    args = parser.parse_args(argv)
    result = run(args)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2, sort_keys=True))
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
