"""kawa.memo.short_keys: repeated short values are worked out once, long ones every time."""

from __future__ import annotations

from kawa import memo


def test_short_values_are_remembered_and_long_ones_never() -> None:
    calls: list[tuple[str, int]] = []

    @memo.short_keys(8, 5)
    def shout(value: str, times: int = 1) -> str:
        calls.append((value, times))
        return value.upper() * times

    assert shout("abc") == "ABC"
    assert shout("abc") == "ABC"
    assert shout("abc", times=2) == "ABCABC"  # other arguments are part of the key
    assert calls == [("abc", 1), ("abc", 2)]
    assert memo.remembered(shout) == 2
    for _ in range(3):
        assert shout("abcdef") == "ABCDEF"  # over 5 characters: worked out every time
    assert calls[2:] == [("abcdef", 1)] * 3
    assert memo.remembered(shout) == 2
    for n in range(20):  # bounded: the least recently used go first
        shout(f"k{n}")
    assert memo.remembered(shout) == 8
    assert shout.__name__ == "shout"
