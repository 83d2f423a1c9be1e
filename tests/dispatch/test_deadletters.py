"""The dead-letter store's pure parts: the entry codec, the fold of entries and removals,
the query, and the CLI's flags and table (:mod:`kawa.dispatch.deadletters`,
:mod:`kawa.cli.deadletters`, :func:`kawa.console.deadletters.merge`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from kawa.cli import deadletters as cli
from kawa.cloudevents.event import CloudEvent
from kawa.console import deadletters as console
from kawa.dispatch import deadletters, envelope
from kawa.dispatch.deadletters import DeadLetter, Query
from kawa.errors import ValidationError


def entry(
    name: str = "t", at: float = 100.0, status: int | None = 500, id_: str = "e"
) -> DeadLetter:
    event = CloudEvent({"specversion": "1.0", "id": id_, "source": "/s", "type": "x"}, b"hi")
    return DeadLetter(
        kind="trigger",
        namespace="default",
        name=name,
        uid="u-" + name,
        parent="default",
        at=at,
        status=status,
        error=f"status {status}",
        attempts=2,
        destination="http://sub/",
        seq=7,
        payload=envelope.wrap(event, {"traceparent": "00-abc"}),
        format="binary",
    )


def test_an_entry_survives_its_record_whole() -> None:
    kept = entry(status=None)
    decoded = deadletters.decode(42, deadletters.encode(kept))
    assert decoded == replace(kept, id=42)
    assert isinstance(decoded, DeadLetter)
    event, headers = decoded.event()
    assert (event.id, event.data, headers) == ("e", b"hi", {"traceparent": "00-abc"})
    assert decoded.summary()["event"] == {"id": "e", "source": "/s", "type": "x"}


def test_removals_take_entries_out_and_unreadable_records_are_skipped() -> None:
    records = [
        (1, deadletters.encode(entry("a"))),
        (2, b"not json\n"),
        (3, deadletters.encode(entry("b"))),
        (4, deadletters.removal([1, 99])),
        (5, deadletters.encode(entry("c"))),
        (6, b'{"v": 2, "something": "new"}'),
    ]
    assert {n: e.name for n, e in deadletters.live(records).items()} == {3: "b", 5: "c"}


def test_the_query_matches_by_name_time_status_and_id() -> None:
    a, b = entry("a", at=100, status=500), entry("b", at=200, status=None)
    a, b = replace(a, id=1), replace(b, id=2)
    assert [e.name for e in (a, b) if Query(name="a").matches(e)] == ["a"]
    assert [e.name for e in (a, b) if Query(since=150).matches(e)] == ["b"]
    assert [e.name for e in (a, b) if Query(until=150).matches(e)] == ["a"]
    assert [e.name for e in (a, b) if Query(status=0).matches(e)] == ["b"]
    assert [e.name for e in (a, b) if Query(status=500).matches(e)] == ["a"]
    assert [e.name for e in (a, b) if Query(ids=frozenset({2})).matches(e)] == ["b"]


def test_bad_query_parameters_are_field_errors_together() -> None:
    with pytest.raises(ValidationError) as info:
        deadletters.parse_query({"since": "soon", "status": "1000", "id": "1,x"})
    assert [e.path for e in info.value.errors] == ["since", "status", "id"]
    query = deadletters.parse_query({"trigger": "t", "since": "1", "until": "2", "id": "3,4"})
    assert query == Query(name="t", since=1.0, until=2.0, ids=frozenset({3, 4}))


def test_the_store_is_on_unless_annotated_false() -> None:
    assert deadletters.enabled(None)
    assert deadletters.enabled({deadletters.ANNOTATION: "true"})
    assert not deadletters.enabled({deadletters.ANNOTATION: " False "})
    assert not deadletters.enabled({deadletters.ANNOTATION: "off"})


def test_cli_times_are_rfc3339_with_a_zone_or_ages() -> None:
    now = 10_000.0
    assert cli.parse_time("--since", "2h", now) == now - 7200
    assert cli.parse_time("--since", "90s", now) == now - 90
    at = datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert cli.parse_time("--since", "2026-12-07T10:00:00Z", now) == at.timestamp()
    for bad in ("yesterday", "2026-12-07T10:00:00", "5w"):
        with pytest.raises(cli.BadFlag, match="--since: expected an RFC 3339 time"):
            cli.parse_time("--since", bad, now)


def test_cli_filters_become_query_parameters_and_bad_ones_are_refused() -> None:
    assert cli.filters("t", None, "1m", None, 500, (3,), 100.0) == {
        "trigger": "t",
        "since": "40.0",
        "status": "500",
        "id": "3",
    }
    with pytest.raises(cli.BadFlag, match="--until: expected a time at or after --since"):
        cli.filters(None, None, "1m", "2m", None, (), 1000.0)
    with pytest.raises(cli.BadFlag, match="--status"):
        cli.filters(None, None, None, None, 1200, (), 0.0)


def test_cli_rows_show_each_entry() -> None:
    answer = {
        "kind": "Broker",
        "name": "default",
        "deadLetters": [entry().summary() | {"id": 5, "error": "x" * 100}],
    }
    (header, row) = cli.rows([answer], now=100.0 + 125)
    assert header[:3] == ["BROKER", "ID", "TRIGGER"]
    assert row[:8] == ["default", "5", "t", "e", "x", "500", "2", "2m"]
    assert len(row[8]) == cli.ERROR_WIDTH
    assert row[8].endswith("...")


def test_the_console_merges_sink_and_store_dead_letters_newest_first() -> None:
    sent = [{"seq": 1, "at": 150.0, "trigger": "t", "deadLetterSink": "http://dls/"}]
    kept = [replace(entry(at=at), id=n) for n, at in ((9, 100.0), (10, 200.0))]
    merged = console.merge(sent, kept, limit=2)
    assert [(m["at"], m.get("store")) for m in merged] == [(200.0, 10), (150.0, None)]
