/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * netlib.c - loads libcurl and libmicrohttpd on first use (see netlib.h).
 *
 * The table is filled once under pthread_once() and read-only after: the
 * one piece of process-wide state here, as the libraries' own handles are.
 * Each symbol is looked up in the library that defines it; GnuTLS's through
 * libmicrohttpd's handle, which searches the libraries it was linked with.
 */
#include "netlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>


enum lib { L_CURL, L_MHD, N_LIBS };

static const char *const sonames[N_LIBS] = {"libcurl.so.4", "libmicrohttpd.so.12"};

static const struct sym {
    const char *name;
    size_t at; /* offsetof(struct netlib, member) */
    enum lib lib;
} syms[] = {
#define SYM(lib, name, member) {#name, offsetof(struct netlib, member), lib}
    SYM(L_CURL, curl_global_init, global_init),
    SYM(L_CURL, curl_global_cleanup, global_cleanup),
    SYM(L_CURL, curl_easy_init, easy_init),
    SYM(L_CURL, curl_easy_setopt, easy_setopt),
    SYM(L_CURL, curl_easy_perform, easy_perform),
    SYM(L_CURL, curl_easy_getinfo, easy_getinfo),
    SYM(L_CURL, curl_easy_cleanup, easy_cleanup),
    SYM(L_CURL, curl_easy_strerror, easy_strerror),
    SYM(L_CURL, curl_easy_escape, easy_escape),
    SYM(L_CURL, curl_free, free),
    SYM(L_CURL, curl_slist_append, slist_append),
    SYM(L_CURL, curl_slist_free_all, slist_free_all),
    SYM(L_MHD, MHD_start_daemon, start_daemon),
    SYM(L_MHD, MHD_stop_daemon, stop_daemon),
    SYM(L_MHD, MHD_lookup_connection_value, lookup_connection_value),
    SYM(L_MHD, MHD_get_connection_values, get_connection_values),
    SYM(L_MHD, MHD_get_connection_info, get_connection_info),
    SYM(L_MHD, MHD_create_response_from_buffer, create_response_from_buffer),
    SYM(L_MHD, MHD_add_response_header, add_response_header),
    SYM(L_MHD, MHD_queue_response, queue_response),
    SYM(L_MHD, MHD_destroy_response, destroy_response),
    SYM(L_MHD, MHD_create_post_processor, create_post_processor),
    SYM(L_MHD, MHD_post_process, post_process),
    SYM(L_MHD, MHD_destroy_post_processor, destroy_post_processor),
    SYM(L_MHD, gnutls_certificate_get_peers, certificate_get_peers),
    SYM(L_MHD, gnutls_certificate_verify_peers2, certificate_verify_peers2),
#undef SYM
};

/* Written by load() under pthread_once() only. */
static struct netlib table;
static char load_error[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
load(void)
{
    struct netlib t;
    void *h[N_LIBS] = {NULL};

    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < N_LIBS; i++)
        if ((h[i] = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL)) == NULL) {
            const char *e = dlerror();

            snprintf(load_error, sizeof load_error, "cannot load %s: %s", sonames[i],
                     e != NULL ? e : "unknown reason");
            return; /* what was loaded stays: the process ends without the command */
        }
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *p;

        dlerror();
        if ((p = dlsym(h[syms[i].lib], syms[i].name)) == NULL) {
            snprintf(load_error, sizeof load_error, "%s has no %s", sonames[syms[i].lib],
                     syms[i].name);
            return;
        }
        /* POSIX: a function's address from dlsym() converts to its type */
        memcpy((char *)&t + syms[i].at, &p, sizeof p);
    }
    table = t;
}

const struct netlib *
netlib_load(char *why, size_t why_len)
{
    pthread_once(&once, load);
    if (table.global_init == NULL) {
        if (why_len > 0)
            snprintf(why, why_len, "%s", load_error);
        return NULL;
    }
    return &table;
}

const struct netlib *
netlib(void)
{
    return &table;
}
