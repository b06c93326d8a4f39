"""An optional statistical NER backend for person names in running text.

The rule-based recognizers find names where documents put them (labels, salutations, signature
blocks, table columns); a name in a sentence ("Ilse Marwick plays the cello.") needs a model. The
backend is configured by name (`PII_NER_BACKEND`):

- `spacy:<pipeline>`: a spaCy pipeline with an `ner` component, by package name
  ("en_core_web_sm") or path; its PERSON (OntoNotes) or PER (WikiNER) spans are names;
- `gliner:<model>`: a GLiNER model (a local path or a name the `gliner` package can load),
  asked for the label "person".

Nothing is required: the default install has no backend and stays offline. A configured backend
whose package or model is missing fails with one line saying which (`NerUnavailable`), when the
extractor is built, not in the middle of a run. Models are loaded once per process.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pii_assets.recognition.common import Candidate

BACKENDS = ("spacy", "gliner")
# Labels that mean "a person" in the label sets of common NER models.
_PERSON_LABELS = frozenset({"PERSON", "PER", "person"})
# spaCy's NER gives no score; a statistical guess ranks below a labelled field (0.85).
_SPACY_CONFIDENCE = 0.7
_GLINER_THRESHOLD = 0.5
_HAS_UPPER = re.compile(r"[A-ZÀ-ÖØ-Þ]")
_POSSESSIVE = re.compile(r"['’]s$")


class NerUnavailable(ValueError):
    """The configured backend's package or model is not installed: a configuration error (the
    CLI prints it as one line, like every bad setting). The message is one line."""


@dataclass(frozen=True)
class NerBackend:
    """A loaded backend: `find(text)` gives PERSON candidates (character offsets in `text`)."""

    spec: str
    find: Callable[[str], list[Candidate]]


def parse(spec: str) -> tuple[str, str]:
    """("spacy", "en_core_web_sm") from "spacy:en_core_web_sm". Raises ValueError."""
    kind, _, model = spec.partition(":")
    if kind not in BACKENDS or not model:
        raise ValueError(
            f"PII_NER_BACKEND must be spacy:<pipeline> or gliner:<model>, got {spec!r}"
        )
    return kind, model


def check(spec: str) -> None:
    """Raises `NerUnavailable` (one line) when the backend's package or model is missing, and
    ValueError when `spec` is malformed; loads nothing."""
    kind, model = parse(spec)
    if importlib.util.find_spec(kind) is None:
        raise NerUnavailable(
            f"PII_NER_BACKEND={spec}: the {kind} package is not installed (pip install {kind})"
        )
    if kind == "spacy" and not Path(model).exists() and importlib.util.find_spec(model) is None:
        raise NerUnavailable(
            f"PII_NER_BACKEND={spec}: spaCy pipeline {model!r} is not installed "
            "(install its package, or give the path of a saved pipeline)"
        )


_loaded: dict[str, NerBackend] = {}
_lock = threading.Lock()


def load(spec: str) -> NerBackend:
    """The backend for `spec`, loaded once per process. Raises `NerUnavailable` or ValueError."""
    with _lock:
        if spec not in _loaded:
            check(spec)
            kind, model = parse(spec)
            try:
                find = _spacy(model) if kind == "spacy" else _gliner(model)
            except (OSError, ImportError) as exc:
                raise NerUnavailable(
                    f"PII_NER_BACKEND={spec}: could not load the model ({type(exc).__name__})"
                ) from None
            _loaded[spec] = NerBackend(spec, find)
        return _loaded[spec]


def _keep(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without surrounding punctuation or a possessive, or None when it cannot be a
    name (no capital letter, or a digit)."""
    value = text[start:end]
    stripped = value.strip(" \t\n.,;:!?\"'()[]")
    start += value.find(stripped) if stripped else 0
    possessive = _POSSESSIVE.search(stripped)
    if possessive:
        stripped = stripped[: possessive.start()]
    if not stripped or not _HAS_UPPER.search(stripped) or any(c.isdigit() for c in stripped):
        return None  # a model's guess on lower-case words, or on a code ("NAT64", "K40718263")
    return start, start + len(stripped)


def _spacy(model: str) -> Callable[[str], list[Candidate]]:
    import spacy

    # Only the components NER needs: the parser and lemmatizer cost time and add nothing here.
    nlp = spacy.load(model, exclude=["parser", "lemmatizer", "textcat"])
    if "ner" not in nlp.pipe_names:
        raise NerUnavailable(f"spaCy pipeline {model!r} has no ner component")
    lock = threading.Lock()  # a spaCy pipeline is not documented as thread-safe

    def find(text: str) -> list[Candidate]:
        with lock:
            doc = nlp(text)
        found = []
        for ent in doc.ents:
            if ent.label_ in _PERSON_LABELS:
                span = _keep(text, ent.start_char, ent.end_char)
                if span:
                    found.append(Candidate("PERSON", span[0], span[1], _SPACY_CONFIDENCE))
        return found

    return find


def _gliner(model: str) -> Callable[[str], list[Candidate]]:
    from gliner import GLiNER

    net = GLiNER.from_pretrained(model, local_files_only=True)
    lock = threading.Lock()

    def find(text: str) -> list[Candidate]:
        with lock:
            predicted = net.predict_entities(text, ["person"], threshold=_GLINER_THRESHOLD)
        found = []
        for ent in predicted:
            if ent["label"] in _PERSON_LABELS:
                span = _keep(text, ent["start"], ent["end"])
                if span:
                    found.append(Candidate("PERSON", span[0], span[1], float(ent["score"])))
        return found

    return find
