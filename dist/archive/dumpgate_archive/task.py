# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
"""The task a Dask worker runs: one dumpgate process over a list of dumps.
Standard library only, so that a worker needs nothing but this module (the
client also ships it by value) and the dumpgate binary."""
import json
import subprocess


class ScanFailed(RuntimeError):
    """dumpgate did not report every dump of the task: Dask retries it."""


def scan(dumpgate, scan_args, paths, timeout=None):
    """Runs `dumpgate scan --format jsonl SCAN_ARGS --files-from -` with paths
    on standard input; returns {"rc", "stdout", "stderr"}. Exit 0, 1 and 2
    are answers (2: some dump could not be read; its summary says which);
    anything else, or a dump without its summary record, raises ScanFailed."""
    argv = [dumpgate, "scan", "--format", "jsonl", "--quiet", *scan_args, "--files-from", "-"]
    p = subprocess.run(argv, input="".join(p + "\n" for p in paths).encode(),
                       capture_output=True, timeout=timeout)
    out = p.stdout.decode("utf-8", errors="replace")
    err = p.stderr.decode("utf-8", errors="replace")[-2000:]
    if p.returncode not in (0, 1, 2):
        raise ScanFailed(f"dumpgate exited {p.returncode}: {err}")
    seen = set()
    for line in out.splitlines():
        if line.strip():
            rec = json.loads(line)
            if rec.get("record") == "summary":
                seen.add(rec.get("file"))
    missing = [x for x in paths if x not in seen]
    if missing:
        raise ScanFailed(f"dumpgate (exit {p.returncode}) reported no summary for "
                         f"{len(missing)} of {len(paths)} dumps, first {missing[0]}: {err}")
    return {"rc": p.returncode, "stdout": out, "stderr": err}
