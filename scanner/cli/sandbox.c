/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * sandbox.c - least privilege for the process that reads a dump: another
 * user, no new privileges, and a seccomp filter (see sandbox.h for the
 * contract). The allow list was found by running scans under strace -f
 * (ELF cores and minidumps, zstd/xz/gzip/bzip2/lz4 inputs, a file and
 * standard input, -j1 and -j2, every output format); docs/ROBUSTNESS.md
 * says how. Sanitizer builds allow a few more calls ASan makes (mmap with
 * any protection, ptrace, ...) and run LeakSanitizer's check before the
 * filter is loaded: its check at exit cannot run confined (it hung).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <seccomp.h>

#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

#ifdef SANDBOX_SANITIZER
extern void __lsan_do_leak_check(void) __attribute__((weak));
#endif

/* What a scan does once its files are open. */
static const int allowed[] = {
    /* the dump, its results, diagnostics; the spill file of a stream
     * (scan.h: emptied with ftruncate, its free space from fstatfs) */
    SCMP_SYS(read), SCMP_SYS(pread64), SCMP_SYS(readv), SCMP_SYS(write), SCMP_SYS(writev),
    SCMP_SYS(pwrite64), SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
    SCMP_SYS(statx), SCMP_SYS(close), SCMP_SYS(fcntl), SCMP_SYS(poll), SCMP_SYS(ppoll),
    SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(ftruncate), SCMP_SYS(fstatfs),
    /* memory */
    SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
    /* worker threads, each started on a CPU of its own (spread.h: as the
     * sandbox's user, only its own threads' affinity can change) */
    SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
    SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
    SCMP_SYS(sched_setaffinity), SCMP_SYS(getcpu),
    SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sigaltstack), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(prlimit64),
    /* time, randomness, the end */
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
    SCMP_SYS(gettimeofday), SCMP_SYS(getrandom), SCMP_SYS(sysinfo), SCMP_SYS(restart_syscall),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
#ifdef SANDBOX_SANITIZER
    SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(waitid), SCMP_SYS(prctl), SCMP_SYS(readlink),
    SCMP_SYS(readlinkat), SCMP_SYS(getppid), SCMP_SYS(tgkill), SCMP_SYS(kill),
    SCMP_SYS(sched_getparam), SCMP_SYS(getrlimit), SCMP_SYS(setrlimit), SCMP_SYS(pipe2),
    SCMP_SYS(dup), SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(getdents64), SCMP_SYS(uname),
    SCMP_SYS(mprotect), SCMP_SYS(mmap), SCMP_SYS(ioctl),
#endif
};

#ifndef SANDBOX_SANITIZER
/* abort() (assert) raises on itself: allowed only towards this process
 * (sanitizer builds allow kill and tgkill whole: LeakSanitizer stops the
 * threads from a tracer process of its own). */
static bool
allow_self_signals(scmp_filter_ctx ctx)
{
    pid_t self = getpid();

    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                            SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self, 0)) == 0 &&
           seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                            SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self, 0)) == 0;
}
#endif

/* Becomes user (from root): no supplementary groups, its group, its uid. */
static bool
become(const char *user, char *err, size_t n)
{
    struct passwd *pw = getpwnam(user);

    if (pw == NULL) {
        snprintf(err, n, "no user '%s' to run the scan as", user);
        return false;
    }
    if (pw->pw_uid == 0) {
        snprintf(err, n, "the scan user '%s' is root", user);
        return false;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        snprintf(err, n, "cannot become %s: %s", user, strerror(errno));
        return false;
    }
    if (setuid(0) == 0 || geteuid() == 0 || getegid() == 0) {
        snprintf(err, n, "root could be regained after becoming %s", user);
        return false;
    }
    return true;
}

bool
sandbox_enter(const char *user, char *err, size_t n)
{
    scmp_filter_ctx ctx;
    bool ok = true;
    int rc;

    if (geteuid() == 0 && user != NULL && !become(user, err, n))
        return false;
#ifdef SANDBOX_SANITIZER
    /* LeakSanitizer's check at exit (a tracer process, ptrace, /proc/self/maps)
     * cannot run confined: it hung. It runs now instead, once; the scans
     * without --sandbox are leak-checked as usual. */
    if (__lsan_do_leak_check != NULL)
        __lsan_do_leak_check();
#endif
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        snprintf(err, n, "prctl: %s", strerror(errno));
        return false;
    }
    ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (ctx == NULL) {
        snprintf(err, n, "seccomp_init failed");
        return false;
    }
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0] && ok; i++)
        ok = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0) == 0;
    ok = ok && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0) == 0;
    /* the spill file's blocks allocated before they are written (input.c);
     * no other mode: a hole punched or a range collapsed is refused */
    ok = ok &&
         seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fallocate), 1,
                          SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)FALLOC_FL_KEEP_SIZE, 0)) == 0 &&
         seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EOPNOTSUPP), SCMP_SYS(fallocate), 1,
                          SCMP_A1(SCMP_CMP_NE, (scmp_datum_t)FALLOC_FL_KEEP_SIZE, 0)) == 0;
#ifndef SANDBOX_SANITIZER
    /* memory that can never be executed: no code arrives with a dump (PCRE2's
     * JIT is refused with EPERM and the rules run in its interpreter) */
    ok = ok &&
         seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                          SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) == 0 &&
         seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mmap), 1,
                          SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)) == 0 &&
         seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                          SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) == 0 &&
         seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mprotect), 1,
                          SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)) == 0 &&
         /* isatty() */
         seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                          SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)TCGETS, 0)) == 0 &&
         allow_self_signals(ctx);
#endif
    if (!ok) {
        seccomp_release(ctx);
        snprintf(err, n, "cannot build the seccomp filter");
        return false;
    }
    rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) {
        snprintf(err, n, "cannot load the seccomp filter: %s", strerror(-rc));
        return false;
    }
    return true;
}
