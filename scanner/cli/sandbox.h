/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * sandbox.h - confines the process that reads a dump (the core handler's
 * scan child, or `dumpgate scan --sandbox USER`) to what a scan needs.
 *
 * Contract: call sandbox_enter() once everything the scan needs from the
 * file system is open or loaded (configuration, rules, plug-ins, allow lists,
 * key-store password, the report's output) and before the first byte of a
 * dump is read. It
 *   - when the effective user is root: becomes `user` (getpwnam, resolved
 *     first), dropping every supplementary group (setgroups), then setgid and
 *     setuid, and checks that root cannot be regained;
 *   - in every case: PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0 (a crashing scan
 *     leaves no core of the dump's bytes), and a seccomp filter (libseccomp)
 *     that allows only the system calls a scan makes from then on: reading
 *     and seeking descriptors it already holds (the dump arrives as one),
 *     writing its results, memory (mmap without PROT_EXEC, brk, ...), worker
 *     threads, futexes, clocks, getrandom and exit. openat fails with EACCES
 *     (a library that looks for a file carries on without it); anything else
 *     kills the process with SIGSYS, which the handler quarantines as a
 *     crashed scan.
 * Returns true, or false with the reason in err (n bytes); the caller must
 * then not read the dump. Never prints, never exits.
 */
#ifndef DUMPGATE_SANDBOX_H
#define DUMPGATE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

bool sandbox_enter(const char *user, char *err, size_t n);

#endif
