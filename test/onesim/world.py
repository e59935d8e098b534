# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The simulated front-end's state: users, datastores, images (and VM templates), and what
oned does to them: LOCKED -> READY or ERROR after a copy of PATH, USED images that cannot be
deleted, permissions checked as USE / MANAGE / ADMIN, the four error codes.

Messages of recorded errors are the recorded ones; the few not in the recordings (a name
already taken, disabling a USED image) are marked "not recorded" where they are made.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from onesim import wire

AUTHENTICATION, AUTHORIZATION, NO_EXISTS, ACTION = 0x100, 0x200, 0x400, 0x800
READY, USED, DISABLED, LOCKED, ERROR = 1, 2, 3, 4, 5

DEFAULT_DATASTORE_TEMPLATES = {
    "system": {"DISK_TYPE": "FILE", "DS_MIGRATE": "YES", "RESTRICTED_DIRS": "/", "SAFE_DIRS": "/var/tmp",
               "SHARED": "NO", "TM_MAD": "ssh", "TYPE": "SYSTEM_DS"},
    "default": {"CLONE_TARGET": "SYSTEM", "DISK_TYPE": "FILE", "DS_MAD": "fs", "LN_TARGET": "SYSTEM",
                "RESTRICTED_DIRS": "/", "SAFE_DIRS": "/var/tmp", "TM_MAD": "ssh", "TYPE": "IMAGE_DS"},
    "files": {"CLONE_TARGET": "SYSTEM", "DS_MAD": "fs", "LN_TARGET": "SYSTEM", "RESTRICTED_DIRS": "/",
              "SAFE_DIRS": "/var/tmp", "TM_MAD": "ssh", "TYPE": "FILE_DS"},
}


class Refused(Exception):
    """A call oned answers with ``[false, message, code]``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class User:
    id: int
    name: str
    password: str
    gid: int
    gname: str


@dataclass
class World:
    """Everything the front-end knows. ``root``: where datastores keep their copies."""

    root: str
    users: Dict[str, User] = field(default_factory=lambda: {
        "oneadmin": User(0, "oneadmin", "opennebula", 0, "oneadmin"),
        "user": User(2, "user", "opennebula", 1, "users")})
    groups: Dict[int, str] = field(default_factory=lambda: {0: "oneadmin", 1: "users", 100: "rspec-group"})
    datastores: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    images: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    templates: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    next_image: int = 0
    next_template: int = 0
    lock_polls: int = 1             # image.info calls an allocated image stays LOCKED
    fail_next: int = 0              # that many next allocations end in ERROR
    never_ready: bool = False       # allocations stay LOCKED for ever
    lock: threading.RLock = field(default_factory=threading.RLock)
    calls: List[Tuple[str, Tuple[Any, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.datastores:
            for ds_id, (name, kind) in enumerate((("system", 1), ("default", 0), ("files", 2))):
                self.add_datastore(ds_id, name, kind, DEFAULT_DATASTORE_TEMPLATES[name])

    # -- seeding and knobs the tests use
    def add_datastore(self, ds_id: int, name: str, kind: int, template: Dict[str, str]) -> None:
        base = os.path.join(self.root, "datastores", str(ds_id))
        os.makedirs(base, exist_ok=True)
        self.datastores[ds_id] = {
            "ID": ds_id, "UID": 0, "GID": 0, "UNAME": "oneadmin", "GNAME": "oneadmin", "NAME": name,
            "PERMISSIONS": [1, 1, 0, 1, 0, 0, 0, 0, 0], "DS_MAD": "-" if kind == 1 else "fs", "TM_MAD": "ssh",
            "BASE_PATH": base, "TYPE": kind, "DISK_TYPE": 0, "STATE": 0,
            "TOTAL_MB": 0 if kind == 1 else 9207, "FREE_MB": 0 if kind == 1 else 7164,
            "USED_MB": 0 if kind == 1 else 1553, "TEMPLATE": dict(template)}

    def add_image(self, image: Dict[str, Any]) -> None:
        self.images[int(image["ID"])] = image
        self.next_image = max(self.next_image, int(image["ID"]) + 1)

    def attach_vm(self, image_id: int, vm_id: int = 1) -> None:
        """A VM now uses the image: USED, and oned refuses to delete it."""
        with self.lock:
            image = self.images[image_id]
            image["VMS"].append(vm_id)
            image["RUNNING_VMS"] = len(image["VMS"])
            image["STATE"] = USED

    def stored_bytes(self, image_id: int) -> bytes:
        with open(self.images[image_id]["SOURCE"], "rb") as f:
            return f.read()

    def named(self, name: str) -> List[Dict[str, Any]]:
        return [i for i in self.images.values() if i["NAME"] == name]

    # -- what every call does first
    def authenticate(self, session: str, call: str) -> User:
        name, _, password = str(session).partition(":")
        user = self.users.get(name)
        if user is None or user.password != password:
            raise Refused(AUTHENTICATION, f"[{call}] User couldn't be authenticated, aborting call.")
        return user

    def allowed(self, user: User, obj: Dict[str, Any], right: str) -> bool:
        if user.id == 0:
            return True
        bits = dict(zip(wire.PERMISSION_NAMES, obj["PERMISSIONS"]))
        if obj["UID"] == user.id and bits[f"OWNER_{right}"]:
            return True
        return bool(bits[f"GROUP_{right}"] and obj["GID"] == user.gid) or bool(bits[f"OTHER_{right}"])

    def image(self, user: User, image_id: int, call: str, right: str = "U") -> Dict[str, Any]:
        image = self.images.get(int(image_id))
        if image is None:
            raise Refused(NO_EXISTS, f"[{call}] Error getting image [{image_id}].")
        if not self.allowed(user, image, right):
            action = {"U": "USE", "M": "MANAGE", "A": "ADMIN"}[right]
            raise Refused(AUTHORIZATION, f"[{call}] User [{user.id}] : Not authorized to perform {action} IMAGE "
                                         f"[{image_id}].")
        return image

    def unique(self, table: Dict[int, Dict[str, Any]], kind: str, owner: int, name: str, call: str,
               but: Optional[int] = None) -> None:
        for obj in table.values():
            if obj["UID"] == owner and obj["NAME"] == name and obj["ID"] != but:
                # Not recorded: oned's wording for a taken name.
                raise Refused(ACTION, f"[{call}] NAME is already taken by {kind} {obj['ID']}.")

    # -- the copy oned's datastore driver makes of PATH
    def settle(self, image: Dict[str, Any]) -> None:
        """Called on each image.info: a LOCKED image is copied and becomes READY or ERROR."""
        if image["STATE"] != LOCKED or self.never_ready:
            return
        image["_polls"] = image.get("_polls", 0) + 1
        if image["_polls"] <= self.lock_polls:
            return
        failed = image.pop("_fail", False)
        reason = "the driver failed" if failed else self.copy(image)
        if reason:
            # The recording of an image going to ERROR shows no ERROR attribute: the reason stays here.
            image["STATE"], image["_error"] = ERROR, reason
        else:
            image["STATE"] = READY

    def copy(self, image: Dict[str, Any]) -> Optional[str]:
        ds = self.datastores[image["DATASTORE_ID"]]
        target = os.path.join(ds["BASE_PATH"], hashlib.md5(f"{image['ID']}-{time.time()}".encode()).hexdigest())
        path = image["PATH"]
        try:
            if path.startswith(("http://", "https://")):
                with urllib.request.urlopen(path, timeout=30) as got, open(target, "wb") as out:
                    shutil.copyfileobj(got, out)
            else:
                shutil.copyfile(path, target)
        except OSError as e:
            return f"cannot copy {path}: {e}"
        image["SOURCE"] = target
        image["SIZE"] = wire.size_mb(os.path.getsize(target))
        return None

    def new_image(self, user: User, attributes: Dict[str, str], ds: Dict[str, Any]) -> Dict[str, Any]:
        image_id = self.next_image
        self.next_image += 1
        template = {k: v for k, v in attributes.items() if k not in ("NAME", "PATH")}
        template.setdefault("DEV_PREFIX", "hd")
        image = {"ID": image_id, "UID": user.id, "GID": user.gid, "UNAME": user.name, "GNAME": user.gname,
                 "NAME": attributes["NAME"], "PERMISSIONS": [1, 1, 0, 0, 0, 0, 0, 0, 0],
                 "TYPE": 0, "DISK_TYPE": 0, "PERSISTENT": 0, "REGTIME": int(time.time()), "SOURCE": "",
                 "PATH": attributes.get("PATH", ""), "FSTYPE": "raw", "SIZE": 1, "STATE": LOCKED,
                 "RUNNING_VMS": 0, "CLONING_OPS": 0, "CLONING_ID": -1, "TARGET_SNAPSHOT": -1,
                 "DATASTORE_ID": ds["ID"], "DATASTORE": ds["NAME"], "VMS": [], "TEMPLATE": template}
        if self.fail_next:
            self.fail_next -= 1
            image["_fail"] = True
        self.images[image_id] = image
        return image
