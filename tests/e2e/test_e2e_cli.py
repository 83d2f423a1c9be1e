"""The CLI's happy paths, all real processes: ``kawa up``, ``kawa event-display`` children and
``kawa apply/get/delete/send`` runs against them.

One story: apply a directory (created, then unchanged, then configured), see the Broker and
the Trigger Ready in ``kawa get`` (table, JSON, YAML), send through the broker to event-display
and read Knative's event-display format on its stdout, add a second Trigger while kawa runs
and see it receive, delete a Trigger and see it gone.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import orjson
import pytest
import yaml

from ..waiting import wait_until
from .e2e_support import KawaProcess, Result, event_display, kawa_up, read_text, run_cli

pytestmark = pytest.mark.slow

HEADER = "☁️  cloudevents.Event"


def kawa_cli(kawa: KawaProcess, *args: str, stdin: str | None = None) -> Result:
    result = run_cli(*args, "--data-dir", str(kawa.data_dir), cwd=kawa.workdir, stdin=stdin)
    assert "Traceback" not in result.stderr, result.explain()
    return result


def ok(kawa: KawaProcess, *args: str, stdin: str | None = None) -> str:
    result = kawa_cli(kawa, *args, stdin=stdin)
    assert result.code == 0, result.explain()
    return result.stdout


def table(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def trigger_yaml(name: str, uri: str, *, type_: str | None = None, note: str = "") -> str:
    text = f"""
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata:
          name: {name}
          annotations: {{note: "{note}"}}
        spec:
          broker: default
          subscriber: {{uri: "{uri}"}}
        """
    if type_:
        text += f"  filter: {{attributes: {{type: {type_}}}}}\n"
    return textwrap.dedent(text).lstrip()


def displayed(out: Path, event_id: str, timeout: float = 15.0) -> str:
    """The event-display block of ``event_id`` once it is printed."""

    def find() -> str | None:
        for block in read_text(out).split(HEADER)[1:]:
            if f"  id: {event_id}\n" in block:
                return HEADER + block
        return None

    return str(wait_until(find, timeout, f"event {event_id} never displayed:\n{read_text(out)}"))


def test_cli_story(tmp_path: Path) -> None:
    with (
        kawa_up(tmp_path, "--log-level", "warning") as kawa,
        event_display(tmp_path, "display") as (display_url, display_out),
        event_display(tmp_path, "second") as (second_url, second_out),
    ):
        manifests = tmp_path / "manifests"
        manifests.mkdir()
        (manifests / "broker.yaml").write_text(
            "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: default\n"
        )
        (manifests / "trigger.yaml").write_text(trigger_yaml("display", display_url))
        (manifests / "README.txt").write_text("not a manifest: ignored")

        # apply -f DIR: created, then unchanged, then configured
        out = ok(kawa, "apply", "-f", str(manifests))
        assert out.splitlines() == [
            "broker.eventing.knative.dev/default created",
            "trigger.eventing.knative.dev/display created",
        ]
        out = ok(kawa, "apply", "-f", str(manifests))
        assert out.splitlines() == [
            "broker.eventing.knative.dev/default unchanged",
            "trigger.eventing.knative.dev/display unchanged",
        ]
        (manifests / "trigger.yaml").write_text(trigger_yaml("display", display_url, note="v2"))
        out = ok(kawa, "apply", "-f", str(manifests))
        assert out.splitlines() == [
            "broker.eventing.knative.dev/default unchanged",
            "trigger.eventing.knative.dev/display configured",
        ]

        broker_obj = kawa.wait_ready("brokers", "default")
        kawa.wait_ready("triggers", "display")
        broker_url = kawa.broker_url()
        assert broker_obj["status"]["address"]["url"] == broker_url
        # kawa apply writes as field manager "kawa" (its User-Agent)
        assert [e["manager"] for e in broker_obj["metadata"]["managedFields"]] == ["kawa"]

        # tables
        rows = table(ok(kawa, "get", "brokers"))
        assert rows[0] == ["NAME", "URL", "AGE", "READY", "REASON"]
        assert rows[1][:2] == ["default", broker_url]
        assert rows[1][3] == "True"
        assert re.fullmatch(r"\d+[smhd]", rows[1][2])
        rows = table(ok(kawa, "get", "triggers"))
        assert rows[0] == ["NAME", "BROKER", "SUBSCRIBER_URI", "AGE", "READY", "REASON"]
        assert rows[1][:3] == ["display", "default", display_url]
        assert rows[1][4] == "True"
        rows = table(ok(kawa, "get", "triggers", "-A"))
        assert rows[0][:2] == ["NAMESPACE", "NAME"]
        assert rows[1][:2] == ["default", "display"]

        # JSON and YAML
        listed = orjson.loads(ok(kawa, "get", "triggers", "-o", "json"))
        assert listed["kind"] == "List"
        assert [i["metadata"]["name"] for i in listed["items"]] == ["display"]
        assert listed["items"][0]["metadata"]["annotations"]["note"] == "v2"
        one = yaml.safe_load(ok(kawa, "get", "broker", "default", "-o", "yaml"))
        assert one["kind"] == "Broker"
        assert one["status"]["address"]["url"] == broker_url
        assert "managedFields" not in one["metadata"]  # hidden, as kubectl hides them
        listed_yaml = yaml.safe_load(ok(kawa, "get", "brokers", "-o", "yaml"))
        assert [i["metadata"]["name"] for i in listed_yaml["items"]] == ["default"]

        # send through the broker: 202, and event-display prints it the Knative way
        out = ok(
            kawa,
            "send",
            "--broker",
            "default",
            "--type",
            "dev.kawa.e2e",
            "--source",
            "/e2e/cli",
            "--id",
            "e2e-1",
            "--subject",
            "hello",
            "--data",
            '{"hello": "e2e"}',
            "-e",
            "myext=val",
        )
        assert out.strip() == "202 Accepted"
        block = displayed(display_out, "e2e-1")
        # Knative's event-display format, in its order
        expected = [
            f"{HEADER}\nContext Attributes,\n  specversion: 1.0\n",
            "\n  type: dev.kawa.e2e\n",
            "\n  source: /e2e/cli\n",
            "\n  subject: hello\n",
            "\n  id: e2e-1\n",
            "\n  time: ",
            "\n  datacontenttype: application/json\n",
            "\nExtensions,\n  myext: val\n",
            '\nData,\n  {\n    "hello": "e2e"\n  }\n',
        ]
        positions = [block.find(part) for part in expected]
        assert -1 not in positions, block
        assert positions == sorted(positions), block
        assert block.startswith(expected[0]), block

        # structured mode, and --data @FILE
        data_file = tmp_path / "data.txt"
        data_file.write_text("plain words")
        out = ok(
            kawa,
            "send",
            "--broker",
            "default",
            "--type",
            "dev.kawa.e2e",
            "--id",
            "e2e-2",
            "--data",
            f"@{data_file}",
            "--mode",
            "structured",
        )
        assert out.strip() == "202 Accepted"
        block = displayed(display_out, "e2e-2")
        assert "  datacontenttype: text/plain\n" in block
        assert "Data,\n  plain words\n" in block

        # send --to straight to event-display
        out = ok(kawa, "send", "--to", second_url, "--type", "direct", "--id", "direct-1")
        assert out.strip() == "202 Accepted"
        assert "  type: direct\n" in displayed(second_out, "direct-1")

        # a second trigger, applied while kawa runs (from stdin), starts receiving
        out = ok(
            kawa,
            "apply",
            "-f",
            "-",
            stdin=trigger_yaml("second", second_url, type_="dev.kawa.second"),
        )
        assert out.strip() == "trigger.eventing.knative.dev/second created"
        second = kawa.wait_ready("triggers", "second")
        ok(kawa, "send", "--broker", "default", "--type", "dev.kawa.second", "--id", "e2e-3")
        displayed(second_out, "e2e-3")  # the filter matches: the second trigger got it
        displayed(display_out, "e2e-3")  # and the first trigger still gets everything
        ok(kawa, "send", "--broker", "default", "--type", "dev.kawa.other", "--id", "e2e-4")
        displayed(display_out, "e2e-4")
        # a later event it matches: the second trigger's consumer has read past e2e-4
        ok(kawa, "send", "--broker", "default", "--type", "dev.kawa.second", "--id", "e2e-4b")
        displayed(second_out, "e2e-4b")
        assert "  id: e2e-4\n" not in read_text(second_out)  # filtered out

        # delete: gone from get
        out = ok(kawa, "delete", "trigger", "second")
        assert out.strip() == 'trigger.eventing.knative.dev "second" deleted'
        names = [r[0] for r in table(ok(kawa, "get", "triggers"))[1:]]
        assert names == ["display"]
        gone = kawa_cli(kawa, "get", "trigger", "second")
        assert gone.code == 1
        assert "not found" in gone.stderr
        # the data plane stops its consumer, then removes its cursor
        wait_until(lambda: kawa.cursor(second) is None, 10, "the deleted trigger still runs")
        ok(kawa, "send", "--broker", "default", "--type", "dev.kawa.second", "--id", "e2e-5")
        displayed(display_out, "e2e-5")
        assert "  id: e2e-5\n" not in read_text(second_out)  # the deleted trigger is stopped

        assert kawa.stop() == 0, kawa.stderr
        assert "Traceback" not in kawa.stderr, kawa.stderr
