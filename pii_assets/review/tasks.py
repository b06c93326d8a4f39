"""Label Studio tasks, pre-annotations and labeling configs, built with `label-studio-sdk`'s own
types (`label_interface`: `LabelInterface.create` for the config XML, control tags' `label()` for
regions, `PredictionValue` / `TaskValue` for the task JSON, `validate_prediction` to check it).

Two kinds of task, each with its config (one Label Studio project each):

- image: one page rendered to PNG, `data.image` its URL; pre-annotations are `rectanglelabels`
  in percent of the page (Label Studio's unit: x, y, width, height in 0..100);
- text: a text document's decoded text, `data.text`; pre-annotations are `labels` spans
  (`start`, `end`: character offsets, as the entities' `char_start` / `char_end`).

Each region's id is the entity's id, so Label Studio keeps it on a kept or edited label and the
import tells machine labels from the reviewer's. Each region carries the entity's confidence as
its `score`. Pre-annotations carry no value (no `text`), whatever the value policy: the reviewer
sees the page itself. `data.pii_entities` lists the machine labels shown (id, type, place; no
value) so the import needs nothing but the export file.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from label_studio_sdk.label_interface import LabelInterface
from label_studio_sdk.label_interface.create import labels
from label_studio_sdk.label_interface.objects import PredictionValue, TaskValue

from pii_assets.models import ENTITY_TYPES, Entity
from pii_assets.review.model import TEXT_PAGE, entity_box, entity_span

IMAGE = "image"
TEXT = "text"
CONTROL = "label"  # the control tag's name: `from_name` of every region


@cache
def labeling_config(kind: str, entity_types: tuple[str, ...] = ENTITY_TYPES) -> str:
    """The labeling config XML of the image or text project: one label per entity type."""
    tag = "RectangleLabels" if kind == IMAGE else "Labels"
    return LabelInterface.create(
        {kind: "Image" if kind == IMAGE else "Text", CONTROL: labels(entity_types, tag_type=tag)}
    )


@cache
def _interface(kind: str, entity_types: tuple[str, ...]) -> LabelInterface:
    return LabelInterface(labeling_config(kind, entity_types))


def _percent(value: float) -> float:
    return round(min(100.0, max(0.0, value * 100.0)), 4)


def _machine_ref(entity_id: str, entity: Entity) -> dict[str, Any]:
    box, span = entity_box(entity), entity_span(entity)
    return {
        "id": entity_id,
        "type": entity.entity_type,
        "box": list(box) if box is not None else None,
        "span": list(span) if span is not None else None,
    }


def build_task(
    kind: str,
    data: dict[str, Any],
    entities: Sequence[tuple[str, Entity]],
    *,
    model_version: str,
    entity_types: tuple[str, ...] = ENTITY_TYPES,
) -> dict[str, Any]:
    """One task: `data` (with the image URL or the text) plus the page's machine labels (entity
    id, entity) as one prediction. Entities without a box (image) or span (text) cannot be
    shown and are left out. Raises ValueError when the SDK finds a pre-annotation invalid."""
    interface = _interface(kind, entity_types)
    control = interface.get_control(CONTROL)
    regions, scores, shown = [], [], []
    for entity_id, entity in entities:
        if kind == IMAGE and (box := entity_box(entity)) is not None:
            region = control.label(
                [entity.entity_type],
                x=_percent(box[0]),
                y=_percent(box[1]),
                width=_percent(box[2] - box[0]),
                height=_percent(box[3] - box[1]),
            )
        elif kind == TEXT and (span := entity_span(entity)) is not None:
            region = control.label([entity.entity_type], start=span[0], end=span[1])
        else:
            continue
        region.id = entity_id
        regions.append(region)
        scores.append(entity.confidence)
        shown.append(_machine_ref(entity_id, entity))
    predictions = []
    if regions:
        mean = sum(scores) / len(scores)
        predictions.append(
            PredictionValue(model_version=model_version, score=round(mean, 4), result=regions)
        )
    task = TaskValue(data={**data, "pii_entities": shown}, predictions=predictions).model_dump(
        exclude={"annotations"}
    )
    for result, score in zip(
        task["predictions"][0]["result"] if regions else [], scores, strict=True
    ):
        result["score"] = round(score, 4)  # per-region score (Label Studio shows it per label)
    for prediction in task["predictions"]:
        errors = interface.validate_prediction(prediction, return_errors=True)
        if errors is not True and errors:
            raise ValueError(f"label-studio-sdk rejected a pre-annotation: {errors}")
    return task


def page_of(kind: str, page: int | None) -> str:
    return TEXT_PAGE if kind == TEXT else str(page)
