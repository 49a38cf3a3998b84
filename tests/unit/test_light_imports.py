"""``import appliance.api`` (and the CLI) stay light: no torch, transformers or vLLM."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "vllm", "peft", "outlines")


def test_api_and_cli_import_no_heavy_modules() -> None:
    code = (
        "import sys, appliance.api, appliance.cli, appliance.server, appliance.worker;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
