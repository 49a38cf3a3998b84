"""Throughput benchmark: raw vLLM vs ``appliance extract`` vs the full pipeline, plus the DB owner.

A report, not a test. With the same mails and the same vLLM server in one run it measures:

(a) ``raw``: the extractor's exact constrained request (``prompt.build_messages`` +
    ``LLMClient.payload``) fired with httpx at concurrency N: the engine's ceiling;
(b) ``extract``: ``extract_many`` (what ``appliance extract`` runs) over the same mails;
(c) ``pipeline``: a private Dovecot, Redis, ``appliance server`` and ``appliance worker`` (worker
    threads = N) as subprocesses; the mails are appended to the INBOX and the clock stops when
    the server has stored an outcome for every one;
(d) ``store``: the DB owner's own limit: ``record_mail`` + ``save_extraction`` (the dialogue
    included) on a DuckDB file with prepared outcomes, no LLM, no broker.

Before (a) every prompt is sent once with ``max_tokens=1`` so the three phases meet the same
(warm) prefix cache; the cold hit rate of that pass is what a stream of new mails gets. Printed:
mails/s of each phase and the ratios (b)/(a), (c)/(a); CPU seconds per mail of each process
(vLLM's process tree, the bench process, server, worker, Redis); peak RSS per process; stage
timings from the processes' ``appliance_stage_seconds``; prompt/completion tokens per mail;
the prefix-cache hit rate (vLLM's counters); requests vLLM served for others during a phase
(the machine may be shared: then the figures are noisy, the ratios less so).

    .venv/bin/python tests/bench/pipeline.py --mails 16 --concurrency 8 --out var/bench.json

The LLM comes from ``--llm``, else ``APPLIANCE_LLM__BASE_URL``, else the configured default.
Mails: ``--source synth`` (``finetune.synth``, seeded; default) or ``--source dev`` (the
development sets under ``paths.dev_data``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make `appliance`, `finetune`, `tests` importable
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402

from appliance.settings import Settings, load_settings  # noqa: E402

TERMINAL_STATES = ("extracted", "no_offer", "failed")


# --- small measuring tools -------------------------------------------------------------------


def prom_samples(text: str) -> dict[str, float]:
    """Prometheus text → ``{"name{labels}": value}`` (comments dropped)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            continue
    return out


def prom_sum(samples: dict[str, float], name: str, **labels: str) -> float:
    """Sum of every sample of metric ``name`` whose labels include ``labels``."""
    total = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        if all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += value
    return total


def scrape(url: str) -> dict[str, float]:
    """The samples of one ``/metrics`` endpoint (empty when it does not answer)."""
    try:
        return prom_samples(httpx.get(url, timeout=10).text)
    except httpx.HTTPError:
        return {}


def vllm_counters(root: str) -> dict[str, float]:
    """vLLM's request, token and prefix-cache counters."""
    s = scrape(f"{root}/metrics")
    return {
        "requests": prom_sum(s, "vllm:request_success_total"),
        "prompt_tokens": prom_sum(s, "vllm:prompt_tokens_total"),
        "generation_tokens": prom_sum(s, "vllm:generation_tokens_total"),
        "cache_queries": prom_sum(s, "vllm:prefix_cache_queries_total"),
        "cache_hits": prom_sum(s, "vllm:prefix_cache_hits_total"),
    }


def listening_pid(port: int) -> int | None:
    """PID of the process listening on TCP ``port`` (needs root for others' processes)."""
    for c in psutil.net_connections(kind="tcp"):
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return int(c.pid)
    return None


class ProcGroup:
    """A process and its descendants: CPU seconds and RSS, summed over the tree."""

    def __init__(self, name: str, pid: int | None) -> None:
        self.name = name
        self.pid = pid
        self.peak_rss = 0

    def procs(self) -> list[psutil.Process]:
        if self.pid is None:
            return []
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def cpu(self) -> float:
        total = 0.0
        for p in self.procs():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                continue
        return total

    def rss(self) -> int:
        total = 0
        for p in self.procs():
            try:
                total += p.memory_info().rss
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, total)
        return total


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    mails: int = 0
    ok: int = 0
    seconds: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # process group → CPU seconds
    rss_mb: dict[str, float] = field(default_factory=dict)  # process group → peak RSS (MiB)
    vllm: dict[str, float] = field(default_factory=dict)  # counter deltas
    own_requests: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mails_per_s(self) -> float:
        return self.mails / self.seconds if self.seconds else 0.0

    @property
    def hit_rate(self) -> float | None:
        q = self.vllm.get("cache_queries", 0.0)
        return self.vllm.get("cache_hits", 0.0) / q if q else None

    @property
    def foreign_requests(self) -> int:
        return max(0, int(self.vllm.get("requests", 0)) - self.own_requests)


@contextmanager
def measured(
    phase: Phase, vllm_root: str, groups: list[ProcGroup], sample: float = 1.0
) -> Iterator[Callable[[], None]]:
    """Time the block and take CPU, vLLM-counter deltas and peak RSS of ``groups``.

    Yields a ``tick`` the block calls while it waits (samples RSS at most every ``sample`` s).
    """
    before_cpu = {g.name: g.cpu() for g in groups}
    before_v = vllm_counters(vllm_root)
    last = [0.0]

    def tick() -> None:
        if time.monotonic() - last[0] >= sample:
            last[0] = time.monotonic()
            for g in groups:
                g.rss()

    tick()
    start = time.monotonic()
    yield tick
    phase.seconds = time.monotonic() - start
    tick()
    after_v = vllm_counters(vllm_root)
    phase.cpu_s = {g.name: round(g.cpu() - before_cpu[g.name], 2) for g in groups}
    phase.rss_mb = {g.name: round(g.peak_rss / 2**20, 1) for g in groups}
    phase.vllm = {k: after_v[k] - before_v.get(k, 0.0) for k in after_v}


# --- mails -----------------------------------------------------------------------------------


def synth_mails(n: int, seed: int) -> list[tuple[str, bytes]]:
    """``n`` generated supplier mails (English and Russian, many layouts)."""
    from finetune.synth import generate

    return [(s.id, s.raw) for s in generate(n, seed)]


def dev_mails(settings: Settings, n: int) -> list[tuple[str, bytes]]:
    """The first ``n`` mails of the development sets (round-robin over the sets)."""
    root = settings.paths.resolve(settings.paths.dev_data) / "dev"
    sets = [sorted(d.glob("*.eml")) for d in sorted(root.iterdir()) if d.is_dir()]
    out: list[tuple[str, bytes]] = []
    i = 0
    while len(out) < n and any(i < len(s) for s in sets):
        out += [(f"{s[i].parent.name}/{s[i].name}", s[i].read_bytes()) for s in sets if i < len(s)]
        i += 1
    return out[:n]


# --- phases ----------------------------------------------------------------------------------


async def _raw_requests(
    settings: Settings, mails: list[tuple[str, bytes]], concurrency: int, max_tokens: int | None
) -> list[dict[str, Any]]:
    """The extractor's request for each mail, ``concurrency`` in flight; the usage of each."""
    from appliance.extract import grounding
    from appliance.extract.extractor import preprocess
    from appliance.extract.llm_client import LLMClient
    from appliance.extract.prompt import build_messages

    client = LLMClient(settings.llm)
    bodies = []
    for _, raw in mails:
        mail = preprocess(raw, settings)
        piece = mail.text[: settings.llm.max_input_chars]
        schema = grounding.schema(grounding.build(piece, mail.subject))
        body = client.payload(
            build_messages(mail, settings.llm.max_input_chars, piece), None, schema
        )
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        bodies.append(body)
    await client.aclose()
    limit = asyncio.Semaphore(concurrency)
    url = f"{settings.llm.urls[0]}/chat/completions"
    async with httpx.AsyncClient(timeout=settings.llm.timeout_s) as http:

        async def one(body: dict[str, Any]) -> dict[str, Any]:
            async with limit:
                r = await http.post(url, json=body)
                r.raise_for_status()
                doc = r.json()
                usage = doc.get("usage") or {}
                details = usage.get("prompt_tokens_details") or {}
                content = doc["choices"][0]["message"].get("content") or ""
                valid = True
                try:
                    json.loads(content)
                except ValueError:
                    valid = False
                return {
                    "prompt_tokens": usage.get("prompt_tokens", 0),
                    "completion_tokens": usage.get("completion_tokens", 0),
                    "cached_tokens": details.get("cached_tokens") or 0,
                    "valid": valid,
                }

        return list(await asyncio.gather(*(one(b) for b in bodies)))


def phase_raw(
    name: str,
    settings: Settings,
    mails: list[tuple[str, bytes]],
    concurrency: int,
    groups: list[ProcGroup],
    root: str,
    max_tokens: int | None = None,
) -> Phase:
    """(a), or the warm-up pass with ``max_tokens=1``."""
    ph = Phase(name, mails=len(mails), own_requests=len(mails))
    with measured(ph, root, groups):
        usages = asyncio.run(_raw_requests(settings, mails, concurrency, max_tokens))
    ph.ok = sum(u["valid"] for u in usages)
    prompt = [u["prompt_tokens"] for u in usages]
    ph.extra = {
        "prompt_tokens_per_mail": round(statistics.mean(prompt), 1),
        "prompt_tokens_max": max(prompt),
        "completion_tokens_per_mail": round(
            statistics.mean(u["completion_tokens"] for u in usages), 1
        ),
        "cached_share": round(sum(u["cached_tokens"] for u in usages) / max(1, sum(prompt)), 3),
    }
    return ph


def phase_extract(
    settings: Settings,
    mails: list[tuple[str, bytes]],
    concurrency: int,
    groups: list[ProcGroup],
    root: str,
) -> Phase:
    """(b): ``extract_many``, in this process (the bench's own CPU is the extractor's)."""
    from appliance.extract.batch import extract_many

    ph = Phase("extract", mails=len(mails), own_requests=len(mails))

    async def run() -> list[dict[str, Any]]:
        return [line async for line in extract_many(mails, settings, concurrency=concurrency)]

    with measured(ph, root, groups):
        lines = asyncio.run(run())
    ph.ok = sum("result" in line for line in lines)
    errors = [line["error"]["code"] for line in lines if "error" in line]
    ph.extra = {"errors": {c: errors.count(c) for c in sorted(set(errors))}}
    return ph


def _stage_stats(before: dict[str, float], after: dict[str, float]) -> dict[str, dict[str, float]]:
    """Mean wall seconds per stage from ``appliance_stage_seconds`` sum/count deltas."""
    stages: dict[str, dict[str, float]] = {}
    for key, value in after.items():
        if not key.startswith("appliance_stage_seconds_count{"):
            continue
        stage = key.split('stage="', 1)[1].split('"', 1)[0]
        count = value - before.get(key, 0.0)
        skey = key.replace("_count{", "_sum{")
        total = after.get(skey, 0.0) - before.get(skey, 0.0)
        if count:
            stages[stage] = {"count": count, "mean_s": round(total / count, 3)}
    return stages


def phase_pipeline(
    settings: Settings,
    mails: list[tuple[str, bytes]],
    threads: int,
    vllm: ProcGroup,
    root: str,
    timeout_s: float,
) -> Phase:
    """(c): Dovecot INBOX → worker → Redis → server → worker (vLLM) → server (DuckDB)."""
    from tests.integration.dovecot import PASSWORD_ENV, Dovecot
    from tests.integration.services import Appliance, RedisServer, account_env, wait_for

    ph = Phase("pipeline", mails=len(mails), own_requests=len(mails))
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    with Dovecot() as dovecot:
        redis = RedisServer(work)
        acc = dovecot.account("imap", name="bench")
        env = {
            "APPLIANCE_REDIS__URL": redis.url,
            "APPLIANCE_LLM__BASE_URL": settings.llm.urls[0],
            "APPLIANCE_LLM__BASE_URLS": json.dumps(settings.llm.urls),
            "APPLIANCE_WORKER__THREADS": str(threads),
            **account_env(acc, PASSWORD_ENV, dovecot.password),
        }
        app = Appliance(work, env)
        try:
            app.start("server")
            app.start("worker")
            worker_metrics = f"http://127.0.0.1:{app.env['APPLIANCE_WORKER__METRICS_PORT']}/metrics"
            wait_for("the worker's /metrics", lambda: httpx.get(worker_metrics).is_success, 60)
            groups = [
                vllm,
                ProcGroup("server", app.procs["server"].pid),
                ProcGroup("worker", app.procs["worker"].pid),
                ProcGroup("redis", redis.proc.pid),
            ]
            server_metrics = f"{app.url}/metrics"
            before = {**scrape(server_metrics), **scrape(worker_metrics)}

            def states() -> dict[str, int]:
                try:
                    page = app.get("/api/v1/mails", limit=500)
                except httpx.HTTPError:
                    return {}
                out: dict[str, int] = {}
                for m in page["items"]:
                    out[m["state"]] = out.get(m["state"], 0) + 1
                return out

            def stored() -> int:
                return sum(n for st, n in states().items() if st in TERMINAL_STATES)

            with measured(ph, root, groups) as tick:
                imap = dovecot.client()
                try:
                    for _, raw in mails:
                        imap.append("INBOX", raw)
                finally:
                    imap.logout()
                deadline = time.monotonic() + timeout_s
                while (done := stored()) < len(mails):
                    if time.monotonic() > deadline:
                        ph.extra["timed_out_with"] = done
                        break
                    tick()
                    time.sleep(1.0)
            after = {**scrape(server_metrics), **scrape(worker_metrics)}
            ph.extra["stages"] = _stage_stats(before, after)
            ph.extra["mail_states"] = states()
            ph.ok = sum(n for st, n in ph.extra["mail_states"].items() if st != "failed")
            ph.extra["worker_threads"] = threads
        finally:
            app.stop_all()
            redis.stop()
    ph.extra["workdir"] = str(work)
    return ph


def phase_store(settings: Settings, n: int, seed: int) -> Phase:
    """(d): the DB owner alone: record + store ``n`` prepared outcomes on a DuckDB file."""
    from appliance.extract.contract import Offer
    from appliance.extract.extractor import preprocess
    from appliance.mail.blobstore import BlobStore
    from appliance.mail.intake import ingest
    from appliance.messages import ExtractionOutcome
    from appliance.settings import PathsSettings
    from appliance.store import repo
    from appliance.store.db import Database
    from appliance.workflow import dialogue, reading
    from finetune.synth import generate

    work = Path(tempfile.mkdtemp(prefix="bench-store-"))
    s = settings.model_copy(deep=True)
    s.paths = PathsSettings(data_dir=work)
    blobs = BlobStore(s.paths.blob_dir)
    prepared = []
    for i, sample in enumerate(generate(n, seed)):
        mail = preprocess(sample.raw, s)
        offer = Offer.model_validate(sample.label)
        msg = ingest(sample.raw, blobs, account="bench", folder="INBOX", uidvalidity=1, uid=str(i))
        out = ExtractionOutcome(
            mail_id=0, sha256=msg.sha256, offer=offer.model_dump(mode="json"), model="bench",
            language=mail.language, thread=reading.thread_facts(mail),
            spans=reading.value_spans(offer, mail.text), answers=reading.form_answers(mail.text),
            prompt_tokens=600, completion_tokens=300,
        )  # fmt: skip
        prepared.append((msg, out))
    db = Database.open(s.paths.db_file)
    ph = Phase("store", mails=n)
    me = ProcGroup("bench", os.getpid())
    record_s = save_s = 0.0
    with measured(ph, "http://127.0.0.1:9", [me]):  # no vLLM involved
        for msg, out in prepared:
            t0 = time.perf_counter()
            rec = repo.record_mail(db, msg)
            t1 = time.perf_counter()
            result, _ = dialogue.save_extraction(
                db, s, out.model_copy(update={"mail_id": rec.mail_id})
            )
            save_s += time.perf_counter() - t1
            record_s += t1 - t0
            ph.ok += result in ("extracted", "no_offer")
    db.close()
    ph.extra = {
        "record_ms": round(1000 * record_s / n, 2),
        "save_ms": round(1000 * save_s / n, 2),
        "db_mb": round(s.paths.db_file.stat().st_size / 2**20, 1),
    }
    return ph


# --- report ----------------------------------------------------------------------------------


def report(phases: dict[str, Phase], concurrency: int) -> str:
    """The printed tables."""
    lines = []
    a = phases.get("raw")
    head = f"{'phase':<10}{'mails':>6}{'ok':>5}{'seconds':>9}{'mails/s':>9}{'vs (a)':>8}"
    head += f"{'cache hit':>10}{'others':>7}"
    lines += [f"concurrency {concurrency}", head]
    for ph in phases.values():
        ratio = f"{ph.mails_per_s / a.mails_per_s:.2f}" if a and a.mails_per_s else "-"
        hit = f"{ph.hit_rate:.2f}" if ph.hit_rate is not None else "-"
        lines.append(
            f"{ph.name:<10}{ph.mails:>6}{ph.ok:>5}{ph.seconds:>9.1f}{ph.mails_per_s:>9.4f}"
            f"{ratio:>8}{hit:>10}{ph.foreign_requests:>7}"
        )
    lines.append("\nCPU seconds per mail (process tree) and peak RSS (MiB):")
    for ph in phases.values():
        cpu = ", ".join(f"{k} {v / max(1, ph.mails):.2f}" for k, v in ph.cpu_s.items())
        rss = ", ".join(f"{k} {v:.0f}" for k, v in ph.rss_mb.items())
        lines.append(f"  {ph.name:<9} cpu/mail: {cpu}; rss: {rss}")
    for ph in phases.values():
        if ph.extra:
            lines.append(f"  {ph.name:<9} {json.dumps(ph.extra, ensure_ascii=False)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the phases and print the report."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mails", type=int, default=16)
    p.add_argument("--concurrency", type=int, default=None, help="default: llm.concurrency")
    p.add_argument("--threads", type=int, default=None, help="worker threads (default: N)")
    p.add_argument("--llm", help="vLLM base URL (default: the configured llm.base_url)")
    p.add_argument("--source", choices=["synth", "dev"], default="synth")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--phases", default="raw,extract,pipeline,store")
    p.add_argument("--store-mails", type=int, default=300)
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds for the pipeline")
    p.add_argument("--out", help="also write the figures as JSON")
    a = p.parse_args(argv)

    settings = load_settings()
    if a.llm:
        settings.llm.base_url, settings.llm.base_urls = a.llm, []
    n_conc = a.concurrency or settings.llm.concurrency
    settings.llm.concurrency = n_conc
    root = settings.llm.urls[0].removesuffix("/v1")
    port = httpx.URL(root).port or 80
    vllm = ProcGroup("vllm", listening_pid(port))
    me = ProcGroup("bench", os.getpid())
    wanted = a.phases.split(",")
    phases: dict[str, Phase] = {}
    if {"raw", "extract", "pipeline"} & set(wanted):
        if httpx.get(f"{root}/health", timeout=5).status_code != 200:
            print(f"vLLM at {root} is not healthy", file=sys.stderr)
            return 2
        mails = dev_mails(settings, a.mails) if a.source == "dev" else synth_mails(a.mails, a.seed)
        print(f"{len(mails)} {a.source} mails, vLLM {root} (pid {vllm.pid}), N={n_conc}")
        warm = phase_raw("warm-up", settings, mails, n_conc, [vllm, me], root, max_tokens=1)
        phases["warm-up"] = warm
        print(f"warm-up (cold prefix cache, max_tokens=1): {warm.seconds:.1f} s", flush=True)
        if "raw" in wanted:
            phases["raw"] = phase_raw("raw", settings, mails, n_conc, [vllm, me], root)
            print(f"(a) raw: {phases['raw'].mails_per_s:.4f} mails/s", flush=True)
        if "extract" in wanted:
            phases["extract"] = phase_extract(settings, mails, n_conc, [vllm, me], root)
            print(f"(b) extract: {phases['extract'].mails_per_s:.4f} mails/s", flush=True)
        if "pipeline" in wanted:
            threads = a.threads or n_conc
            phases["pipeline"] = phase_pipeline(settings, mails, threads, vllm, root, a.timeout)
            print(f"(c) pipeline: {phases['pipeline'].mails_per_s:.4f} mails/s", flush=True)
    if "store" in wanted:
        phases["store"] = phase_store(settings, a.store_mails, a.seed + 1)
    print()
    print(report(phases, n_conc))
    if a.out:
        doc = {
            "argv": sys.argv[1:],
            "concurrency": n_conc,
            "phases": {
                k: {**asdict(v), "mails_per_s": v.mails_per_s, "hit_rate": v.hit_rate}
                for k, v in phases.items()
            },
        }
        Path(a.out).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwritten to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
