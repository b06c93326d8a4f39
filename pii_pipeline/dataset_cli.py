"""`pii-pipeline dataset list|show|diff`: browse published versions from the terminal."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from pii_assets.dataset import existing_versions, latest_version, read_manifest, read_version
from pii_assets.dataset_changes import diff_versions
from resources.settings import build_store


def _store():
    return build_store().process_config_and_initialize()


def cmd_list(args: argparse.Namespace) -> int:
    store = _store()
    client, layout = store.client(), store.layout()
    latest = latest_version(client, layout)
    rows = []
    for version in existing_versions(client, layout):
        manifest = read_manifest(client, layout, version)
        if manifest is None:
            continue  # claimed but never completed: not a published version
        facts = manifest.get("facts", {})
        rows.append(
            {
                "version": version,
                "latest": version == latest,
                "created_at": manifest["created_at"],
                "parent": manifest.get("parent_version"),
                "documents": manifest["row_counts"]["documents"],
                "entities": manifest["row_counts"]["entities"],
                "cost_usd": facts.get("total_cost_usd", 0.0),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"versions in {layout.uri(layout.dataset_prefix)}")
    for column in ("version", "created_at", "parent", "documents", "entities", "cost_usd"):
        table.add_column(column)
    for row in rows:
        name = row["version"] + (" (latest)" if row["latest"] else "")
        table.add_row(
            name,
            row["created_at"],
            str(row["parent"] or ""),
            str(row["documents"]),
            str(row["entities"]),
            f"{row['cost_usd']:.4f}",
        )
    Console().print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = _store()
    client, layout = store.client(), store.layout()
    version = args.version or latest_version(client, layout)
    if version is None:
        Console(stderr=True).print("no dataset version has been published yet")
        return 1
    key = f"{layout.dataset_prefix}{version}/README.md"
    try:
        card = client.get_object(Bucket=layout.bucket, Key=key)["Body"].read().decode()
    except client.exceptions.NoSuchKey:
        Console(stderr=True).print(f"version {version} has no dataset card")
        return 1
    Console().print(Markdown(card))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    store = _store()
    client, layout = store.client(), store.layout()
    old = read_version(client, layout, args.old)
    new = read_version(client, layout, args.new)
    diff = diff_versions(*old, *new)
    if args.json:
        print(
            json.dumps(
                {
                    **diff.summary(),
                    "added": diff.added,
                    "removed": diff.removed,
                    "changed": diff.changed,
                },
                indent=2,
            )
        )
        return 0
    out = Console()
    summary = diff.summary()
    out.print(f"[bold]{args.old} → {args.new}")
    for label, keys in (
        ("added", diff.added),
        ("removed", diff.removed),
        ("changed", diff.changed),
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


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("dataset", help="list, show and compare published versions")
    commands = parser.add_subparsers(dest="dataset_command", required=True)
    p = commands.add_parser("list", help="versions with their counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = commands.add_parser("show", help="a version's dataset card (default: latest)")
    p.add_argument("version", nargs="?")
    p.set_defaults(func=cmd_show)
    p = commands.add_parser("diff", help="documents and entity counts added, removed, changed")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--limit", type=int, default=20, help="document keys listed per kind")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_diff)
