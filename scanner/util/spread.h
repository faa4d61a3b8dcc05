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

int spread_start(pthread_t *tid, void *(*fn)(void *), void *arg, unsigned k);

#endif
