# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""make bench: a no-op ``glance_manager sync`` over S subscriptions of N images each, all current.

Builds the images directly in Glance (tiny distinct images, tagged and labelled as a sync leaves
them), the subscriptions' lists on a loopback server and the database rows that say each image
is current, then runs ``glance_manager sync`` through a request-counting proxy and prints the wall
time, the Glance API requests and the list GETs. Target: at most 3 s, one conditional GET per
list (each answered 304), and a Glance request count that grows with the listing pages (200
images a page), not with the images. Keystone traffic is not counted. The images are deleted at
the end, also on failure. Needs the lab (`make lab-up`).

    .venv/bin/python bench/subs.py [--subscriptions 20] [--images 30]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, List

HERE = Path(__file__).resolve().parent
TOP = HERE.parent
BIN = Path(sys.executable).parent
sys.path[:0] = [str(TOP / "test"), str(TOP / "test" / "lab")]
import labconf  # noqa: E402  (stdlib-only lab settings)
from httpserver import FaultyHTTPServer  # noqa: E402
from manager import delete_fleet, describe, glance_client, timed_run  # noqa: E402
from manager_helpers import CountingProxy, _patiently  # noqa: E402
from subs_sync_helpers import store_list  # noqa: E402
from trustkit import make_pki  # noqa: E402

from glancing.subscriptions.db import Database  # noqa: E402
from glancing.targets import names  # noqa: E402

BUDGET = 3.0


def build(glance: Any, db: Database, www: Path, server: FaultyHTTPServer, subs: int, per: int, prefix: str) -> int:
    """The images in Glance and the database rows that say they are current; the image count."""
    import requests

    made = 0
    for s in range(subs):
        sub_id = f"{prefix}-list-{s:02d}"
        entries = []
        for n in range(per):
            path = www / f"{s:02d}-{n:02d}.img"
            path.write_bytes(hashlib.sha512(f"{prefix}/{s}/{n}".encode()).digest() * 64)  # 4 KiB, distinct
            entries.append({"path": path, "uri": server.url(path.name), "id": f"{prefix}-{s:02d}-{n:02d}",
                            "title": f"{prefix} {s:02d}-{n:02d}", "format": "raw"})
        data = store_list(db, sub_id, server.url(f"{sub_id}.list"), entries, selected=[e["id"] for e in entries])
        (www / f"{sub_id}.list").write_bytes(data)
        answer = requests.get(server.url(f"{sub_id}.list"), timeout=10)
        with db.transaction() as conn:
            conn.execute("UPDATE subscriptions SET etag = ?, last_modified = ? WHERE id = ?",
                         (answer.headers.get("ETag"), answer.headers.get("Last-Modified"), sub_id))
        for e in entries:
            body = Path(e["path"]).read_bytes()
            image = _patiently(lambda: glance.images.create(
                name=e["title"], disk_format="raw", container_format="bare", visibility="private", tags=["glancing"],
                hepix_image_id=e["id"], **{names.PROP_SUBSCRIPTION: sub_id, names.PROP_DATABASE: db.path}))
            _patiently(lambda: glance.images.upload(image["id"], io.BytesIO(body), image_size=len(body)))
            with db.transaction() as conn:
                conn.execute("UPDATE images SET target_id = ?, imported_sha512 = sha512 WHERE uuid = ?",
                             (image["id"], e["id"]))
            made += 1
    return made


def run_noop(work: Path, db_path: str, pki: Any) -> tuple:
    trust_file = work / "no-trust-file"
    trust_file.write_text("")
    proxy = CountingProxy(labconf.GLANCE_URL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "GLANCING_", "VMCATCHER_"))}
    env.update(labconf.demo_env(), OS_IMAGE_ENDPOINT_OVERRIDE=proxy.url)
    argv = [str(BIN / "glance_manager"), "--json", "--db", db_path, "--ca-dir", str(pki.ca_dirs["valid"]),
            "--trust", str(trust_file), "--lock", str(work / "manager.lock"), "sync"]
    res, elapsed = timed_run(argv, env, proxy)
    if res.returncode not in (0, 8) or not res.stdout.strip():
        sys.exit(f"bench: glance_manager sync failed ({res.returncode}): {res.stderr.strip()[-800:]}")
    return elapsed, list(proxy.requests), res.stdout


def _delete(glance: Any, prefix: str) -> int:
    from glanceclient import exc

    try:
        return delete_fleet(glance, prefix)
    except exc.HTTPNotFound:  # someone else's cleanup got there first
        return delete_fleet(glance, prefix)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=20)
    parser.add_argument("--images", type=int, default=30, help="images per subscription")
    args = parser.parse_args()
    glance = glance_client()
    prefix = f"bench-subs-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="glancing-bench-") as tmp:
        work = Path(tmp)
        www = work / "www"
        www.mkdir()
        server = FaultyHTTPServer(www).start()
        try:
            pki = make_pki(work / "pki")
            with Database.open(str(work / "db" / "glancing.db")) as db:
                started = time.perf_counter()
                count = build(glance, db, www, server, args.subscriptions, args.images, prefix)
                print(f"glance_manager sync no-op: built {count} current images in "
                      f"{time.perf_counter() - started:.1f} s")
                db_path = db.path
            before = len(server.requests)
            elapsed, requests, out = run_noop(work, db_path, pki)
            import json

            report = json.loads(out)["subscriptions"]
            list_gets = server.requests[before:]
            print(f"glance_manager sync no-op over {args.subscriptions} subscriptions x {args.images} images: "
                  f"{elapsed:.2f} s wall (budget {BUDGET:g} s: {'ok' if elapsed <= BUDGET else 'OVER'}), "
                  f"{len(requests)} Glance API requests ({describe(requests)}), {len(list_gets)} list GETs, "
                  f"{report['current']} current, {len(report['outcomes'])} changed")
            if report["outcomes"]:
                print(f"bench: {len(report['outcomes'])} images were not current: deleted during the setup by "
                      "another test's cleanup? (not a no-op run: run the bench on a quiet lab)")
        finally:
            server.stop()
            removed = _delete(glance, prefix)
            print(f"glance_manager sync no-op: removed {removed} bench images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
