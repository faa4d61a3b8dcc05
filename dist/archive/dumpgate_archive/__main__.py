# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
"""dumpgate-archive SOURCE --report FILE [options]

SOURCE is a manifest (one dump path or s3://bucket/key URL per line, -
for standard input; lines of `dumpgate ls-s3` also carry size, ETag and
time), a directory (its regular files, symlinks not followed), or an
s3://bucket/prefix (listed with `dumpgate ls-s3`; workers stream the
objects, credentials from the AWS_* variables of each worker). The dumps are cut
into tasks of about --task-seconds of work each (by bytes, at --mbps per
worker), each task runs `dumpgate scan --format jsonl --files-from -` on a
Dask worker (--scheduler tcp://HOST:PORT, else a LocalCluster), a failed
task is retried, and the records go into one JSONL report, each dump's
followed by an "archived" record (path, size, mtime, ETag for S3): a rerun
with the same report skips those dumps (files by size and mtime, objects by
ETag and size; an object whose scan failed is tried again) and appends. The per-key summary (JSON) names each
key and the dumps holding it, with the first and last dump time (mtime).
Exit 0 clean, 1 a finding at or above --fail-on, 2 a dump or task failed."""
import argparse
import datetime
import json
import os
import stat
import subprocess
import sys
import time

from . import task

SEVERITY = {"low": 0, "medium": 1, "high": 2}


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="dumpgate-archive", description=__doc__.split("\n\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="manifest file (- for stdin) or directory of dumps")
    ap.add_argument("--report", required=True, help="the JSONL report (appended to on a rerun)")
    ap.add_argument("--summary", help="the per-key summary (JSON); default REPORT.summary.json")
    ap.add_argument("--scheduler", help="tcp://HOST:PORT of a Dask scheduler; default: a "
                    "LocalCluster on this machine")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="LocalCluster workers (default: the CPUs)")
    ap.add_argument("--dumpgate", default=os.environ.get("DUMPGATE", "dumpgate"),
                    help="the dumpgate binary as the workers see it (default: $DUMPGATE, "
                    "else dumpgate in PATH)")
    ap.add_argument("--mbps", type=float, default=200.0,
                    help="estimated scan rate of one worker, MB/s (default 200)")
    ap.add_argument("--task-seconds", type=float, default=60.0,
                    help="target work per task, seconds (default 60)")
    ap.add_argument("--max-files", type=int, default=10000, help="most dumps per task")
    ap.add_argument("--retries", type=int, default=3, help="retries of a failed task")
    ap.add_argument("--task-timeout", type=float, default=None,
                    help="seconds before one task's dumpgate is stopped (then retried)")
    ap.add_argument("--fail-on", choices=SEVERITY, default="high")
    g = ap.add_argument_group("passed to dumpgate scan")
    g.add_argument("--config")
    g.add_argument("--no-config", action="store_true")
    g.add_argument("--known-keys", action="append", default=[],
                   help="name these keys; the summary then lists only them")
    g.add_argument("--allow", action="append", default=[])
    g.add_argument("--rules", action="append", default=[])
    g.add_argument("-d", "--detectors")
    g.add_argument("--scan-arg", action="append", default=[],
                   help="any other scan option, one argument each (--scan-arg=--strict)")
    return ap.parse_args(argv)


def scan_args(a):
    out = []
    if a.config:
        out += ["--config", os.path.abspath(a.config)]
    if a.no_config:
        out.append("--no-config")
    for k in a.known_keys:
        out += ["--known-keys", os.path.abspath(k)]
    for k in a.allow:
        out += ["--allow", os.path.abspath(k)]
    for k in a.rules:
        out += ["--rules", k if k == "default" else os.path.abspath(k)]
    if a.detectors:
        out += ["-d", a.detectors]
    return out + ["--fail-on", a.fail_on] + a.scan_arg


def parse_time(text):
    """ns since the epoch of an ISO 8601 time ("2026-12-04T14:25:02.000Z"), or 0."""
    try:
        t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int(t.timestamp()) * 10**9 + t.microsecond * 1000


def s3_entry(line):
    """(url, size, mtime_ns, etag) of a manifest line: a bare s3:// URL (size
    and ETag unknown: resumed by URL alone), or a line of `dumpgate ls-s3`,
    "URL SIZE ETAG LAST_MODIFIED" (the key may hold spaces)."""
    parts = line.rsplit(" ", 3)
    if len(parts) == 4 and parts[1].isdigit():
        etag = None if parts[2] == "-" else parts[2]
        return (parts[0], int(parts[1]), parse_time(parts[3]), etag)
    return (line, 0, 0, None)


def list_s3(dumpgate, prefix):
    """The objects under prefix, from `dumpgate ls-s3` run here."""
    p = subprocess.run([dumpgate, "ls-s3", prefix], capture_output=True, timeout=3600)
    if p.returncode != 0:
        raise OSError(p.stderr.decode("utf-8", errors="replace").strip() or
                      f"dumpgate ls-s3 {prefix}: exit {p.returncode}")
    return [s3_entry(x) for x in p.stdout.decode("utf-8", errors="replace").splitlines()
            if x.strip()]


def list_dumps(source, dumpgate="dumpgate"):
    """(path or URL, size, mtime_ns, ETag or None) of each dump, in the
    manifest's or the listing's order or, for a directory, depth first in
    byte order of the names."""
    if source.startswith("s3://"):
        return list_s3(dumpgate, source)
    paths = []
    if os.path.isdir(source):
        for top, dirs, files in os.walk(source, followlinks=False):
            dirs.sort()
            paths += [os.path.join(top, f) for f in sorted(files)]
    else:
        f = sys.stdin if source == "-" else open(source, encoding="utf-8")
        paths = [line.rstrip("\r\n") for line in f]
        if f is not sys.stdin:
            f.close()
    dumps, seen = [], set()
    for p in paths:
        if not p.strip():
            continue
        if p.startswith("s3://"):
            e = s3_entry(p)
            if e[0] not in seen:
                seen.add(e[0])
                dumps.append(e)
            continue
        p = os.path.abspath(p)
        try:
            st = os.lstat(p) if os.path.isdir(source) else os.stat(p)
        except OSError as e:
            print(f"dumpgate-archive: warning: {p}: {e.strerror}; not scanned", file=sys.stderr)
            continue
        if not stat.S_ISREG(st.st_mode) or p in seen:
            continue
        seen.add(p)
        dumps.append((p, st.st_size, st.st_mtime_ns, None))
    return dumps


def read_report(path):
    """{file: (archived record, its records)} of the dumps done, the latest
    scan of each; a torn last line (a run killed while writing) is cut."""
    done, pending = {}, {}
    if not os.path.exists(path):
        return done
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)
            data = data[:data.rfind(b"\n") + 1]
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("record") == "archived":
            done[rec["file"]] = (rec, pending.pop(rec["file"], []))
        else:
            pending.setdefault(rec.get("file"), []).append(rec)
    return done


def already_scanned(d, done):
    """Is dump d = (path, size, mtime_ns, etag) in the report as it is now?
    Files: same size and mtime. S3 objects: same ETag and size (a bare URL:
    by URL alone), and a scan without errors (a network error is retried)."""
    if d[0] not in done:
        return False
    arch, recs = done[d[0]]
    if not d[0].startswith("s3://"):
        return (arch.get("size"), arch.get("mtime_ns")) == (d[1], d[2])
    if any(r.get("record") == "summary" and r.get("errors") for r in recs):
        return False
    return d[3] is None or (arch.get("etag"), arch.get("size")) == (d[3], d[1])


def partition(dumps, target_bytes, max_files):
    tasks, cur, size = [], [], 0
    for d in dumps:
        if cur and (size + d[1] > target_bytes or len(cur) >= max_files):
            tasks.append(cur)
            cur, size = [], 0
        cur.append(d)
        size += d[1]
    if cur:
        tasks.append(cur)
    return tasks


def task_lines(chunk, result):
    """The report lines of one task: each dump's records, then its
    "archived" record."""
    by_file = {}
    for line in result["stdout"].splitlines():
        if line.strip():
            by_file.setdefault(json.loads(line).get("file"), []).append(line)
    out = []
    for path, size, mtime, etag in chunk:
        out += by_file.get(path, [])
        arch = {"record": "archived", "schema": 1, "file": path, "size": size, "mtime_ns": mtime}
        if etag is not None:
            arch["etag"] = etag
        out.append(json.dumps(arch, separators=(",", ":")))
    return "".join(line + "\n" for line in out)


def iso(ns):
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc).isoformat(
        timespec="seconds").replace("+00:00", "Z")


def summarize(done, known_keys):
    """The per-key summary of the dumps done. With known keys, only the keys
    --known-keys named (their label says "from FILE")."""
    known = [os.path.basename(k) for k in known_keys]
    keys, errors, n_findings = {}, [], 0
    for path, (arch, recs) in sorted(done.items()):
        for r in recs:
            if r.get("record") == "summary" and r.get("errors"):
                errors.append(path)
            if r.get("record") != "finding":
                continue
            n_findings += 1
            k = r.get("key") or {}
            label = k.get("label") or ""
            if known and not any(label.endswith(" from " + n) for n in known):
                continue
            fp = ("spki_sha256", k["spki_sha256"]) if k.get("spki_sha256") else \
                 ("key_sha256", k.get("key_sha256") or r.get("match_sha256"))
            e = keys.setdefault(fp, {fp[0]: fp[1], "type": r.get("type"),
                                     "algorithm": k.get("algorithm"), "names": set(),
                                     "severity": r.get("severity"), "dumps": {}})
            if label:
                e["names"].add(label)
            e["dumps"][path] = arch["mtime_ns"]
    out = []
    for e in keys.values():
        times = sorted(e["dumps"].values())
        e["names"] = sorted(e["names"])
        e["first_dump_time"], e["last_dump_time"] = iso(times[0]), iso(times[-1])
        e["dumps"] = [{"file": p, "mtime": iso(t)} for p, t in sorted(e["dumps"].items())]
        e["n_dumps"] = len(e["dumps"])
        out.append(e)
    out.sort(key=lambda e: (-e["n_dumps"], e.get("spki_sha256") or e.get("key_sha256") or ""))
    return {"schema": 1, "dumps_scanned": len(done), "findings": n_findings,
            "known_keys": [os.path.abspath(k) for k in known_keys] or None,
            "dumps_with_errors": errors, "keys": out}


class Progress:
    def __init__(self, n_tasks, total_bytes):
        self.on = sys.stderr.isatty()
        self.n, self.total, self.done, self.bytes, self.t0 = n_tasks, total_bytes, 0, 0, time.time()

    def add(self, nbytes):
        self.done += 1
        self.bytes += nbytes
        if not self.on:
            return
        dt = max(time.time() - self.t0, 1e-3)
        rate = self.bytes / dt
        eta = (self.total - self.bytes) / rate if rate > 0 else 0
        sys.stderr.write(f"\r\033[Kdumpgate-archive: {self.done}/{self.n} tasks, "
                         f"{self.bytes / 2**20:.1f} of {self.total / 2**20:.1f} MiB, "
                         f"{rate / 1e6:.1f} MB/s, ETA {datetime.timedelta(seconds=int(eta))}")
        sys.stderr.flush()

    def end(self):
        if self.on:
            sys.stderr.write("\n")


def run(a):
    from distributed import Client, LocalCluster, as_completed
    import cloudpickle

    cloudpickle.register_pickle_by_value(task)  # workers need not install this package
    dumps = list_dumps(a.source, a.dumpgate)
    done = read_report(a.report)
    todo = [d for d in dumps if not already_scanned(d, done)]
    chunks = partition(todo, max(1, int(a.mbps * 1e6 * a.task_seconds)), a.max_files)
    print(f"dumpgate-archive: {len(dumps)} dumps, {len(dumps) - len(todo)} already in "
          f"{a.report}, {len(todo)} to scan in {len(chunks)} tasks", file=sys.stderr)
    failed = []
    if chunks:
        cluster = None
        if a.scheduler:
            client = Client(a.scheduler)
        else:
            cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1,
                                   dashboard_address=None)
            client = Client(cluster)
        try:
            args = scan_args(a)
            futs = {}
            for i, c in enumerate(chunks):
                f = client.submit(task.scan, a.dumpgate, args, [d[0] for d in c], a.task_timeout,
                                  key=f"dumpgate-scan-{i}-{c[0][0]}", retries=a.retries,
                                  pure=False)
                futs[f] = c
            prog = Progress(len(chunks), sum(d[1] for d in todo))
            with open(a.report, "a", encoding="utf-8") as rep:
                for f in as_completed(list(futs)):
                    c = futs.pop(f)
                    try:
                        lines = task_lines(c, f.result())
                    except Exception as e:  # noqa: BLE001 - the task's own error, retried
                        failed.append((c, e))
                        print(f"\ndumpgate-archive: error: a task of {len(c)} dumps "
                              f"(first {c[0][0]}) failed: {e}; a rerun retries it",
                              file=sys.stderr)
                        continue
                    rep.write(lines)
                    rep.flush()
                    os.fsync(rep.fileno())
                    prog.add(sum(d[1] for d in c))
            prog.end()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    done = read_report(a.report)
    summary = summarize(done, a.known_keys)
    spath = a.summary or a.report + ".summary.json"
    with open(spath + ".tmp", "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    os.replace(spath + ".tmp", spath)
    print(f"dumpgate-archive: {summary['dumps_scanned']} dumps in the report, "
          f"{len(summary['keys'])} keys, {len(failed)} tasks failed; summary {spath}",
          file=sys.stderr)
    wanted = {d[0] for d in dumps}
    worst = any(SEVERITY.get(r.get("severity"), -1) >= SEVERITY[a.fail_on] and not r.get("allowed")
                for p, (arch, recs) in done.items() if p in wanted
                for r in recs if r.get("record") == "finding")
    if worst:
        return 1
    return 2 if failed or any(p in wanted for p in summary["dumps_with_errors"]) else 0


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if a.config and a.no_config:
        print("dumpgate-archive: --config and --no-config exclude each other", file=sys.stderr)
        return 2
    try:
        return run(a)
    except (OSError, ValueError) as e:
        print(f"dumpgate-archive: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
