"""The NER backend's code path on a real spaCy pipeline that the test trains (a blank English
pipeline with a PERSON-only NER, saved to disk and loaded by path like an installed one)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pii_assets.documents import PageContent
from pii_assets.extraction import OfflineExtractor
from pii_assets.models import Word
from pii_assets.recognition import ner
from pii_assets.recognizers import find_entities
from resources.extractors import LocalExtractor
from resources.settings import build_extractor

spacy = pytest.importorskip("spacy")

# Invented sentences: a name in running text, where no label or salutation points at it.
TRAINING = [
    ("Ilse Marwick plays the cello.", ["Ilse Marwick"]),
    ("Yesterday Maria Lopez signed the lease.", ["Maria Lopez"]),
    ("The report was written by Kenji Tanaka last week.", ["Kenji Tanaka"]),
    ("Please ask Grace Adeyemi about the invoice.", ["Grace Adeyemi"]),
    ("Our new colleague Lars Jensen starts on Monday.", ["Lars Jensen"]),
    ("The meeting moved because Amara Okafor was ill.", ["Amara Okafor"]),
    ("Nothing in this sentence names anyone.", []),
    ("The invoice total is due in thirty days.", []),
]


def _words(text: str) -> list[Word]:
    words, x = [], 0.05
    for token in text.split():
        width = 0.012 * len(token)
        words.append(Word(token, x, 0.1, x + width, 0.12, 0, 0))
        x += width + 0.006
    return words


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spacy.training import Example

    random.seed(0)
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("ner").add_label("PERSON")
    examples = []
    for text, names in TRAINING:
        spans = [(text.index(n), text.index(n) + len(n), "PERSON") for n in names]
        examples.append(Example.from_dict(nlp.make_doc(text), {"entities": spans}))
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(40):
        random.shuffle(examples)
        nlp.update(examples, sgd=optimizer, drop=0.0)
    path = tmp_path_factory.mktemp("ner") / "tiny_person_ner"
    nlp.to_disk(path)
    return path


def test_names_in_running_text_through_find_entities(pipeline: Path) -> None:
    backend = ner.load(f"spacy:{pipeline}")
    text = "Ilse Marwick plays the cello."
    without = find_entities(_words(text), page=1, source="text")
    assert [e for e in without if e.entity_type == "PERSON"] == []
    found = find_entities(_words(text), page=1, source="text", ner=backend)
    people = [e for e in found if e.entity_type == "PERSON"]
    assert [e.text for e in people] == ["Ilse Marwick"]
    # The box covers the two words of the name, not the rest of the sentence.
    assert people[0].x0 == pytest.approx(0.05)
    assert people[0].x1 < 0.05 + 0.012 * len("Ilse Marwick") + 0.01


def test_offline_extractor_uses_the_backend_and_names_it(pipeline: Path) -> None:
    extractor = OfflineExtractor(ner_backend=f"spacy:{pipeline}")
    assert extractor.model == f"spacy:{pipeline}"
    page = PageContent(1, _words("Yesterday Maria Lopez signed the lease."), "text", 612, 792)
    entities = extractor.extract_page(page).entities
    assert [(e.entity_type, e.text) for e in entities] == [("PERSON", "Maria Lopez")]


def test_backend_is_part_of_the_extractor_identity(pipeline: Path) -> None:
    plain = LocalExtractor()
    with_ner = LocalExtractor(ner_backend=f"spacy:{pipeline}")
    assert "ner=" not in plain.identity
    assert f"ner=spacy:{pipeline}" in with_ner.identity
    assert with_ner.page_extractor().ner_backend == f"spacy:{pipeline}"


def test_settings_read_and_check_the_backend(pipeline: Path) -> None:
    extractor = build_extractor("local", {"PII_NER_BACKEND": f"spacy:{pipeline}"})
    assert extractor.ner_backend == f"spacy:{pipeline}"
    assert build_extractor("local", {}).ner_backend == ""


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("spacy:no_such_pipeline_installed", ner.NerUnavailable),
        ("gliner:some/model", ner.NerUnavailable),  # the gliner package is not installed here
        ("flair:ner", ValueError),
        ("spacy:", ValueError),
    ],
)
def test_configured_but_missing_is_one_clear_line(spec: str, error: type[Exception]) -> None:
    if spec.startswith("gliner") and __import__("importlib").util.find_spec("gliner"):
        pytest.skip("gliner is installed here")
    with pytest.raises(error) as raised:
        build_extractor("local", {"PII_NER_BACKEND": spec})
    message = str(raised.value)
    assert "\n" not in message and "PII_NER_BACKEND" in message
