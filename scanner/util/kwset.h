/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * kwset.h - finds every occurrence of any of a set of literal keywords in one
 * pass over a buffer, ignoring ASCII case.
 *
 * Contract: kwset_new() copies the words (each 1..255 bytes) and builds the
 * set; kwset_scan() calls hit() for every occurrence of every word, in order
 * of position (words starting at the same position in the order given), and
 * stops early when hit() returns false. Case is folded for A-Z only, as
 * strncasecmp() does in the C locale. A set is immutable once built and may
 * be scanned from any number of threads at once. Nothing is allocated while
 * scanning.
 */
#ifndef DUMPGATE_KWSET_H
#define DUMPGATE_KWSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

struct kwset;

/* Builds a set of n words (words[i], lens[i] bytes). DG_E_ARG for an empty or
 * over-long word, DG_E_NOMEM. */
dg_err kwset_new(const char *const *words, const size_t *lens, size_t n, struct kwset **out);

void kwset_free(struct kwset *ks);

/* Calls hit(arg, word, pos) for each occurrence of words[word] at t[pos].
 * Returns false if hit() stopped the scan. */
bool kwset_scan(const struct kwset *ks, const uint8_t *t, size_t len,
                bool (*hit)(void *arg, size_t word, size_t pos), void *arg);

#endif
