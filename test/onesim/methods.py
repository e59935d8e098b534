# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The XML-RPC methods the simulator answers, each as oned 5 does: the first parameter is the
session ``user:password``; the answer is ``[success, value, error code]`` (wire.response)."""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, Sequence

from onesim import wire
from onesim.world import ACTION, DISABLED, ERROR, NO_EXISTS, READY, Refused, User, World

# XML-RPC method -> the name oned puts in brackets before its messages.
CALL_NAMES = {
    "one.image.allocate": "ImageAllocate", "one.image.info": "ImageInfo", "one.image.delete": "ImageDelete",
    "one.image.chmod": "ImageChmod", "one.image.chown": "ImageChown", "one.image.rename": "ImageRename",
    "one.image.enable": "ImageEnable", "one.image.update": "ImageUpdateTemplate",
    "one.imagepool.info": "ImagePoolInfo", "one.datastorepool.info": "DatastorePoolInfo",
    "one.template.allocate": "TemplateAllocate", "one.template.info": "TemplateInfo",
    "one.template.update": "TemplateUpdateTemplate", "one.template.delete": "TemplateDelete",
    "one.templatepool.info": "TemplatePoolInfo", "one.grouppool.info": "GroupPoolInfo",
}


def dispatch(world: World, method: str, params: Sequence[Any]) -> bytes:
    call = CALL_NAMES.get(method)
    if call is None or not params:
        return wire.response(False, f"[{method}] unknown method or missing session", 0x1000)
    with world.lock:
        world.calls.append((method, tuple(params[1:])))
        try:
            user = world.authenticate(params[0], call)
            return wire.response(True, HANDLERS[method](world, user, call, *params[1:]))
        except Refused as e:
            return wire.response(False, e.message, e.code)
        except (TypeError, ValueError) as e:
            return wire.response(False, f"[{call}] {e}", 0x1000)


def datastore_pool(world: World, user: User, call: str) -> str:
    body = "".join(wire.datastore_xml(ds, [i["ID"] for i in world.images.values() if i["DATASTORE_ID"] == ds_id])
                   for ds_id, ds in sorted(world.datastores.items()))
    return wire.element("DATASTORE_POOL", body)


def image_pool(world: World, user: User, call: str, who: int = -2, start: int = -1, end: int = -1) -> str:
    shown = [i for _, i in sorted(world.images.items()) if world.allowed(user, i, "U")
             and (who in (-2, -1) or (who == -3 and i["UID"] == user.id) or i["UID"] == who)]
    return wire.element("IMAGE_POOL", "".join(wire.image_xml(i) for i in shown))


def image_info(world: World, user: User, call: str, image_id: int, decrypt: bool = False) -> str:
    image = world.image(user, image_id, call)
    world.settle(image)
    return wire.image_xml(image)


def image_allocate(world: World, user: User, call: str, text: str, ds_id: int, *rest: Any) -> int:
    attributes = wire.parse_template(text)
    if not attributes.get("NAME"):
        raise Refused(0x1000, f"[{call}] No NAME in template for Image.")  # not recorded
    ds = world.datastores.get(int(ds_id))
    if ds is None:
        raise Refused(NO_EXISTS, f"[{call}] Error getting datastore [{ds_id}].")
    world.unique(world.images, "IMAGE", user.id, attributes["NAME"], call)
    return world.new_image(user, attributes, ds)["ID"]


def image_delete(world: World, user: User, call: str, image_id: int, *rest: Any) -> int:
    image = world.image(user, image_id, call, "M")
    if image["RUNNING_VMS"]:
        raise Refused(ACTION, f"[{call}] Cannot delete image. There are {image['RUNNING_VMS']} VMs using it.")
    del world.images[int(image_id)]
    if image["SOURCE"] and os.path.isfile(image["SOURCE"]):
        os.unlink(image["SOURCE"])
    return int(image_id)


def image_chmod(world: World, user: User, call: str, image_id: int, *bits: int) -> int:
    image = world.image(user, image_id, call, "M")
    if len(bits) != 9:
        raise ValueError("chmod takes nine permission bits")
    image["PERMISSIONS"] = [old if new == -1 else int(new) for old, new in zip(image["PERMISSIONS"], bits)]
    return int(image_id)


def image_chown(world: World, user: User, call: str, image_id: int, uid: int, gid: int) -> int:
    image = world.image(user, image_id, call, "A")
    if uid != -1:
        owner = next((u for u in world.users.values() if u.id == uid), None)
        if owner is None:
            raise Refused(NO_EXISTS, f"[{call}] Error getting user [{uid}].")
        image["UID"], image["UNAME"] = owner.id, owner.name
    if gid != -1:
        if gid not in world.groups:
            raise Refused(NO_EXISTS, f"[{call}] Error getting group [{gid}].")
        image["GID"], image["GNAME"] = gid, world.groups[gid]
    return int(image_id)


def image_rename(world: World, user: User, call: str, image_id: int, name: str) -> int:
    image = world.image(user, image_id, call, "M")
    world.unique(world.images, "IMAGE", image["UID"], name, call, but=image["ID"])
    image["NAME"] = name
    return int(image_id)


def image_enable(world: World, user: User, call: str, image_id: int, enable: bool) -> int:
    image = world.image(user, image_id, call, "M")
    if enable and image["STATE"] == DISABLED:
        image["STATE"] = READY
    elif not enable and image["STATE"] in (READY, ERROR):
        image["STATE"] = DISABLED
    elif not enable and image["STATE"] != DISABLED:
        # Not recorded: oned's wording when an image in use cannot be disabled.
        raise Refused(ACTION, f"[{call}] Could not disable image, it has to be in READY or ERROR state.")
    return int(image_id)


def image_update(world: World, user: User, call: str, image_id: int, text: str, merge: int = 0) -> int:
    image = world.image(user, image_id, call, "M")
    attributes = wire.parse_template(text)
    image["TEMPLATE"] = {**image["TEMPLATE"], **attributes} if merge else attributes
    return int(image_id)


def template_allocate(world: World, user: User, call: str, text: str) -> int:
    attributes = wire.parse_template(text)
    name = attributes.pop("NAME", "")
    if not name:
        raise Refused(0x1000, f"[{call}] No NAME in template.")  # not recorded
    world.unique(world.templates, "TEMPLATE", user.id, name, call)
    tpl_id, world.next_template = world.next_template, world.next_template + 1
    world.templates[tpl_id] = {"ID": tpl_id, "UID": user.id, "GID": user.gid, "UNAME": user.name,
                               "GNAME": user.gname, "NAME": name, "PERMISSIONS": [1, 1, 0, 0, 0, 0, 0, 0, 0],
                               "REGTIME": int(time.time()), "TEMPLATE": attributes}
    return tpl_id


def _template(world: World, call: str, tpl_id: int) -> Dict[str, Any]:
    if int(tpl_id) not in world.templates:
        raise Refused(NO_EXISTS, f"[{call}] Error getting template [{tpl_id}].")
    return world.templates[int(tpl_id)]


def template_info(world: World, user: User, call: str, tpl_id: int, *rest: Any) -> str:
    return wire.template_object_xml(_template(world, call, tpl_id))


def template_update(world: World, user: User, call: str, tpl_id: int, text: str, merge: int = 0) -> int:
    tpl = _template(world, call, tpl_id)
    attributes = wire.parse_template(text)
    tpl["TEMPLATE"] = {**tpl["TEMPLATE"], **attributes} if merge else attributes
    return int(tpl_id)


def template_delete(world: World, user: User, call: str, tpl_id: int, *rest: Any) -> int:
    _template(world, call, tpl_id)
    del world.templates[int(tpl_id)]
    return int(tpl_id)


def template_pool(world: World, user: User, call: str, *filters: int) -> str:
    return wire.element("VMTEMPLATE_POOL", "".join(wire.template_object_xml(t)
                                                   for _, t in sorted(world.templates.items())))


def group_pool(world: World, user: User, call: str) -> str:
    return wire.element("GROUP_POOL", "".join(
        wire.group_xml(gid, name, [u.id for u in world.users.values() if u.gid == gid])
        for gid, name in sorted(world.groups.items())))


HANDLERS: Dict[str, Callable[..., Any]] = {
    "one.datastorepool.info": datastore_pool, "one.imagepool.info": image_pool, "one.image.info": image_info,
    "one.image.allocate": image_allocate, "one.image.delete": image_delete, "one.image.chmod": image_chmod,
    "one.image.chown": image_chown, "one.image.rename": image_rename, "one.image.enable": image_enable,
    "one.image.update": image_update, "one.template.allocate": template_allocate,
    "one.template.info": template_info, "one.template.update": template_update,
    "one.template.delete": template_delete, "one.templatepool.info": template_pool,
    "one.grouppool.info": group_pool,
}
