# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
"""dumpgate-archive: rescans an archive of crash dumps on a Dask cluster
(issue 25). Python only orchestrates; each task runs
`dumpgate scan --format jsonl --files-from -` on a worker."""
