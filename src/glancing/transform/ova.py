# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""OVA archives: the OVF descriptor, its disks in ``DiskSection`` order, and the OS/hardware hints.

An OVA is a tar whose first member is the ``.ovf`` descriptor; ``References/File`` names the
other members and their sizes, ``DiskSection/Disk`` the disks (capacity, format) through
``ovf:fileRef``. The archive is read once, as a stream (``tarstream``): the chosen disk's bytes
go to the caller's ``take``, every other disk's head to the caller's ``guard`` (the hostile-disk
check runs on every disk, chosen or not), other members are skipped unread. A referenced file
that is missing, twice present or of another size than the descriptor says is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence

from lxml import etree

from glancing.errors import UsageError
from glancing.formats.xmlsafe import parse_xml
from glancing.transform.tarstream import Member, Reader, TarStream, check_name, refuse
from glancing.transform.safety import printable

OVF_NAMESPACES = ("http://schemas.dmtf.org/ovf/envelope/1", "http://schemas.dmtf.org/ovf/envelope/2")
# An OVF descriptor is a few KiB; a large appliance's stays far below this.
MAX_OVF_BYTES = 1 << 20
# CIM resource types (DMTF DSP1041 / CIM_ResourceAllocationSettingData) of a VirtualHardwareSection.
RESOURCE_MEMORY, RESOURCE_IDE, RESOURCE_SCSI, RESOURCE_STORAGE = "4", "5", "6", "20"
_UNITS = re.compile(r"^\s*byte\s*(?:\*\s*(\d+)\s*\^\s*(\d+))?\s*$", re.I)
_LEGACY_UNITS = {"bytes": 1, "kilobytes": 1 << 10, "megabytes": 1 << 20, "gigabytes": 1 << 30}
_LINUX_WORDS = ("linux", "ubuntu", "debian", "centos", "redhat", "rhel", "fedora", "suse", "sles", "oracle",
                "mandriva", "gentoo", "almalinux", "rocky", "scientific", "alpine", "archlinux", "turbolinux")


@dataclass(frozen=True)
class OvfDisk:
    """One disk of the descriptor, in DiskSection order (``index`` counts from 1)."""

    index: int
    disk_id: str
    href: str  # the archive member holding its bytes
    size: Optional[int]  # that member's size, when References/File gives it
    capacity: Optional[int]  # virtual size in bytes, when given as a number
    format: str  # short name from ovf:format: vmdk, qcow2, vhd, raw, or the URL's tail

    def describe(self) -> str:
        capacity = f"{self.capacity / (1 << 30):.1f} GiB" if self.capacity is not None else "capacity unknown"
        return f"{self.index}: {printable(self.href, 80)} ({self.format}, {capacity})"


@dataclass
class Ovf:
    disks: List[OvfDisk]
    files: Dict[str, Optional[int]]  # every referenced member -> its declared size
    hints: Dict[str, str] = field(default_factory=dict)  # Glance properties for every disk
    buses: Dict[str, str] = field(default_factory=dict)  # disk id -> hw_disk_bus


def _local(name: object) -> str:
    return etree.QName(name).localname if isinstance(name, str) else ""


def _attr(element: etree._Element, name: str) -> Optional[str]:
    """An attribute by local name, in an OVF namespace or none (never by prefix)."""
    for key, value in element.attrib.items():
        qname = etree.QName(key)
        if qname.localname == name and qname.namespace in (None, *OVF_NAMESPACES):
            return str(value)
    return None


def _children(parent: etree._Element, name: str) -> Iterator[etree._Element]:
    return (c for c in parent.iter() if _local(c.tag) == name)


def _child_text(parent: etree._Element, name: str) -> Optional[str]:
    for child in parent:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def unit_factor(units: Optional[str]) -> Optional[int]:
    """Bytes per unit of an OVF allocation unit ("byte * 2^30", "byte", "MegaBytes"); None if unknown."""
    if not units:
        return 1
    legacy = _LEGACY_UNITS.get(units.strip().lower())
    if legacy:
        return legacy
    match = _UNITS.match(units)
    if not match:
        return None
    return int(match.group(1)) ** int(match.group(2)) if match.group(1) else 1


def _number(text: Optional[str]) -> Optional[int]:
    return int(text) if text is not None and text.strip().isdigit() else None


def _format_name(url: Optional[str]) -> str:
    lowered = (url or "").lower()
    for name in ("vmdk", "qcow2", "qcow", "vhdx", "vhd", "vdi", "raw"):
        if name in lowered:
            return "qcow2" if name == "qcow" else name
    return printable(url or "unknown", 60)


def parse_ovf(data: bytes, source: str) -> Ovf:
    """The descriptor's files, disks and hints; UnsafeImage for a malformed or unsafe one."""
    root = parse_xml(data, source, remove_comments=True, max_bytes=MAX_OVF_BYTES)
    if _local(root.tag) != "Envelope" or etree.QName(root).namespace not in OVF_NAMESPACES:
        raise refuse(source, "the descriptor is not an OVF Envelope")
    files: Dict[str, Optional[int]] = {}
    by_id: Dict[str, str] = {}
    for item in _children(root, "File"):
        href, file_id = _attr(item, "href"), _attr(item, "id")
        if not href or not file_id:
            raise refuse(source, "a References/File without ovf:id or ovf:href")
        if _attr(item, "compression") or _attr(item, "chunkSize"):
            raise refuse(source, f"file {printable(href, 80)!r} is compressed or chunked, "
                                 "which OVA import does not read")
        href = _member_name(href, source)
        if href in files:
            raise refuse(source, f"file {printable(href, 80)!r} is referenced twice")
        files[href], by_id[file_id] = _number(_attr(item, "size")), href
    disks = [_disk(i, item, by_id, files, source) for i, item in enumerate(_children(root, "Disk"), 1)]
    ovf = Ovf(disks, files)
    _hints(root, ovf)
    return ovf


def _member_name(href: str, source: str) -> str:
    if "://" in href or href.startswith("file:"):
        raise refuse(source, f"file {printable(href, 80)!r} lies outside the archive")
    check_name(href, source)
    return href[2:] if href.startswith("./") else href


def _disk(index: int, item: etree._Element, by_id: Dict[str, str], files: Dict[str, Optional[int]],
          source: str) -> OvfDisk:
    ref = _attr(item, "fileRef")
    if not ref or ref not in by_id:
        raise refuse(source, f"disk {index} names no file of References (ovf:fileRef {printable(ref or '', 40)!r})")
    capacity = _number(_attr(item, "capacity"))
    factor = unit_factor(_attr(item, "capacityAllocationUnits"))
    href = by_id[ref]
    return OvfDisk(index=index, disk_id=_attr(item, "diskId") or "", href=href, size=files[href],
                   capacity=capacity * factor if capacity is not None and factor else None,
                   format=_format_name(_attr(item, "format")))


def _hints(root: etree._Element, ovf: Ovf) -> None:
    """os_type, min_ram and each disk's hw_disk_bus, where the descriptor says."""
    for section in _children(root, "OperatingSystemSection"):
        words = " ".join([_child_text(section, "Description") or ""] +
                         [str(v) for k, v in section.attrib.items() if _local(k).lower() == "ostype"] +
                         [(c.text or "") for c in section if _local(c.tag).lower() == "ostype"]).lower()
        if "windows" in words or re.search(r"\bwin", words):
            ovf.hints["os_type"] = "windows"
        elif any(w in words for w in _LINUX_WORDS) or _attr(section, "id") == "36":
            ovf.hints["os_type"] = "linux"
        break
    items = [i for i in root.iter() if _local(i.tag) in ("Item", "StorageItem")]
    for item in items:
        if _child_text(item, "ResourceType") == RESOURCE_MEMORY:
            quantity = _number(_child_text(item, "VirtualQuantity"))
            factor = unit_factor(_child_text(item, "AllocationUnits") or "byte * 2^20")
            if quantity and factor:
                ovf.hints["min_ram"] = str(quantity * factor >> 20)
            break
    controllers = {_child_text(i, "InstanceID"): i for i in items}
    for item in items:
        host = _child_text(item, "HostResource") or ""
        disk_id = host.rsplit("/", 1)[-1] if "disk/" in host else None
        controller = controllers.get(_child_text(item, "Parent"))
        if disk_id and controller is not None:
            bus = _bus(controller)
            if bus:
                ovf.buses[disk_id] = bus


def _bus(controller: etree._Element) -> Optional[str]:
    kind = _child_text(controller, "ResourceType")
    subtype = (_child_text(controller, "ResourceSubType") or "").lower()
    if kind == RESOURCE_IDE:
        return "ide"
    if kind == RESOURCE_SCSI:
        return "scsi"
    if kind == RESOURCE_STORAGE and ("ahci" in subtype or "sata" in subtype):
        return "sata"
    return None


def choose(disks: Sequence[OvfDisk], choice: Optional[int], source: str) -> OvfDisk:
    """The disk to import: the only one, or the ``choice``-th (from 1); UsageError otherwise."""
    if not disks:
        raise refuse(source, "the OVF descriptor lists no disk")
    listing = "; ".join(d.describe() for d in disks)
    if choice is None:
        if len(disks) == 1:
            return disks[0]
        raise UsageError(f"{source}: the OVA holds {len(disks)} disks, choose one with --ova-disk N: {listing}")
    if not 1 <= choice <= len(disks):
        raise UsageError(f"{source}: --ova-disk {choice}: the OVA holds {len(disks)} disk(s): {listing}")
    return disks[choice - 1]


@dataclass
class Chosen:
    """What reading the OVA found: the chosen disk, all disks, the Glance hints for the chosen one."""

    disk: OvfDisk
    disks: List[OvfDisk]
    hints: Dict[str, str]
    descriptor: str


Take = Callable[[OvfDisk, Member, Iterator[bytes]], None]
Guard = Callable[[Iterator[bytes], str], None]


def read_ova(reader: Reader, source: str, choice: Optional[int], take: Take, guard: Guard) -> Chosen:
    """Read the whole OVA from ``reader``: ``take`` gets the chosen disk's bytes, ``guard`` every
    other disk's; raises UnsafeImage (malformed or hostile archive) or UsageError (which disk?)."""
    tar = TarStream(reader, source)
    first = tar.next()
    if first is None or not first.name.lower().endswith(".ovf"):
        raise refuse(source, "an OVA's first member must be its .ovf descriptor")
    ovf = parse_ovf(tar.read_member(MAX_OVF_BYTES), f"{source}: {printable(first.name, 80)}")
    chosen = choose(ovf.disks, choice, source)
    disks = {d.href: d for d in ovf.disks}
    seen = {first.name}
    while True:
        member = tar.next()
        if member is None:
            break
        name = member.name[2:] if member.name.startswith("./") else member.name
        if name in seen:
            raise refuse(source, f"member {printable(name, 80)!r} appears twice")
        seen.add(name)
        if name not in ovf.files:
            continue  # a manifest, a certificate: not read
        declared = ovf.files[name]
        if declared is not None and declared != member.size:
            raise refuse(source, f"member {printable(name, 80)!r} holds {member.size} bytes, "
                                 f"the descriptor says {declared}")
        disk = disks.get(name)
        if disk is chosen:
            take(disk, member, tar.chunks())
        elif disk is not None:
            guard(tar.chunks(), f"{source}: {printable(name, 80)}")
    missing = [printable(n, 80) for n in ovf.files if n not in seen]
    if missing:
        raise refuse(source, f"the descriptor references {', '.join(missing[:3])}, missing from the archive")
    tar.drain()
    hints = dict(ovf.hints)
    if chosen.disk_id in ovf.buses:
        hints["hw_disk_bus"] = ovf.buses[chosen.disk_id]
    return Chosen(chosen, list(ovf.disks), hints, first.name)
