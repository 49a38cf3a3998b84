#!/usr/bin/env bash
# One container, four processes: Redis and vLLM on loopback, the worker, the server (PID of
# record). If any of them exits, the container exits and the orchestrator restarts it.
set -euo pipefail
A=/opt/appliance/venv/bin/appliance
redis-server --bind 127.0.0.1 --port 6379 --save "" --appendonly no --daemonize no &
"$A" --log-format json llm serve &
until "$A" llm status >/dev/null 2>&1; do sleep 5; done
"$A" --log-format json worker &
"$A" --log-format json server &
wait -n
exit 1
