# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""What every glancing command shares: logging, progress, and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from typing import Any, Callable, List, NoReturn, Optional, Sequence, TextIO

from glancing import errors

# Warnings of an unsafe mode (--no-signature, --crl off, -D): shown even with -q, because they
# are what a cron mail must show.
UNSAFE = logging.getLogger("glancing.unsafe")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are UsageErrors, so they reach ``run`` (one line on stderr,
    exit 2, and the JSON error object with --json) like every other error."""

    def error(self, message: str) -> NoReturn:
        raise errors.UsageError(f"{message} (see {self.prog} --help)")


def setup_logging(prog: str, verbose: bool, quiet: bool, stream: TextIO = sys.stderr) -> None:
    """Log to stderr: one line per message, timestamps when not on a terminal (cron, journald files)."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    stamp = "" if stream.isatty() else "%(asctime)s "
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(f"{stamp}{prog}: %(levelname)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if not verbose else logging.DEBUG)
    logging.getLogger("glancing").setLevel(level)
    UNSAFE.setLevel(logging.DEBUG if verbose else logging.WARNING)
    if quiet:
        root.setLevel(logging.ERROR)


class Progress:
    """A one-line progress meter on a terminal; callers only create it when stderr is a TTY."""

    def __init__(self, stream: TextIO = sys.stderr, interval: float = 0.25) -> None:
        self._stream = stream
        self._interval = interval
        self._start = time.monotonic()
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: Optional[int]) -> None:
        now = time.monotonic()
        if now - self._last < self._interval and (total is None or done < total):
            return
        self._last = now
        rate = done / max(now - self._start, 1e-6)
        part = f"{done / 2**20:8.1f} MiB"
        if total:
            part += f" / {total / 2**20:.1f} MiB {100 * done / total:5.1f}%"
        self._stream.write(f"\r{part}  {rate / 2**20:6.1f} MiB/s ")
        self._stream.flush()
        self._shown = True

    def finish(self) -> None:
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()


def want_progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() and not args.quiet and not getattr(args, "json", False)


def _term_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(prog: str, body: Callable[[], int], verbose: bool, as_json: bool = False) -> int:
    """Run ``body``; map every error to its documented exit code and a one-line message on stderr.

    With ``as_json`` the error is also printed on stdout as {"status": "error", ...}, so a
    machine reading stdout always gets one object.
    """
    signal.signal(signal.SIGTERM, _term_as_interrupt)
    try:
        return body()
    except KeyboardInterrupt as e:
        message, code = "interrupted", errors.exit_code(e)
    except errors.GlancingError as e:
        if verbose:
            logging.getLogger("glancing").exception("%s", e)
        message, code = f"error: {e}", errors.exit_code(e)
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, a bug code
        if verbose:
            logging.getLogger("glancing").exception("internal error")
        message, code = f"internal error: {type(e).__name__}: {e} (run with -v for the traceback)", errors.INTERNAL
    print(f"{prog}: {message}", file=sys.stderr)
    if as_json:
        print_json({"status": "error", "error": message.removeprefix("error: "), "exit_code": code})
    return code


def main(prog: str, argv: Sequence[str], parse: Callable[[List[str]], argparse.Namespace],
         body: Callable[[argparse.Namespace], int]) -> int:
    """Parse ``argv`` and run ``body`` under ``run``: a usage error is reported like any other
    (``--json`` looked for in argv itself, since parsing may be what failed)."""
    argv = list(argv)
    verbose = any(a in ("-v", "--verbose") for a in argv)

    def go() -> int:
        args = parse(argv)
        setup_logging(prog, getattr(args, "verbose", False), getattr(args, "quiet", False))
        return body(args)

    return run(prog, go, verbose, "--json" in argv)


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
