/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * spread.h - starting the threads of one parallel step on CPUs of their own.
 *
 * Contract: spread_start(tid, fn, arg, k) starts fn(arg) on a new thread
 * as pthread_create() does (its return value), the thread's first CPU the
 * k-th one after the caller's among the CPUs the caller may run on
 * (cyclically; k from 1). Once running, the thread may run on all of
 * those CPUs again: only where it starts is chosen. With k 0, one CPU
 * allowed, or a CPU that cannot be named, it is pthread_create() as is.
 *
 * Why: Linux starts a new thread on its creator's CPU and leaves the
 * moving to its load balancer. On the 2-vCPU virtual machine this project
 * is measured on, a reader of the pointer search's level shared its
 * creator's CPU for 4 to 20 ms while the other CPU sat idle, at nearly
 * every level (perf sched_switch); the main pass's second worker started
 * 4 ms late in one run of three.
 */
#ifndef DUMPGATE_SPREAD_H
#define DUMPGATE_SPREAD_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

int spread_start(pthread_t *tid, void *(*fn)(void *), void *arg, unsigned k);

/* The threads of one parallel step that keep apart while they run.
 *
 * Contract: spread_set_init(s, n) readies s for n members (at most
 * SPREAD_MAX; more are not watched); member i (0 <= i < n) calls
 * spread_check(s, i) between pieces of its work, from its own thread. It
 * notes the member's CPU and, when a member numbered below it was last
 * seen on that CPU while some CPU the caller may use had none of them,
 * moves the caller there, after which it may run on all of its CPUs
 * again; true when it moved. One CPU allowed, a CPU that cannot be named
 * or a failed move: nothing happens.
 *
 * Why: a thread woken from a wait (a page-cache read that sleeps) is often
 * placed on the CPU of the thread that woke it. On the 2-vCPU virtual
 * machine this project is measured on, the main pass's two workers then
 * shared one CPU in 4 ms slices for 8 to 20 ms while the other CPU sat
 * idle, two or three times a run (perf sched_switch: prev_state R, off CPU
 * 4.0 ms, alternating). Checked at every chunk, such a pair lasts at most
 * a chunk. */
#define SPREAD_MAX 64u

struct spread_set {
    atomic_int cpu[SPREAD_MAX]; /* each member's CPU when it last checked, -1 none yet */
    unsigned n;
    bool on;                    /* two CPUs allowed or more, and the CPU can be named */
    cpu_set_t all;              /* the CPUs the members may use */
};

void spread_set_init(struct spread_set *s, unsigned n);
bool spread_check(struct spread_set *s, unsigned i);

#endif
