# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The inspection agent: ONE libguestfs appliance launch per image, every fact the checks need
read inside it, printed as one JSON object on stdout.

It runs under the system python3 (``python3 agent.py DISK FORMAT [AGENT...]``), because the
``guestfs`` binding is a Debian package (``python3-guestfs``), not on PyPI; ``inspect.py`` starts
it. Stdlib and guestfs only: nothing of glancing is importable there. The disk is opened read-only
with its format named (never probed), and nothing is mounted read-write.
"""

import json
import sys

HISTORY_FILES = (".bash_history", ".zsh_history", ".sh_history", ".ash_history", ".history",
                 ".python_history", ".mysql_history", ".psql_history", ".local/share/fish/fish_history")
KEY_FILES = (".ssh/authorized_keys", ".ssh/authorized_keys2")
AGENT_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin")


def _size(g, path):
    # Symlinks are followed inside the guest's tree: a key file may be a link to another.
    try:
        if g.is_file(path, followsymlinks=True):
            return int(g.filesize(path))
    except RuntimeError:
        pass
    return None


def _present(g, path):
    try:
        return bool(g.exists(path) or g.is_symlink(path))
    except RuntimeError:
        return False


def _read(g, path, limit=1 << 20):
    size = _size(g, path)
    if size is None or size > limit:
        return None
    return g.read_file(path).decode("utf-8", "replace")


def _homes(g, passwd):
    homes = {"/root"}
    for line in (passwd or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[5].startswith("/") and fields[5] not in ("/", "/dev/null"):
            homes.add(fields[5])
    if g.is_dir("/home"):
        homes.update("/home/" + name for name in g.ls("/home"))
    return sorted(h for h in homes if g.is_dir(h, followsymlinks=False))


def _mount(g, root):
    # The root file system itself first: an fstab may name devices the appliance does not have.
    g.mount_ro(root, "/")
    points = g.inspect_get_mountpoints(root)
    for point in sorted(points, key=len):
        if point == "/":
            continue
        try:
            g.mount_ro(points[point], point)
        except RuntimeError as e:
            sys.stderr.write("cannot mount %s on %s: %s\n" % (points[point], point, e))


def _os(g, root):
    def get(call):
        try:
            return call(root)
        except RuntimeError:
            return None
    return {"type": get(g.inspect_get_type), "distro": get(g.inspect_get_distro),
            "major": get(g.inspect_get_major_version), "minor": get(g.inspect_get_minor_version),
            "arch": get(g.inspect_get_arch), "product": get(g.inspect_get_product_name)}


def _linux_facts(g, agents):
    passwd = _read(g, "/etc/passwd")
    shadow = _read(g, "/etc/shadow")
    accounts = []
    for line in (shadow or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 2 and fields[0]:
            accounts.append({"user": fields[0], "password": fields[1]})
    homes = _homes(g, passwd)
    keys = [{"path": h + "/" + f, "size": _size(g, h + "/" + f)} for h in homes for f in KEY_FILES]
    history = [{"path": h + "/" + f, "size": _size(g, h + "/" + f)} for h in homes for f in HISTORY_FILES]
    host_keys = sorted(p for p in g.glob_expand("/etc/ssh/ssh_host_*_key") if _size(g, p) is not None)
    found = sorted({a for a in agents for d in AGENT_DIRS if _present(g, d + "/" + a)})
    return {"shadow": accounts if shadow is not None else None, "homes": homes,
            "authorized_keys": [k for k in keys if k["size"] is not None],
            "history": [h for h in history if h["size"] is not None],
            "host_keys": host_keys, "agents": found}


def inspect(disk, fmt, agents):
    import guestfs  # the system's binding; ImportError is reported by main()

    g = guestfs.GuestFS(python_return_dict=True)
    g.add_drive_opts(disk, readonly=1, format=fmt)
    g.launch()
    try:
        roots = g.inspect_os()
        report = {"roots": len(roots), "os": None, "filesystems": sorted(g.list_filesystems().values())}
        if roots:
            root = sorted(roots)[0]
            report["os"] = _os(g, root)
            _mount(g, root)
            if report["os"]["type"] == "linux":
                report.update(_linux_facts(g, agents))
        return report
    finally:
        g.shutdown()
        g.close()


def main(argv):
    if len(argv) < 3:
        sys.stderr.write("usage: agent.py DISK FORMAT [AGENT...]\n")
        return 2
    try:
        report = inspect(argv[1], argv[2], argv[3:])
    except ImportError as e:
        sys.stderr.write("the guestfs Python binding is missing (Debian python3-guestfs): %s\n" % e)
        return 3
    except RuntimeError as e:
        lines = str(e).strip().splitlines() or ["failed"]
        sys.stderr.write("libguestfs: %s\n" % lines[0])
        return 1
    json.dump(report, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
