"""Peak memory growth sending one message with a 20 MB attachment.

The StandIn (record_bodies=False) runs in one child process, and each measurement
runs in a fresh child process of its own (``python -m bench.memory --child ...``),
so neither the server's buffers nor earlier measurements are counted. Two kinds of
measurement, in separate processes so tracemalloc's bookkeeping doesn't show up
in the RSS numbers:

tracemalloc
    peak traced memory during ``send_messages([message])``, minus the traced
    memory just before it (tracemalloc starts after the attachment bytes and the
    message exist, so those are not counted);
rss
    peak RSS (``ru_maxrss``) after the send, minus the RSS just before it
    (Linux only: it reads /proc/self/statm).

Both run after a warm-up send of a small message on the same open connection, so
imports and the TCP connection aren't counted either.

Targets (growth / attachment size): Postmark <= 2.0 (JSON with base64),
Mailgun <= 1.1 (multipart/form-data).

Run alone: ``python -m bench.memory [--size-mb 20] [--top ESP]``; ``--top`` prints
the allocation sites that are alive at the peak (via tracemalloc snapshots taken
from a trace function), to see which code path holds the memory.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tracemalloc

from .common import (
    ESPS,
    Result,
    get_connection,
    print_table,
    setup_django,
    typical_message,
)
from .standin_process import REPO_ROOT, StandInProcess

MB = 1024 * 1024
TARGETS = {"postmark": 2.0, "mailgun": 1.1}
DEFAULT_SIZE = 20 * MB


def current_rss() -> int:
    """Resident set size of this process now, in bytes (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def max_rss() -> int:
    """Peak RSS of this process so far, in bytes (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def big_message(size: int):
    from anymail.message import AnymailMessage

    message = AnymailMessage(
        subject="Your data export",
        body="Your export is attached.",
        to=["alice@example.com", "Bob Example <bob@example.com>"],
    )
    message.attach("export.bin", os.urandom(size), "application/octet-stream")
    return message


def prepare(esp: str, api_url: str, size: int):
    """An open connection (warmed up) and the big message, ready to send."""
    setup_django()
    connection = get_connection(esp, api_url)
    connection.open()
    connection.send_messages([typical_message()])  # imports, TCP connection
    message = big_message(size)
    gc.collect()
    return connection, message


def check_sent(esp: str, message) -> None:
    if message.anymail_status.status != {ESPS[esp].sent_status}:
        raise AssertionError(f"{esp}: unexpected {message.anymail_status!r}")


def child(esp: str, api_url: str, mode: str, size: int) -> dict:
    """Measure one send in this (fresh) process.

    Returns {"growth": bytes, "upper_bound": bool}; upper_bound is true when the
    send never pushed RSS past its earlier peak (so growth is at most that much).
    """
    connection, message = prepare(esp, api_url, size)
    if mode == "tracemalloc":
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        connection.send_messages([message])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        growth, upper_bound = peak - before, False
    else:
        before, peak_before = current_rss(), max_rss()
        connection.send_messages([message])
        peak = max_rss()
        growth, upper_bound = peak - before, peak == peak_before
    connection.close()
    check_sent(esp, message)
    return {"growth": growth, "upper_bound": upper_bound}


def run_child(esp: str, api_url: str, mode: str, size: int) -> dict:
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.memory",
            "--child",
            esp,
            "--api-url",
            api_url,
            "--mode",
            mode,
            "--size",
            str(size),
        ],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def run(size: int = DEFAULT_SIZE) -> list[Result]:
    results = []
    with StandInProcess(record_bodies=False) as server:
        for esp, target in TARGETS.items():
            api_url = server.api_url(esp)
            traced = run_child(esp, api_url, "tracemalloc", size)["growth"]
            title = f"Peak memory growth, {size / MB:g} MB attachment"
            results.append(
                Result(
                    f"{title} (tracemalloc)",
                    esp,
                    f"{traced / size:.2f}x",
                    f"<= {target:.1f}x",
                    traced / size <= target,
                    f"+{traced / MB:.1f} MB traced at peak",
                )
            )
            if not sys.platform.startswith("linux"):
                continue  # (the RSS before the send is read from /proc)
            rss = run_child(esp, api_url, "rss", size)
            at_most = "<= " if rss["upper_bound"] else ""
            results.append(
                Result(
                    f"{title} (ru_maxrss)",
                    esp,
                    f"{at_most}{rss['growth'] / size:.2f}x",
                    f"<= {target:.1f}x",
                    rss["growth"] / size <= target,
                    f"peak RSS {at_most}+{rss['growth'] / MB:.1f} MB over the RSS "
                    "before the send",
                )
            )
        errors = server.stats()["errors"]
        if errors:
            results.append(Result("Stand-in errors", "-", "ERROR", note=str(errors)))
    return results


# --------------------------------------------------------------------------------------
# Investigation: what is alive at the peak?
# --------------------------------------------------------------------------------------


def top_at_peak(esp: str, api_url: str, size: int, limit: int = 12) -> None:
    """Print the allocation sites holding memory at the traced peak of one send.

    A profile function takes a snapshot whenever traced memory reaches a new high
    (checked on every Python call/return), so the last snapshot is the peak.
    """
    connection, message = prepare(esp, api_url, size)
    tracemalloc.start(25)
    best = {"peak": 0, "snapshot": None}

    def watch(frame, event, arg):
        current, _ = tracemalloc.get_traced_memory()
        if current > best["peak"] + MB:
            best["peak"] = current
            best["snapshot"] = tracemalloc.take_snapshot()

    sys.setprofile(watch)
    try:
        connection.send_messages([message])
    finally:
        sys.setprofile(None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    check_sent(esp, message)
    print(f"{esp}: traced peak {peak / MB:.1f} MB ({peak / size:.2f}x attachment)")
    print(f"largest blocks alive at {best['peak'] / MB:.1f} MB:")
    for stat in best["snapshot"].statistics("traceback")[:limit]:
        if stat.size < MB:
            break
        print(f"\n  {stat.size / MB:6.1f} MB in {stat.count} blocks, allocated at:")
        for line in stat.traceback.format(limit=6, most_recent_first=True):
            print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--size-mb", type=float, default=DEFAULT_SIZE / MB)
    parser.add_argument("--top", choices=sorted(ESPS), help="show what's alive at peak")
    # internal: run one measurement in this process
    parser.add_argument("--child", choices=sorted(ESPS), help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument(
        "--mode", choices=["tracemalloc", "rss"], help=argparse.SUPPRESS
    )
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = args.size or int(args.size_mb * MB)
    if args.child:
        print(json.dumps(child(args.child, args.api_url, args.mode, size)))
    elif args.top:
        with StandInProcess(record_bodies=False) as server:
            top_at_peak(args.top, server.api_url(args.top), size)
    else:
        print_table(run(size))


if __name__ == "__main__":
    main()
