"""Folding waiting messages into one post stays within what Slack accepts in one message."""

from __future__ import annotations

from bot.core.messages import Fold, Header, Message, Section, fold_messages


def kudos(i: int, key: str = "kudos") -> Message:
    line = f"<@U{i:05d}> → <@UANNA> (+1): " + "danke für die Hilfe " * 12 + f"ref{i}"
    return Message(blocks=[Section(text=line)], text="Kudos!", fold=Fold(key=key, line=line, header="{n} neue Kudos"))


def test_a_long_queue_folds_into_posts_within_slacks_limits_and_loses_no_line() -> None:
    queue = [kudos(i) for i in range(500)]
    seen: list[int] = []
    posts = 0
    while queue:
        post, taken = fold_messages(queue)
        posts += 1
        assert taken >= 1
        assert len(post.blocks) <= 50  # Slack's block limit
        assert all(len(b.text) <= 3000 for b in post.blocks if isinstance(b, Section))
        assert isinstance(post.blocks[0], Header) and post.blocks[0].text == f"{taken} neue Kudos"
        text = "\n".join(b.text for b in post.blocks if isinstance(b, Section))
        seen += [i for i in range(500) if f"ref{i}\n" in text + "\n"]
        queue = queue[taken:]
    assert seen == list(range(500))  # each line exactly once, in order
    assert posts < 50


def test_only_messages_of_the_same_kind_are_folded() -> None:
    plain = Message(blocks=[Section(text="Digest")], text="Digest")
    post, taken = fold_messages([kudos(1), kudos(2), kudos(3, key="other"), kudos(4)])
    assert taken == 2 and post.text == "2 neue Kudos"
    assert fold_messages([plain, kudos(1)]) == (plain, 1)
    alone, taken = fold_messages([kudos(7)])
    assert taken == 1 and alone.text == "Kudos!"  # a single message goes as it was
