# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Credentials as every OpenStack CLI takes them: --os-cloud / clouds.yaml, OS_* variables, --os-* options.

openstack.config (openstacksdk) is the one loader that reads all three together; it hands back a
keystoneauth1 Session, which python-glanceclient uses directly.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any, Sequence

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


class _GroupAdapter:
    """Lets openstack.config add its options to an argument group, so --help shows them together."""

    def __init__(self, parser: argparse.ArgumentParser, group: Any) -> None:
        self._parser = parser
        self._group = group
        self.dests: list = []

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        action = self._group.add_argument(*args, **kwargs)
        self.dests.append(action.dest)
        return action

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Any:
        return self._group

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


def glance_client(args: argparse.Namespace) -> Any:
    """A python-glanceclient v2 client for the cloud the options and environment describe."""
    import glanceclient
    import keystoneauth1.exceptions
    import openstack.exceptions

    only_openstack = argparse.Namespace(**{k: getattr(args, k) for k in getattr(args, "openstack_dests", ())
                                           if hasattr(args, k)})
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
