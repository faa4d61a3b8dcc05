/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * netlib.h - libcurl and libmicrohttpd (with the GnuTLS it serves HTTPS
 * through), loaded when a command needs them: the gateway, `ls-s3` and a
 * scan of s3:// objects. dumpgate is not linked against them, so every
 * other command (the core handler that runs as root on every crash, a
 * pre-commit scan of one small file) starts without mapping them and the
 * two dozen libraries they pull in: about 10 ms less per run on the
 * benchmark machine, and none of their code in the address space.
 *
 * Contract: netlib_load() dlopen()s the two libraries by soname, once per
 * process (thread-safe), and returns the table of the functions dumpgate
 * calls, or NULL with why (the library, and dlerror()'s reason) when one is
 * missing or lacks a function. The table is never freed nor changed after
 * the first call; netlib() returns it to code that runs only after a
 * successful netlib_load() (the gateway's handlers, an open s3 stream).
 * Members have the libraries' own types (from their headers), named without
 * the library prefix so that no function-like macro of curl.h applies.
 * libcurl's global state is the caller's: global_init() before the first
 * transfer, global_cleanup() at the end, as with the library itself.
 */
#ifndef DUMPGATE_NETLIB_H
#define DUMPGATE_NETLIB_H

#include <stddef.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

struct netlib {
    /* libcurl.so.4 */
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_global_cleanup) *global_cleanup;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_easy_escape) *easy_escape;
    __typeof__(curl_free) *free;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
    /* libmicrohttpd.so.12 */
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
    __typeof__(MHD_get_connection_values) *get_connection_values;
    __typeof__(MHD_get_connection_info) *get_connection_info;
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
    __typeof__(MHD_create_post_processor) *create_post_processor;
    __typeof__(MHD_post_process) *post_process;
    __typeof__(MHD_destroy_post_processor) *destroy_post_processor;
    /* GnuTLS, as libmicrohttpd loaded it */
    __typeof__(gnutls_certificate_get_peers) *certificate_get_peers;
    __typeof__(gnutls_certificate_verify_peers2) *certificate_verify_peers2;
};

const struct netlib *netlib_load(char *why, size_t why_len);
const struct netlib *netlib(void);

#endif
