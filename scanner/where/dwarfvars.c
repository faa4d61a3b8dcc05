/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * dwarfvars.c - static variables and their member paths from DWARF, with
 * libdwarf (the Debian 12 release, 20210528: the 12-argument
 * dwarf_init_path, dwarf_next_cu_header_d, dwarf_get_loclist_c). The only
 * file that calls libdwarf (see dwarfvars.h).
 *
 * dwarfvars_open() walks every compilation unit once and indexes each
 * DW_TAG_variable whose DW_AT_location is the single operation DW_OP_addr
 * (globals, file and function statics) with the byte size of its type;
 * dwarfvars_find() picks the variable covering an address and descends its
 * type (structures, unions, arrays, typedefs and qualifiers) to name the
 * member path. Every error handler is explicit (libdwarf aborts without
 * one); every walk is capped in DIEs and depth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>

#include "dwarfvars.h"
#include "../util/deadline.h"

#define MAX_VARS (1u << 22) /* static variables indexed per file */

struct var {
    uint64_t addr, size;    /* link-time address and byte size of the object */
    Dwarf_Off die;          /* the variable's DIE (global offset in .debug_info) */
};

struct dwarfvars {
    Dwarf_Debug dbg;
    double t_end;           /* CLOCK_MONOTONIC seconds when indexing stops */
    unsigned addr_size;     /* bytes of a pointer (from the last CU) */
    struct var *v;          /* sorted by addr */
    size_t n, cap;
    bool capped;            /* the index hit DWARFVARS_MAX_DIES or MAX_VARS */
};

/* libdwarf's message for e, into err; e is released. */
static void
say(Dwarf_Debug dbg, Dwarf_Error e, const char *what, char *err, size_t err_len)
{
    snprintf(err, err_len, "%s: %s", what,
             e != NULL ? dwarf_errmsg(e) : "not readable by libdwarf");
    if (e != NULL)
        dwarf_dealloc_error(dbg, e);
}

/* The DIE that attribute `at` of die refers to, or NULL. */
static Dwarf_Die
ref_die(Dwarf_Debug dbg, Dwarf_Die die, Dwarf_Half at)
{
    Dwarf_Attribute a;
    Dwarf_Error e = NULL;
    Dwarf_Off off;
    Dwarf_Die out = NULL;
    int rc;

    if (dwarf_attr(die, at, &a, &e) != DW_DLV_OK) {
        if (e != NULL)
            dwarf_dealloc_error(dbg, e);
        return NULL;
    }
    rc = dwarf_global_formref(a, &off, &e);
    dwarf_dealloc_attribute(a);
    if (rc != DW_DLV_OK || dwarf_offdie_b(dbg, off, true, &out, &e) != DW_DLV_OK) {
        if (e != NULL)
            dwarf_dealloc_error(dbg, e);
        return NULL;
    }
    return out;
}

/* An unsigned constant attribute, or false. */
static bool
udata(Dwarf_Debug dbg, Dwarf_Die die, Dwarf_Half at, uint64_t *out)
{
    Dwarf_Attribute a;
    Dwarf_Error e = NULL;
    Dwarf_Unsigned u;
    int rc;

    if (dwarf_attr(die, at, &a, &e) != DW_DLV_OK) {
        if (e != NULL)
            dwarf_dealloc_error(dbg, e);
        return false;
    }
    rc = dwarf_formudata(a, &u, &e);
    dwarf_dealloc_attribute(a);
    if (rc != DW_DLV_OK) {
        if (e != NULL)
            dwarf_dealloc_error(dbg, e);
        return false;
    }
    *out = u;
    return true;
}

static Dwarf_Half
tag_of(Dwarf_Debug dbg, Dwarf_Die die)
{
    Dwarf_Half t = 0;
    Dwarf_Error e = NULL;

    if (dwarf_tag(die, &t, &e) != DW_DLV_OK && e != NULL)
        dwarf_dealloc_error(dbg, e);
    return t;
}

/* die's name copied into out ("" if none). */
static void
name_of(Dwarf_Debug dbg, Dwarf_Die die, char *out, size_t len)
{
    char *nm = NULL;
    Dwarf_Error e = NULL;

    out[0] = '\0';
    if (dwarf_diename(die, &nm, &e) == DW_DLV_OK) {
        snprintf(out, len, "%s", nm);
        dwarf_dealloc(dbg, nm, DW_DLA_STRING);
    } else if (e != NULL) {
        dwarf_dealloc_error(dbg, e);
    }
}

static bool
is_qualifier(Dwarf_Half t)
{
    return t == DW_TAG_typedef || t == DW_TAG_const_type || t == DW_TAG_volatile_type ||
           t == DW_TAG_restrict_type || t == DW_TAG_atomic_type;
}

/* The type under typedefs and qualifiers of die (die itself is consumed). */
static Dwarf_Die
strip(Dwarf_Debug dbg, Dwarf_Die die)
{
    for (unsigned d = 0; die != NULL && d < DWARFVARS_MAX_DEPTH && is_qualifier(tag_of(dbg, die));
         d++) {
        Dwarf_Die next = ref_die(dbg, die, DW_AT_type);

        dwarf_dealloc_die(die);
        die = next;
    }
    return die;
}

/* Element count of an array type (product of its subranges); 0 if unknown. */
static uint64_t
array_count(Dwarf_Debug dbg, Dwarf_Die arr)
{
    Dwarf_Die sub = NULL, next;
    Dwarf_Error e = NULL;
    uint64_t total = 1;
    unsigned k = 0;

    if (dwarf_child(arr, &sub, &e) != DW_DLV_OK) {
        if (e != NULL)
            dwarf_dealloc_error(dbg, e);
        return 0;
    }
    while (sub != NULL && k++ < DWARFVARS_MAX_DEPTH) {
        uint64_t n = 0, ub;

        if (tag_of(dbg, sub) == DW_TAG_subrange_type) {
            if (!udata(dbg, sub, DW_AT_count, &n) && udata(dbg, sub, DW_AT_upper_bound, &ub))
                n = ub + 1;
            total = n != 0 && total <= UINT64_MAX / n ? total * n : 0;
        }
        next = NULL;
        if (dwarf_siblingof_b(dbg, sub, true, &next, &e) != DW_DLV_OK && e != NULL)
            dwarf_dealloc_error(dbg, e);
        dwarf_dealloc_die(sub);
        sub = next;
    }
    if (sub != NULL)
        dwarf_dealloc_die(sub);
    return total;
}

/* Byte size of the type of die (die not consumed); 0 if unknown. */
static uint64_t
type_size(struct dwarfvars *dv, Dwarf_Die type, unsigned depth)
{
    Dwarf_Die t;
    uint64_t size = 0;
    Dwarf_Half tag;

    if (type == NULL || depth > DWARFVARS_MAX_DEPTH)
        return 0;
    if (udata(dv->dbg, type, DW_AT_byte_size, &size))
        return size;
    tag = tag_of(dv->dbg, type);
    if (tag == DW_TAG_pointer_type || tag == DW_TAG_reference_type)
        return dv->addr_size;
    if ((t = ref_die(dv->dbg, type, DW_AT_type)) == NULL)
        return 0;
    if (tag == DW_TAG_array_type) {
        uint64_t n = array_count(dv->dbg, type), es = type_size(dv, t, depth + 1);

        size = n != 0 && es <= UINT64_MAX / n ? n * es : 0;
    } else if (is_qualifier(tag)) {
        size = type_size(dv, t, depth + 1);
    }
    dwarf_dealloc_die(t);
    return size;
}

/* The C spelling of the type die in out ("char [4096]", "EVP_PKEY *"). */
static void
type_name(struct dwarfvars *dv, Dwarf_Die type, char *out, size_t len, unsigned depth)
{
    char nm[128], inner[128];
    Dwarf_Half tag;
    Dwarf_Die t;

    out[0] = '\0';
    if (type == NULL) {
        snprintf(out, len, "void");
        return;
    }
    tag = tag_of(dv->dbg, type);
    name_of(dv->dbg, type, nm, sizeof nm);
    if (nm[0] != '\0' && !(tag == DW_TAG_pointer_type || tag == DW_TAG_array_type ||
                           tag == DW_TAG_const_type || tag == DW_TAG_volatile_type)) {
        snprintf(out, len, "%s%s", tag == DW_TAG_structure_type ? "struct "
                                   : tag == DW_TAG_union_type   ? "union "
                                   : tag == DW_TAG_enumeration_type ? "enum "
                                                                    : "",
                 nm);
        return;
    }
    if (depth > 8) {
        snprintf(out, len, "...");
        return;
    }
    t = ref_die(dv->dbg, type, DW_AT_type);
    type_name(dv, t, inner, sizeof inner, depth + 1);
    if (tag == DW_TAG_pointer_type)
        snprintf(out, len, "%s *", inner);
    else if (tag == DW_TAG_array_type)
        snprintf(out, len, "%s [%llu]", inner, (unsigned long long)array_count(dv->dbg, type));
    else if (tag == DW_TAG_const_type)
        snprintf(out, len, "const %s", inner);
    else if (tag == DW_TAG_volatile_type)
        snprintf(out, len, "volatile %s", inner);
    else if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type)
        snprintf(out, len, "%s <anonymous>", tag == DW_TAG_structure_type ? "struct" : "union");
    else
        snprintf(out, len, "%s", inner);
    if (t != NULL)
        dwarf_dealloc_die(t);
}

/* The static address of a variable: its DW_AT_location is one DW_OP_addr. */
static bool
static_addr(Dwarf_Debug dbg, Dwarf_Die die, uint64_t *addr)
{
    Dwarf_Attribute a;
    Dwarf_Error e = NULL;
    Dwarf_Loc_Head_c head = NULL;
    Dwarf_Unsigned count = 0, n_ops = 0, op1, op2, op3, branch, lowpc_raw, hipc_raw, expr_off,
                   desc_off;
    Dwarf_Small lle, src, atom;
    Dwarf_Bool unavail;
    Dwarf_Addr lo, hi;
    Dwarf_Locdesc_c desc;
    bool ok = false;

    if (dwarf_attr(die, DW_AT_location, &a, &e) != DW_DLV_OK) {
        if (e != NULL)
            dwarf_dealloc_error(dbg, e);
        return false;
    }
    if (dwarf_get_loclist_c(a, &head, &count, &e) == DW_DLV_OK) {
        if (count == 1 &&
            dwarf_get_locdesc_entry_d(head, 0, &lle, &lowpc_raw, &hipc_raw, &unavail, &lo, &hi,
                                      &n_ops, &desc, &src, &expr_off, &desc_off,
                                      &e) == DW_DLV_OK &&
            src == 0 && n_ops == 1 &&
            dwarf_get_location_op_value_c(desc, 0, &atom, &op1, &op2, &op3, &branch, &e) ==
                DW_DLV_OK &&
            atom == DW_OP_addr) {
            *addr = op1;
            ok = true;
        }
        dwarf_loc_head_c_dealloc(head);
    }
    if (e != NULL)
        dwarf_dealloc_error(dbg, e);
    dwarf_dealloc_attribute(a);
    return ok;
}

static dg_err
add_var(struct dwarfvars *dv, uint64_t addr, uint64_t size, Dwarf_Off off)
{
    if (dv->n == dv->cap) {
        size_t cap = dv->cap ? 2 * dv->cap : 256;
        struct var *nv;

        if (dv->n >= MAX_VARS) {
            dv->capped = true;
            return DG_E_LIMIT;
        }
        if ((nv = realloc(dv->v, cap * sizeof *nv)) == NULL)
            return DG_E_NOMEM;
        dv->v = nv;
        dv->cap = cap;
    }
    dv->v[dv->n++] = (struct var){.addr = addr, .size = size, .die = off};
    return DG_OK;
}

/* Indexes the variables among die and its siblings (die consumed), going
 * into functions, blocks and namespaces. *budget counts DIEs left. */
static dg_err
index_dies(struct dwarfvars *dv, Dwarf_Die die, unsigned depth, uint64_t *budget)
{
    Dwarf_Error e = NULL;
    dg_err rc = DG_OK;

    while (die != NULL && rc == DG_OK) {
        Dwarf_Half tag = tag_of(dv->dbg, die);
        Dwarf_Die next = NULL, child = NULL;
        uint64_t addr;

        if ((*budget)-- == 0 || ((*budget & 4095) == 0 && deadline_now() > dv->t_end)) {
            dv->capped = true;
            rc = DG_E_LIMIT;
            dwarf_dealloc_die(die);
            break;
        }
        if (tag == DW_TAG_variable && static_addr(dv->dbg, die, &addr)) {
            Dwarf_Die t = ref_die(dv->dbg, die, DW_AT_type);
            Dwarf_Off off;

            if (t == NULL) {
                Dwarf_Die spec = ref_die(dv->dbg, die, DW_AT_specification);

                if (spec != NULL) {
                    t = ref_die(dv->dbg, spec, DW_AT_type);
                    dwarf_dealloc_die(spec);
                }
            }
            if (dwarf_dieoffset(die, &off, &e) == DW_DLV_OK)
                rc = add_var(dv, addr, type_size(dv, t, 0), off);
            if (t != NULL)
                dwarf_dealloc_die(t);
        } else if ((tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block ||
                    tag == DW_TAG_namespace || tag == DW_TAG_inlined_subroutine) &&
                   depth < DWARFVARS_MAX_DEPTH &&
                   dwarf_child(die, &child, &e) == DW_DLV_OK) {
            rc = index_dies(dv, child, depth + 1, budget);
        }
        if (e != NULL) {
            dwarf_dealloc_error(dv->dbg, e);
            e = NULL;
        }
        if (rc == DG_OK && dwarf_siblingof_b(dv->dbg, die, true, &next, &e) != DW_DLV_OK) {
            next = NULL;
            if (e != NULL) {
                dwarf_dealloc_error(dv->dbg, e);
                e = NULL;
            }
        }
        dwarf_dealloc_die(die);
        die = next;
    }
    return rc;
}

static int
cmp_var(const void *a, const void *b)
{
    const struct var *x = a, *y = b;

    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

dg_err
dwarfvars_open(const char *path, struct dwarfvars **out, char *err, size_t err_len)
{
    struct dwarfvars *dv = calloc(1, sizeof *dv);
    Dwarf_Error e = NULL;
    uint64_t budget = DWARFVARS_MAX_DIES;
    dg_err rc = DG_OK;
    size_t n_cus = 0;
    int r;

    *out = NULL;
    if (dv == NULL)
        return DG_E_NOMEM;
    dv->addr_size = 8;
    dv->t_end = deadline_now() + DWARFVARS_MAX_SECONDS;
    r = dwarf_init_path(path, NULL, 0, DW_DLC_READ, DW_GROUPNUMBER_ANY, NULL, NULL, &dv->dbg,
                        NULL, 0, NULL, &e);
    if (r != DW_DLV_OK) {
        if (r == DW_DLV_NO_ENTRY)
            snprintf(err, err_len, "%s: no DWARF", path);
        else
            say(NULL, e, path, err, err_len);
        free(dv);
        return r == DW_DLV_NO_ENTRY ? DG_E_NOT_FOUND : DG_E_FORMAT;
    }
    for (;;) {
        Dwarf_Unsigned hdr_len, typeoff, next_off;
        Dwarf_Half version, addr_size, len_size, ext_size, cu_type;
        Dwarf_Off abbrev;
        Dwarf_Sig8 sig;
        Dwarf_Die cu = NULL, child = NULL;

        r = dwarf_next_cu_header_d(dv->dbg, true, &hdr_len, &version, &abbrev, &addr_size,
                                   &len_size, &ext_size, &sig, &typeoff, &next_off, &cu_type,
                                   &e);
        if (r == DW_DLV_NO_ENTRY)
            break;
        if (r != DW_DLV_OK) {
            say(dv->dbg, e, "reading a compilation unit", err, err_len);
            e = NULL;
            break; /* what was indexed so far still serves */
        }
        n_cus++;
        if (addr_size == 4 || addr_size == 8)
            dv->addr_size = addr_size;
        if (dwarf_siblingof_b(dv->dbg, NULL, true, &cu, &e) != DW_DLV_OK) {
            if (e != NULL)
                dwarf_dealloc_error(dv->dbg, e);
            e = NULL;
            continue;
        }
        if (dwarf_child(cu, &child, &e) == DW_DLV_OK && rc == DG_OK)
            rc = index_dies(dv, child, 0, &budget);
        else if (child != NULL)
            dwarf_dealloc_die(child);
        if (e != NULL)
            dwarf_dealloc_error(dv->dbg, e);
        e = NULL;
        dwarf_dealloc_die(cu);
        if (rc == DG_E_NOMEM) {
            dwarfvars_close(dv);
            return rc;
        }
        /* DG_E_LIMIT: keep walking CU headers so libdwarf's state ends
         * clean, but index nothing more */
    }
    if (n_cus == 0) {
        snprintf(err, err_len, "%s: no DWARF compilation units", path);
        dwarfvars_close(dv);
        return DG_E_NOT_FOUND;
    }
    if (dv->n > 1)
        qsort(dv->v, dv->n, sizeof *dv->v, cmp_var);
    *out = dv;
    return DG_OK;
}

/* Appends the member path from type (consumed) at byte offset off to var;
 * sets type_out to the innermost named member's type. */
static void
member_path(struct dwarfvars *dv, Dwarf_Die type, uint64_t off, char *var, size_t var_len,
            char *type_out, size_t type_len)
{
    for (unsigned depth = 0; type != NULL && depth < DWARFVARS_MAX_DEPTH; depth++) {
        Dwarf_Die t = strip(dv->dbg, type), m = NULL, next;
        Dwarf_Error e = NULL;
        Dwarf_Half tag;
        size_t used = strlen(var);
        bool found = false;

        type = NULL;
        if (t == NULL)
            break;
        tag = tag_of(dv->dbg, t);
        if (tag == DW_TAG_array_type) {
            Dwarf_Die el = ref_die(dv->dbg, t, DW_AT_type);
            uint64_t es = type_size(dv, el, 0);

            if (el != NULL && es > 0) {
                snprintf(var + used, var_len - used, "[%llu]", (unsigned long long)(off / es));
                off %= es;
                type = el;
            } else if (el != NULL) {
                dwarf_dealloc_die(el);
            }
        } else if ((tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
                    tag == DW_TAG_class_type) &&
                   dwarf_child(t, &m, &e) == DW_DLV_OK) {
            for (unsigned k = 0; m != NULL && k < 65536 && !found; k++) {
                uint64_t at = 0, size;
                Dwarf_Die mt;

                if (tag_of(dv->dbg, m) == DW_TAG_member &&
                    (udata(dv->dbg, m, DW_AT_data_member_location, &at) ||
                     tag == DW_TAG_union_type) &&
                    (mt = ref_die(dv->dbg, m, DW_AT_type)) != NULL) {
                    size = type_size(dv, mt, 0);
                    if (off >= at && off - at < size) {
                        char nm[96];

                        name_of(dv->dbg, m, nm, sizeof nm);
                        snprintf(var + used, var_len - used, "%s%s", nm[0] ? "." : "", nm);
                        type_name(dv, mt, type_out, type_len, 0);
                        off -= at;
                        type = mt;
                        found = true;
                    } else {
                        dwarf_dealloc_die(mt);
                    }
                }
                next = NULL;
                if (dwarf_siblingof_b(dv->dbg, m, true, &next, &e) != DW_DLV_OK && e != NULL) {
                    dwarf_dealloc_error(dv->dbg, e);
                    e = NULL;
                }
                dwarf_dealloc_die(m);
                m = next;
            }
            if (m != NULL)
                dwarf_dealloc_die(m);
        }
        if (e != NULL)
            dwarf_dealloc_error(dv->dbg, e);
        dwarf_dealloc_die(t);
    }
    if (type != NULL)
        dwarf_dealloc_die(type);
}

dg_err
dwarfvars_find(struct dwarfvars *dv, uint64_t addr, char *var, size_t var_len, char *type,
               size_t type_len, char *err, size_t err_len)
{
    size_t lo = 0, hi = dv->n;
    const struct var *best = NULL;
    Dwarf_Die die = NULL, t, spec;
    Dwarf_Error e = NULL;

    var[0] = type[0] = '\0';
    while (lo < hi) { /* the last variable starting at or before addr */
        size_t mid = lo + (hi - lo) / 2;

        if (dv->v[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* variables may nest (a zero-size one before a big one): look back a little */
    for (size_t k = lo; k-- > 0 && lo - k <= 16;)
        if (addr - dv->v[k].addr < (dv->v[k].size ? dv->v[k].size : 1)) {
            best = &dv->v[k];
            break;
        }
    if (best == NULL) {
        if (dv->capped)
            snprintf(err, err_len, "no variable found; the DWARF index stopped early (%u DIEs, "
                     "%.0f s)", DWARFVARS_MAX_DIES, DWARFVARS_MAX_SECONDS);
        return dv->capped ? DG_E_LIMIT : DG_E_NOT_FOUND;
    }
    if (dwarf_offdie_b(dv->dbg, best->die, true, &die, &e) != DW_DLV_OK) {
        say(dv->dbg, e, "variable DIE", err, err_len);
        return DG_E_FORMAT;
    }
    name_of(dv->dbg, die, var, var_len);
    t = ref_die(dv->dbg, die, DW_AT_type);
    if ((var[0] == '\0' || t == NULL) &&
        (spec = ref_die(dv->dbg, die, DW_AT_specification)) != NULL) {
        if (var[0] == '\0')
            name_of(dv->dbg, spec, var, var_len);
        if (t == NULL)
            t = ref_die(dv->dbg, spec, DW_AT_type);
        dwarf_dealloc_die(spec);
    }
    dwarf_dealloc_die(die);
    if (var[0] == '\0')
        snprintf(var, var_len, "<unnamed>");
    type_name(dv, t, type, type_len, 0);
    member_path(dv, t, addr - best->addr, var, var_len, type, type_len);
    return DG_OK;
}

void
dwarfvars_close(struct dwarfvars *dv)
{
    if (dv == NULL)
        return;
    if (dv->dbg != NULL) {
        Dwarf_Error e = NULL;

        dwarf_finish(dv->dbg, &e);
    }
    free(dv->v);
    free(dv);
}
