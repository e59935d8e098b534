# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Every tag and property name glancing writes on a target's images, and its timestamp format:
spelled here once, read by the targets, the pipeline and the manager."""

from __future__ import annotations

import datetime as _dt
from typing import Optional

# Tags.
TAG_MANAGED = "glancing"            # glancing made or adopted this image
TAG_BACKUP = "glancing-backup"      # a retired previous version (hidden, still active)
TAG_PENDING = "glancing-pending"    # an upload not yet verified and released
TAG_EXPIRED = "glancing-expired"    # its list no longer endorses it (hidden; deactivated or deleted by policy)
TAG_QUARANTINE = "glancing-quarantine"  # verified, held hidden until the site's checks pass
TAG_REJECTED = "glancing-rejected"      # held in quarantine for good: a check failed

# An image's record: where it came from.
PROP_SOURCE = "source"
PROP_MPID = "mpid"
PROP_LIST = "glancing_list"                # the -l file that brought a marketplace image (expiry)
PROP_VERSION = "version"
PROP_ENDORSED = "endorsed_at"              # endorsement date of the record (see stamp())
PROP_GLANCING_VERSION = "glancing_version"
PROP_DIGEST_SCOPE = "glancing_digest_scope"
PROP_DIGEST_PREFIX = "glancing_"           # glancing_<alg>: a digest glancing verified
# The image stored is not the bytes as given: a disk converted or taken out of an OVA.
PROP_CONVERTED_FROM = "glancing_converted_from"  # the disk's format before conversion
PROP_OVA_DISK = "glancing_ova_disk"              # the OVA member imported
PROP_ORIGINAL_PREFIX = "glancing_original_"      # glancing_original_<alg>: digests of the bytes as given
TRANSFORMED_PROPS = (PROP_CONVERTED_FROM, PROP_OVA_DISK)

# Retirement and rollback.
PROP_APPLIANCE = "glancing_appliance"      # the name a backup was current under
PROP_REPLACED_BY = "glancing_replaced_by"
PROP_RETIRED_AT = "glancing_retired_at"
PROP_ROLLED_BACK = "glancing_rolled_back"  # set by a rollback: later runs must not reinstate it
PROP_EXPIRED_AT = "glancing_expired_at"    # when an expiry retired it
PROP_SUBSCRIPTION = "glancing_subscription"  # the HEPiX subscription glance_manager imported it for
PROP_DATABASE = "glancing_database"  # ... recorded in this database (its path): only that one expires it
# Quarantine: the name it waits to be released under, and why it was rejected.
PROP_QUARANTINE_NAME = "glancing_quarantine_name"
PROP_REJECTED_CHECKS = "glancing_rejected_checks"  # the failed checks' names, comma-separated
PROP_REJECTED_AT = "glancing_rejected_at"
PROP_CHECK_PREFIX = "glancing_check_"              # glancing_check_<name>: a failed check's output (trimmed)
BACKUP_PROPS = (PROP_REPLACED_BY, PROP_RETIRED_AT, PROP_ROLLED_BACK)

# A staged upload's marker: which run made it, so a later run can tell a dead run's leftover
# from a live run's upload (see targets.base.PendingMark).
PROP_PENDING_NAME = "glancing_pending_name"
PROP_PENDING_OWNER = "glancing_pending_owner"
PROP_PENDING_HOST = "glancing_pending_host"
PROP_PENDING_PID = "glancing_pending_pid"
PROP_PENDING_STARTED = "glancing_pending_started"
PENDING_PROPS = (PROP_PENDING_NAME, PROP_PENDING_OWNER, PROP_PENDING_HOST, PROP_PENDING_PID,
                 PROP_PENDING_STARTED)

# The owners (commands) that stage uploads.
OWNER_GLANCING = "glancing"
OWNER_MANAGER = "glance_manager"

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def stamp(when: Optional[_dt.datetime] = None) -> str:
    """``when`` (default: now) as the UTC ``YYYY-MM-DDThh:mm:ssZ`` every glancing timestamp uses."""
    moment = when or _dt.datetime.now(_dt.timezone.utc)
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc)
    return moment.strftime(TIMESTAMP_FORMAT)


def parse_stamp(text: Optional[str]) -> Optional[_dt.datetime]:
    """An ISO 8601 time from a target or a record (``...Z`` allowed) as aware UTC; None if absent
    or unparseable. Raises nothing."""
    if not text:
        return None
    value = str(text).strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        when = _dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)
