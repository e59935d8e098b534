# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glancing: import verified, endorsed VM images into OpenStack Glance.

The package reads as the pipeline it implements:

    sources/    where an image comes from: a path, a URL, a record, a list entry -> ImageSpec
    fetch/      how its bytes are fetched (streaming, retries, HTTP Range resume)
    verify/     how they are checked (size, every digest in one read, identifiers)
    transform/  how they are turned into what Glance stores (decompression, format probing)
    targets/    where they go: the Target protocol, Glance behind it (staged upload, its own
                digests checked, release, retire, leftovers of dead runs)
    retire/     target-neutral retirement policy: backup names, the local copy (-b)
    publish/    the endorser's publishing side (a later issue)
    pipeline    the one function that runs them in order; the CLIs are thin users of it
"""

__version__ = "1.0.0.dev0"
