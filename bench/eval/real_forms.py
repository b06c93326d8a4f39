"""Eval source (1): real public blank forms, filled with invented values through their own fields.

The forms are government tax, payroll and benefits forms found in public repositories
(`FORM_SOURCES`), read from those repositories fetched onto this machine (`bench.public_corpus`;
nothing of them is committed here). Each is filled the way tax software fills one: through its
AcroForm fields, by PyMuPDF, which draws comb fields one character per box. A spec per form says
which field holds what (written by reading the form, independently of the recognizers); every other
text field gets a plausible non-PII value (an amount, a city, a date) so that look-alikes are
present too. The same forms are also flattened (`Document.bake()`: the values burned into the page,
no fields).

Truth per value: type, value, page and box. The box is the union of the value's widgets on the
filled form, and the union of the value's drawn words on the flattened one (there are no widgets
left). Types outside `models.ENTITY_TYPES` are left out of truth and predictions alike, so the
figures cover the vocabulary in force. Only counts and rates are reported, never a value.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import pymupdf

from bench import public_corpus
from bench.eval.corpus import FIRST_NAMES, LAST_NAMES, STREETS, email, person
from bench.eval.metrics import Counts, Outcome, Prediction, match_page, tally
from pii_assets.documents import PageContent, open_document
from pii_assets.extraction import OfflineExtractor
from pii_assets.locations import deduplicate, place
from pii_assets.models import ENTITY_TYPES, Entity, FormField, Word
from pii_pipeline.corpus import TruthEntity


@dataclass(frozen=True)
class FormSource:
    """Where a blank form comes from: a public repository, a path and commit in it, and the pages
    kept (0-based; None keeps all) when the file holds more than the form."""

    repository: str
    path: str
    revision: str
    pages: tuple[int, ...] | None = None


_USTAXES = "4e4669e3f3ea0e799bb07bb14a55037cc9950d4e"
_INSTEAD_REPO = "conmecto/instead-assignment"
_INSTEAD = "8ce0906eed25eb76e378cd667b0e495cdf2a0965"
_GLOBALHACK = "858bc4c56354bb30e77988e5a046f27a870a1a5d"
# IRS and SSA forms are works of the US federal government, in the public domain (17 U.S.C.
# § 105); the Illinois and Missouri forms are state forms published for the public to fill in.
# Every field of each was checked empty. Left out on purpose: a USCIS I-9 copy found in a public
# repository held a real person's filled-in data; another I-9 copy is a dynamic XFA form.
FORM_SOURCES: dict[str, FormSource] = {
    "irs_f1040_2023.pdf": FormSource(
        "ustaxes/UsTaxes", "public/forms/Y2023/irs/f1040.pdf", _USTAXES
    ),
    "il_1040_2021.pdf": FormSource(
        "ustaxes/UsTaxes", "public/forms/Y2021/states/IL/IL-1040.pdf", _USTAXES
    ),
    "irs_fw4.pdf": FormSource(
        "conmecto/instead-assignment", "test-scripts/fw4.pdf", _INSTEAD, (0,)
    ),
    "irs_fw9.pdf": FormSource(
        "conmecto/instead-assignment", "test-scripts/fw9.pdf", _INSTEAD, (0,)
    ),
    "irs_fw2.pdf": FormSource(
        "sky8c9/AutoFill", "form/fw2.pdf", "7614db59bc04250bce8626ff78a6b2335fe83fd5"
    ),
    "ssa_ss5.pdf": FormSource(
        "curiousYi/globalhack6",
        "server/app/routes/forms/govFormTemplates/social-security.pdf",
        _GLOBALHACK,
        (4,),
    ),
    "mo_food_stamp_application.pdf": FormSource(
        "curiousYi/globalhack6",
        "server/app/routes/forms/govFormTemplates/foodstamp.pdf",
        _GLOBALHACK,
        (0, 1),
    ),
}


def blank_form(file: str) -> bytes:
    """The blank form as a PDF (only its kept pages); raises `bench.public_corpus.CorpusMissing`
    when its repository has not been fetched onto this machine."""
    source = FORM_SOURCES[file]
    data = public_corpus.read(source.repository, source.path, source.revision)
    if source.pages is None:
        return data
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        doc.select(list(source.pages))
        return doc.tobytes()


@dataclass(frozen=True)
class Group:
    """Fields that together hold one value: its truth type ("" for a non-PII value), the fields
    (a suffix of each field's full name, in value order) and the kind of value to invent."""

    entity_type: str
    fields: tuple[str, ...]
    kind: str


@dataclass(frozen=True)
class FormSpec:
    file: str
    title: str
    groups: tuple[Group, ...]


def _g(entity_type: str, kind: str, *fields: str) -> Group:
    return Group(entity_type, fields, kind)


FORMS: tuple[FormSpec, ...] = (
    FormSpec(
        "irs_f1040_2023.pdf",
        "IRS Form 1040 (2023), pages 1-2",
        (
            _g("PERSON", "name2", "Page1[0].f1_04[0]", "Page1[0].f1_05[0]"),
            _g("US_SSN", "ssn", "Page1[0].f1_06[0]"),
            _g("PERSON", "name2", "Page1[0].f1_07[0]", "Page1[0].f1_08[0]"),
            _g("US_SSN", "ssn", "Page1[0].f1_09[0]"),
            _g("STREET_ADDRESS", "street", "f1_10[0]"),
            _g("", "apt", "f1_11[0]"),
            _g("", "city", "f1_12[0]"),
            _g("", "state", "f1_13[0]"),
            _g("", "zip", "f1_14[0]"),
            _g("PERSON", "name", "Row1[0].f1_19[0]"),
            _g("US_SSN", "ssn", "Row1[0].f1_20[0]"),
            _g("", "text:Son", "Row1[0].f1_21[0]"),
            _g("PERSON", "name", "Row2[0].f1_22[0]"),
            _g("US_SSN", "ssn", "Row2[0].f1_23[0]"),
            _g("", "text:Daughter", "Row2[0].f1_24[0]"),
            _g("ABA_ROUTING_NUMBER", "routing", "f2_25[0]"),
            _g("BANK_ACCOUNT_NUMBER", "account", "f2_26[0]"),
            _g("PERSON", "name", "f2_30[0]"),
            _g("PHONE_NUMBER", "phone", "f2_31[0]"),
            _g("", "text:Teacher", "f2_33[0]"),
            _g("", "text:Nurse", "f2_35[0]"),
            _g("EMAIL_ADDRESS", "email", "f2_38[0]"),
            _g("PERSON", "name", "f2_39[0]"),
        ),
    ),
    FormSpec(
        "irs_fw4.pdf",
        "IRS Form W-4, page 1",
        (
            _g("PERSON", "name2", "Step1a[0].f1_01[0]", "Step1a[0].f1_02[0]"),
            _g("STREET_ADDRESS", "street", "Step1a[0].f1_03[0]"),
            _g("", "city_line", "Step1a[0].f1_04[0]"),
            _g("US_SSN", "ssn", "Page1[0].f1_05[0]"),
            _g("", "text:Northwind Traders", "f1_13[0]"),
            _g("", "date", "f1_14[0]"),
            _g("", "ein", "f1_15[0]"),
        ),
    ),
    FormSpec(
        "irs_fw9.pdf",
        "IRS Form W-9, page 1",
        (
            _g("PERSON", "name", "f1_01[0]"),
            _g("", "text:Harbor Consulting LLC", "f1_02[0]"),
            _g("STREET_ADDRESS", "street", "f1_07[0]"),
            _g("", "city_line", "f1_08[0]"),
            _g("", "text:Contoso Bank", "f1_09[0]"),
            _g("US_SSN", "ssn3", "f1_11[0]", "f1_12[0]", "f1_13[0]"),
        ),
    ),
    FormSpec(
        "irs_fw2.pdf",
        "IRS Form W-2 (one copy per page)",
        (
            _g("US_SSN", "ssn_dashed", "w2[b]_f[a][0][0]"),
            _g("", "ein", "w2[b]_f[b][0][0]"),
            _g("", "text:Northwind Traders", "w2[b]_f[c][0][0]"),
            _g("PERSON", "name", "w2[b]_f[e][0][0]"),
            _g("US_SSN", "ssn_dashed", "w2[c]_f[a][0][0]"),
            _g("PERSON", "name", "w2[c]_f[e][0][0]"),
        ),
    ),
    FormSpec(
        "il_1040_2021.pdf",
        "Illinois Form IL-1040 (2021)",
        (
            _g("PERSON", "name2", "name1", "name2"),
            _g("", "year", "YoB"),
            _g("US_SSN", "ssn", "ssn1"),
            _g("PERSON", "name2", "name3", "name4"),
            _g("", "year", "SpYoB"),
            _g("US_SSN", "ssn", "ssn4"),
            _g("STREET_ADDRESS", "street", "address"),
            _g("", "city", "city"),
            _g("", "state", "st"),
            _g("", "zip", "zip"),
            _g("EMAIL_ADDRESS", "email", "emailadd"),
            _g("ABA_ROUTING_NUMBER", "routing", "rn1"),
            _g("BANK_ACCOUNT_NUMBER", "account", "ac1"),
            _g("", "date", "YourSignatureDate"),
            _g("PHONE_NUMBER", "phone2", "DaytimeAreaCode", "DaytimePhoneNumber"),
            _g("PERSON", "name", "PreparerName"),
            _g("PERSON", "name", "ThirdPartyName"),
            _g("PHONE_NUMBER", "phone2", "ThirdPartyAreaCode", "ThirdPartyPhoneNumber"),
        ),
    ),
    FormSpec(
        "ssa_ss5.pdf",
        "SSA Form SS-5 (application for a Social Security card), page 5",
        (
            _g("PERSON", "name3", "Page5[0].firstname[0]", "Middlename[0]", "LastName[0]"),
            _g("", "city", "cityofbirth[0]"),
            _g("DATE_OF_BIRTH", "dob", "DateTimeField1[0]"),
            _g(
                "PERSON",
                "name3",
                "mothersfirstname[0]",
                "mothersmiddlename[0]",
                "motherslastname[0]",
            ),
            _g("US_SSN", "ssn3", "TextField15[0]", "TextField16[0]", "TextField17[0]"),
            _g(
                "PERSON",
                "name3",
                "fathersfirstname[0]",
                "fathersmiddlename[0]",
                "fatherslastname[0]",
            ),
            _g("", "date", "DateTimeField2[1]"),
            _g("PHONE_NUMBER", "phone2", "areacode[0]", "phonenumber[0]"),
            _g("STREET_ADDRESS", "street", "streetaddress[0]"),
            _g("", "city", "mailingcity[0]"),
            _g("", "zip", "zipcode[0]"),
        ),
    ),
    FormSpec(
        "mo_food_stamp_application.pdf",
        "Missouri application for Food Stamp benefits, pages 1-2",
        (
            _g("PERSON", "name", "FULL NAME"),
            _g("STREET_ADDRESS", "address_line", "HOME ADDRESS_1"),
            _g("", "text:Greene", "COUNTY_1"),
            _g("PHONE_NUMBER", "phone", "PHONE_1"),
            _g("EMAIL_ADDRESS", "email", "EMAIL ADDRESS"),
            _g("PERSON", "name", "S3_FULL NAME.0"),
            _g("DATE_OF_BIRTH", "dob", "S3_DOB.0"),
            _g("US_SSN", "ssn_dashed", "S3_SSN.0"),
            _g("PERSON", "name", "S3_FULL NAME.1"),
            _g("", "text:Spouse", "S3_RELATIONSHIP TO APPLICANT.0"),
        ),
    ),
)


# --- Invented values -----------------------------------------------------------------------------


def _ssn_digits(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"


def _routing(rng: random.Random) -> str:
    """A 9-digit number with a valid ABA check digit (weights 3, 7, 1) whose first two digits are
    a Federal Reserve routing symbol (01-12, or a thrift's 21-32)."""
    body = [rng.randint(0, 9) for _ in range(8)]
    body[0], body[1] = divmod(rng.choice((*range(1, 13), *range(21, 33))), 10)
    total = sum(d * w for d, w in zip(body, (3, 7, 1, 3, 7, 1, 3, 7), strict=True))
    return "".join(map(str, body)) + str((10 - total % 10) % 10)


def _values(kind: str, rng: random.Random) -> list[str]:
    """The values one group's fields get, in field order."""
    p = person(rng)
    first, last = p.first, p.last
    initial = rng.choice("ABCDEFGHJKLMNPRSTW")
    if kind == "name2":
        return [f"{first} {initial}", last]
    if kind == "name3":
        return [first, rng.choice(FIRST_NAMES), last]
    if kind == "name":
        return [f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"]
    if kind == "ssn":
        return [_ssn_digits(rng)]
    if kind == "ssn_dashed":
        d = _ssn_digits(rng)
        return [f"{d[:3]}-{d[3:5]}-{d[5:]}"]
    if kind == "ssn3":
        d = _ssn_digits(rng)
        return [d[:3], d[3:5], d[5:]]
    if kind == "dob":
        born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 60 * 365))
        return [f"{born.month:02d}/{born.day:02d}/{born.year}"]
    if kind == "date":
        day = date(2023, 1, 1) + timedelta(days=rng.randint(0, 700))
        return [f"{day.month:02d}/{day.day:02d}/{day.year}"]
    if kind == "year":
        return [str(rng.randint(1945, 2000))]
    if kind == "email":
        return [email(p, rng)]
    area, line = rng.choice(("217", "312", "415", "573", "314")), f"{rng.randint(0, 99):04d}"
    if kind == "phone":
        return [f"({area}) 555-{line}"]
    if kind == "phone2":
        return [area, f"555-{line}"]
    if kind == "street":
        return [f"{rng.randint(10, 9999)} {rng.choice(STREETS)}"]
    if kind == "address_line":
        return [f"{rng.randint(10, 9999)} {rng.choice(STREETS)}, Springfield, MO 65806"]
    if kind == "routing":
        return [_routing(rng)]
    if kind == "account":
        return ["".join(str(rng.randint(0, 9)) for _ in range(rng.randint(8, 12)))]
    fixed = {
        "apt": "4B",
        "city": "Springfield",
        "state": "IL",
        "zip": "62704",
        "city_line": "Springfield, IL 62704",
        "ein": f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}",
    }
    if kind in fixed:
        return [fixed[kind]]
    if kind.startswith("text:"):
        return [kind[5:]]
    raise ValueError(f"unknown value kind {kind!r}")


def _amount(rng: random.Random, max_len: int) -> str:
    value = f"{rng.randint(100, 99999):,}"
    return value if not max_len or len(value) <= max_len else value.replace(",", "")[:max_len]


# --- Filling and flattening ----------------------------------------------------------------------


@dataclass
class FilledForm:
    name: str
    title: str
    data: bytes
    truth: list[TruthEntity] = field(default_factory=list)
    # Truth values' widget rects per page (normalised), for the flattened truth boxes.
    widget_boxes: list[tuple[int, list[tuple[float, float, float, float]]]] = field(
        default_factory=list
    )


def _norm(rect: pymupdf.Rect, page: pymupdf.Page) -> tuple[float, float, float, float]:
    w, h = page.rect.width, page.rect.height
    return (rect.x0 / w, rect.y0 / h, rect.x1 / w, rect.y1 / h)


def _union(boxes: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def fill(spec: FormSpec, seed: int) -> FilledForm:
    """The form filled through its fields with invented values, and its truth."""
    rng = random.Random(f"{spec.file}:{seed}")
    doc = pymupdf.open(stream=blank_form(spec.file), filetype="pdf")
    widgets = [(page, w) for page in doc for w in page.widgets()]
    by_suffix: dict[int, tuple[Group, int]] = {}
    for group in spec.groups:
        for position, suffix in enumerate(group.fields):
            matches = [i for i, (_, w) in enumerate(widgets) if w.field_name == suffix] or [
                i for i, (_, w) in enumerate(widgets) if w.field_name.endswith(suffix)
            ]
            if len(matches) != 1:
                raise ValueError(f"{spec.file}: {len(matches)} fields end with {suffix!r}")
            by_suffix[matches[0]] = (group, position)
    values: dict[int, list[str]] = {id(g): _values(g.kind, rng) for g in spec.groups}
    filled = FilledForm(spec.file.removesuffix(".pdf"), spec.title, b"")
    rects: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = {}
    for index, (page, widget) in enumerate(widgets):
        if widget.field_type_string != "Text":
            continue
        if index in by_suffix:
            group, position = by_suffix[index]
            widget.field_value = values[id(group)][position]
            rects.setdefault(id(group), []).append((page.number + 1, _norm(widget.rect, page)))
        elif widget.rect.width > 30 and not widget.field_flags & (1 << 24):
            widget.field_value = _amount(rng, widget.text_maxlen)
        else:
            continue
        widget.update()
    for group in spec.groups:
        if not group.entity_type or group.entity_type not in ENTITY_TYPES:
            continue
        pages = {number for number, _ in rects[id(group)]}
        number = min(pages)
        boxes = [box for n, box in rects[id(group)] if n == number]
        text = " ".join(values[id(group)])
        filled.truth.append(TruthEntity(group.entity_type, text, number, _union(boxes)))
        filled.widget_boxes.append((number, boxes))
    filled.data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return filled


def flatten(form: FilledForm) -> FilledForm:
    """The filled form with its fields burned into the page (no fields left); truth boxes become
    the union of the words drawn inside each value's widgets."""
    doc = pymupdf.open("pdf", form.data)
    doc.bake()
    truth = []
    for t, (number, boxes) in zip(form.truth, form.widget_boxes, strict=True):
        page = doc[number - 1]
        w, h = page.rect.width, page.rect.height
        drawn: list[tuple[float, float, float, float]] = []
        value = t.text.casefold()
        for x0, y0, x1, y1, word, *_ in page.get_text("words"):
            cx, cy = (x0 + x1) / 2 / w, (y0 + y1) / 2 / h
            inside = any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes)
            # The value's own words: not the printed underline or caption inside the widget.
            if inside and word.strip(",.()").casefold() in value:
                drawn.append((x0 / w, y0 / h, x1 / w, y1 / h))
        truth.append(TruthEntity(t.entity_type, t.text, t.page, _union(drawn) if drawn else t.box))
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return FilledForm(form.name + "_flat", form.title + " (flattened)", data, truth)


# --- Reading the way the pipeline reads ----------------------------------------------------------


def form_fields(page: pymupdf.Page) -> list[FormField]:
    """A page's fields as the PDF reader gives them (`models.FormField`'s contract)."""
    fields = []
    kinds = {"Text": "text", "CheckBox": "checkbox", "RadioButton": "radio"}
    for w in page.widgets():
        kind = kinds.get(w.field_type_string, w.field_type_string.lower())
        fields.append(
            FormField(
                name=w.field_name or "",
                label=w.field_label or w.field_name or "",
                value=str(w.field_value or "") if kind == "text" else "",
                rect=_norm(w.rect, page),
                kind=kind,
                comb=bool(w.field_flags & (1 << 24)),
                max_len=w.text_maxlen or 0,
            )
        )
    return fields


def field_unit(page: pymupdf.Page, number: int) -> PageContent | None:
    """The page's form-field unit: the fields, and their values' words inside their widgets."""
    fields = [f for f in form_fields(page) if f.value.strip()]
    if not fields:
        return None
    words: list[Word] = []
    for line, f in enumerate(fields):
        tokens = f.value.split()
        x0, y0, x1, y1 = f.rect
        step = (x1 - x0) / max(len(f.value), 1)
        cursor = x0
        for token in tokens:
            words.append(Word(token, cursor, y0, cursor + step * len(token), y1, 0, line))
            cursor += step * (len(token) + 1)
    return PageContent(
        number=number,
        words=words,
        source="text",
        width=page.rect.width,
        height=page.rect.height,
        area="form_field",
        fields=fields,
    )


def units(data: bytes, name: str) -> Iterator[PageContent]:
    """The document's units through `open_document`; where the reader yields no form-field units
    (before the PDF reader reads fields), each page's follows its page unit, built here."""
    with open_document(data, name=name) as doc:
        read = list(doc.pages())
    if any(u.area == "form_field" for u in read):
        yield from read
        return
    with pymupdf.open("pdf", data) as pdf:
        for unit in read:
            yield unit
            if unit.area == "page" and unit.part is None:
                extra = field_unit(pdf[unit.number - 1], unit.number)
                if extra is not None:
                    yield extra


def predict(data: bytes, name: str, extractor: OfflineExtractor) -> list[Entity]:
    """Entities of the vocabulary in force, one per value, as `extract_document` gives them."""
    found: list[Entity] = []
    for unit in units(data, name):
        found.extend(place(e, unit) for e in extractor.extract_page(unit).entities)
    return [e for e in deduplicate(found) if e.entity_type in ENTITY_TYPES]


# --- Scoring ------------------------------------------------------------------------------------

# Printed contact details of the issuing agency ("call 800-772-1213") are real values of these
# types; any other type found on a blank form was taken from printed instructions.
PRINTED_CONTACT_TYPES = frozenset({"PHONE_NUMBER", "EMAIL_ADDRESS"})


@dataclass
class FormsResult:
    counts: dict[str, dict[str, Counts]]  # "filled" / "flattened" -> type -> counts
    per_form: dict[str, dict[str, float]]  # form file -> {"filled": recall, "flattened": recall}
    printed: dict[str, int]  # entity type -> entities found on the blank forms (printed text)
    forms: int = 0
    fills: int = 0

    @property
    def from_instructions(self) -> int:
        """Entities found on the blank forms that are not the agency's printed contact details."""
        return sum(n for t, n in self.printed.items() if t not in PRINTED_CONTACT_TYPES)


def _key(entity: Entity) -> tuple[str, int | None, str]:
    return (entity.entity_type, entity.page, "".join(entity.text.split()).casefold())


def _outcomes(
    form: FilledForm, entities: list[Entity], printed: set[tuple[str, int | None, str]]
) -> list[Outcome]:
    """Outcomes per page; what the blank form already carries (printed text) is left out."""
    entities = [e for e in entities if _key(e) not in printed]
    outcomes: list[Outcome] = []
    pages = {t.page for t in form.truth} | {e.page or 0 for e in entities}
    for number in sorted(pages):
        truth = [t for t in form.truth if t.page == number]
        predictions = [
            Prediction(e.entity_type, e.text, number, (e.x0, e.y0, e.x1, e.y1), e.confidence)  # type: ignore[arg-type]
            for e in entities
            if e.page == number
        ]
        outcomes.extend(match_page(truth, predictions))
    return outcomes


def evaluate(
    seeds: tuple[int, ...] = (1, 2, 3),
    extractor: OfflineExtractor | None = None,
    forms: tuple[FormSpec, ...] = FORMS,
) -> FormsResult:
    """Every form filled once per seed, and flattened; plus the blank forms (printed text only)."""
    extractor = extractor or OfflineExtractor()
    found: dict[str, list[Outcome]] = {"filled": [], "flattened": []}
    per_form: dict[str, dict[str, float]] = {}
    printed_types: dict[str, int] = {}
    for spec in forms:
        blank = predict(blank_form(spec.file), spec.file, extractor)
        for e in blank:
            printed_types[e.entity_type] = printed_types.get(e.entity_type, 0) + 1
        printed = {_key(e) for e in blank}
        for seed in seeds:
            filled = fill(spec, seed)
            for key, form in (("filled", filled), ("flattened", flatten(filled))):
                entities = predict(form.data, form.name + ".pdf", extractor)
                outcomes = _outcomes(form, entities, printed)
                found[key].extend(outcomes)
                stats = per_form.setdefault(spec.file, {})
                stats[key] = stats.get(key, 0.0) + tally(outcomes)["ALL"].recall / len(seeds)
    counts = {key: tally(outcomes) for key, outcomes in found.items()}
    return FormsResult(counts, per_form, printed_types, len(forms), len(forms) * len(seeds))
