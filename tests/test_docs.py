"""The documentation matches the code: every `PII_*` variable the code reads is in
docs/configuration.md and every one documented there is read somewhere; every make target the
README names exists in the Makefile; every relative link in README.md and docs/*.md resolves (the
file, and the heading when the link names one)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = ROOT / "docs" / "configuration.md"
# Where variables are read: the product's packages, the deployment files (workspace, instance and
# task definitions name variables too) and the fetched public corpus' location for bench/eval.
CODE_DIRS = ("pii_assets", "resources", "sensors", "schedules", "pii_pipeline", "deploy")
CODE_FILES = ("bench/public_corpus.py",)
# A whole name: `NOT_PII_CONTEXT` is a constant that merely contains one.
VARIABLE = re.compile(r"(?<![A-Za-z0-9_])PII_[A-Z0-9_]+")
MAKE_TARGET = re.compile(r"`make ([a-z][a-z0-9-]*)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _code_files() -> list[Path]:
    files = [ROOT / name for name in CODE_FILES]
    for folder in CODE_DIRS:
        files += [
            p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        ]
    return files


def _variables_in_code() -> set[str]:
    found: set[str] = set()
    for path in _code_files():
        found |= set(VARIABLE.findall(path.read_text(encoding="utf-8", errors="replace")))
    return found


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, every character but letters, digits,
    spaces, hyphens and underscores dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    anchors: set[str] = set()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            anchors.add(_anchor(line.lstrip("#")))
    return anchors


def test_every_variable_the_code_reads_is_documented() -> None:
    documented = set(VARIABLE.findall(CONFIGURATION.read_text(encoding="utf-8")))
    missing = _variables_in_code() - documented
    assert not missing, f"read by the code but not in docs/configuration.md: {sorted(missing)}"


def test_every_documented_variable_is_read_by_the_code() -> None:
    documented = set(VARIABLE.findall(CONFIGURATION.read_text(encoding="utf-8")))
    stale = documented - _variables_in_code()
    assert not stale, f"in docs/configuration.md but read nowhere: {sorted(stale)}"


def test_the_anchor_rule_matches_github() -> None:
    assert _anchor(" One-shot: `pii-pipeline process`") == "one-shot-pii-pipeline-process"
    assert _anchor(" Versions stay readable (time travel)") == "versions-stay-readable-time-travel"
    assert _anchor(" `make test-postgres`") == "make-test-postgres"


def test_every_make_target_in_the_readme_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, flags=re.MULTILINE))
    named = set(MAKE_TARGET.findall((ROOT / "README.md").read_text(encoding="utf-8")))
    assert named, "the README names no make target"
    assert not named - targets, (
        f"named in README.md, not in the Makefile: {sorted(named - targets)}"
    )


def test_every_relative_link_resolves() -> None:
    broken: list[str] = []
    for page in _pages():
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path, _, fragment = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)
