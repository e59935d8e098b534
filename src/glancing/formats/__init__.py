# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Document formats: how records and image lists are recognised, parsed and read.

The bottom layer of the record side: ``trust`` (is it signed by whom it says) and ``sources``
(where an image comes from) both import this package, and it imports neither.

  detect.py      what a byte string is: XML record, JSON record or list, S/MIME, disk image
  xmlsafe.py     the one safe XML parser
  jsonsafe.py    the one JSON loader (size cap, encodings, top level must be an object)
  dates.py       the one date parser (YYYY-MM-DDThh:mm:ssZ) and the future-date check
  vocab.py       namespaces, the marketplace-ID pattern, known disk formats
  versions.py    the one version order
  text.py        cleaning of values read from endorsed content (control characters)
  stratuslab/    graph.py (RDF/XML, RDF/JSON -> triples), read.py (-> StratusLabRecord), validate.py
  hepix/         read.py (the list's JSON -> HepixList)

Writers (the publishing side) will sit next to the readers.
"""
