/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_spread.c - spread_start() (scanner/util/spread.h): a thread started
 * with k >= 1 begins on another CPU than its creator's, the k-th after it
 * among the allowed ones, and may then run on all of them again; k 0 is
 * pthread_create() as is. spread_check(): of two members of a set found on
 * one CPU, the one numbered higher moves to a CPU neither is on and may
 * then run anywhere again; the lower one stays. On a machine that lets this
 * process run on one CPU only, there is nothing to spread: the threads still
 * run, and that is what is checked.
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

/* spread_check() of member 1 of set, run on its own thread pinned to CPU
 * pin (the place member 0 was seen last). */
struct member {
    struct spread_set *set;
    int pin;
    bool moved;    /* what spread_check() said */
    int after;     /* its CPU right after */
    cpu_set_t aff; /* its affinity then */
};

static void *
member_main(void *arg)
{
    struct member *m = arg;
    cpu_set_t one;

    CPU_ZERO(&one);
    CPU_SET(m->pin, &one);
    if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) != 0)
        return NULL;
    m->moved = spread_check(m->set, 1);
    m->after = sched_getcpu();
    if (pthread_getaffinity_np(pthread_self(), sizeof m->aff, &m->aff) != 0)
        CPU_ZERO(&m->aff);
    return NULL;
}

/* Two members on one CPU: the second moves, to a CPU of its own. */
static void
check_apart(struct tap *t, const cpu_set_t *all)
{
    struct spread_set set;
    struct member m = {.set = &set, .after = -1};
    cpu_set_t one;
    pthread_t tid;
    int pin = -1;
    bool stayed;

    for (int c = 0; c < CPU_SETSIZE && pin < 0; c++)
        if (CPU_ISSET(c, all))
            pin = c;
    spread_set_init(&set, 2);
    CPU_ZERO(&one);
    CPU_SET(pin, &one);
    if (!tap_check(t, sched_setaffinity(0, sizeof one, &one) == 0, "the caller pinned to CPU %d",
                   pin))
        return;
    stayed = !spread_check(&set, 0) && sched_getcpu() == pin; /* member 0: alone so far */
    m.pin = pin;
    if (pthread_create(&tid, NULL, member_main, &m) == 0)
        pthread_join(tid, NULL);
    /* member 0 again, with member 1 seen elsewhere: it stays */
    stayed = stayed && !spread_check(&set, 0) && sched_getcpu() == pin;
    (void)sched_setaffinity(0, sizeof *all, all);
    tap_check(t, stayed, "spread_check: member 0 stays on CPU %d", pin);
    tap_check(t, m.moved && m.after != pin && m.after >= 0 && CPU_ISSET(m.after, all) &&
                     CPU_EQUAL(&m.aff, all),
              "spread_check: member 1, found on member 0's CPU %d, moved to CPU %d and may run "
              "on all again",
              pin, m.after);
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
        struct spread_set set;

        ran = run_probe(1, &p, &caller);
        tap_check(&t, ran && p.first >= 0 && CPU_ISSET(p.first, &all),
                  "one CPU allowed: a thread started with k 1 runs there (CPU %d)", p.first);
        spread_set_init(&set, 2);
        tap_check(&t, !spread_check(&set, 0) && !spread_check(&set, 1),
                  "one CPU allowed: spread_check moves nothing");
        return tap_done(&t);
    }
    check_apart(&t, &all);
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
