"""Parsing kudos text: mentions, value hashtags, emoji points and the reason, for any input."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from handlers.kudos import HASHTAG_RE, MENTION_TOKEN_RE, parse_kudos

user_ids = st.from_regex(r"[A-Za-z0-9_.:\-]{1,12}", fullmatch=True)
tags = st.from_regex(r"[a-zA-Z0-9äöüÄÖÜß][a-zA-Z0-9äöüß\-]{0,20}", fullmatch=True)
emoji_names = st.from_regex(r"[a-z0-9_+\-]{1,16}", fullmatch=True)
# Words of a reason: anything but whitespace and the characters that start a token.
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Z", "Cc"), blacklist_characters="<>#:"),
    min_size=1,
    max_size=10,
).filter(lambda w: not any(c.isspace() for c in w))


@given(text=st.text(max_size=300), emoji=st.one_of(st.none(), emoji_names))
@example(text="<<@a>@b> &#123; #<@x> ##tag #" + "x" * 50, emoji="star")
@example(text="<@a:star:> :star::star: #star:star:", emoji="star")
def test_any_text_parses_and_the_reason_is_clean(text: str, emoji: str | None) -> None:
    parsed = parse_kudos(text, emoji)
    assert MENTION_TOKEN_RE.search(parsed.reason) is None
    assert HASHTAG_RE.search(parsed.reason) is None
    assert parsed.reason == parsed.reason.strip()
    assert all(t == t.lower() and f"#{t}" in text.lower() for t in parsed.tags)
    assert all(f"<@{uid}>" in text for uid in parsed.recipients)
    assert len(set(parsed.recipients)) == len(parsed.recipients)
    if emoji:
        assert f":{emoji}:" not in parsed.reason
        assert parsed.emoji_count == text.count(f":{emoji}:")
    else:
        assert parsed.emoji_count == 0


Segment = tuple[str, str]  # (kind, value)

segments = st.lists(
    st.one_of(
        st.tuples(st.just("mention"), user_ids),
        st.tuples(st.just("tag"), tags),
        st.tuples(st.just("emoji"), st.just("star")),
        st.tuples(st.just("word"), words),
    ),
    max_size=25,
)


def render(parts: list[Segment]) -> str:
    out = []
    for kind, value in parts:
        out.append({"mention": f"<@{value}>", "tag": f"#{value}", "emoji": ":star:", "word": value}[kind])
    return " ".join(out)


@given(parts=segments)
@example(parts=[("word", "danke"), ("mention", "U1"), ("mention", "U2"), ("mention", "U1"), ("tag", "Kundenfokus")])
def test_recipients_tags_points_and_reason_come_from_their_tokens(parts: list[Segment]) -> None:
    parsed = parse_kudos(render(parts), "star")
    mentioned = [v for k, v in parts if k == "mention"]
    assert parsed.recipients == list(dict.fromkeys(mentioned))  # distinct, in order of appearance
    assert parsed.tags == [v.lower() for k, v in parts if k == "tag"]
    assert parsed.emoji_count == sum(1 for k, _ in parts if k == "emoji")
    assert parsed.reason == " ".join(v for k, v in parts if k == "word").strip(" ,.:;-")


def test_the_kudos_of_the_readme() -> None:
    parsed = parse_kudos("<@anna> <@ben> danke für die schnelle Lösung beim Kundenticket #kundenfokus")
    assert parsed.recipients == ["anna", "ben"]
    assert parsed.tags == ["kundenfokus"]
    assert parsed.reason == "danke für die schnelle Lösung beim Kundenticket"
    assert parsed.emoji_count == 0


def test_an_html_entity_or_a_word_with_a_hash_is_no_value_tag() -> None:
    parsed = parse_kudos("<@anna> danke für Ticket&#35;12 und C#-Hilfe #teamwork")
    assert parsed.tags == ["teamwork"]
    assert parsed.reason == "danke für Ticket&#35;12 und C#-Hilfe"
