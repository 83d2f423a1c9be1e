"""The Grafana dashboard (docs/grafana/kawa-dashboard.json) names only metrics a running kawa
exports: every panel's PromQL is read for metric names and each is found in a scrape."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from kawa.observability.endpoint import MetricsEndpoint

from ..broker.broker_support import running_kawa
from .test_metrics import metrics_url

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana" / "kawa-dashboard.json"
SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_SELECTOR = re.compile(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"")
_NAME = re.compile(r"\b[A-Za-z_:][A-Za-z0-9_:]*\b(?!\s*\()")
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right",
                       "and", "or", "unless", "offset", "bool"})  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression (functions, groupings, labels and ranges
    left out)."""
    bare = _SELECTOR.sub(" ", _GROUPING.sub(" ", expr))
    return {name for name in _NAME.findall(bare) if name not in _KEYWORDS}


def exported_names(text: str) -> set[str]:
    """Every name a scrape of the classic text format can answer: families (also those
    without samples yet) with their sample suffixes, and the samples."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            base = name.removesuffix("_total") if kind == "counter" else name
            names.add(base)
            names.update(base + suffix for suffix in SAMPLE_SUFFIXES.get(kind, ()))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def exprs(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_metric_names_reads_promql() -> None:
    expr = ('histogram_quantile(0.99, sum by (trigger_name, le) '
            '(rate(x_bucket{a="b"}[$__rate_interval]))) / ignoring(le) y')  # fmt: skip
    assert metric_names(expr) == {"x_bucket", "y"}


async def test_every_dashboard_expression_names_an_exported_metric(tmp_path: Path) -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"  # importable with a data source
    wanted = {name for expr in exprs(dashboard) for name in metric_names(expr)}
    async with (
        running_kawa(tmp_path, metrics=MetricsEndpoint(port=0)) as kawa,
        aiohttp.ClientSession() as session,
        session.get(metrics_url(kawa)) as resp,
    ):
        exported = exported_names(await resp.text())
    assert len(wanted) >= 15, wanted
    assert wanted - exported == set()
    panels = {panel["title"] for panel in dashboard["panels"]}
    for topic in ("ingress", "dispatch latency p99", "Backlog", "Oldest undelivered",
                  "Dead letters", "concurrency", "instances"):  # fmt: skip
        assert any(topic.lower() in title.lower() for title in panels), topic
