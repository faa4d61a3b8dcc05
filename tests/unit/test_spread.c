/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_spread.c - spread_start() (scanner/util/spread.h): a thread started
 * with k >= 1 begins on another CPU than its creator's, the k-th after it
 * among the allowed ones, and may then run on all of them again; k 0 is
 * pthread_create() as is. On a machine that lets this process run on one
 * CPU only, there is nothing to spread: the threads still run, and that is
 * what is checked.
 */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>

#include "../../scanner/util/spread.h"
#include "tap.h"

struct probe {
    int first;       /* the CPU the thread found itself on first */
    cpu_set_t set;   /* its affinity then */
};

static void *
probe_main(void *arg)
{
    struct probe *p = arg;

    p->first = sched_getcpu();
    if (pthread_getaffinity_np(pthread_self(), sizeof p->set, &p->set) != 0)
        CPU_ZERO(&p->set);
    return NULL;
}

/* Starts a probe with spread_start(k); false when it could not. */
static bool
run_probe(unsigned k, struct probe *p, int *caller)
{
    pthread_t tid;
    int before = sched_getcpu(), after;

    memset(p, 0, sizeof *p);
    p->first = -1;
    if (spread_start(&tid, probe_main, p, k) != 0)
        return false;
    after = sched_getcpu();
    pthread_join(tid, NULL);
    *caller = before == after ? before : -1; /* -1: the caller moved meanwhile */
    return true;
}

int
main(void)
{
    struct tap t = {0};
    cpu_set_t all;
    struct probe p;
    int caller, n;
    bool ran;

    if (!tap_check(&t, sched_getaffinity(0, sizeof all, &all) == 0, "this process's CPUs"))
        return tap_done(&t);
    n = CPU_COUNT(&all);
    ran = run_probe(0, &p, &caller);
    tap_check(&t, ran && p.first >= 0, "k 0: the thread runs (on CPU %d)", p.first);
    if (n < 2) {
        ran = run_probe(1, &p, &caller);
        tap_check(&t, ran && p.first >= 0 && CPU_ISSET(p.first, &all),
                  "one CPU allowed: a thread started with k 1 runs there (CPU %d)", p.first);
        return tap_done(&t);
    }
    for (unsigned k = 1; k <= (unsigned)n; k++) {
        bool moved = false;

        /* a caller the scheduler moves between its two looks proves nothing:
         * tried again, a few times */
        for (int tries = 0; tries < 5; tries++) {
            if (!run_probe(k, &p, &caller))
                break;
            if ((moved = caller < 0))
                continue;
            break;
        }
        if (moved) {
            tap_check(&t, true, "k %u: the caller kept moving; not judged", k);
            continue;
        }
        {
            int want = caller, left = (int)((k - 1) % (unsigned)n) + 1;

            while (left > 0) { /* the k-th allowed CPU after the caller's */
                want = (want + 1) % CPU_SETSIZE;
                left -= CPU_ISSET(want, &all) ? 1 : 0;
            }
            tap_check(&t, p.first == want && CPU_EQUAL(&p.set, &all),
                      "k %u: started on CPU %d (the caller on %d, %d allowed), then free to run "
                      "on all of them",
                      k, p.first, caller, n);
        }
    }
    return tap_done(&t);
}
