# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_sandbox.py - the core handler's scan runs with least privilege
# (issue 20): as another user (--scan-user, default nobody), with no new
# privileges, not dumpable, under a seccomp filter (scanner/cli/sandbox.c).
# Each test is the attack: a detector plug-in standing in for a scanner
# that a hostile dump took over tries what such code would try (open a
# socket, write a file, run a program), and a running scan is inspected in
# /proc. Before the sandbox, all of them succeeded as root.
import os
import pathlib
import signal
import subprocess
import time

import pytest

import dgtest
from test_pipeline import feed, verdict_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the handler drops root: needs root")

PROBE_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <dumpgate/plugin.h>

static const char *const forms[] = {"probe", NULL};

static void
found(struct dg_sink *sink, const struct dg_chunk *ch, const char *type)
{
    struct dg_finding f;

    memset(&f, 0, sizeof f);
    dg_strlcpyf(f.type, sizeof f.type, "%s", type);
    f.status = DG_STATUS_CONFIRMED;
    f.severity = DG_SEV_HIGH;
    f.off = ch->off;
    f.len = 1;
    dg_strlcpyf(f.match_sha256, sizeof f.match_sha256, "%064d", 0);
    dg_report(sink, &f);
}

static dg_err
probe_scan(void *ctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    const char *p = memmem(ch->p, ch->owned, "SANDBOX-PROBE:", 14);
    char what[16] = "";

    (void)ctx;
    if (p == NULL || (size_t)((const unsigned char *)p - ch->p) + 30 > ch->len)
        return DG_OK;
    memcpy(what, p + 14, 15);
    what[strcspn(what, ";")] = '\0';
    if (strcmp(what, "socket") == 0) {
        int s = socket(AF_INET, SOCK_STREAM, 0);   /* seccomp: SIGSYS */

        found(sink, ch, s >= 0 ? "probe-socket-opened" : "probe-socket-refused");
    } else if (strcmp(what, "write") == 0) {
        int fd = open(getenv("DG_PROBE_FILE") ? getenv("DG_PROBE_FILE") : "/tmp/dg-probe",
                      O_WRONLY | O_CREAT, 0644);    /* seccomp: EACCES */

        found(sink, ch, fd >= 0 ? "probe-file-written" : "probe-file-refused");
    } else if (strcmp(what, "exec") == 0) {
        execl("/bin/true", "true", (char *)NULL);  /* seccomp: SIGSYS */
        found(sink, ch, "probe-exec-refused");
    } else if (strcmp(what, "fallocate") == 0) {
        /* the filter looks at the mode only: on no descriptor, the kernel's
         * EBADF says the call went through, EOPNOTSUPP that it was refused */
        int keep = fallocate(-1, FALLOC_FL_KEEP_SIZE, 0, 4096) != 0 ? errno : 0;
        int punch = fallocate(-1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) != 0
                        ? errno : 0;
        char type[64];

        snprintf(type, sizeof type, "probe-fallocate-%s-%s",
                 keep == EBADF ? "EBADF" : keep == EOPNOTSUPP ? "EOPNOTSUPP" : "other",
                 punch == EBADF ? "EBADF" : punch == EOPNOTSUPP ? "EOPNOTSUPP" : "other");
        found(sink, ch, type);
    } else if (strcmp(what, "sleep") == 0) {
        struct timespec t = {0, 100 * 1000 * 1000};

        for (int i = 0; i < 60; i++)                /* 6 s to be looked at */
            nanosleep(&t, NULL);
        found(sink, ch, "probe-slept");
    }
    return DG_OK;
}

static const struct dg_detector probe = {
    .abi = DG_DETECTOR_ABI,
    .name = "probe",
    .summary = "test: does what a scanner taken over would do",
    .forms = forms,
    .severity = DG_SEV_HIGH,
    .max_span = 64,
    .flags = DG_DET_BINARY,
    .default_on = true,
    .scan = probe_scan,
};

DG_PLUGIN_EXPORT const struct dg_detector *
dg_detector_entry_v1(void)
{
    return &probe;
}
"""


@pytest.fixture(scope="module")
def probe_so(tmp_path_factory):
    d = tmp_path_factory.mktemp("probe")
    (d / "probe.c").write_text(PROBE_C)
    so = d / "probe.so"
    r = subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-Wall", "-Werror",
                        "-I", str(dgtest.ROOT / "include"), str(d / "probe.c"), "-o", str(so)],
                       capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return so


def core_with(what):
    """An ELF core (a real one's headers are not needed: any ELF core shape)
    whose bytes hold the probe's command."""
    from test_plugins import mkcore_with
    import tempfile
    d = pathlib.Path(tempfile.mkdtemp(prefix="dgprobe"))
    return open(mkcore_with(d, f"SANDBOX-PROBE:{what};".ljust(40).encode()), "rb").read()


def test_a_forbidden_system_call_kills_the_scan(tmp_path, probe_so):
    """A scan that tries to open a socket or run a program is killed by the
    seccomp filter (SIGSYS), and the dump is quarantined as a crashed scan."""
    spool = tmp_path / "spool"
    for i, what in enumerate(("socket", "exec")):
        p = feed(spool, core_with(what), 700 + i, "probe" + what, "--plugin", str(probe_so))
        assert p.returncode == 1, p.stderr
        v, _ = verdict_of(spool, "quarantine", "core.probe" + what)
        assert v["scan"]["signal"] == signal.SIGSYS, v["reason"]
        assert v["reason"] == "scanner crashed: Bad system call"


def test_the_scan_cannot_write_a_file(tmp_path, probe_so):
    """open(O_WRONLY|O_CREAT) fails (EACCES from the filter, and the user
    could not write there either): no file appears."""
    target = tmp_path / "written-by-the-scan"
    os.chmod(tmp_path, 0o777)  # even where anybody may write
    env = dict(os.environ, DG_PROBE_FILE=str(target))
    spool = tmp_path / "spool"
    p = subprocess.run([str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool),
                        "--log-stderr", "--plugin", str(probe_so), "--", "710", "1000", "11",
                        "1763800000", "probewrite"],
                       input=core_with("write"), capture_output=True, env=env, timeout=120)
    assert p.returncode == 1, p.stderr
    v, _ = verdict_of(spool, "quarantine", "core.probewrite")
    assert [f["type"] for f in v["findings"]] == ["probe-file-refused"], v["reason"]
    assert not target.exists()


def test_the_spill_may_be_allocated_but_no_hole_punched(tmp_path, probe_so):
    """fallocate() passes the filter with FALLOC_FL_KEEP_SIZE alone (the
    spill's blocks allocated before they are written) and fails with
    EOPNOTSUPP in any other mode, where a scan taken over could punch holes;
    unconfined, both reach the kernel."""
    spool = tmp_path / "spool"
    feed(spool, core_with("fallocate"), 715, "probefalloc", "--plugin", str(probe_so))
    v, _ = verdict_of(spool, "quarantine", "core.probefalloc")
    assert [f["type"] for f in v["findings"]] == ["probe-fallocate-EBADF-EOPNOTSUPP"], v["reason"]
    feed(spool, core_with("fallocate"), 716, "freefalloc", "--plugin", str(probe_so),
         "--scan-user", "none")
    v, _ = verdict_of(spool, "quarantine", "core.freefalloc")
    assert [f["type"] for f in v["findings"]] == ["probe-fallocate-EBADF-EBADF"], v["reason"]


def children(pid):
    out = []
    for st in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = st.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(st.parent.name))
    return out


def status_of(pid):
    return dict(line.split(":", 1) for line in
                pathlib.Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_running_scan_is_unprivileged_and_filtered(tmp_path, probe_so, jobs):
    """While it scans, the child runs as nobody with no groups, no
    capabilities, no new privileges, not dumpable, under a seccomp filter
    (with -j2 every thread too), and still reads the dump the handler
    passed it (the verdict holds the probe's finding). 4 KiB chunks: a file
    gets no more scanning threads than it has chunks, and this core is small."""
    spool = tmp_path / "spool"
    h = subprocess.Popen([str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool),
                          "--log-stderr", "-j", jobs, "--chunk-size", "4096",
                          "--plugin", str(probe_so), "--",
                          "720", "1000", "11", "1763800000", "probesleep"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        h.stdin.write(core_with("sleep"))
        h.stdin.close()
        h.stdin = None  # communicate() below reads only
        seen = None
        for _ in range(100):
            time.sleep(0.05)
            kids = children(h.pid)
            if kids:
                st = status_of(kids[0])
                if st.get("Seccomp", "").strip() == "2":
                    seen = (kids[0], st)
                    break
        assert seen is not None, "no confined scan child seen"
        pid, st = seen
        assert st["Uid"].split() == ["65534"] * 4, st["Uid"]
        assert st["Gid"].split()[0] != "0" and st["Groups"].strip() == ""
        assert st["NoNewPrivs"].strip() == "1"
        assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
        # The filter is in place before the engine starts its workers, so
        # the threads are listed until the scan is under way: then the main
        # thread and the worker asleep in the probe (6 s) are alive. Every
        # thread listed on the way must be confined too.
        checked = 0
        for _ in range(80):
            checked = 0
            for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
                try:
                    ts = status_of(f"{pid}/task/{task.name}")
                except FileNotFoundError:
                    continue  # a worker that ended its share between the listing and the read
                assert ts["Seccomp"].strip() == "2" and ts["Uid"].split()[0] == "65534"
                checked += 1
            if checked >= int(jobs):
                break
            time.sleep(0.05)
        assert checked >= int(jobs), checked
        _, err = h.communicate(timeout=60)
    finally:
        if h.poll() is None:
            h.kill()
            h.wait()
    assert h.returncode == 1, err
    v, _ = verdict_of(spool, "quarantine", "core.probesleep")
    assert [f["type"] for f in v["findings"]] == ["probe-slept"], v["reason"]


def test_a_file_of_one_chunk_is_scanned_by_one_thread(tmp_path, probe_so):
    """-j2 on a core smaller than a chunk scans it on the calling thread:
    no worker thread, no second set of detector contexts. The same core in
    4 KiB chunks gets its second worker. Threads are counted while the
    probe sleeps in scan(); the scan is stopped by its PID."""
    core = tmp_path / "probe.core"
    core.write_bytes(core_with("sleep"))
    for extra, one in (([], True), (["--chunk-size", "4096"], False)):
        p = subprocess.Popen([str(dgtest.DUMPGATE), "scan", "--no-config", "-j2", *extra,
                              "--plugin", str(probe_so), str(core)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            most = 0
            for _ in range(40):  # 2 s of the probe's 6
                time.sleep(0.05)
                try:
                    most = max(most, len(list(pathlib.Path(f"/proc/{p.pid}/task").iterdir())))
                except FileNotFoundError:
                    break
            assert p.poll() is None, "the scan ended before the probe's sleep was over"
        finally:
            p.kill()
            p.wait()
        assert (most == 1) if one else (most >= 2), (extra, most)


def test_scan_user_none_runs_unconfined_and_a_missing_user_fails_closed(tmp_path, probe_so):
    """--scan-user none is the explicit way out (the socket probe then
    succeeds); a scan user that does not exist quarantines every dump."""
    spool = tmp_path / "spool"
    p = feed(spool, core_with("socket"), 730, "unconfined", "--plugin", str(probe_so),
             "--scan-user", "none")
    v, _ = verdict_of(spool, "quarantine", "core.unconfined")
    assert [f["type"] for f in v["findings"]] == ["probe-socket-opened"], v["reason"]
    p = feed(spool, core_with("nothing"), 731, "nouser", "--scan-user", "no-such-user-dg")
    assert p.returncode == 1
    v, _ = verdict_of(spool, "quarantine", "core.nouser")
    assert v["reason"].startswith("scanner error"), v["reason"]
