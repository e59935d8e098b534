# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The bodies of glancing-publish's commands: settings in, library call, result out."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any, Dict, Optional
from urllib.parse import urlsplit

from glancing import errors
from glancing.cli import options
from glancing.cli.common import print_json
from glancing.errors import SourceError, UsageError
from glancing.publish import service, store
from glancing.publish.db import open_db
from glancing.publish.sign import sign_list
from glancing.publish.upload import UploadSettings
from glancing.settings import Settings, parse_duration
from glancing.subscriptions.db import Database

# argparse dest -> [publish] key (the shared table in cli/options.py maps "db" to the manager's).
PUBLISH_KEYS = {"publish_db": "publish.database", "uri_match": "publish.uri_match",
                "uri_replace": "publish.uri_replace", "ssh_key": "publish.ssh_key",
                "ssh_known_hosts": "publish.ssh_known_hosts"}


def _settings(args: argparse.Namespace) -> Settings:
    given = {key: getattr(args, dest) for dest, key in options.OPTION_KEYS.items()
             if hasattr(args, dest) and dest != "db"}
    given.update({key: getattr(args, dest, None) for dest, key in PUBLISH_KEYS.items()})
    return Settings.load(given, config=getattr(args, "config", None))


def _db(settings: Settings) -> Database:
    return open_db(str(Path(settings.get("publish", "database")).expanduser()))


def _lifetime(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "lifetime", None):
        try:
            return parse_duration(args.lifetime)
        except ValueError as e:
            raise UsageError(f"--lifetime: {e}") from None
    return int(settings.get("publish", "lifetime"))


def _say(args: argparse.Namespace, text: str, obj: Dict[str, Any]) -> int:
    if args.json:
        print_json(obj)
    elif not args.quiet:
        print(text)
    return errors.OK


def _list_json(db: Database, row: store.ListRow) -> Dict[str, Any]:
    signed = store.latest_signed(db, row.id)
    return {"id": row.id, "title": row.title, "description": row.description, "uri": row.uri,
            "source": row.source, "vo": row.vo, "lifetime": row.lifetime, "version": row.version,
            "endorser": {"dn": row.endorser_dn, "ca": row.endorser_ca, "email": row.endorser_email,
                         "name": row.endorser_name},
            "images": [{"uuid": i.uuid, "file": i.file, "entry": i.entry} for i in store.images(db, row.id)],
            "latest_signed": None if signed is None else {
                "version": signed.version, "signed_at": signed.signed_at,
                "uploaded_to": signed.uploaded_to, "uploaded_at": signed.uploaded_at}}


def list_create(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _db(settings) as db:
        row = store.create_list(db, identifier=args.id, title=args.title, uri=args.uri,
                                lifetime=_lifetime(args, settings), description=args.description,
                                source=args.source or urlsplit(args.uri).hostname, vo=args.vo)
        return _say(args, row.id, _list_json(db, row))


def list_show(args: argparse.Namespace) -> int:
    with _db(_settings(args)) as db:
        shown = _list_json(db, store.get_list(db, args.id))
    if args.json:
        print_json(shown)
        return errors.OK
    print(f"{shown['id']}  {shown['title']}\n  uri: {shown['uri']}\n  published version: {shown['version']}")
    if shown["endorser"]["dn"]:
        print(f"  endorser: {shown['endorser']['dn']} (CA {shown['endorser']['ca']})")
    for image in shown["images"]:
        entry = image["entry"]
        print(f"  {image['uuid']}  {entry.get('dc:title', '')}  version {entry.get('hv:version', '')}  "
              f"{entry.get('hv:format', '')}  {entry.get('hv:uri', '') or '(no hv:uri)'}")
    signed = shown["latest_signed"]
    if signed:
        where = f"uploaded to {signed['uploaded_to']}" if signed["uploaded_at"] else "not uploaded"
        print(f"  latest signed: version {signed['version']} at {signed['signed_at']}, {where}")
    return errors.OK


def list_ls(args: argparse.Namespace) -> int:
    with _db(_settings(args)) as db:
        rows = store.all_lists(db)
        counts = {r.id: len(store.images(db, r.id)) for r in rows}
    if args.json:
        print_json([{"id": r.id, "title": r.title, "uri": r.uri, "version": r.version, "images": counts[r.id]}
                    for r in rows])
    else:
        for r in rows:
            print(f"{r.id}  {r.version or '-':>10}  {counts[r.id]:>3} images  {r.title}")
    return errors.OK


def list_delete(args: argparse.Namespace) -> int:
    with _db(_settings(args)) as db:
        row = store.delete_list(db, args.id)
    return _say(args, f"deleted list {row.id}", {"deleted": row.id})


def _fields(args: argparse.Namespace) -> service.ImageFields:
    return service.ImageFields(title=args.title, version=args.version, description=args.description,
                               os=args.os, os_version=args.os_version, arch=args.arch,
                               hypervisor=args.hypervisor, comments=args.comments, uri=args.uri)


def image_add(args: argparse.Namespace) -> int:
    with _db(_settings(args)) as db:
        image = service.add_image(db, args.list, Path(args.file), _fields(args), args.compress)
    return _say(args, image.uuid, {"uuid": image.uuid, "file": image.file, "entry": image.entry})


def image_update(args: argparse.Namespace) -> int:
    with _db(_settings(args)) as db:
        image, changed = service.update_image(db, args.list, args.image, Path(args.file), args.version,
                                              args.compress)
    text = (f"{image.uuid}: version {image.entry.get('hv:version')}" if changed
            else f"{image.uuid}: unchanged (same SHA-512)")
    return _say(args, text, {"uuid": image.uuid, "changed": changed, "entry": image.entry})


def image_set(args: argparse.Namespace) -> int:
    pairs = []
    for pair in args.pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"{pair!r} is not KEY=VALUE")
        pairs.append((key.strip(), value))
    with _db(_settings(args)) as db:
        for key, value in pairs:
            image = service.set_image_key(db, args.list, args.image, key, value)
    return _say(args, f"{image.uuid}: set", {"uuid": image.uuid, "entry": image.entry})


def image_remove(args: argparse.Namespace) -> int:
    with _db(_settings(args)) as db:
        image = store.remove_image(db, store.get_list(db, args.list).id, args.image)
    return _say(args, f"removed {image.uuid}", {"removed": image.uuid})


def _upload_settings(args: argparse.Namespace, settings: Settings) -> UploadSettings:
    cert = getattr(args, "cert", None)
    client = (cert, getattr(args, "key", None) or cert) if cert else None
    return UploadSettings(uri_match=settings.get("publish", "uri_match"),
                          uri_replace=settings.get("publish", "uri_replace"),
                          ssh_key=settings.get("publish", "ssh_key"),
                          ssh_known_hosts=settings.get("publish", "ssh_known_hosts"),
                          http=options.http_settings(settings), client_cert=client)


def image_upload(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _db(settings) as db:
        uri = service.upload_image(db, args.list, args.image, _upload_settings(args, settings),
                                   now=dt.datetime.now(dt.timezone.utc), base=args.base, destination=args.to)
    return _say(args, uri, {"hv:uri": uri})


def _path(value: Optional[str]) -> Optional[Path]:
    return Path(value).expanduser() if value else None


def sign(args: argparse.Namespace) -> int:
    creds = options.load_signer(args)
    with _db(_settings(args)) as db:
        signed = sign_list(db, args.list, creds, now=dt.datetime.now(dt.timezone.utc), email=args.email)
    if args.output:
        try:
            Path(args.output).write_bytes(signed.data)
        except OSError as e:
            raise SourceError(f"cannot write {args.output}: {e.strerror or e}") from None
    return _say(args, f"signed list {signed.list_id} version {signed.version}",
                {"list": signed.list_id, "version": signed.version, "signed_at": signed.signed_at})


def upload(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _db(settings) as db:
        signed, target = service.upload_list(db, args.list, _upload_settings(args, settings), args.to)
    return _say(args, f"uploaded list {signed.list_id} version {signed.version} to {target}",
                {"list": signed.list_id, "version": signed.version, "uploaded_to": target})


def import_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        data = Path(args.file).read_bytes()
    except OSError as e:
        raise SourceError(f"cannot read {args.file}: {e.strerror or e}") from None
    policy = options.trust_policy(args, settings)
    with _db(settings) as db:
        row = service.import_list(db, data, policy, args.file, _lifetime(args, settings))
    return _say(args, f"imported list {row.id} version {row.version}", {"id": row.id, "version": row.version})


__all__ = ["image_add", "image_remove", "image_set", "image_update", "image_upload", "import_list",
           "list_create", "list_delete", "list_ls", "list_show", "sign", "upload"]
