from __future__ import annotations

import pytest

from pii_assets import partition_keys

PREFIX = "documents/"

AWKWARD = [
    "plain.pdf",
    "with space.pdf",
    "comma, inside.pdf",
    "nested/folder/file.pdf",
    "range...syntax.pdf",
    "dots../..",
    "unicode/Ünïcødé 文書 😀.pdf",
    " leading and trailing ",
    "percent%20and~tilde.pdf",
    "brackets[1]{2}#?&*=+@!.pdf",
    "tab\there\nnewline.pdf",
]


@pytest.mark.parametrize("relative", AWKWARD)
def test_round_trip_and_safe(relative: str) -> None:
    key = PREFIX + relative
    partition_key = partition_keys.encode(key, PREFIX)
    assert partition_keys.decode(partition_key, PREFIX) == key
    assert "," not in partition_key
    assert "/" not in partition_key
    assert "..." not in partition_key and ".." not in partition_key
    assert partition_key == partition_key.strip()
    assert all(ch.isprintable() for ch in partition_key)


def test_readable_keys_stay_readable() -> None:
    assert partition_keys.encode("documents/invoice 2024-01.pdf", PREFIX) == "invoice 2024-01.pdf"
    assert partition_keys.encode("documents/a/b.pdf", PREFIX) == "a%2Fb.pdf"


@pytest.mark.parametrize("length", [300, 1000, 1024 - len(PREFIX)])
@pytest.mark.parametrize("unit", ["a", "é", "😀", "a/"])
def test_long_keys_are_bounded_and_resolvable(length: int, unit: str) -> None:
    relative = (unit * length)[:length]
    key = PREFIX + relative
    neighbour = PREFIX + relative[:-1] + "z"
    partition_key = partition_keys.encode(key, PREFIX)
    assert len(partition_key.encode()) <= partition_keys.MAX_KEY_BYTES
    assert partition_keys.is_digest_key(partition_key)
    listed = [neighbour, key]

    def list_keys(prefix: str) -> list[str]:
        return [k for k in listed if k.startswith(prefix)]

    assert partition_keys.resolve(partition_key, PREFIX, list_keys) == key
    assert partition_keys.resolve(partition_key, PREFIX, lambda prefix: [neighbour]) is None
    assert partition_keys.encode(neighbour, PREFIX) != partition_key


def test_key_outside_prefix_is_rejected() -> None:
    with pytest.raises(ValueError):
        partition_keys.encode("elsewhere/file.pdf", PREFIX)
    with pytest.raises(ValueError):
        partition_keys.encode(PREFIX, PREFIX)
