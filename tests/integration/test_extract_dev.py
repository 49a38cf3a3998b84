"""The real ``appliance extract`` CLI over every development mail, against the bundled model.

Needs the development mail sets (``paths.dev_data``, env ``APPLIANCE_PATHS__DEV_DATA``; skipped
when absent) and the ``vllm_server`` fixture. On a 2-core CPU the bundled model extracts about
0.05 mails/s, so the test takes the first ``APPLIANCE_TEST_DEV_LIMIT`` mails of each set
(default 10; 0 = all 105 mails, about 35 minutes). ``pytest -s`` shows the scoring table; the
full figures come from ``tests/bench/extract_dev.py``.
"""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from appliance.extract.contract import Offer
from tests.bench.extract_dev import dev_data_dir, format_summary, load_mails, run_cli, summarise


@pytest.mark.integration
@pytest.mark.llm
def test_every_dev_offer_gets_a_schema_valid_result(request: pytest.FixtureRequest) -> None:
    data_dir = dev_data_dir()
    limit = int(os.environ.get("APPLIANCE_TEST_DEV_LIMIT", "10"))
    mails = load_mails(data_dir, limit or None)
    if not mails:
        pytest.skip(
            f"development mail sets not found under {data_dir / 'dev'}: set "
            "APPLIANCE_PATHS__DEV_DATA (or paths.dev_data) to the folder holding dev/<set>/"
        )
    base_url = request.getfixturevalue("vllm_server")  # only start vLLM when there is data

    run = run_cli(mails, concurrency=8, base_url=base_url, timeout=3600)

    for name in sorted({m.set_name for m in mails}):
        print("\n" + format_summary(*summarise(name, [run], name)))
    print(format_summary(*summarise("overall", [run])))

    assert run.returncode in (0, 1), f"the CLI crashed ({run.returncode}):\n{run.stderr[-3000:]}"
    failures = []
    for mail in mails:
        if not mail.is_offer:
            continue
        line = run.outputs.get(mail.path.resolve())
        where = f"{mail.set_name}/{mail.path.name}"
        if line is None:
            failures.append(f"{where}: no output line")
        elif "result" not in line:
            failures.append(f"{where}: {line.get('error')}")
        else:
            try:
                Offer.model_validate(line["result"])
            except ValidationError as exc:
                failures.append(f"{where}: result fails the contract: {exc}")
    n_offers = sum(m.is_offer for m in mails)
    assert not failures, f"{len(failures)} of {n_offers} offers without a valid result:\n" + (
        "\n".join(failures)
    )
