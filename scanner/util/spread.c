/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * spread.c - threads started on CPUs of their own, and kept apart (see
 * spread.h).
 */
#include <sched.h>
#include <stdlib.h>

#include "spread.h"

struct spread_arg {
    void *(*fn)(void *);
    void *arg;
    cpu_set_t all; /* the creator's CPUs: the thread's once it runs */
};

static void *
spread_main(void *p)
{
    struct spread_arg a = *(struct spread_arg *)p;

    free(p);
    (void)pthread_setaffinity_np(pthread_self(), sizeof a.all, &a.all);
    return a.fn(a.arg);
}

/* The k-th CPU of set after cpu, cyclically (k >= 1, set not empty). */
static int
cpu_after(const cpu_set_t *set, int cpu, unsigned k)
{
    const unsigned n = (unsigned)CPU_COUNT(set);

    k = (k - 1) % n + 1;
    for (int i = 1; i <= CPU_SETSIZE; i++) {
        int c = (cpu + i) % CPU_SETSIZE;

        if (CPU_ISSET(c, set) && --k == 0)
            return c;
    }
    return -1;
}

int
spread_start(pthread_t *tid, void *(*fn)(void *), void *arg, unsigned k)
{
    struct spread_arg *a;
    pthread_attr_t attr;
    cpu_set_t first;
    int me = sched_getcpu(), cpu, rc;

    if (k == 0 || me < 0 || (a = malloc(sizeof *a)) == NULL)
        return pthread_create(tid, NULL, fn, arg);
    if (sched_getaffinity(0, sizeof a->all, &a->all) != 0 || CPU_COUNT(&a->all) < 2 ||
        (cpu = cpu_after(&a->all, me, k)) < 0 || pthread_attr_init(&attr) != 0) {
        free(a);
        return pthread_create(tid, NULL, fn, arg);
    }
    a->fn = fn;
    a->arg = arg;
    CPU_ZERO(&first);
    CPU_SET(cpu, &first);
    rc = pthread_attr_setaffinity_np(&attr, sizeof first, &first);
    if (rc == 0)
        rc = pthread_create(tid, &attr, spread_main, a);
    pthread_attr_destroy(&attr);
    if (rc != 0) { /* a CPU the thread may not have after all: as it comes */
        free(a);
        return pthread_create(tid, NULL, fn, arg);
    }
    return 0;
}

void
spread_set_init(struct spread_set *s, unsigned n)
{
    s->n = n < SPREAD_MAX ? n : SPREAD_MAX;
    for (unsigned i = 0; i < SPREAD_MAX; i++)
        atomic_init(&s->cpu[i], -1);
    s->on = s->n > 1 && sched_getcpu() >= 0 && sched_getaffinity(0, sizeof s->all, &s->all) == 0 &&
            CPU_COUNT(&s->all) > 1;
}

bool
spread_check(struct spread_set *s, unsigned i)
{
    cpu_set_t unused = s->all, to; /* unused: the allowed CPUs none of them was seen on */
    int me, cpu;
    bool shared = false;

    if (!s->on || i >= s->n || (me = sched_getcpu()) < 0)
        return false;
    atomic_store_explicit(&s->cpu[i], me, memory_order_relaxed);
    for (unsigned k = 0; k < s->n; k++) {
        const int c = atomic_load_explicit(&s->cpu[k], memory_order_relaxed);

        if (c < 0 || c >= CPU_SETSIZE)
            continue;
        CPU_CLR(c, &unused);
        shared = shared || (k < i && c == me); /* the lower number stays */
    }
    if (!shared || CPU_COUNT(&unused) == 0)
        return false; /* alone here; or as many of them as CPUs, all in use */
    cpu = cpu_after(&unused, me, 1); /* the next one up, cyclically */
    CPU_ZERO(&to);
    CPU_SET(cpu, &to);
    if (sched_setaffinity(0, sizeof to, &to) != 0)
        return false;
    (void)sched_setaffinity(0, sizeof s->all, &s->all);
    atomic_store_explicit(&s->cpu[i], cpu, memory_order_relaxed);
    return true;
}
