# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""make bench (scale): Glance moving the bytes, and one read for two clouds, on 1 GiB of random data.

1. two-cloud fan-out: ``glancing --os-cloud lab --os-cloud lab-second FILE`` (one read, two hidden
   uploads, two cross-checks and swaps) vs ONE bare ``glance image-create --file FILE``
   (target <= 1.2x). Medians of REPEAT alternating runs, as bench/run.py does. Both "clouds" of
   the lab are projects of the same single-process Glance, which is what limits the speed there;
   so two bare uploads run at the same time are timed as well and the ratio to them printed.
2. web-download: ``glancing --method web-download URL``; the bytes this host's glancing sent and
   received for the image (its head read from the source, counted on the server's sockets, plus
   everything it exchanged with the Glance API, counted by a TCP proxy in front of Glance) must
   be under 1% of the image size (target). Keystone's token requests are not counted.

The lab must be up (make bench starts it); the web-download source listens on 127.0.0.1:18080, the
port the lab's Glance may fetch from. Targets are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
TOP = HERE.parent
BIN = Path(sys.executable).parent
sys.path[:0] = [str(HERE), str(TOP / "test" / "lab"), str(TOP / "test")]
import labconf  # noqa: E402  (stdlib-only lab settings)
from httpserver import FaultyHTTPServer  # noqa: E402  (the tests' loopback HTTP server)
from run import make_file, timed_rss  # noqa: E402  (bench/run.py's helpers)

WEB_PORT = 18080


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Dict[str, int] = {}

    def add(self, key: str, n: int) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n


class _CountingSocket:
    """A server-side connection whose sent bytes are tallied (the handler writes with sendall)."""

    def __init__(self, sock: socket.socket, tally: Tally, key: List[str]) -> None:
        self._sock, self._tally, self._key = sock, tally, key

    def sendall(self, data: Any) -> None:
        self._tally.add(self._key[0], len(data))
        self._sock.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class CountingServer(FaultyHTTPServer):
    """The tests' HTTP server, tallying the bytes sent per client (told by its User-Agent)."""

    def __init__(self, root: Path, port: int) -> None:
        super().__init__(root, port)
        self.tally = Tally()

    def finish_request(self, request: Any, client_address: Any) -> None:
        key = ["unknown"]
        seen = len(self.requests)

        def who() -> None:  # the request line is parsed before the body is sent: name it then
            if len(self.requests) > seen:
                agent = str(self.requests[-1][2].get("User-Agent", ""))
                key[0] = "glancing" if agent.startswith("glancing/") else "glance"

        counted = _CountingSocket(request, self.tally, key)
        original = counted.sendall

        def sendall(data: Any) -> None:
            who()
            original(data)
        counted.sendall = sendall  # type: ignore[method-assign]
        super().finish_request(counted, client_address)


class CountingProxy:
    """A TCP forwarder to Glance that counts the bytes in both directions."""

    def __init__(self, target: tuple) -> None:
        self.target, self.up, self.down = target, 0, 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, upstream, "up"), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, "down"), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, way: str) -> None:
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                with self.lock:
                    setattr(self, way, getattr(self, way) + len(data))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def fanout(image: Path, digests: Dict[str, str], repeat: int, clouds_yaml: Path) -> None:
    admin = _client(labconf.ADMIN)
    name = f"bench-fan-{os.getpid()}"
    ref_env = {**_base_env(), **labconf.demo_env()}
    our_env = {**_base_env(), "OS_CLIENT_CONFIG_FILE": str(clouds_yaml)}
    ours = [str(BIN / "glancing"), "-q", "--json", "--os-cloud", "lab", "--os-cloud", "lab-second", "-n", name,
            "--digest", f"sha512:{digests['sha512']}", str(image)]
    ref = [str(BIN / "glance"), "image-create", "--file", str(image), "--disk-format", "raw",
           "--container-format", "bare", "--name", name + "-ref"]
    second_env = {**_base_env(), **labconf.demo_env(labconf.SECOND)}
    mine, theirs, pairs = [], [], []
    for _ in range(repeat):
        theirs.append(timed_rss(ref, ref_env))
        pairs.append(_both(ref, ref_env, second_env))
        for img in admin.images.list(filters={"name": name + "-ref"}):
            _delete(admin, img["id"])
        mine.append(timed_rss(ours, our_env))
        for cloud in json.loads(mine[-1].out)["clouds"]:
            _delete(admin, cloud["image_id"])
    o, r = statistics.median(m.wall for m in mine), statistics.median(t.wall for t in theirs)
    verdict = "ok" if o / r <= 1.2 else "OVER TARGET"
    print(f"two-cloud fan-out vs one glance image-create: glancing {o:.2f} s vs reference {r:.2f} s  ratio "
          f"{o / r:.2f}x (best pair {min(m.wall / t.wall for m, t in zip(mine, theirs)):.2f}x; target <= 1.2x, "
          f"{verdict})")
    print(f"  cpu (median): glancing {statistics.median(m.cpu for m in mine):.2f} s, reference "
          f"{statistics.median(t.cpu for t in theirs):.2f} s; glancing peak RSS {max(m.rss for m in mine) / 1024:.0f} MiB",
          flush=True)
    both = statistics.median(pairs)
    print(f"  the lab serves both clouds from ONE Glance process: two bare glance image-create at once "
          f"(one per project) take {both:.2f} s; fan-out vs that {o / both:.2f}x", flush=True)


def _both(ref: List[str], env_a: Dict[str, str], env_b: Dict[str, str]) -> float:
    """Wall seconds of the reference upload run into both projects at the same time."""
    start = time.perf_counter()
    procs = [subprocess.Popen(ref, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for env in (env_a, env_b)]
    if any(p.wait() != 0 for p in procs):
        sys.exit("bench: a parallel glance image-create failed")
    return time.perf_counter() - start


def web_download(image: Path, digests: Dict[str, str], clouds_yaml: Path) -> None:
    size = image.stat().st_size
    server = CountingServer(image.parent, WEB_PORT).start()
    proxy = CountingProxy((labconf.HOST, labconf.GLANCE_PORT))
    # The lab entry, with Glance reached through the counting proxy.
    proxied = image.parent / "clouds-proxied.yaml"
    proxied.write_text(clouds_yaml.read_text().replace(
        "  lab:\n", f"  lab:\n    image_endpoint_override: http://127.0.0.1:{proxy.port}\n", 1))
    env = {**_base_env(), "OS_CLIENT_CONFIG_FILE": str(proxied)}
    argv = [str(BIN / "glancing"), "-q", "--json", "--os-cloud", "lab", "--method", "web-download",
            "-n", f"bench-wd-{os.getpid()}", "--digest", f"sha512:{digests['sha512']}", server.url(image.name)]
    try:
        run = timed_rss(argv, env)
        image_id = json.loads(run.out)["image_id"]
        _delete(_client(labconf.DEMO), image_id)
    finally:
        proxy.close()
        server.stop()
    head = server.tally.counts.get("glancing", 0)
    glance_fetched = server.tally.counts.get("glance", 0)
    total = head + proxy.up + proxy.down
    verdict = "ok" if total < size / 100 else "OVER TARGET"
    print(f"web-download of {size >> 20} MiB: {run.wall:.2f} s; this host's glancing moved {total} bytes "
          f"({100 * total / size:.3f}% of the image; target < 1%, {verdict}):")
    print(f"  head read from the source {head}, sent to Glance {proxy.up}, received from Glance {proxy.down}; "
          f"Glance itself fetched {glance_fetched} bytes", flush=True)


def _base_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _delete(client: Any, image_id: str) -> None:
    from glanceclient import exc

    try:
        client.images.delete(image_id)
    except exc.HTTPNotFound:
        pass


def _client(who: Dict[str, str]) -> Any:
    from glanceclient import Client
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = v3.Password(auth_url=labconf.AUTH_URL, username=who["username"], password=who["password"],
                       project_name=who["project"], user_domain_name="Default", project_domain_name="Default")
    return Client("2", session=session.Session(auth=auth))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mib", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    clouds_yaml = labconf.Paths(labconf.lab_root()).clouds_yaml
    with tempfile.TemporaryDirectory(prefix="glancing-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        image = Path(tmp) / "bench.img"
        print(f"bench (scale): writing a {args.size_mib} MiB random file ...", flush=True)
        digests = make_file(image, args.size_mib << 20)
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        print(f"bench (scale): load average before {_load()} ({os.cpu_count()} cores)", flush=True)
        fanout(image, digests, args.repeat, clouds_yaml)
        web_download(image, digests, clouds_yaml)
        print(f"bench (scale): load average after {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
