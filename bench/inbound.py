"""Peak memory and time parsing one large inbound message.

A raw MIME message carrying a 20 MB attachment (base64, as mail arrives) is
written to a temporary file, then parsed two ways, each in a fresh child
process so earlier allocations don't count:

whole
    the file is read into one bytes object and given to
    ``AnymailInboundMessage.parse_raw_mime_bytes`` (the input itself counts);
chunks
    the file is fed to ``parse_raw_mime_chunks`` in 64 KiB pieces, as the
    inbound views do with downloads and uploads (only the parsed message is
    ever held).

Reported: tracemalloc peak growth as a multiple of the raw message size, and
the parse time. Info only: the parsed message necessarily holds the attachment's
base64 text, so about 1x is the floor for either way.

Run alone: ``python -m bench.inbound [--size-mb 20]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

from .common import Result, print_table, setup_django
from .standin_process import REPO_ROOT

MB = 1024 * 1024
CHUNK = 64 * 1024


def write_message(path: str, size: int) -> int:
    """A raw message with a `size`-byte attachment; returns the file size."""
    boundary = "bench-boundary"
    with open(path, "wb") as out:
        out.write(
            b"From: Sender <sender@example.com>\r\nTo: inbound@example.com\r\n"
            b"Subject: Large export\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="' + boundary.encode() + b'"\r\n'
            b"\r\n--" + boundary.encode() + b"\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n"
            b"--" + boundary.encode() + b"\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b'Content-Disposition: attachment; filename="export.bin"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n"
        )
        remaining = size
        while remaining:
            piece = os.urandom(min(remaining, 57 * 1024))  # 76-char lines
            remaining -= len(piece)
            encoded = base64.encodebytes(piece).replace(b"\n", b"\r\n")
            out.write(encoded)
        out.write(b"--" + boundary.encode() + b"--\r\n")
    return os.path.getsize(path)


def child(mode: str, path: str) -> dict:
    setup_django()
    from anymail.inbound import AnymailInboundMessage

    tracemalloc.start()
    start = time.perf_counter()
    if mode == "whole":
        with open(path, "rb") as source:
            message = AnymailInboundMessage.parse_raw_mime_bytes(source.read())
    else:
        with open(path, "rb") as source:
            chunks = iter(lambda: source.read(CHUNK), b"")
            message = AnymailInboundMessage.parse_raw_mime_chunks(chunks)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    (attachment,) = message.attachments
    return {"peak": peak, "seconds": elapsed, "name": attachment.get_filename()}


def run(size: int = 20 * MB) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "large.eml")
        raw_size = write_message(path, size)
        for mode in ("whole", "chunks"):
            output = subprocess.run(
                [sys.executable, "-m", "bench.inbound", "--child", mode, path],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            measured = json.loads(output.strip().splitlines()[-1])
            if measured["name"] != "export.bin":
                raise AssertionError(f"attachment not parsed: {measured}")
            results.append(
                Result(
                    f"Inbound parse, {size // MB} MB attachment ({mode})",
                    "-",
                    f"{measured['peak'] / raw_size:.2f}x",
                    note=(
                        f"peak {measured['peak'] / MB:.1f} MB for a "
                        f"{raw_size / MB:.1f} MB raw message; "
                        f"{measured['seconds'] * 1e3:.0f} ms"
                    ),
                )
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inbound")
    parser.add_argument("--size-mb", type=int, default=20)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    print_table(run(args.size_mb * MB))


if __name__ == "__main__":
    main()
