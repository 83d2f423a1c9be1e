"""``kawa cesql``: evaluate an expression against an event from flags or a file."""

from __future__ import annotations

from pathlib import Path

from .e2e_support import run_cli


def test_cesql_command(tmp_path: Path) -> None:
    ok = run_cli(
        "cesql", "type = 'a.b' AND exint > 10", "--type", "a.b", "-e", "exint=42", cwd=tmp_path
    )
    assert ok.code == 0, ok.explain()
    assert ok.stdout.splitlines() == [
        "value: true",
        "a Trigger with this filter would deliver the event",
    ]
    missing = run_cli("cesql", "missing = 'x'", cwd=tmp_path)
    assert missing.code == 0, missing.explain()
    assert "value: false" in missing.stdout
    assert "error (missingAttribute)" in missing.stdout
    assert "would skip the event" in missing.stdout
    event = tmp_path / "e.json"
    event.write_text(
        '{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "subject": "hello"}'
    )
    upper = run_cli("cesql", "UPPER(subject)", "--event", str(event), cwd=tmp_path)
    assert upper.stdout.splitlines()[0] == "value: 'HELLO'"
    bad = run_cli("cesql", "type = = 'x'", cwd=tmp_path)
    assert bad.code == 1
    assert "at 1:8" in bad.stderr
    assert "Traceback" not in bad.stderr
