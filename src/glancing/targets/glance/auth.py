# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Credentials as every OpenStack CLI takes them: --os-cloud / clouds.yaml, OS_* variables, --os-* options.

openstack.config (openstacksdk) is the one loader that reads all three together; it hands back a
keystoneauth1 Session, which python-glanceclient uses directly.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any, Optional, Sequence

from glancing.errors import GlanceError, UsageError


@functools.lru_cache(maxsize=None)
def _config() -> Any:
    """One OpenStackConfig per process: it reads clouds.yaml and the vendor files when made."""
    import openstack.config  # slow import: only for commands that talk to Glance

    return openstack.config.OpenStackConfig()


def register_arguments(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Add --os-cloud, --os-auth-url, ..., --insecure, --os-cacert (defaults from OS_*)."""
    import openstack.exceptions

    group = parser.add_argument_group(
        "OpenStack authentication", "Defaults come from OS_* variables, or --os-cloud/OS_CLOUD and clouds.yaml.")
    adapter = _GroupAdapter(parser, group)
    try:
        _config().register_argparse_arguments(adapter, list(argv))
    except openstack.exceptions.ConfigException as e:
        raise UsageError(f"OpenStack configuration: {e}") from e
    # get_one(argparse=...) reads EVERY attribute as a cloud setting; glance_client() hands it only
    # the ones openstack.config added, so our own options (--json, --metrics ...) never collide.
    parser.set_defaults(openstack_dests=tuple(adapter.dests))


class _AppendTuple(argparse.Action):
    """Collects a repeated option into a tuple (the shape of the [glance] clouds setting)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Any = None) -> None:
        setattr(namespace, self.dest, tuple(dict.fromkeys((*(getattr(namespace, self.dest) or ()), values))))


class _GroupAdapter:
    """Lets openstack.config add its options to an argument group, so --help shows them together."""

    def __init__(self, parser: argparse.ArgumentParser, group: Any) -> None:
        self._parser = parser
        self._group = group
        self.dests: list = []

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        if "--os-cloud" in args:
            # Repeatable: one read of the image fanned out to every cloud named. The OS_CLOUD
            # default is kept aside; [glance] clouds comes between the two.
            self._parser.set_defaults(os_cloud_env=kwargs.get("default"))
            kwargs.update(action=_AppendTuple, default=None,
                          help="a clouds.yaml entry; repeat it to import into several clouds from one read "
                               "([glance] clouds, $OS_CLOUD)")
        action = self._group.add_argument(*args, **kwargs)
        self.dests.append(action.dest)
        return action

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Any:
        return self._group

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


def glance_client(args: argparse.Namespace, cloud: Optional[str] = None) -> Any:
    """A python-glanceclient v2 client for the cloud the options and environment describe
    (``cloud``: that clouds.yaml entry; else the one --os-cloud, else $OS_CLOUD)."""
    import glanceclient
    import keystoneauth1.exceptions
    import openstack.exceptions

    only_openstack = argparse.Namespace(**{k: getattr(args, k) for k in getattr(args, "openstack_dests", ())
                                           if hasattr(args, k)})
    named = getattr(args, "os_cloud", None)
    if isinstance(named, str):  # a namespace made in code names one cloud
        named = (named,)
    if cloud is None and isinstance(named, tuple):
        if len(named) > 1:
            raise UsageError("several --os-cloud given: this command imports into one cloud at a time")
        cloud = named[0] if named else None
    if cloud is not None or hasattr(only_openstack, "os_cloud"):
        only_openstack.os_cloud = cloud or getattr(args, "os_cloud_env", None)
    try:
        region = _config().get_one(argparse=only_openstack)
        session = region.get_session()
        # OS_IMAGE_ENDPOINT_OVERRIDE / image_endpoint_override / --os-endpoint-override, as the
        # openstack CLI honours them (a proxy, or a catalog that lists an unreachable URL).
        override = region.get_endpoint("image") or region.config.get("endpoint_override")
        return glanceclient.Client("2", session=session, region_name=region.get_region_name(),
                                   interface=region.get_interface(), endpoint=override)
    except openstack.exceptions.ConfigException as e:
        raise UsageError(f"OpenStack configuration: {e}") from e
    except keystoneauth1.exceptions.MissingRequiredOptions as e:
        raise UsageError(f"no OpenStack credentials: set OS_* variables or use --os-cloud ({e})") from e
    except keystoneauth1.exceptions.ClientException as e:
        raise GlanceError(f"Keystone: {e}") from e
