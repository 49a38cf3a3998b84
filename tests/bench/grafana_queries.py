"""Every PromQL query of the Grafana dashboard, answered by a running Prometheus.

    .venv/bin/python tests/bench/grafana_queries.py --prometheus http://127.0.0.1:9090
    .venv/bin/python tests/bench/grafana_queries.py --json > var/grafana-answers.json

Reads ``configs/grafana-dashboard.json``, substitutes the dashboard variables (``$__rate_interval``
→ ``1m``, ``$account`` → ``.*``, ...), runs each expression through ``/api/v1/query`` and prints
the panel, the expression and its answer (each series' labels and value), or the error. Exit
status 1 when a query is invalid. ``tests/integration/test_prometheus.py`` uses the same
functions against a real Prometheus scraping a real server, worker and vLLM.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DASHBOARD = Path(__file__).resolve().parents[2] / "configs" / "grafana-dashboard.json"

# Values for Grafana's built-in variables and the dashboard's own (all accounts).
VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
    "account": ".*",
}


@dataclass(frozen=True)
class Query:
    """One target of one panel, with the variables substituted."""

    panel: str
    ref: str
    expr: str
    raw: str


@dataclass
class Answer:
    query: Query
    status: str  # "success" or "error"
    error: str | None = None
    result: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        """At least one series with a number (NaN counts: the series exists)."""
        return bool(self.result)

    def lines(self, limit: int = 12) -> list[str]:
        """``{labels} value`` per series (the first ``limit``)."""
        if self.status != "success":
            return [f"ERROR {self.error}"]
        if not self.result:
            return ["(no data)"]
        out = []
        for r in self.result[:limit]:
            labels = ", ".join(f"{k}={v}" for k, v in sorted(r.get("metric", {}).items()))
            value = r.get("value", [None, None])[1]
            out.append(f"{{{labels}}} {_fmt(value)}")
        if len(self.result) > limit:
            out.append(f"... {len(self.result) - limit} more series")
        return out


def _fmt(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "NaN"
    return f"{v:.4g}"


def substitute(expr: str, variables: dict[str, str] | None = None) -> str:
    """Replace ``$name``, ``${name}`` and ``[[name]]`` by their values."""
    values = {**VARIABLES, **(variables or {})}

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        name = name.split(":")[0]  # ${var:regex} and the like
        if name not in values:
            raise KeyError(f"dashboard variable ${name} has no value for the check")
        return values[name]

    return re.sub(r"\$\{([^}]+)\}|\[\[([^\]]+)\]\]|\$(\w+)", repl, expr)


def dashboard_queries(
    path: Path = DASHBOARD, variables: dict[str, str] | None = None
) -> list[Query]:
    """Every target expression of every panel (rows' nested panels too), in order."""
    dash = json.loads(path.read_text())
    out: list[Query] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for p in panels:
            for t in p.get("targets", []):
                raw = t.get("expr")
                if raw:
                    out.append(
                        Query(
                            p.get("title", ""), t.get("refId", ""), substitute(raw, variables), raw
                        )
                    )
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    return out


def ask(prometheus: str, query: Query, timeout: float = 10.0) -> Answer:
    """Run one instant query; a PromQL error is an ``error`` answer, not an exception."""
    r = httpx.get(
        f"{prometheus.rstrip('/')}/api/v1/query", params={"query": query.expr}, timeout=timeout
    )
    try:
        body = r.json()
    except ValueError:
        return Answer(query, "error", f"HTTP {r.status_code}: {r.text[:200]}")
    if body.get("status") != "success":
        return Answer(query, "error", f"{body.get('errorType')}: {body.get('error')}")
    data = body.get("data", {})
    result = data.get("result", [])
    if data.get("resultType") == "scalar":
        result = [{"metric": {}, "value": result}]
    return Answer(query, "success", result=list(result))


def answer_all(prometheus: str, path: Path = DASHBOARD) -> list[Answer]:
    """Every dashboard query answered by ``prometheus``."""
    return [ask(prometheus, q) for q in dashboard_queries(path)]


def report(answers: list[Answer]) -> str:
    """The answers as text: panel, expression, then one line per series."""
    out: list[str] = []
    for a in answers:
        out.append(f"## {a.query.panel} [{a.query.ref}]")
        out.append(f"   {a.query.expr}")
        out.extend(f"   {line}" for line in a.lines())
    bad = [a for a in answers if a.status != "success"]
    empty = [a for a in answers if a.status == "success" and not a.has_data]
    out.append(f"{len(answers)} queries: {len(answers) - len(bad)} valid, {len(bad)} invalid, "
               f"{len(empty)} without data")  # fmt: skip
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Print every dashboard query and its current answer; 1 when one is invalid."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--prometheus", default="http://127.0.0.1:9090")
    p.add_argument("--dashboard", type=Path, default=DASHBOARD)
    p.add_argument("--json", action="store_true", help="JSON lines instead of text")
    a = p.parse_args(argv)
    answers = answer_all(a.prometheus, a.dashboard)
    if a.json:
        for ans in answers:
            print(json.dumps({"panel": ans.query.panel, "ref": ans.query.ref,
                              "expr": ans.query.expr, "status": ans.status, "error": ans.error,
                              "result": ans.result}, ensure_ascii=False))  # fmt: skip
    else:
        print(report(answers))
    return 0 if all(ans.status == "success" for ans in answers) else 1


if __name__ == "__main__":
    sys.exit(main())
