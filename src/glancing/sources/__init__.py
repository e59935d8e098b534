# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Where an image comes from: what the user typed -> ImageSpec (see glancing.sources.resolver).

  resolver.py     SOURCE -> ImageSpec: a URL, a local image, a local record or list, a marketplace ID
  plain.py        sources that are just bytes (a path or URL the user named)
  marketplace.py  where marketplace listings are fetched from
  stratuslab.py   a StratusLab record -> ImageSpec
  hepix.py        a HEPiX list entry -> ImageSpec
  locations.py    which locations a record of each origin may name
  common.py       Glance names and standard properties from record fields

Reading the documents is glancing.formats' job, verifying them glancing.trust's.
"""

from glancing.sources.resolver import (CheckedListing, SourceSettings, check_listing, detect_file, list_entry_spec,
                                       marketplace_spec, record_file_spec, resolve, with_signature_property)

__all__ = ["CheckedListing", "SourceSettings", "check_listing", "detect_file", "list_entry_spec", "marketplace_spec",
           "record_file_spec", "resolve", "with_signature_property"]
