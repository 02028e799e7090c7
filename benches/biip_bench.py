#!/usr/bin/env python3
"""Time `biip.parse` (the Python GS1 barcode parser, https://pypi.org/project/biip/) on the same
marking codes as markcert's criterion benchmark, one figure per case of `data/codes.txt`.

The codes file has one case per line, `name<TAB>escaped code`, with the GS separator written
`\\u001d`; it is unescaped here to the real 0x1D character, which is biip's default separator
(`ParseConfig.separator_chars == ("\\x1d",)`). biip does not raise for data it cannot read: it
returns a `ParseResult` whose `gs1_message` is None and whose `*_error` fields say why. Such cases
are timed anyway (biip did the work) and reported with status `no-gs1` (e.g. the tobacco pack, which
is not a GS1 element string); an exception is reported with status `raised`.

Usage: biip_bench.py [--codes FILE] [--repeat N] [--min-time SECONDS] [--tsv]
With --tsv, prints `name<TAB>parses_per_s<TAB>status<TAB>detail` lines for compare.sh.
"""

from __future__ import annotations

import argparse
import re
import sys
import timeit
from pathlib import Path

import biip

HERE = Path(__file__).resolve().parent
ESCAPE = re.compile(rb"<GS>|\\\\|\\u([0-9A-Fa-f]{4})|\\x([0-9A-Fa-f]{2})")


def unescape(text: bytes) -> bytes:
    """The inverse of markcert_codes::escape (same rules as markcert_codes::escape::unescape)."""

    def repl(m: re.Match[bytes]) -> bytes:
        token = m.group(0)
        if token == b"<GS>":
            return b"\x1d"
        if token == b"\\\\":
            return b"\\"
        if m.group(1) is not None:
            cp = int(m.group(1), 16)
            if 0xD800 <= cp <= 0xDFFF:
                return token
            return chr(cp).encode("utf-8")
        return bytes([int(m.group(2), 16)])

    return ESCAPE.sub(repl, text)


def load(path: Path) -> list[tuple[str, str]]:
    cases = []
    for line in path.read_bytes().splitlines():
        if not line.strip() or line.startswith(b"#"):
            continue
        name, _, code = line.partition(b"\t")
        cases.append((name.decode(), unescape(code).decode("utf-8", errors="surrogateescape")))
    return cases


def classify(code: str) -> tuple[str, str]:
    """Run biip once and say whether it read the code as a GS1 message."""
    try:
        result = biip.parse(code)
    except Exception as exc:  # noqa: BLE001 — any failure is a result to report
        return "raised", f"{type(exc).__name__}: {exc}"
    if result.gs1_message is None:
        return "no-gs1", result.gs1_message_error or "no GS1 message"
    ais = " ".join(f"({e.ai.ai}){e.value}" for e in result.gs1_message.element_strings)
    return "ok", ais


def time_case(code: str, repeat: int, min_time: float) -> float:
    """Best-of-`repeat` parses per second, each run lasting at least `min_time` seconds."""

    def run() -> None:
        try:
            biip.parse(code)
        except Exception:  # noqa: BLE001, S110 — timed like a successful call
            pass

    timer = timeit.Timer(run)
    number, elapsed = timer.autorange()
    if elapsed < min_time:
        number = max(number, int(number * min_time / max(elapsed, 1e-9)))
    best = min(timer.repeat(repeat=repeat, number=number))
    return number / best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codes", type=Path, default=HERE / "data" / "codes.txt")
    ap.add_argument("--repeat", type=int, default=5, help="timing runs per case; the best is kept")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per timing run")
    ap.add_argument("--tsv", action="store_true", help="machine-readable output for compare.sh")
    args = ap.parse_args()

    if not args.tsv:
        print(f"biip {getattr(biip, '__version__', '?')}, Python {sys.version.split()[0]}")
        print(f"{'case':<22} {'parses/s':>12}  status  detail")
    for name, code in load(args.codes):
        status, detail = classify(code)
        rate = time_case(code, args.repeat, args.min_time)
        detail = detail.replace("\t", " ").replace("\n", " ")
        if args.tsv:
            print(f"{name}\t{rate:.0f}\t{status}\t{detail}", flush=True)
        else:
            print(f"{name:<22} {rate:>12,.0f}  {status:<6}  {detail}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
