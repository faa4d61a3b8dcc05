/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * dwarfvars.h - the DWARF variable at an address: every libdwarf call of
 * dumpgate is behind this interface (dwarfvars.c), so a newer libdwarf API
 * is a change to one file.
 *
 * Contract: dwarfvars_open() opens the DWARF of one ELF file (a module with
 * debug info, or its separate .debug file); dwarfvars_find() looks for a
 * variable with a static location (DW_OP_addr) whose object covers a
 * link-time address and names the member path to the byte ("g_conf.tls.
 * key_pem[120]") and the type of the innermost named member ("char [4096]").
 * Walks are bounded (DWARFVARS_MAX_DIES and DWARFVARS_MAX_SECONDS per
 * file, DWARFVARS_MAX_DEPTH); a variable past a bound is not found and
 * dwarfvars_find() says that the index stopped early;
 * malformed DWARF ends a walk, never the program. Errors are returned with
 * libdwarf's message in err.
 */
#ifndef DUMPGATE_DWARFVARS_H
#define DUMPGATE_DWARFVARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

#define DWARFVARS_MAX_DIES 4000000u /* DIEs indexed per file */
#define DWARFVARS_MAX_SECONDS 5.0   /* wall time to index one file */
#define DWARFVARS_MAX_DEPTH 24u     /* nesting of DIEs and of types */

struct dwarfvars;

/* Opens the DWARF of the ELF file at path. Returns DG_OK and *out, or
 * DG_E_NOT_FOUND (no DWARF in it) or DG_E_FORMAT with the reason in err. */
dg_err dwarfvars_open(const char *path, struct dwarfvars **out, char *err, size_t err_len);

/* Finds the variable covering link-time address addr. OUT: var (name and
 * member path) and type. Returns DG_OK, DG_E_NOT_FOUND (no variable covers
 * it), or DG_E_LIMIT (none found, and the index stopped at a bound; err
 * says so). */
dg_err dwarfvars_find(struct dwarfvars *dv, uint64_t addr, char *var, size_t var_len,
                      char *type, size_t type_len, char *err, size_t err_len);

void dwarfvars_close(struct dwarfvars *dv);

#endif
