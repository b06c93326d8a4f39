"""S3 Event Notifications delivered to an SQS queue: receiving them in batches, reading what they
say about objects under the input prefix, and deleting them once applied (no Dagster here).

Message shapes (S3 User Guide, "Event message structure"; "Walkthrough: Configuring a bucket for
notifications (SNS topic or SQS queue)"): a JSON body with `Records`, each with `eventName`
(`ObjectCreated:Put`, `ObjectRemoved:Delete`, ...), `eventTime`, `s3.bucket.name` and
`s3.object` (`key` URL-encoded as in a form, `eTag`, `size`, `sequencer`); the same JSON inside an
SNS envelope's `Message` when the queue is subscribed to a topic; and `s3:TestEvent`, sent when
the notification is configured. Delivery is at least once and unordered: callers compare ETags
and sequencers (`discovery_state.DiscoveryStore.observe`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from pii_assets.bucket import strip_etag
from pii_assets.discovery_state import Observation

# SQS limits (SQS Developer Guide, "ReceiveMessage" and "DeleteMessageBatch"): 10 messages per
# receive or delete call; long polling waits at most 20 s.
_BATCH = 10
MAX_WAIT_S = 20


@dataclass
class ParsedEvents:
    observations: list[Observation] = field(default_factory=list)
    # Keys whose event changes something the event does not carry (a lifecycle transition or a
    # restore changes the storage class): looked up with a HEAD.
    look_up: list[str] = field(default_factory=list)
    ignored: int = 0  # test events, other buckets or prefixes, unreadable bodies


def _epoch(event_time: str | None) -> float | None:
    if not event_time:
        return None
    try:
        return datetime.fromisoformat(event_time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _records(body: str) -> list[dict[str, Any]] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
        return _records(data["Message"])  # through an SNS topic
    if not isinstance(data, dict) or not isinstance(data.get("Records"), list):
        return None
    return data["Records"]


def parse_message(
    body: str,
    bucket: str,
    input_prefix: str,
    partition_key_of: Callable[[str], str],
    fingerprint: Callable[[str, str], str],
    into: ParsedEvents,
) -> None:
    """Add what one message says about objects under `input_prefix` of `bucket` to `into`."""
    records = _records(body)
    if records is None:
        into.ignored += 1  # s3:TestEvent, EventBridge-shaped or foreign messages
        return
    for record in records:
        s3 = record.get("s3") or {}
        name = str(record.get("eventName", ""))
        key = unquote_plus(str((s3.get("object") or {}).get("key", "")))
        if (s3.get("bucket") or {}).get("name") != bucket or not key.startswith(input_prefix):
            into.ignored += 1
            continue
        if key == input_prefix:
            into.ignored += 1  # the folder itself, as bucket.list_objects leaves it out
            continue
        obj = s3["object"]
        common = {
            "object_key": key,
            "partition_key": partition_key_of(key),
            "changed_at": _epoch(record.get("eventTime")),
            "sequencer": obj.get("sequencer") or None,
        }
        if name.startswith("ObjectCreated:"):
            etag = strip_etag(str(obj.get("eTag", "")))
            into.observations.append(Observation(etag=fingerprint(etag, "STANDARD"), **common))
        elif name.startswith("ObjectRemoved:") or name.startswith("LifecycleExpiration:"):
            into.observations.append(Observation(etag=None, **common))
        elif name.startswith(("LifecycleTransition", "ObjectRestore:", "IntelligentTiering")):
            into.look_up.append(key)
        else:
            into.ignored += 1


@dataclass(frozen=True)
class Message:
    receipt_handle: str
    body: str


class EventQueue:
    """The SQS queue S3 sends the bucket's notifications to."""

    def __init__(self, client: Any, queue_url: str, visibility_timeout_s: int = 300) -> None:
        self.client = client
        self.queue_url = queue_url
        # Messages received stay invisible this long: longer than a tick takes to apply and delete
        # them, so a tick that dies leaves them to reappear for the next one.
        self.visibility_timeout_s = visibility_timeout_s

    def receive(self, max_messages: int, wait_s: int, deadline: float) -> Iterator[list[Message]]:
        """Batches of up to 10 messages until the queue answers empty, `max_messages` were
        received or `deadline` (time.monotonic()) passes. Only the first call long-polls."""
        received = 0
        wait = max(0, min(MAX_WAIT_S, wait_s))
        while received < max_messages and time.monotonic() < deadline:
            answer = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(_BATCH, max_messages - received),
                WaitTimeSeconds=wait,
                VisibilityTimeout=self.visibility_timeout_s,
            )
            messages = [
                Message(m["ReceiptHandle"], m.get("Body", "")) for m in answer.get("Messages", ())
            ]
            if not messages:
                return
            received += len(messages)
            wait = 0
            yield messages

    def delete(self, messages: list[Message]) -> int:
        """Delete applied messages, 10 per call; returns how many SQS refused (they reappear after
        the visibility timeout and are applied again, harmlessly)."""
        refused = 0
        for start in range(0, len(messages), _BATCH):
            chunk = messages[start : start + _BATCH]
            answer = self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(chunk)
                ],
            )
            refused += len(answer.get("Failed", ()))
        return refused
