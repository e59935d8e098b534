# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""make bench: ``glancing-publish sign`` of a list of 1,000 images, in under 1 s.

Builds a publishing database with one list of N image entries (setup, not timed), then times
the library call behind ``glancing-publish sign``: the entries read from the database, the list
built and checked by the HEPiX reader, written as JSON, signed S/MIME (SHA-256) and kept as the
latest signed version. For scale, ``openssl smime -sign`` of the same JSON is timed too (a
process start included). The result is checked with ``openssl smime -verify``. Needs no lab.

    .venv/bin/python bench/publish.py [--images 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "test")]
from trustkit import make_pki  # noqa: E402

from glancing.publish import store  # noqa: E402
from glancing.publish.db import open_db  # noqa: E402
from glancing.publish.sign import sign_list  # noqa: E402
from glancing.trust.credentials import load_signer  # noqa: E402

BUDGET = 1.0


def _entry(n: int) -> dict:
    ident = f"00000000-0000-4000-8000-{n:012d}"
    return {"dc:identifier": ident, "dc:title": f"Image {n}", "dc:description": "bench image",
            "hv:uri": f"https://images.example.org/{ident}.qcow2.gz", "hv:size": 300_000_000 + n,
            "sl:checksum:sha512": hashlib.sha512(str(n).encode()).hexdigest(), "hv:version": "1.0",
            "hv:format": "qcow2.gz", "hv:hypervisor": "QEMU,KVM", "sl:arch": "x86_64", "sl:os": "Linux",
            "sl:osversion": "12", "sl:comments": ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="glancing-bench-publish-") as tmp_name:
        tmp = Path(tmp_name)
        pki = make_pki(tmp / "pki")
        creds = load_signer(pki.signer.cert_path, pki.signer.key_path)
        with open_db(str(tmp / "publish.db")) as db:
            row = store.create_list(db, title="bench", uri="https://lists.example.org/image.list",
                                    lifetime=28 * 86400)
            with db.transaction():
                for n in range(args.images):
                    store.put_image(db, row.id, store.ImageRow(_entry(n)["dc:identifier"], _entry(n), None))
            start = time.perf_counter()
            signed = sign_list(db, row.id, creds, now=dt.datetime.now(dt.timezone.utc))
            took = time.perf_counter() - start
        signed_file = tmp / "signed.list"
        signed_file.write_bytes(signed.data)
        payload = tmp / "payload.json"
        check = subprocess.run(["openssl", "smime", "-verify", "-in", str(signed_file), "-CApath",
                                str(pki.ca_dirs["valid"]), "-crl_check_all", "-out", str(payload)],
                               capture_output=True, text=True)
        start = time.perf_counter()
        subprocess.run(["openssl", "smime", "-sign", "-in", str(payload), "-out", str(tmp / "ref.list"),
                        "-signer", str(pki.signer.cert_path), "-inkey", str(pki.signer.key_path), "-md", "sha256"],
                       check=True, capture_output=True)
        reference = time.perf_counter() - start
    size = len(signed.data) / 2**20
    verdict = "OK" if took < BUDGET and check.returncode == 0 else "FAIL"
    print(f"publish sign: {args.images} images, {size:.1f} MiB signed list in {took:.3f} s "
          f"(budget {BUDGET:.0f} s; openssl smime -sign of the same JSON {reference:.3f} s, "
          f"ratio {took / reference:.2f}); openssl smime -verify -crl_check_all: "
          f"{'ok' if check.returncode == 0 else check.stderr.strip()}  {verdict}")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
