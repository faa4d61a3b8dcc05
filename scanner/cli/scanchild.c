/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * scanchild.c - runs the scan of one dump in a sandboxed child process with a
 * timeout and collects its JSONL output (contract in scanchild.h).
 */
#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dumpgate/dumpgate.h>

#include "../util/deadline.h"
#include "scanchild.h"

#define DUMP_FD 3 /* the dump's descriptor in the scan child */
#define DUMP_FD_STR "3"

void
scanchild_run(const struct cli_opts *o, int fd, struct scan_run *sr)
{
    const char *prog = o->scanner != NULL ? o->scanner : "/proc/self/exe";
    char jobs[16];
    const char *fixed[] = {prog, "scan", "--format", "jsonl", "--fail-on",
                           dg_severity_name(o->fail_on), "-j", jobs, "-q"};
    enum { N_FIXED = sizeof fixed / sizeof fixed[0] };
    /* the fixed options, the user's scan options, --sandbox USER, "--", path, NULL */
    const char *argv[N_FIXED + sizeof o->scan_args / sizeof o->scan_args[0] + 5];
    size_t n = 0;
    double t0 = deadline_now(), deadline = t0 + o->timeout;
    size_t cap = 0;
    bool eof = false;
    int pfd[2], st = 0;
    pid_t pid;

    memset(sr, 0, sizeof *sr);
    sr->exit_code = -1;
    snprintf(jobs, sizeof jobs, "%u", o->threads);
    for (size_t i = 0; i < N_FIXED; i++)
        argv[n++] = fixed[i];
    for (int i = 0; i < o->n_scan_args; i++)
        argv[n++] = o->scan_args[i];
    if (strcmp(o->scan_user, "none") != 0) {
        argv[n++] = "--sandbox";
        argv[n++] = o->scan_user;
    }
    /* the scan reads the very file this handler holds open and locked, by
     * its descriptor: nothing renamed or swapped in the directory meanwhile
     * changes what is scanned */
    argv[n++] = "--";
    argv[n++] = "/proc/self/fd/" DUMP_FD_STR;
    argv[n] = NULL;
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(sr->error, sizeof sr->error, "pipe: %s", strerror(errno));
        return;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(sr->error, sizeof sr->error, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);

        /* its own process group: a timeout kills the scan and everything it
         * started (a --scanner wrapper, a plug-in's helper), not only it */
        setpgid(0, 0);
        dup2(pfd[1], STDOUT_FILENO);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            if (!o->log_stderr)
                dup2(null, STDERR_FILENO);
        }
        /* the dump, at DUMP_FD across exec (dup2 clears close-on-exec) */
        if (fd == DUMP_FD ? fcntl(fd, F_SETFD, 0) != 0 : dup2(fd, DUMP_FD) != DUMP_FD)
            _exit(127);
        execv(prog, (char *const *)argv);
        _exit(127);
    }
    setpgid(pid, pid); /* as the child does: whichever runs first */
    close(pfd[1]);
    while (!eof) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        double left = deadline - deadline_now();
        char buf[65536];
        ssize_t r;

        if (left <= 0) {
            sr->timed_out = true;
            break;
        }
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            continue;
        r = read(pfd[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            eof = true;
            break;
        }
        if (sr->len + (size_t)r > SCANCHILD_OUT_MAX) {
            sr->truncated = true;
            continue;
        }
        if (sr->len + (size_t)r + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 1u << 16;
            char *nb;

            while (ncap < sr->len + (size_t)r + 1)
                ncap *= 2;
            if ((nb = realloc(sr->out, ncap)) == NULL) {
                sr->truncated = true;
                continue;
            }
            sr->out = nb;
            cap = ncap;
        }
        memcpy(sr->out + sr->len, buf, (size_t)r);
        sr->len += (size_t)r;
        sr->out[sr->len] = '\0';
    }
    close(pfd[0]);
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);

        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            snprintf(sr->error, sizeof sr->error, "waitpid: %s", strerror(errno));
            break;
        }
        if (sr->timed_out || deadline_now() > deadline) {
            sr->timed_out = true;
            kill(-pid, SIGKILL); /* the whole group */
            waitpid(pid, &st, 0);
            break;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    if (!sr->timed_out && sr->error[0] == '\0') {
        if (WIFEXITED(st))
            sr->exit_code = WEXITSTATUS(st);
        else if (WIFSIGNALED(st))
            sr->sig = WTERMSIG(st);
        if (sr->exit_code == 127)
            snprintf(sr->error, sizeof sr->error, "cannot run %s", prog);
    }
    sr->seconds = deadline_now() - t0;
}


json_t *
scanchild_records(struct scan_run *sr, json_t *findings)
{
    json_t *summary = NULL;

    for (char *line = sr->out, *next; line != NULL && *line != '\0'; line = next) {
        json_t *rec;
        const char *kind;

        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        rec = json_loads(line, 0, NULL);
        kind = json_string_value(json_object_get(rec, "record"));
        if (kind != NULL && strcmp(kind, "finding") == 0)
            json_array_append(findings, rec);
        else if (kind != NULL && strcmp(kind, "summary") == 0 && summary == NULL)
            summary = json_incref(rec);
        json_decref(rec);
    }
    return summary;
}
