# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Inspect a disk image offline with libguestfs: the agent (``agent.py``) run once per image under
the system python3, its JSON read back as an ``Inspection``.

libguestfs boots a small appliance VM. Where KVM is unusable (here qemu aborts on KVM MSR setup
even though /dev/kvm exists) it must be told to use software emulation (TCG): ``tcg`` "yes"
forces it, "no" never, "auto" tries KVM when /dev/kvm is usable and launches once more under TCG
when that launch fails (targets.md section 3).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from glancing.errors import EnvironmentProblem
from glancing.procs import kill_group

AGENT = Path(__file__).resolve().parent / "agent.py"
SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass(frozen=True)
class Inspection:
    """What one inspection found. ``os`` is None when no operating system was recognised; the
    Linux facts are None unless the OS is Linux."""

    os: Optional[Mapping[str, Any]]
    roots: int = 0
    filesystems: Tuple[str, ...] = ()
    shadow: Optional[Tuple[Mapping[str, str], ...]] = None
    homes: Tuple[str, ...] = ()
    authorized_keys: Tuple[Mapping[str, Any], ...] = ()
    history: Tuple[Mapping[str, Any], ...] = ()
    host_keys: Tuple[str, ...] = ()
    agents: Tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def os_type(self) -> str:
        return str((self.os or {}).get("type") or "unknown")

    @property
    def is_linux(self) -> bool:
        return self.os_type == "linux"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Inspection":
        """From the agent's output (or a recorded one: test/fixtures/inspections)."""
        shadow = data.get("shadow")
        return cls(os=data.get("os"), roots=int(data.get("roots") or 0),
                   filesystems=tuple(data.get("filesystems") or ()),
                   shadow=tuple(shadow) if shadow is not None else None, homes=tuple(data.get("homes") or ()),
                   authorized_keys=tuple(data.get("authorized_keys") or ()),
                   history=tuple(data.get("history") or ()), host_keys=tuple(data.get("host_keys") or ()),
                   agents=tuple(data.get("agents") or ()), raw=dict(data))


@dataclass(frozen=True)
class InspectOptions:
    tcg: str = "auto"              # "auto" | "yes" | "no"
    timeout: float = 600.0         # seconds one appliance launch and inspection may take
    python: str = SYSTEM_PYTHON    # the interpreter that has the guestfs binding
    agents: Tuple[str, ...] = ("cloud-init",)
    tmp_dir: Optional[str] = None  # libguestfs' own temporary files (the appliance cache stays shared)


class InspectionFailed(Exception):
    """libguestfs could not open or read the image (a verdict about the image, not the host)."""


def available(options: InspectOptions) -> None:
    """Raise EnvironmentProblem unless the agent can run here (checked before any upload)."""
    if not Path(options.python).is_file():
        raise EnvironmentProblem(f"quarantine checks need {options.python} with python3-guestfs (make deps)")
    probe = subprocess.run([options.python, "-c", "import guestfs"], capture_output=True, timeout=60)
    if probe.returncode != 0:
        raise EnvironmentProblem("quarantine checks need libguestfs and its Python binding: apt-get install "
                                 "libguestfs-tools python3-guestfs (make deps)")


def _kvm_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def _env(base: Mapping[str, str], tcg: bool, tmp: str) -> Dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("LIBGUESTFS_")}
    env.update(LIBGUESTFS_BACKEND="direct", TMPDIR=tmp, LIBGUESTFS_CACHEDIR=tempfile.gettempdir())
    if tcg:
        env["LIBGUESTFS_BACKEND_SETTINGS"] = "force_tcg"
    return env


def _run(argv: Sequence[str], env: Mapping[str, str], timeout: float) -> Tuple[int, str, str]:
    proc = subprocess.Popen(list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise InspectionFailed(f"the inspection ran longer than {timeout:g} s and was stopped") from None
    except BaseException:
        kill_group(proc)  # interrupted: the appliance must not outlive the run
        raise
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")



def _attempts(tcg: str) -> List[bool]:
    if tcg == "yes" or (tcg == "auto" and not _kvm_usable()):
        return [True]
    return [False] if tcg == "no" else [False, True]


def inspect(path: str, disk_format: str, options: InspectOptions = InspectOptions(),
            base_env: Optional[Mapping[str, str]] = None) -> Inspection:
    """Inspect the disk at ``path`` (``disk_format`` named, never probed). Raises InspectionFailed
    when libguestfs cannot read it, EnvironmentProblem when the binding is missing."""
    last = "no attempt"
    with tempfile.TemporaryDirectory(prefix="glancing-guestfs-", dir=options.tmp_dir) as tmp:
        for tcg in _attempts(options.tcg):
            env = _env(base_env if base_env is not None else {"PATH": os.defpath}, tcg, tmp)
            argv = [options.python, str(AGENT), path, disk_format, *options.agents]
            code, out, err = _run(argv, env, options.timeout)
            if code == 0:
                return Inspection.from_json(json.loads(out))
            if code == 3:
                raise EnvironmentProblem(err.strip().splitlines()[-1] if err.strip() else "python3-guestfs missing")
            lines = [ln for ln in err.splitlines() if ln.strip()]
            last = lines[-1].strip()[:300] if lines else f"the agent exited with status {code}"
    raise InspectionFailed(last)


__all__ = ["Inspection", "InspectOptions", "InspectionFailed", "available", "inspect"]
