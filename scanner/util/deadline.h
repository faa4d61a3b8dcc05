/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * deadline.h - time budgets: the monotonic clock in seconds, and waiting for
 * a descriptor to become readable no later than a deadline.
 *
 * Contract: a deadline is CLOCK_MONOTONIC seconds as deadline_now() gives
 * them; 0 (or less) means none. deadline_wait_readable() returns true when
 * fd may be read without blocking (data, end of file or an error to read),
 * false once the deadline has passed; it never waits without a deadline and
 * retries after a signal. Used by the input layer (a stream that stops
 * delivering), the engine (no chunk starts past the deadline) and the CLI.
 */
#ifndef DUMPGATE_DEADLINE_H
#define DUMPGATE_DEADLINE_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <time.h>

static inline double
deadline_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline bool
deadline_passed(double deadline)
{
    return deadline > 0 && deadline_now() >= deadline;
}

static inline bool
deadline_wait_readable(int fd, double deadline)
{
    if (deadline <= 0)
        return true;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        double left = deadline - deadline_now();
        int r;

        if (left <= 0)
            return false;
        r = poll(&p, 1, left > 1e6 ? 1000000000 : (int)(left * 1000) + 1);
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
            return true; /* let the read say what is wrong */
    }
}

#endif
