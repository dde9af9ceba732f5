"""Placeholder secrets are told apart from real ones by shape (too short, a telling word, too little variety,
mostly one character), not by a list: every placeholder people write refuses a production start, and real
keys of every shape Starling takes start it (checked on seeded random keys of each shape)."""

from __future__ import annotations

import random
import string

import pytest

from bot.settings import placeholder_reason

PLACEHOLDERS = [
    "change_me",
    "changeme",
    "dummy",
    "test",
    "x",
    "xoxb-your-token",
    "your-slack-signing-secret-here",
    "REPLACE_WITH_YOUR_OPENAI_KEY_123",
    "ReplaceWithTheRealSigningSecret",
    "sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "sk-xxxxxxxxxxxxxxxxxxxxxxxx1234567890",
    "xoxb-0000000000-0000000000-xxxxxxxxxxxxxxxxxxxxxxxx",
    "mysupersecretpassword1234567",
    "TODO_FILL_IN_THE_REAL_VALUE_9",
    "insert-the-app-password-here-2024",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
]
B62 = string.ascii_letters + string.digits
SHAPES = {
    "Slack signing secret (32 hex)": lambda r: _random(r, "0123456789abcdef", 32),
    "Slack bot token": lambda r: (
        f"xoxb-{_random(r, string.digits, 13)}-{_random(r, string.digits, 13)}-" + _random(r, B62, 24)
    ),
    "Slack app token": lambda r: (
        f"xapp-1-A{_random(r, B62, 10)}-{_random(r, string.digits, 13)}-" + _random(r, "0123456789abcdef", 64)
    ),
    "OpenAI project key": lambda r: "sk-proj-" + _random(r, B62 + "_-", 48),
    "Microsoft app password": lambda r: _random(r, B62 + "~._-", 40),
}
KEYS_PER_SHAPE = 5_000


def _random(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_every_placeholder_shape_is_refused_with_a_reason(value: str) -> None:
    reason = placeholder_reason(value)
    assert reason is not None, value
    assert value not in reason  # the reason never repeats the value


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_real_keys_of_every_shape_are_taken(shape: str) -> None:
    rng = random.Random(f"starling-{shape}")
    refused = [key for key in (SHAPES[shape](rng) for _ in range(KEYS_PER_SHAPE)) if placeholder_reason(key)]
    print(f"\n{shape}: {len(refused)} of {KEYS_PER_SHAPE} random keys refused")
    assert refused == []
