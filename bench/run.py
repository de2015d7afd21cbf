"""Run the benchmarks and print a results table (``make bench``).

    python -m bench.run [--only cpu,send,memory,inbound] [--quick] [--strict]

Exit status is 0 even when a target is missed, unless ``--strict`` is given (then
1 if any target is missed or a benchmark errors). Timings depend on the machine and
its load: run on a quiet machine, and compare runs on the same machine.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import traceback
from collections.abc import Callable

from . import cpu, inbound, memory, send_vs_raw
from .common import Result, print_table, setup_django

#: name -> (description, run(quick) -> results)
BENCHMARKS: dict[str, tuple[str, Callable[[bool], list[Result]]]] = {
    "cpu": (
        "library CPU per message (HTTP stubbed out)",
        lambda quick: cpu.run(n=300 if quick else 2000),
    ),
    "send": (
        "send time vs raw requests over one keep-alive connection",
        lambda quick: send_vs_raw.run(n=100, rounds=3) if quick else send_vs_raw.run(),
    ),
    "memory": (
        "peak memory growth with a 20 MB attachment",
        lambda quick: memory.run(),
    ),
    "inbound": (
        "peak memory parsing an inbound message with a 20 MB attachment",
        lambda quick: inbound.run(),
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of: {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 if any target is missed"
    )
    args = parser.parse_args(argv)
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(selected) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    import django
    import requests

    print(
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"requests {requests.__version__}, {platform.machine()}"
    )
    setup_django()
    results: list[Result] = []
    errors = 0
    for name in selected:
        description, run = BENCHMARKS[name]
        print(f"Running {name}: {description} ...", flush=True)
        start = time.perf_counter()
        try:
            results.extend(run(args.quick))
        except Exception:
            errors += 1
            traceback.print_exc()
            results.append(Result(name, "-", "ERROR", note="see traceback above"))
        print(f"  ({time.perf_counter() - start:.1f} s)", flush=True)

    print()
    print_table(results)
    failed = [r for r in results if r.passed is False]
    print()
    print(
        f"{sum(r.passed is True for r in results)} target(s) met, "
        f"{len(failed)} missed, {errors} error(s)."
    )
    if args.strict and (failed or errors):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
