"""Machine labels judged against a reviewed page: which were confirmed, corrected or rejected,
and which labels only the reviewer drew (added). No I/O.

A reviewed page's labels are its ground truth. Machine labels are paired with them in three
passes: (1) by id: the reviewer kept or edited a pre-annotation, so Label Studio's region id is
the entity id; (2) by the machine label the reviewer was shown (`MachineRef`): reprocessing the
same object version may renumber the entities, so a current entity of the same type at the
same place (IoU >= `SAME_MACHINE_LABEL`) stands for it; (3) by place: a remaining label and a
remaining machine label overlapping at least `MATCH_IOU` (the box criterion of the offline
evaluation, README "Offline extractor quality"; PASCAL VOC's 0.5) are one value.

A pair is `confirmed` when the types agree and the places overlap by `MATCH_IOU` or more, else
`corrected`; unpaired machine labels are `rejected`, unpaired reviewer labels `added`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pii_assets.models import Entity
from pii_assets.review.model import (
    CONFIRMED,
    CORRECTED,
    REJECTED,
    Box,
    Label,
    PageReview,
    Span,
    entity_box,
    entity_span,
)

MATCH_IOU = 0.5
SAME_MACHINE_LABEL = 0.9


def box_iou(a: Box | None, b: Box | None) -> float:
    """Intersection over union of two normalised boxes (0 when either is missing)."""
    if a is None or b is None:
        return 0.0
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def span_iou(a: Span | None, b: Span | None) -> float:
    """Intersection over union of two character ranges (0 when either is missing)."""
    if a is None or b is None:
        return 0.0
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter <= 0:
        return 0.0
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def overlap(
    box_a: Box | None, span_a: Span | None, box_b: Box | None, span_b: Span | None
) -> float:
    return max(box_iou(box_a, box_b), span_iou(span_a, span_b))


@dataclass(frozen=True, slots=True)
class Judgement:
    """The review columns of one machine entity row."""

    status: str
    label: Label | None  # the reviewer's label it was paired with (None: rejected)


@dataclass(frozen=True, slots=True)
class PageOutcome:
    judged: dict[str, Judgement]  # entity id -> judgement, for every machine entity of the page
    added: list[Label]


def _status(entity: Entity, label: Label) -> str:
    same_type = entity.entity_type == label.entity_type
    close = overlap(entity_box(entity), entity_span(entity), label.box, label.span) >= MATCH_IOU
    return CONFIRMED if same_type and close else CORRECTED


def judge_page(machine: Sequence[tuple[str, Entity]], review: PageReview) -> PageOutcome:
    """Pair the page's current machine entities (entity id, entity) with the review's labels."""
    current = dict(machine)
    # (2) each machine label the reviewer was shown -> the current entity standing for it
    stands_for: dict[str, str] = {}
    for ref in review.machine:
        if ref.entity_id in current:
            stands_for[ref.entity_id] = ref.entity_id
            continue
        taken = set(stands_for.values())
        best, best_score = None, SAME_MACHINE_LABEL
        for entity_id, entity in current.items():
            if entity_id in taken or entity.entity_type != ref.entity_type:
                continue
            score = overlap(entity_box(entity), entity_span(entity), ref.box, ref.span)
            if score >= best_score:
                best, best_score = entity_id, score
        if best is not None:
            stands_for[ref.entity_id] = best

    pairs: dict[str, Label] = {}
    remaining: list[Label] = []
    for label in review.labels:
        target = stands_for.get(label.from_entity or "", label.from_entity)
        if target in current and target not in pairs:
            pairs[target] = label
        else:
            remaining.append(label)
    # (3) by place, best overlaps first
    candidates = []
    for index, label in enumerate(remaining):
        for entity_id, entity in current.items():
            if entity_id in pairs:
                continue
            score = overlap(entity_box(entity), entity_span(entity), label.box, label.span)
            if score >= MATCH_IOU:
                candidates.append((score, index, entity_id))
    used: set[int] = set()
    for _, index, entity_id in sorted(candidates, key=lambda c: -c[0]):
        if index in used or entity_id in pairs:
            continue
        pairs[entity_id] = remaining[index]
        used.add(index)

    judged = {
        entity_id: (
            Judgement(_status(entity, pairs[entity_id]), pairs[entity_id])
            if entity_id in pairs
            else Judgement(REJECTED, None)
        )
        for entity_id, entity in current.items()
    }
    added = [label for index, label in enumerate(remaining) if index not in used]
    return PageOutcome(judged, added)
