# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""make bench: an OVA with a 1 GiB streamOptimized VMDK (random data) imported as qcow2.

glancing, with the OVA's sha512 expected (as a HEPiX list gives it):
    glancing -n NAME -s SHA512 x.ova
against the same work done by hand in one shell pipeline (target <= 1.15x):
    tar -xOf x.ova disk.vmdk > d.vmdk; qemu-img convert -O qcow2 d.vmdk d.qcow2;
    glance image-create --file d.qcow2 ...

glancing does more: it hashes the OVA as it reads it, checks every member and every disk's
header, and hashes the converted image as it uploads it. Pairs run alternately (``run.pairs``);
medians, the best pair and CPU seconds are printed, never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict

HERE = Path(__file__).resolve().parent
TOP = HERE.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(TOP / "test" / "lab"))
sys.path.insert(0, str(TOP / "test"))
import labconf  # noqa: E402  (stdlib-only lab settings)
from images import make_ova  # noqa: E402
from run import make_file, pairs  # noqa: E402


def build(work: Path, size: int) -> Path:
    """``work/x.ova`` holding ``disk.vmdk``, a streamOptimized VMDK of ``size`` random bytes."""
    raw = work / "disk.raw"
    make_file(raw, size)
    vmdk = work / "disk.vmdk"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
                    str(raw), str(vmdk)], check=True)
    raw.unlink()
    ova = make_ova(work / "x.ova", [vmdk])
    vmdk.unlink()
    return ova


def sha512(path: Path) -> str:
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(8 << 20), b""):
            h.update(block)
    return h.hexdigest()


def glance_client() -> Any:
    from glanceclient import Client
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    demo = labconf.DEMO
    auth = v3.Password(auth_url=labconf.AUTH_URL, username=demo["username"], password=demo["password"],
                       project_name=demo["project"], user_domain_name="Default", project_domain_name="Default")
    return Client("2", session=session.Session(auth=auth))


def delete_named(client: Any, name: str) -> None:
    from glanceclient import exc

    for image in list(client.images.list(filters={"name": name})):
        try:
            client.images.delete(image["id"])
        except exc.HTTPNotFound:
            pass


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mib", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    env: Dict[str, str] = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(labconf.demo_env())
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    client = glance_client()
    name = f"bench-ova-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="glancing-bench-ova-", dir=os.environ.get("BENCH_DIR")) as tmp:
        work = Path(tmp)
        print(f"bench: an OVA with a {args.size_mib} MiB streamOptimized VMDK (random data) ...", flush=True)
        ova = build(work, args.size_mib << 20)
        digest = sha512(ova)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        env["GLANCING_FETCH_TMP_DIR"] = str(work)
        glancing, glance = str(BIN / "glancing"), str(BIN / "glance")
        by_hand = (f"cd {work} && tar -xOf x.ova disk.vmdk > d.vmdk && qemu-img convert -O qcow2 d.vmdk d.qcow2 && "
                   f"{glance} image-create --file d.qcow2 --disk-format qcow2 --container-format bare "
                   f"--name {name}-ref > /dev/null; status=$?; rm -f d.vmdk d.qcow2; exit $status")
        subprocess.run([glancing, "-d", "-q", "-s", digest, str(ova)], env=env, check=True)  # warm up
        pairs("OVA (1 VMDK) to qcow2 vs tar + qemu-img convert + glance image-create",
              [glancing, "-q", "--json", "-n", name, "-s", digest, str(ova)], ["bash", "-c", by_hand],
              env, args.repeat, 1.15,
              after_ours=lambda out: delete_named(client, name) if json.loads(out)["image_id"] else None,
              after_ref=lambda out: delete_named(client, name + "-ref"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
