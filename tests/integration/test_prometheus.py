"""The monitoring stack on real components: Debian's Prometheus scrapes a real ``appliance
server``, ``appliance worker`` and the vLLM server with a config generated from
``configs/prometheus.yml``; every PromQL query of ``configs/grafana-dashboard.json`` must be
valid, and the core ones must answer with data once a few mails went through. Also: queue
depth and age read from a real Redis, and the JSON log lines carrying the mail ids.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import dramatiq
import httpx
import pytest
import redis
import yaml
from dramatiq.brokers.redis import RedisBroker

from appliance.jobs.broker import queue_stats
from tests.bench.grafana_queries import Answer, answer_all, ask, dashboard_queries, report
from tests.helpers import free_port, in_ci
from tests.integration.services import Appliance, RedisServer, wait_for

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "data" / "samples"
MAILS = ["01-en-nails.eml", "05-en-boxes-no-price.eml", "06-en-newsletter.eml"]
# Panels that must show data once mails went through (the rest may be empty: no failures,
# no clarification answered, no correction yet).
CORE_PANELS = {
    "Mails processed / min by outcome",
    "Mails received / min by account",
    "Mails by state",
    "Offers by state",
    "Stage latency p50 / p95",
    "Queue depth",
    "Age of the oldest message per queue",
    "LLM tokens / s",
    "LLM request latency p50 / p95",
    "LLM requests / min by outcome and schema failures",
    "vLLM KV-cache usage",
    "vLLM requests running / waiting",
    "Clarifications (totals)",
    "Review queue",
    "Field completeness (share of items / offers with the field)",
    "Corrections per reviewed offer, per field",
    "Active adapter",
    "Targets up",
}

pytestmark = [pytest.mark.integration]


def _prometheus_binary() -> str:
    exe = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(exe).is_file():
        msg = "prometheus not found: install the Debian package `prometheus` to run this test"
        if in_ci():
            pytest.fail(msg + " (CI is set, so this is an error)", pytrace=False)
        pytest.skip(msg)
    return exe


def scrape_config(targets: dict[str, list[str]], interval: str = "1s") -> dict[str, object]:
    """``configs/prometheus.yml`` with each job's targets replaced (same jobs, same paths)."""
    conf = yaml.safe_load((ROOT / "configs" / "prometheus.yml").read_text())
    jobs = {j["job_name"] for j in conf["scrape_configs"]}
    assert jobs == set(targets), f"the test's jobs {set(targets)} differ from the config's {jobs}"
    conf["global"] = {"scrape_interval": interval, "evaluation_interval": interval}
    for job in conf["scrape_configs"]:
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
        job["scrape_timeout"] = interval
    return conf


@dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def targets(self) -> list[dict[str, object]]:
        r = httpx.get(f"{self.url}/api/v1/targets", timeout=5)
        return list(r.json()["data"]["activeTargets"])

    def value(self, expr: str) -> float | None:
        from tests.bench.grafana_queries import Query

        a = ask(self.url, Query("check", "A", expr, expr))
        assert a.status == "success", a.error
        return float(a.result[0]["value"][1]) if a.result else None


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, vllm_server: str
) -> Iterator[tuple[Appliance, Prometheus]]:
    exe = _prometheus_binary()
    work = tmp_path_factory.mktemp("prom")
    redis_server = RedisServer(work)
    worker_port = free_port()
    app = Appliance(
        work,
        {
            "APPLIANCE_REDIS__URL": redis_server.url,
            "APPLIANCE_LLM__BASE_URL": vllm_server,
            "APPLIANCE_WORKER__METRICS_PORT": str(worker_port),
            "APPLIANCE_LOG_FORMAT": "json",
            "APPLIANCE_OUTBOX__MODE": "folder",
            "APPLIANCE_OUTBOX__FOLDER": str(work / "outbox"),
        },
    )
    vllm = urlsplit(vllm_server)
    conf = scrape_config(
        {
            "appliance-server": [f"127.0.0.1:{app.port}"],
            "appliance-worker": [f"127.0.0.1:{worker_port}"],
            "vllm": [f"{vllm.hostname}:{vllm.port}"],
        }
    )
    (work / "prometheus.yml").write_text(yaml.safe_dump(conf))
    port = free_port()
    log = work / "prometheus.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [exe, f"--config.file={work / 'prometheus.yml'}",
             f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    prom = Prometheus(f"http://127.0.0.1:{port}", proc, log)
    try:
        wait_for("Prometheus ready", lambda: httpx.get(f"{prom.url}/-/ready").is_success, 60)
        app.start("server")
        app.start("worker")
        yield app, prom
    finally:
        proc.terminate()
        proc.wait(30)
        app.stop_all()
        redis_server.stop()
        for name in ("server", "worker"):
            print(f"--- {name} log (tail) ---\n{app.log(name)[-3000:]}")
        print(f"--- prometheus log (tail) ---\n{log.read_text(errors='replace')[-2000:]}")


def _all_up(prom: Prometheus) -> list[dict[str, object]] | None:
    targets = prom.targets()
    jobs = {str(t["labels"]["job"]) for t in targets}  # type: ignore[index]
    ok = jobs == {"appliance-server", "appliance-worker", "vllm"}
    return targets if ok and all(t["health"] == "up" for t in targets) else None


@pytest.mark.llm
def test_every_target_is_scraped_and_every_dashboard_query_is_valid(
    stack: tuple[Appliance, Prometheus],
) -> None:
    _, prom = stack
    wait_for("every target up", lambda: _all_up(prom), 90)
    answers = answer_all(prom.url)
    assert len(answers) == len(dashboard_queries()) >= 30
    bad = [(a.query.panel, a.query.expr, a.error) for a in answers if a.status != "success"]
    assert not bad, bad


def _core_answers(prom: Prometheus) -> list[Answer] | None:
    answers = [a for a in answer_all(prom.url) if a.query.panel in CORE_PANELS]
    panels_with_data = {a.query.panel for a in answers if a.has_data}
    return answers if panels_with_data == CORE_PANELS else None


@pytest.mark.llm
def test_core_queries_answer_after_mails_went_through(stack: tuple[Appliance, Prometheus]) -> None:
    app, prom = stack
    assert {a.query.panel for a in answer_all(prom.url)} >= CORE_PANELS  # titles still exist
    env = {**app.env}
    subprocess.run(
        [sys.executable, "-m", "appliance.cli", "import", *(str(SAMPLES / m) for m in MAILS)],
        env=env, check=True, timeout=60, capture_output=True,
    )  # fmt: skip
    terminal = 'sum(appliance_mails{state=~"extracted|no_offer|failed"})'
    wait_for(
        "the mails to be extracted (seen by Prometheus)",
        lambda: (prom.value(terminal) or 0) >= len(MAILS),
        600,
        interval=2,
    )
    answers = wait_for("every core panel to show data", lambda: _core_answers(prom), 120)
    assert answers
    # The figures behind the panels agree with what went through.
    assert prom.value("sum(appliance_mails_received_total)") == len(MAILS)
    assert (prom.value('sum(appliance_mails_processed_total{stage="extract"})') or 0) >= 1
    assert (prom.value('sum(appliance_llm_requests_total{outcome="ok"})') or 0) >= 1
    assert (prom.value('sum(appliance_llm_tokens_total{kind="prompt"})') or 0) > 0
    assert prom.value('appliance_active_adapter{adapter="base"}') == 1
    assert prom.value('count(appliance_queue_depth{queue=~"mail|extract|store|outbox"})') == 4
    assert prom.value('sum(up{job=~"appliance-server|appliance-worker|vllm"})') == 3
    assert (prom.value("appliance_items") or 0) >= 1
    assert prom.value('appliance_field_completeness{field="product_name"}') == 1

    # JSON logs: the worker's and the server's lines about a mail carry its id as a field.
    for name in ("worker", "server"):
        lines = [json.loads(x) for x in app.log(name).splitlines() if x.startswith("{")]
        about_mails = [x for x in lines if "mail_id" in x]
        assert about_mails, f"no {name} log line carries mail_id"
        assert all(isinstance(x["mail_id"], int) for x in about_mails)
    server_lines = [json.loads(x) for x in app.log("server").splitlines() if x.startswith("{")]
    stored = [x for x in server_lines if str(x["msg"]).startswith("mail ") and "stored" in x["msg"]]
    assert len(stored) >= len(MAILS)
    assert any("offer_id" in x for x in stored)
    print(report(answer_all(prom.url)))  # the dashboard's answers, for the test log


def test_queue_depth_and_age_from_real_redis(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    try:
        broker = RedisBroker(url=server.url, namespace="t-dq")

        @dramatiq.actor(queue_name="extract", broker=broker)
        def work(n: int) -> None:  # never consumed: no worker runs
            pass

        broker.declare_queue("outbox")
        old = int(time.time() * 1000) - 90_000
        msg = work.message(1).copy(message_timestamp=old)
        broker.enqueue(msg)
        broker.enqueue(work.message(2))
        broker.enqueue(work.message(3), delay=60_000)
        client = redis.Redis.from_url(server.url)
        stats = queue_stats(client, "t-dq", ["extract", "outbox"])
        assert stats["extract"].depth == 2
        assert stats["extract"].delayed == 1
        assert stats["extract"].dead == 0
        assert 89 <= stats["extract"].oldest_age_s < 3600
        assert stats["outbox"].depth == 0 and stats["outbox"].oldest_age_s == 0.0
        broker.close()
    finally:
        server.stop()
