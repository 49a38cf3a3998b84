"""Time the deterministic readers (``appliance.extract.readers.read``) on mail texts.

Usage::

    python tests/bench/readers_speed.py [--data DIR] [--repeat N]

Prints, for the six samples joined and repeated to 20 kB and for every development mail
(``<data>/dev/*/NNNN.eml``, skipped when absent), the best of ``--repeat`` runs in
milliseconds, and the largest mail's figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from appliance.extract.readers import read  # noqa: E402
from appliance.preprocess import parse_mail  # noqa: E402
from tests.bench.extract_dev import dev_data_dir  # noqa: E402


def _text(path: Path) -> str:
    return parse_mail(path.read_bytes(), max_bytes=50_000_000, max_parts=500,
                      max_text_chars=1_000_000).text  # fmt: skip


def best_ms(text: str, repeat: int) -> float:
    """The fastest of ``repeat`` runs of ``read(text)``, in ms (one warm-up run first)."""
    read(text)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        read(text)
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main(argv: list[str] | None = None) -> int:
    """Print the timings; exit 0."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="folder holding dev/<set>/ (default: paths.dev_data)")
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args(argv)
    samples = "\n\n".join(_text(f) for f in sorted((ROOT / "tests/data/samples").glob("*.eml")))
    big = (samples * (20_000 // len(samples) + 1))[:20_000]
    print(f"samples joined to 20 kB: {best_ms(big, a.repeat):.1f} ms")
    mails = sorted(dev_data_dir(a.data).glob("dev/*/*.eml"))
    if not mails:
        print("no development mails found: skipped")
        return 0
    texts = {m: _text(m) for m in mails}
    total = sum(best_ms(t, a.repeat) for t in texts.values())
    largest = max(texts, key=lambda m: len(texts[m]))
    print(f"{len(mails)} dev mails: {total:.1f} ms in all, {total / len(mails):.2f} ms per mail")
    print(f"largest ({largest.parent.name}/{largest.name}, {len(texts[largest])} chars): "
          f"{best_ms(texts[largest], a.repeat):.1f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
