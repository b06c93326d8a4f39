"""Operator notifications: message building and delivery to Slack and Amazon SNS (no Dagster here;
the sensors in sensors/notify.py decide when to send).

A `Notification` carries an event name (`EVENTS`), a one-line title, facts (counts, statuses,
error classes, a version), object keys and a link to the run or asset in the Dagster UI; never
an extracted value, a password or a secret. Delivery never raises: a channel that cannot be
reached is logged (channel, event and the cause's type or HTTP status, never the webhook URL,
which is a secret) and reported as undelivered, so a notification never fails a run or a publish.

Channels:
- Slack, through an incoming webhook (`PII_SLACK_WEBHOOK_URL`): a JSON POST of `text` (the
  fallback shown in notifications) and one `mrkdwn` section block (Slack API docs, "Sending
  messages using incoming webhooks"; "Formatting text": `&`, `<`, `>` escaped, `<url|label>` links).
- Amazon SNS (`PII_SNS_TOPIC_ARN`): `Publish` with a `Subject` (at most 100 ASCII characters,
  SNS API reference) and a plain-text `Message`; the event name rides as the message attribute
  `event`, so subscriptions can filter on it (SNS "Subscription filter policies").
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

RUN_FAILED = "run_failed"
DOCUMENTS_FAILED = "documents_failed"
BUDGET_REACHED = "budget_reached"
VERSION_PUBLISHED = "version_published"
CHECK_FAILED = "check_failed"
EVENTS = (RUN_FAILED, DOCUMENTS_FAILED, BUDGET_REACHED, VERSION_PUBLISHED, CHECK_FAILED)
DEFAULT_UI_URL = "http://127.0.0.1:3000"
# Object keys listed in one message; the count says how many more there are.
MAX_KEYS = 20
# SNS API reference, Publish: "Subject ... must be ASCII text ... less than 100 characters".
_SNS_SUBJECT_CHARS = 99
# A notification must not hold a sensor tick for long (Dagster stops a tick after 60 s).
_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class NotifyConfig:
    """Where notifications go and what triggers them; empty channel: not used.

    `slack_webhook_url` is a secret (whoever has it can post to the channel): kept out of reprs.
    `failed_documents`: a run with at least this many failed documents is notified (0: never).
    """

    slack_webhook_url: str = field(default="", repr=False)
    sns_topic_arn: str = ""
    failed_documents: int = 1
    ui_url: str = DEFAULT_UI_URL

    @property
    def channels(self) -> list[str]:
        return [
            name
            for name, target in (("slack", self.slack_webhook_url), ("sns", self.sns_topic_arn))
            if target
        ]


@dataclass(frozen=True)
class Notification:
    event: str
    title: str
    facts: tuple[tuple[str, str], ...] = ()
    keys: tuple[str, ...] = ()  # object keys concerned (all of them; MAX_KEYS are shown)
    link: str = ""
    link_label: str = "open in Dagster"

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"unknown notification event {self.event!r}")


@dataclass(frozen=True)
class Delivery:
    channel: str
    delivered: bool
    cause: str = ""  # why not: an HTTP status, an AWS error code or an exception type


# --- links -------------------------------------------------------------------------------------


def run_url(ui_url: str, run_id: str) -> str:
    """The run's page in the Dagster UI (`/runs/<run id>`)."""
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def asset_url(ui_url: str, asset_name: str) -> str:
    """The asset's page in the Dagster UI (`/assets/<key path>`)."""
    return f"{ui_url.rstrip('/')}/assets/{asset_name}"


# --- messages ----------------------------------------------------------------------------------


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name}={n}" for name, n in sorted(counts.items())) or "none"


def run_failed(
    ui_url: str,
    *,
    job_name: str,
    run_id: str,
    partitions: str = "",
    failed_steps: Mapping[str, str] | None = None,
) -> Notification:
    """A run ended in failure. `failed_steps`: step key -> error class (the exception's type,
    never its message, which could quote a document)."""
    facts = [("job", job_name), ("run", run_id)]
    if partitions:
        facts.append(("documents", partitions))
    if failed_steps:
        facts.append(
            ("failed steps", ", ".join(f"{step} ({cls})" for step, cls in failed_steps.items()))
        )
    return Notification(
        RUN_FAILED,
        f"pii-pipeline: run of {job_name} failed",
        tuple(facts),
        link=run_url(ui_url, run_id),
        link_label="open the run",
    )


def documents_failed(
    ui_url: str, *, run_id: str, failed: Mapping[str, str], documents: int
) -> Notification:
    """Documents of one extraction run failed. `failed`: object key -> error class;
    `documents`: documents the run finished (failed ones included)."""
    by_class: dict[str, int] = {}
    for error_class in failed.values():
        by_class[error_class or "unknown"] = by_class.get(error_class or "unknown", 0) + 1
    return Notification(
        DOCUMENTS_FAILED,
        f"pii-pipeline: {len(failed)} of {documents} documents failed in one run",
        (("run", run_id), ("error classes", _counts(by_class))),
        keys=tuple(sorted(failed)),
        link=run_url(ui_url, run_id),
        link_label="open the run",
    )


def run_budget_reached(
    ui_url: str, *, run_id: str, spent_usd: float, not_started: Sequence[str]
) -> Notification:
    """A run's LLM budget (PII_MAX_BUDGET_USD) stopped it; `not_started`: object keys left
    unmaterialized for a later run."""
    return Notification(
        BUDGET_REACHED,
        f"pii-pipeline: run budget reached, {len(not_started)} documents not started",
        (("run", run_id), ("spent (USD)", f"{spent_usd:.4f}"), ("budget", "PII_MAX_BUDGET_USD")),
        keys=tuple(sorted(not_started)),
        link=run_url(ui_url, run_id),
        link_label="open the run",
    )


def daily_budget_reached(
    ui_url: str, *, day: str, spent_usd: float, budget_usd: float, asset_name: str
) -> Notification:
    """Today's (UTC) spend reached PII_MAX_DAILY_BUDGET_USD: discovery launches no run until
    tomorrow."""
    return Notification(
        BUDGET_REACHED,
        f"pii-pipeline: daily budget reached on {day} (UTC); no new run until tomorrow",
        (
            ("spent today (USD)", f"{spent_usd:.4f}"),
            ("daily budget (USD)", f"{budget_usd:.4f}"),
            ("budget", "PII_MAX_DAILY_BUDGET_USD"),
        ),
        link=asset_url(ui_url, asset_name),
        link_label="open the asset",
    )


def version_published(
    ui_url: str,
    *,
    run_id: str,
    version: str,
    parent: str = "",
    documents: int,
    entities: int,
    changes: Mapping[str, int] | None = None,
    by_status: Mapping[str, int] | None = None,
    cost_usd: float | None = None,
) -> Notification:
    """A dataset version was published. `changes`: documents added/removed/changed against the
    parent; `by_status`: documents of the version by status."""
    facts = [
        ("version", version + (f" (parent {parent})" if parent else "")),
        ("documents", str(documents)),
        ("entities", str(entities)),
    ]
    if changes:
        facts.append(("changes", _counts(changes)))
    if by_status:
        facts.append(("documents by status", _counts(by_status)))
    if cost_usd is not None:
        facts.append(("cost (USD)", f"{cost_usd:.4f}"))
    facts.append(("run", run_id))
    return Notification(
        VERSION_PUBLISHED,
        f"pii-pipeline: dataset version {version} published",
        tuple(facts),
        link=run_url(ui_url, run_id),
        link_label="open the run",
    )


def checks_failed(
    ui_url: str, *, run_id: str, checks: Iterable[str], latest: str = ""
) -> Notification:
    """Blocking checks of the dataset failed: no version was published; `latest` stays."""
    names = sorted(checks)
    return Notification(
        CHECK_FAILED,
        f"pii-pipeline: blocking check failed ({', '.join(names)}); no version published",
        (
            ("checks", ", ".join(names)),
            ("latest version", latest or "none"),
            ("run", run_id),
        ),
        link=run_url(ui_url, run_id),
        link_label="open the run",
    )


# --- rendering ---------------------------------------------------------------------------------


def _shown_keys(keys: Sequence[str]) -> tuple[list[str], int]:
    return list(keys[:MAX_KEYS]), max(0, len(keys) - MAX_KEYS)


def plain_text(notification: Notification) -> str:
    """The message as plain text (SNS's `Message`, e-mail subscriptions)."""
    lines = [notification.title, ""]
    lines += [f"{name}: {value}" for name, value in notification.facts]
    shown, more = _shown_keys(notification.keys)
    if shown:
        lines += ["", "objects:"] + [f"  {key}" for key in shown]
        if more:
            lines.append(f"  ... and {more} more")
    if notification.link:
        lines += ["", f"{notification.link_label}: {notification.link}"]
    return "\n".join(lines)


def _mrkdwn_escape(text: str) -> str:
    # Slack "Formatting text": only these three are control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn_code(text: str) -> str:
    """`text` as an inline code span. mrkdwn has no escape for a backtick, which would end the
    span and let the rest be read as formatting: it is shown as U+02CB (ˋ), a look-alike."""
    return "`" + _mrkdwn_escape(text.replace("`", "\u02cb")) + "`"


def slack_payload(notification: Notification) -> dict[str, Any]:
    """The incoming-webhook body: `text` (fallback) and one mrkdwn section."""
    esc = _mrkdwn_escape
    lines = [f"*{esc(notification.title)}*"]
    lines += [f"*{esc(name)}:* {esc(value)}" for name, value in notification.facts]
    shown, more = _shown_keys(notification.keys)
    if shown:
        lines.append("*objects:* " + ", ".join(_mrkdwn_code(key) for key in shown))
        if more:
            lines.append(f"… and {more} more")
    if notification.link:
        lines.append(f"<{notification.link}|{esc(notification.link_label)}>")
    # A section's text holds at most 3000 characters (Slack Block Kit reference).
    body = "\n".join(lines)[:3000]
    return {
        "text": notification.title,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body}}],
    }


def sns_subject(notification: Notification) -> str:
    subject = notification.title.encode("ascii", "replace").decode("ascii")
    subject = " ".join(subject.split())  # no line breaks or control characters
    return subject[:_SNS_SUBJECT_CHARS]


# --- delivery ----------------------------------------------------------------------------------


def _post_slack(webhook_url: str, notification: Notification) -> None:
    request = urllib.request.Request(
        webhook_url,
        data=json.dumps(slack_payload(notification)).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
        response.read()


def sns_region(topic_arn: str) -> str | None:
    """The region an SNS topic ARN names (`arn:partition:sns:region:account:name`)."""
    parts = topic_arn.split(":")
    return (parts[3] or None) if len(parts) >= 6 else None


def _publish_sns(topic_arn: str, notification: Notification, client: Any | None) -> None:
    if client is None:
        import boto3
        from botocore.config import Config

        # The endpoint comes from boto3's usual variables (AWS_ENDPOINT_URL_SNS for a local
        # server); the region from the topic's ARN.
        client = boto3.client(
            "sns",
            region_name=sns_region(topic_arn),
            config=Config(
                connect_timeout=5,
                read_timeout=_TIMEOUT_S,
                retries={"mode": "standard", "total_max_attempts": 3},
            ),
        )
    client.publish(
        TopicArn=topic_arn,
        Subject=sns_subject(notification),
        Message=plain_text(notification),
        MessageAttributes={"event": {"DataType": "String", "StringValue": notification.event}},
    )


def _cause(exc: BaseException) -> str:
    """Why a delivery failed, without the exception's text (urllib's can name the URL)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore's ClientError
        code = response.get("Error", {}).get("Code")
        if code:
            return f"{type(exc).__name__} {code}"
    return type(exc).__name__


def deliver(
    notification: Notification, config: NotifyConfig, *, sns_client: Any | None = None
) -> list[Delivery]:
    """Send to every configured channel; never raises. Returns one `Delivery` per channel."""
    results = []
    for channel in config.channels:
        try:
            if channel == "slack":
                _post_slack(config.slack_webhook_url, notification)
            else:
                _publish_sns(config.sns_topic_arn, notification, sns_client)
            results.append(Delivery(channel, True))
        except Exception as exc:  # a notification must never fail its caller
            cause = _cause(exc)
            logger.warning(
                "notification %s not delivered to %s: %s", notification.event, channel, cause
            )
            results.append(Delivery(channel, False, cause))
    return results
