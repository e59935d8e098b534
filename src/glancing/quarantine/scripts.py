# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Site check scripts (``[quarantine] scripts = DIR``): every executable file of DIR, in name
order, run with the local image path as its argument and in ``GLANCING_IMAGE_PATH``, the Glance
image id in ``GLANCING_IMAGE_ID``, and the record's fields under vmcatcher's
``VMCATCHER_EVENT_*`` names where they exist. Exit 0 passes; any other status, or running
longer than the timeout (its whole process group is then killed), fails.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from glancing.procs import kill_group
from glancing.quarantine.checks import Outcome, Status

OUTPUT_MAX = 2000  # characters of a script's output kept in its outcome


@dataclass(frozen=True)
class ScriptContext:
    path: str                       # the image file to check (read it, do not change it)
    image_id: str
    disk_format: str
    fields: Mapping[str, str]       # VMCATCHER_EVENT_* (and other) variables of the record


def scripts_in(directory: str) -> List[Path]:
    """The executable regular files of ``directory``, by name; hidden files and editor backups
    (``~``) skipped."""
    found = []
    for entry in sorted(Path(directory).iterdir()):
        if entry.name.startswith(".") or entry.name.endswith("~") or not entry.is_file():
            continue
        if os.access(entry, os.X_OK):
            found.append(entry)
    return found


def script_env(context: ScriptContext, base: Mapping[str, str]) -> Dict[str, str]:
    env = dict(base)
    env.update({k: str(v) for k, v in context.fields.items() if v not in (None, "")})
    env.update(GLANCING_IMAGE_PATH=context.path, GLANCING_IMAGE_ID=context.image_id,
               GLANCING_DISK_FORMAT=context.disk_format)
    return env


def _tail(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text if len(text) <= OUTPUT_MAX else "\u2026" + text[-OUTPUT_MAX:]


def run_script(script: Path, context: ScriptContext, timeout: float, base_env: Mapping[str, str]) -> Outcome:
    """Run one script; raises nothing."""
    name = f"script:{script.name}"
    with tempfile.TemporaryFile() as output:
        try:
            proc = subprocess.Popen([str(script), context.path], env=script_env(context, base_env),
                                    stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                    start_new_session=True, cwd=str(script.parent))
        except OSError as e:
            return Outcome(name, Status.FAIL, f"cannot run {script}: {e.strerror or e}")
        try:
            code: Optional[int] = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            code = None
        except BaseException:
            kill_group(proc)  # interrupted: the script and what it started must not outlive the run
            raise
        output.seek(0)
        said = _tail(output.read())
    if code is None:
        return Outcome(name, Status.FAIL, f"ran longer than {timeout:g} s and was killed. {said}".strip())
    if code != 0:
        return Outcome(name, Status.FAIL, f"exit status {code}. {said}".strip())
    return Outcome(name, Status.PASS, said)



def run_scripts(directory: Optional[str], context: ScriptContext, timeout: float,
                base_env: Mapping[str, str]) -> List[Outcome]:
    if not directory:
        return []
    return [run_script(s, context, timeout, base_env) for s in scripts_in(directory)]


__all__ = ["ScriptContext", "run_script", "run_scripts", "script_env", "scripts_in"]
