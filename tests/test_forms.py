"""Forms read through their structure, on real public blank forms filled through their own fields
with invented values (read from their fetched repositories: bench/eval/real_forms.py), and on
fields built here."""

from __future__ import annotations

import pytest

from bench.eval import real_forms
from bench.eval.metrics import iou
from bench.public_corpus import CorpusMissing
from pii_assets.extraction import OfflineExtractor
from pii_assets.locations import deduplicate
from pii_assets.models import Entity, FormField, Word
from pii_assets.recognition.forms import form_entities
from pii_assets.recognizers import PageText, find_entities

F1040 = next(s for s in real_forms.FORMS if s.file == "irs_f1040_2023.pdf")


@pytest.fixture(scope="module")
def filled_1040() -> real_forms.FilledForm:
    try:
        return real_forms.fill(F1040, seed=7)
    except CorpusMissing as missing:
        pytest.skip(str(missing))


def _found(form: real_forms.FilledForm) -> list[Entity]:
    return real_forms.predict(form.data, form.name + ".pdf", OfflineExtractor())


@pytest.mark.public_corpus
def test_filled_1040_names_joined_ssns_from_comb_fields_one_row_each(
    filled_1040: real_forms.FilledForm,
) -> None:
    found = _found(filled_1040)
    you = filled_1040.truth[0]  # first name and middle initial + last name, two widgets
    assert you.entity_type == "PERSON" and len(you.text.split()) == 3
    people = [e for e in found if e.entity_type == "PERSON" and e.text == you.text]
    assert len(people) == 1, "one value, one row"
    person = people[0]
    assert person.area == "form_field"
    assert iou((person.x0, person.y0, person.x1, person.y1), you.box) > 0.9  # type: ignore[arg-type]
    ssns = {e.text for e in found if e.entity_type == "US_SSN"}
    truth_ssns = {t.text for t in filled_1040.truth if t.entity_type == "US_SSN"}
    assert truth_ssns <= ssns
    # No fragment of a joined name survives as its own row.
    assert not [e for e in found if e.entity_type == "PERSON" and e.text in you.text.split()]


@pytest.mark.public_corpus
def test_filled_1040_instructions_are_not_values(filled_1040: real_forms.FilledForm) -> None:
    # Page 1 prints "Were born before January 2, 1959": a condition, not a birth date.
    found = _found(filled_1040)
    assert [e for e in found if e.entity_type == "DATE_OF_BIRTH"] == []


@pytest.mark.public_corpus
def test_flattened_1040_comb_digits_and_captions_still_join(
    filled_1040: real_forms.FilledForm,
) -> None:
    flat = real_forms.flatten(filled_1040)
    found = _found(flat)
    you, your_ssn = flat.truth[0], flat.truth[1]
    assert your_ssn.entity_type == "US_SSN"
    assert your_ssn.text in {e.text for e in found if e.entity_type == "US_SSN"}
    assert you.text in {e.text for e in found if e.entity_type == "PERSON"}
    assert [e for e in found if e.entity_type == "DATE_OF_BIRTH"] == []


def _field(name: str, label: str, value: str, x0: float, x1: float, y: float = 0.1) -> FormField:
    return FormField(name, label, value, (x0, y, x1, y + 0.02))


def test_labels_decide_the_kind_and_values_must_fit_it() -> None:
    fields = [
        _field("a", "Your social security number", "N/A", 0.1, 0.3),
        _field("b", "Employer's name", "Northwind Traders", 0.1, 0.5, 0.2),
        _field("c", "Your first name and initial", "ana.lima@example.com", 0.1, 0.5, 0.3),
        _field("d", "Your daytime area code", "312", 0.1, 0.15, 0.4),
        _field("e", "Your daytime phone number", "555-0147", 0.16, 0.3, 0.4),
        _field("f", "First three digits of Social Security Number", "412", 0.1, 0.15, 0.5),
        _field("g", "Second 2 digits of Social Security Number", "07", 0.16, 0.2, 0.5),
        _field("h", "Last 4 digits of Social Security Number", "4821", 0.21, 0.3, 0.5),
        _field("i", "Date of birth", "07/04/1976", 0.1, 0.3, 0.6),
        _field("j", "Date signed", "07/04/2023", 0.4, 0.6, 0.6),
    ]
    # The e-mail's tooltip is wrong (copied from a name field); its printed caption is right.
    entities = form_entities(fields, page=1, source="text", captions={"c": "Email address"})
    assert [(e.entity_type, e.text) for e in entities] == [
        ("EMAIL_ADDRESS", "ana.lima@example.com"),
        ("PHONE_NUMBER", "312 555-0147"),
        ("US_SSN", "412 07 4821"),
        ("DATE_OF_BIRTH", "07/04/1976"),
    ]
    phone = entities[1]
    assert (phone.x0, phone.x1) == (0.1, 0.3)  # one box: the union of both widgets


def test_comb_runs_join_but_running_text_does_not() -> None:
    comb = [
        Word(d, 0.5 + 0.02 * i, 0.1, 0.507 + 0.02 * i, 0.12, 0, i)
        for i, d in enumerate("123456789")
    ]
    page = PageText.build(comb)
    assert page.text == "123456789"
    assert page.box(0, len(page.text)) == (0.5, 0.1, comb[-1].x1, 0.12)
    # One-letter words of running text sit a space apart, closer than a letter's width.
    prose = [
        Word(t, 0.1 + 0.012 * i, 0.1, 0.107 + 0.012 * i, 0.12, 0, 0) for i, t in enumerate("abcd")
    ]
    assert PageText.build(prose).text == "a b c d"


def test_born_before_is_a_condition_born_on_is_a_birth_date() -> None:
    def dobs(line: str) -> list[str]:
        words, x = [], 0.05
        for token in line.split():
            words.append(Word(token, x, 0.1, x + 0.01 * len(token), 0.12, 0, 0))
            x += 0.01 * len(token) + 0.005
        return [
            e.text
            for e in find_entities(words, page=1, source="text")
            if e.entity_type == "DATE_OF_BIRTH"
        ]

    assert dobs("Check if you were born before January 2, 1946") == []
    assert dobs("Born: January 2, 1946") == ["January 2, 1946"]


def test_a_page_fragment_of_a_form_value_is_dropped() -> None:
    form = Entity(
        "PERSON", "Maribel A Ostrowski", 1, 0.05, 0.1, 0.6, 0.12, 0.95, "text", area="form_field"
    )
    fragment = Entity("PERSON", "Ostrowski", 1, 0.4, 0.1, 0.5, 0.12, 0.85, "text")
    other = Entity("PERSON", "Ostrowski", 1, 0.4, 0.5, 0.5, 0.52, 0.85, "text")  # elsewhere
    assert deduplicate([fragment, form, other]) == [form, other]
