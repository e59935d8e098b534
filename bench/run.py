# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""make bench: glancing against reference commands run side by side, printed as ratios.

1. ``glancing -d FILE`` with md5+sha1+sha256+sha512 expected, vs ``md5sum FILE``  (target <= 1.6x)
2. a full ``glancing FILE`` import with those digests, vs ``glance image-create --file FILE``
   against the same lab Glance                                                      (target <= 1.10x)
3. peak RSS of glancing in both (memory must not grow with the image)

Each pair runs alternately, REPEAT (5) times, and the medians are compared, so a passing load on the
machine hits both sides alike; the best pair's ratio and each side's CPU seconds (user+sys, which a
load on the machine inflates less than wall time) and peak RSS are printed beside them, with the
load average before and after. Targets are printed, never asserted in the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
TOP = HERE.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(TOP / "test" / "lab"))
import labconf  # noqa: E402  (stdlib-only lab settings)


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the child
    rss: int  # the child's own peak RSS, KiB (from wait4)
    out: str


def timed_rss(argv: Sequence[str], env: Dict[str, str]) -> Run:
    """Wall and CPU seconds, peak RSS and stdout of one run of ``argv``; exits on failure."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(list(argv), env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"bench: {' '.join(argv[:3])} ... failed ({proc.returncode}): {err.read().strip()[-500:]}")
        return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, out.read())


def make_file(path: Path, size: int) -> Dict[str, str]:
    hashes = {a: hashlib.new(a) for a in ("md5", "sha1", "sha256", "sha512")}
    block = 8 << 20
    with open(path, "wb") as f:
        for _ in range(size // block):
            data = os.urandom(block)
            f.write(data)
            for h in hashes.values():
                h.update(data)
    return {a: h.hexdigest() for a, h in hashes.items()}


def pairs(label: str, ours: List[str], ref: List[str], env: Dict[str, str], repeat: int, target: float,
          after_ours: Optional[Callable[[str], None]] = None,
          after_ref: Optional[Callable[[str], None]] = None) -> None:
    mine: List[Run] = []
    theirs: List[Run] = []
    for _ in range(repeat):
        theirs.append(timed_rss(ref, env))
        if after_ref:
            after_ref(theirs[-1].out)
        mine.append(timed_rss(ours, env))
        if after_ours:
            after_ours(mine[-1].out)
    o = statistics.median(r.wall for r in mine)
    r = statistics.median(r.wall for r in theirs)
    best = min(m.wall / t.wall for m, t in zip(mine, theirs))
    verdict = "ok" if o / r <= target else "OVER TARGET"
    print(f"{label}: glancing {o:.2f} s vs reference {r:.2f} s  ratio {o / r:.2f}x (best pair {best:.2f}x;"
          f" target <= {target}x, {verdict})")
    print(f"  cpu (median): glancing {statistics.median(m.cpu for m in mine):.2f} s,"
          f" reference {statistics.median(t.cpu for t in theirs):.2f} s;"
          f" glancing peak RSS {max(m.rss for m in mine) / 1024:.0f} MiB", flush=True)


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mib", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--skip-import", action="store_true", help="only the dry-run comparison (no lab needed)")
    args = p.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(labconf.demo_env())
    glancing, glance = str(BIN / "glancing"), str(BIN / "glance")
    with tempfile.TemporaryDirectory(prefix="glancing-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        image = Path(tmp) / "bench.img"
        print(f"bench: writing a {args.size_mib} MiB random file ...", flush=True)
        digests = make_file(image, args.size_mib << 20)
        sums = ":".join(digests[a] for a in ("md5", "sha1", "sha256", "sha512"))
        subprocess.run(["cat", str(image)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        # As installed by pip: bytecode compiled once, not on every run (the test environment sets
        # PYTHONDONTWRITEBYTECODE, which would charge each glancing run ~0.15 s of compiling).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        for warm in ([glancing, "-d", "-q", "--allow-unverified", str(image)], [glance, "--help"]):
            subprocess.run(warm, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        print(f"bench: load average before {_load()} ({os.cpu_count()} cores); {args.repeat} alternating pairs",
              flush=True)
        pairs("dry run, 4 digests vs md5sum", [glancing, "-q", "-d", "-s", sums, str(image)],
              ["md5sum", str(image)], env, args.repeat, 1.6)
        if not args.skip_import:
            glance_client = _lab_client()
            name = f"bench-{os.getpid()}"

            def delete_ours(out: str) -> None:
                _delete(glance_client, json.loads(out)["image_id"])

            def delete_ref(out: str) -> None:
                for img in glance_client.images.list(filters={"name": name + "-ref"}):
                    _delete(glance_client, img["id"])

            pairs("import, 4 digests vs glance image-create",
                  [glancing, "-q", "--json", "-n", name, "-s", sums, str(image)],
                  [glance, "image-create", "--file", str(image), "--disk-format", "raw",
                   "--container-format", "bare", "--name", name + "-ref"],
                  env, args.repeat, 1.10, after_ours=delete_ours, after_ref=delete_ref)
        print(f"bench: load average after {_load()}")
    return 0


def _delete(client, image_id: str) -> None:
    """Delete a bench image; one already gone (a test session's sweep on the shared lab) is fine."""
    from glanceclient import exc

    try:
        client.images.delete(image_id)
    except exc.HTTPNotFound:
        pass


def _lab_client():
    from glanceclient import Client
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    demo = labconf.DEMO
    auth = v3.Password(auth_url=labconf.AUTH_URL, username=demo["username"], password=demo["password"],
                       project_name=demo["project"], user_domain_name="Default", project_domain_name="Default")
    return Client("2", session=session.Session(auth=auth))


if __name__ == "__main__":
    sys.exit(main())
