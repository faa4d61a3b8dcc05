/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * s3.h - s3://bucket/key objects read as streams (issue 25): libcurl with
 * its own AWS SigV4 signing, the object's bytes flowing through a socket
 * pair into the scan's stream reader, never stored on disk.
 *
 * Credentials and place come from the standard AWS environment variables:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional),
 * AWS_REGION or AWS_DEFAULT_REGION (default us-east-1), and
 * AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for an S3-compatible server
 * (path-style URLs). The secret key and the Authorization header are never
 * put into a message. The caller runs curl_global_init() once before and
 * curl_global_cleanup() once after.
 */
#ifndef DUMPGATE_S3_H
#define DUMPGATE_S3_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <dumpgate/error.h>

struct s3_stream;
struct dg_diag;

/* Does name start with "s3://"? */
bool s3_is_url(const char *name);

/* Starts the GET of url in a thread of its own and waits for the answer's
 * status. OUT: *out (free with s3_close()), *fd (the read end of the object's
 * bytes, owned by *out). On an error (bad URL, no credentials, connection
 * refused, HTTP 403 or 404, ...) *out is NULL and the reason, naming url,
 * is in d. */
dg_err s3_open(const char *url, struct dg_diag *d, struct s3_stream **out, int *fd);

/* Ends s: closes the read end (a transfer still running stops), waits for
 * the thread and frees everything. A transfer that broke off before the
 * end of the object (while the reader still read) is an error reported to
 * d. NULL is a no-op returning DG_OK. */
dg_err s3_close(struct s3_stream *s, struct dg_diag *d);

/* dumpgate ls-s3 s3://bucket/prefix: lists the objects under the prefix
 * (ListObjectsV2, every page) as lines "s3://bucket/key SIZE ETAG
 * LAST_MODIFIED" on out (ETag without quotes, "-" for a missing field; the
 * key may hold spaces, so split from the right; keys with line breaks are
 * left out). page_size: keys per request (max-keys), 0 for the server's
 * default (1000 on S3).
 * Returns DG_OK, or an error described in d. */
dg_err s3_list(const char *url, unsigned page_size, FILE *out, struct dg_diag *d);

#endif
