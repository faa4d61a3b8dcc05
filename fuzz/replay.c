/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * replay.c - runs a harness over every file named on the command line or
 * found in the directories named, without libFuzzer: the corpus regression
 * test of `meson test` and of sanitizer builds. Prints one TAP line per file.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int n_run;

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        if (f)
            fclose(f);
        printf("not ok %d - %s: unreadable\n", ++n_run, path);
        return 1;
    }
    buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        printf("not ok %d - %s: unreadable\n", ++n_run, path);
        return 1;
    }
    fclose(f);
    dg_fuzz_one(buf, (size_t)n);
    free(buf);
    printf("ok %d - %s\n", ++n_run, path);
    return 0;
}

static int
run_path(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int bad = 0;

    if (stat(path, &st) != 0)
        return 0; /* an absent corpus directory is not an error */
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    if ((d = opendir(path)) == NULL)
        return 1;
    while ((e = readdir(d)) != NULL) {
        char sub[4096];

        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        bad |= run_path(sub);
    }
    closedir(d);
    return bad;
}

int
main(int argc, char **argv)
{
    int bad = 0;

    if (dg_fuzz_init() != 0)
        return 2;
    for (int i = 1; i < argc; i++)
        bad |= run_path(argv[i]);
    dg_fuzz_fini();
    printf("1..%d\n", n_run);
    return bad;
}
