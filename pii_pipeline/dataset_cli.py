"""`pii-pipeline dataset list|show|diff|convert`: browse published versions from the terminal and
convert datasets of the folder-per-version layout to Delta Lake tables."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table


def _client_and_layout():
    """No Dagster, pyarrow or deltalake here, and boto3 only once a command runs: `--help` and
    `dataset list` answer in under 2 s (bench row `cli_startup`)."""
    from resources.store_env import client_and_layout

    return client_and_layout()


def cmd_list(args: argparse.Namespace) -> int:
    from pii_assets.dataset_versions import existing_versions, latest_version, read_manifest

    client, layout = _client_and_layout()
    latest = latest_version(client, layout)
    rows = []
    for version in existing_versions(client, layout):
        manifest = read_manifest(client, layout, version)
        if manifest is None:
            continue
        facts = manifest.get("facts", {})
        rows.append(
            {
                "version": version,
                "latest": version == latest,
                "created_at": manifest["created_at"],
                "parent": manifest.get("parent_version"),
                "documents": manifest["row_counts"]["documents"],
                "entities": manifest["row_counts"]["entities"],
                "documents_changed": sum(
                    manifest.get("changes", {}).get(f"documents_{kind}", 0)
                    for kind in ("added", "removed", "changed")
                ),
                "cost_usd": facts.get("total_cost_usd", 0.0),
                "documents_version": manifest.get("documents_version"),
                "entities_version": manifest.get("entities_version"),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"versions in {layout.uri(layout.dataset_prefix)}")
    for column in ("version", "created_at", "parent", "documents", "entities", "changed", "cost"):
        table.add_column(column)
    for row in rows:
        name = row["version"] + (" (latest)" if row["latest"] else "")
        table.add_row(
            name,
            row["created_at"],
            str(row["parent"] or ""),
            str(row["documents"]),
            str(row["entities"]),
            str(row["documents_changed"]),
            f"{row['cost_usd']:.4f}",
        )
    Console().print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from rich.markdown import Markdown  # markdown-it: only for cards

    from pii_assets.dataset_versions import latest_version, read_card, read_manifest

    client, layout = _client_and_layout()
    version = args.version or latest_version(client, layout)
    if version is None:
        Console(stderr=True).print("no dataset version has been published yet")
        return 1
    card = read_card(client, layout, version)
    if card is None and read_manifest(client, layout, version) is None:
        Console(stderr=True).print(
            f"{version} is not a published version (`pii-pipeline dataset list` shows them)"
        )
        return 1
    if card is None:
        Console(stderr=True).print(f"version {version} has no dataset card")
        return 1
    Console().print(Markdown(card))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from pii_assets.dataset import diff_between, existing_versions

    client, layout = _client_and_layout()
    known = set(existing_versions(client, layout))
    for version in (args.old, args.new):
        if version not in known:
            Console(stderr=True).print(f"version {version} is not a published version")
            return 1
    diff = diff_between(client, layout, args.old, args.new)
    summary = diff.summary()
    if args.json:
        payload = {**summary, "added": diff.added, "removed": diff.removed, "changed": diff.changed}
        print(json.dumps(payload, indent=2))
        return 0
    out = Console()
    out.print(f"[bold]{args.old} → {args.new}")
    for label, keys in (
        ("added", diff.added),
        ("removed", diff.removed),
        ("changed (content of their rows)", diff.changed),
    ):
        out.print(f"documents {label}: {len(keys)}")
        for key in keys[: args.limit]:
            out.print(f"  {key}")
        if len(keys) > args.limit:
            out.print(f"  … {len(keys) - args.limit} more (use --limit or --json)")
    out.print(f"entities: {summary['entities_before']} → {summary['entities_after']}")
    for entity_type, delta in summary["entity_delta_by_type"].items():
        out.print(f"  {entity_type}: {delta:+d}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from pii_assets.dataset_asset import DATASET_CODE_VERSION
    from pii_assets.dataset_convert import Converted, convert, legacy_versions

    client, layout = _client_and_layout()
    folders = legacy_versions(client, layout)
    out = Console(stderr=args.json)
    if not folders:
        out.print("no version of the folder-per-version layout to convert")
        if args.json:
            print(json.dumps([]))
        return 0

    def report(converted: Converted) -> None:
        became = converted.version or "no new version (same rows as the one before)"
        out.print(f"{converted.legacy} → {became}")

    done = convert(
        client,
        layout,
        code_version=DATASET_CODE_VERSION,
        delete_old=args.delete_old,
        on_version=report,
    )
    if args.json:
        print(json.dumps([{"legacy": c.legacy, "version": c.version} for c in done], indent=2))
    if args.delete_old:
        out.print(f"deleted {len(folders)} old version folders")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("dataset", help="list, show, compare and convert dataset versions")
    commands = parser.add_subparsers(dest="dataset_command", required=True)
    p = commands.add_parser("list", help="versions with their counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = commands.add_parser("show", help="a version's dataset card (default: latest)")
    p.add_argument("version", nargs="?")
    p.set_defaults(func=cmd_show)
    p = commands.add_parser(
        "diff", help="documents added, removed, changed (content) and entity counts"
    )
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--limit", type=int, default=20, help="document keys listed per kind")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_diff)
    p = commands.add_parser(
        "convert", help="turn versions of the folder-per-version layout into Delta commits"
    )
    p.add_argument(
        "--delete-old", action="store_true", help="delete the old folders once converted"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_convert)
