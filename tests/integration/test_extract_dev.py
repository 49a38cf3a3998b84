"""The real ``appliance extract`` CLI over every development mail, against the default model.

Needs the development mail sets (``paths.dev_data``, env ``APPLIANCE_PATHS__DEV_DATA``; skipped
when absent) and the ``vllm_product_server`` fixture (the product's default model). The
grounded extractor reads all 105 mails in about a minute on 2 cores, so the test takes them all
(``APPLIANCE_TEST_DEV_LIMIT``: the first N of each set). Besides a schema-valid result for
every offer, it guards the quality measured with ``tests/bench/extract_dev.py``: per set a
micro F1 floor (``F1_FLOOR``, below the figures of the README so that decoding noise does not
fail it) and no value stated nowhere in the mail. ``pytest -s`` shows the scoring tables.
"""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from appliance.extract.contract import Offer
from tests.bench.extract_dev import dev_data_dir, format_summary, load_mails, run_cli, summarise
from tests.helpers import PRODUCT_DEFAULT_MODEL

# Regression floors per set (measured: Enron 0.61, WDC 0.80; README "How extraction works").
F1_FLOOR = {"enron": 0.55, "wdc": 0.72}


@pytest.mark.integration
@pytest.mark.llm
def test_every_dev_offer_gets_a_schema_valid_result(request: pytest.FixtureRequest) -> None:
    data_dir = dev_data_dir()
    limit = int(os.environ.get("APPLIANCE_TEST_DEV_LIMIT", "0"))
    mails = load_mails(data_dir, limit or None)
    if not mails:
        pytest.skip(
            f"development mail sets not found under {data_dir / 'dev'}: set "
            "APPLIANCE_PATHS__DEV_DATA (or paths.dev_data) to the folder holding dev/<set>/"
        )
    base_url = request.getfixturevalue("vllm_product_server")  # only when there is data

    run = run_cli(
        mails, concurrency=8, base_url=base_url, timeout=3600, model=PRODUCT_DEFAULT_MODEL
    )

    floors_missed = []
    for name in sorted({m.set_name for m in mails}):
        summary, report = summarise(name, [run], name)
        print("\n" + format_summary(summary, report))
        assert not summary["invented"], f"{name}: values stated nowhere: {summary['invented']}"
        floor = F1_FLOOR.get(name, 0.0) if not limit else 0.0
        if (report.f1() or 0.0) < floor:
            floors_missed.append(f"{name}: micro F1 {report.f1():.3f} < {floor}")
    print(format_summary(*summarise("overall", [run])))
    assert not floors_missed, floors_missed

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
