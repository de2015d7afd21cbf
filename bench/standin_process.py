"""A StandIn served from a child process, so its CPU time and memory are not counted
in the benchmarks (tracemalloc, for one, traces every thread of its own process).

The child is ``python -m bench.standin_process``: it prints the server's base URL,
then answers one-line commands on stdin ("stats", "clear") with one JSON line, and
exits on "stop" or when stdin closes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from example.standin import StandIn

REPO_ROOT = Path(__file__).resolve().parent.parent


class StandInProcess:
    """Context manager running a StandIn in a child process."""

    def __init__(self, record_bodies: bool = False):
        self.record_bodies = record_bodies
        self.url: str | None = None
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> StandInProcess:
        command = [sys.executable, "-m", "bench.standin_process"]
        if not self.record_bodies:
            command.append("--no-record-bodies")
        self._process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.__exit__()
            raise RuntimeError(f"StandIn process did not start ({self.url!r})")
        return self

    def __exit__(self, *exc_info: Any) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.write("stop\n")
            process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()

    def api_url(self, esp: str) -> str:
        return self.url + StandIn.api_path(esp)

    def _call(self, command: str) -> Any:
        self._process.stdin.write(command + "\n")
        answer = json.loads(self._process.stdout.readline())
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def stats(self) -> dict:
        """{"requests": n, "connections_opened": n, "errors": [...]}"""
        return self._call("stats")

    def clear(self) -> None:
        self._call("clear")


def serve(record_bodies: bool) -> None:
    """Child process: serve until "stop" or EOF on stdin."""
    with StandIn(record_bodies=record_bodies) as standin:
        print(standin.url, flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "stop":
                break
            if command == "stats":
                answer = {
                    "requests": len(standin.requests),
                    "connections_opened": standin.connections_opened,
                    "errors": [repr(error) for error in standin.errors],
                }
            elif command == "clear":
                standin.clear()
                answer = "ok"
            else:
                answer = {"error": f"unknown command {command!r}"}
            print(json.dumps(answer), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.standin_process")
    parser.add_argument("--no-record-bodies", action="store_true")
    args = parser.parse_args()
    serve(record_bodies=not args.no_record_bodies)


if __name__ == "__main__":
    main()
