/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * regions.c - resolves the claims of a container reader into the region map:
 * a sorted cover of the file in which every byte has exactly one span (see
 * regions.h). The resolution is a sweep over claim boundaries with a heap of
 * the active claims ordered by (priority, claim order), O(n log n) in the
 * number of claims, so 65535+ segments (PN_XNUM) cost nothing special.
 */
#include <stdlib.h>
#include <string.h>

#include "regions.h"
#include "../util/grow.h"

struct claim {
    struct dg_region r;
    enum regions_priority prio;
    size_t seq;
    bool to_end; /* regions_claim_to_end(): runs to the input's end, whatever it is */
};

struct name {
    struct name *next;
    char s[];
};

struct dg_regions {
    struct claim *c;
    size_t n_claims, cap_claims;
    size_t *va_index;        /* memory claims sorted by va (built on demand) */
    size_t n_va_index;
    uint64_t max_claim_len;  /* longest memory claim, bounds regions_name_va */
    bool va_index_valid;

    struct dg_region *spans; /* the final cover */
    size_t n_spans;
    const struct dg_region **by_va; /* memory spans sorted by va */
    size_t n_by_va;

    uint64_t unreadable_extra;   /* from regions_add_unreadable */
    uint64_t unreadable_clipped; /* computed by regions_finish */
    struct name *names;
    struct regions_info info;

    struct regions_module *modules;  /* regions_add_module() */
    size_t n_modules, cap_modules;
    struct thread_name *threads;     /* regions_set_thread_name() */
    size_t n_threads, cap_threads;
};

struct thread_name {
    int64_t tid;
    const char *name; /* interned */
};

bool
regions_shared_memory(const char *name)
{
    return strcmp(name, "/dev/zero (deleted)") == 0 || strncmp(name, "/memfd:", 7) == 0 ||
           strncmp(name, "/SYSV", 5) == 0 || strncmp(name, "/dev/shm/", 9) == 0;
}

struct dg_regions *
regions_new(void)
{
    struct dg_regions *m = calloc(1, sizeof *m);

    if (m != NULL) {
        m->info.format = "raw";
        m->info.process.pid = m->info.process.ppid = m->info.process.uid = -1;
    }
    return m;
}

void
regions_free(struct dg_regions *m)
{
    if (m == NULL)
        return;
    while (m->names != NULL) {
        struct name *nx = m->names->next;

        free(m->names);
        m->names = nx;
    }
    free(m->modules);
    free(m->threads);
    free(m->c);
    free(m->va_index);
    free(m->spans);
    free(m->by_va);
    free(m);
}

static const char *
intern(struct dg_regions *m, const char *s)
{
    size_t n;
    struct name *nm;

    if (s == NULL)
        return NULL;
    n = strlen(s);
    nm = malloc(sizeof *nm + n + 1);
    if (nm == NULL)
        return NULL;
    memcpy(nm->s, s, n + 1);
    nm->next = m->names;
    m->names = nm;
    return nm->s;
}

static dg_err
claim_add(struct dg_regions *m, const struct dg_region *r, enum regions_priority prio, bool to_end)
{
    struct claim *c;

    if (r->len == 0)
        return DG_OK;
    if (m->n_claims >= REGIONS_MAX_CLAIMS)
        return DG_E_LIMIT;
    if (m->n_claims == m->cap_claims) {
        size_t cap = m->cap_claims ? 2 * m->cap_claims : 64;
        struct claim *nc = realloc(m->c, cap * sizeof *nc);

        if (nc == NULL)
            return DG_E_NOMEM;
        m->c = nc;
        m->cap_claims = cap;
    }
    c = &m->c[m->n_claims];
    c->r = *r;
    c->r.name = NULL;
    if (r->name != NULL && (c->r.name = intern(m, r->name)) == NULL)
        return DG_E_NOMEM;
    c->prio = prio;
    c->to_end = to_end;
    c->seq = m->n_claims++;
    m->va_index_valid = false;
    return DG_OK;
}

dg_err
regions_claim(struct dg_regions *m, const struct dg_region *r, enum regions_priority prio)
{
    return claim_add(m, r, prio, false);
}

dg_err
regions_claim_to_end(struct dg_regions *m, const struct dg_region *r, enum regions_priority prio)
{
    struct dg_region all = *r;

    all.len = UINT64_MAX - r->off;
    return claim_add(m, &all, prio, true);
}

/* a + b, or UINT64_MAX when that overflows (hostile sizes add up). */
static uint64_t
add_sat(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

void
regions_add_unreadable(struct dg_regions *m, uint64_t bytes)
{
    m->unreadable_extra = add_sat(m->unreadable_extra, bytes);
}

static int
cmp_claim_va(const void *a, const void *b, void *arg)
{
    const struct claim *c = arg;
    uint64_t x = c[*(const size_t *)a].r.va, y = c[*(const size_t *)b].r.va;

    return x < y ? -1 : x > y;
}

static bool
build_va_index(struct dg_regions *m)
{
    size_t k = 0;

    if (m->va_index_valid)
        return true;
    free(m->va_index);
    m->va_index = malloc((m->n_claims ? m->n_claims : 1) * sizeof *m->va_index);
    if (m->va_index == NULL)
        return false;
    m->max_claim_len = 0;
    for (size_t i = 0; i < m->n_claims; i++) {
        if (m->c[i].r.has_va) {
            m->va_index[k++] = i;
            if (m->c[i].r.len > m->max_claim_len)
                m->max_claim_len = m->c[i].r.len;
        }
    }
    qsort_r(m->va_index, k, sizeof *m->va_index, cmp_claim_va, m->c);
    m->n_va_index = k;
    m->va_index_valid = true;
    return true;
}

void
regions_name_va(struct dg_regions *m, uint64_t va, uint64_t size, enum dg_span_kind kind,
                const char *name, int64_t thread)
{
    size_t lo = 0, hi;
    uint64_t end = va + size < va ? UINT64_MAX : va + size;
    const char *nm = NULL;

    if (size == 0 || !build_va_index(m))
        return;
    /* Find the first claim starting at or after end, then walk down: a claim
     * starting more than max_claim_len before va cannot overlap [va, end). */
    hi = m->n_va_index;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (m->c[m->va_index[mid]].r.va < end)
            lo = mid + 1;
        else
            hi = mid;
    }
    while (lo > 0) {
        struct claim *c = &m->c[m->va_index[--lo]];
        uint64_t cend = c->r.va + c->r.len < c->r.va ? UINT64_MAX : c->r.va + c->r.len;

        if (cend <= va) {
            if (va - c->r.va > m->max_claim_len)
                break;
            continue;
        }
        if (c->r.name != NULL && c->r.kind != DG_SPAN_ANON && c->r.kind != DG_SPAN_MEMORY)
            continue;
        if (name != NULL && nm == NULL && (nm = intern(m, name)) == NULL)
            return;
        if (c->r.name == NULL)
            c->r.name = nm;
        c->r.kind = kind;
        if (thread >= 0)
            c->r.thread = thread;
    }
}

/* --- resolution ------------------------------------------------------------ */

struct heap {
    size_t *v;
    size_t n;
    const struct claim *c;
};

static bool
heap_less(const struct heap *h, size_t a, size_t b)
{
    const struct claim *x = &h->c[a], *y = &h->c[b];

    return x->prio != y->prio ? x->prio < y->prio : x->seq < y->seq;
}

static void
heap_push(struct heap *h, size_t ci)
{
    size_t i = h->n++;

    h->v[i] = ci;
    while (i > 0 && heap_less(h, h->v[i], h->v[(i - 1) / 2])) {
        size_t p = (i - 1) / 2, t = h->v[p];

        h->v[p] = h->v[i];
        h->v[i] = t;
        i = p;
    }
}

static void
heap_pop(struct heap *h)
{
    size_t i = 0;

    h->v[0] = h->v[--h->n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i, t;

        if (l < h->n && heap_less(h, h->v[l], h->v[s]))
            s = l;
        if (r < h->n && heap_less(h, h->v[r], h->v[s]))
            s = r;
        if (s == i)
            break;
        t = h->v[s];
        h->v[s] = h->v[i];
        h->v[i] = t;
        i = s;
    }
}

static int
cmp_claim_off(const void *a, const void *b, void *arg)
{
    const struct claim *c = arg;
    const struct claim *x = &c[*(const size_t *)a], *y = &c[*(const size_t *)b];

    if (x->r.off != y->r.off)
        return x->r.off < y->r.off ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
cmp_span_va(const void *a, const void *b)
{
    const struct dg_region *x = *(const struct dg_region *const *)a;
    const struct dg_region *y = *(const struct dg_region *const *)b;

    return x->va < y->va ? -1 : x->va > y->va;
}

static uint64_t
claim_end(const struct claim *c)
{
    return c->r.off + c->r.len < c->r.off ? UINT64_MAX : c->r.off + c->r.len;
}

/* Appends [off, end) of claim ci (or a gap when ci == SIZE_MAX) to the cover,
 * merging with the previous span when it continues the same claim. */
static bool
emit(struct dg_regions *m, size_t *cap, size_t *last_claim, size_t ci, uint64_t off,
     uint64_t end, enum dg_span_kind gap_kind)
{
    struct dg_region *s;

    if (m->n_spans > 0 && *last_claim == ci && ci != SIZE_MAX) {
        s = &m->spans[m->n_spans - 1];
        if (s->off + s->len == off) {
            s->len = end - s->off;
            return true;
        }
    }
    if (m->n_spans == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        struct dg_region *ns = realloc(m->spans, nc * sizeof *ns);

        if (ns == NULL)
            return false;
        m->spans = ns;
        *cap = nc;
    }
    s = &m->spans[m->n_spans++];
    if (ci == SIZE_MAX) {
        memset(s, 0, sizeof *s);
        s->kind = gap_kind;
        s->thread = -1;
        s->index = (uint32_t)m->n_spans - 1;
    } else {
        const struct claim *c = &m->c[ci];

        *s = c->r;
        if (c->r.has_va)
            s->va = c->r.va + (off - c->r.off);
    }
    s->off = off;
    s->len = end - off;
    *last_claim = ci;
    return true;
}

dg_err
regions_finish(struct dg_regions *m, uint64_t file_size)
{
    size_t *order = NULL, cap = 0, last = SIZE_MAX, i = 0;
    struct heap h = {0};
    uint64_t pos = 0, last_end = 0;
    dg_err rc = DG_E_NOMEM;

    free(m->spans);
    free(m->by_va);
    m->spans = NULL;
    m->by_va = NULL;
    m->n_spans = m->n_by_va = 0;
    m->unreadable_clipped = 0;

    order = malloc((m->n_claims ? m->n_claims : 1) * sizeof *order);
    h.v = malloc((m->n_claims ? m->n_claims : 1) * sizeof *h.v);
    h.c = m->c;
    if (order == NULL || h.v == NULL)
        goto out;
    for (size_t k = 0; k < m->n_claims; k++) {
        uint64_t end = claim_end(&m->c[k]);

        order[k] = k;
        if (file_size != UINT64_MAX && end > file_size && !m->c[k].to_end)
            m->unreadable_clipped =
                add_sat(m->unreadable_clipped,
                        end - (m->c[k].r.off > file_size ? m->c[k].r.off : file_size));
        if (end > last_end)
            last_end = end;
    }
    qsort_r(order, m->n_claims, sizeof *order, cmp_claim_off, m->c);
    if (file_size != UINT64_MAX && last_end > file_size)
        last_end = file_size;

    while (file_size == UINT64_MAX ? pos < last_end : pos < file_size) {
        uint64_t next, end;

        while (i < m->n_claims && m->c[order[i]].r.off <= pos)
            heap_push(&h, order[i++]);
        while (h.n > 0 && claim_end(&m->c[h.v[0]]) <= pos)
            heap_pop(&h);
        next = i < m->n_claims ? m->c[order[i]].r.off : UINT64_MAX;
        if (h.n == 0) {
            end = next;
            if (file_size != UINT64_MAX && end > file_size)
                end = file_size;
            if (end == UINT64_MAX)
                break;
            if (!emit(m, &cap, &last, SIZE_MAX, pos, end,
                      pos >= last_end ? DG_SPAN_TRAILING : DG_SPAN_GAP))
                goto out;
            pos = end;
            continue;
        }
        end = claim_end(&m->c[h.v[0]]);
        if (next < end)
            end = next;
        if (file_size != UINT64_MAX && end > file_size)
            end = file_size;
        if (!emit(m, &cap, &last, h.v[0], pos, end, DG_SPAN_GAP))
            goto out;
        pos = end;
    }
    if (file_size == UINT64_MAX && !emit(m, &cap, &last, SIZE_MAX, pos, UINT64_MAX,
                                         DG_SPAN_TRAILING))
        goto out;

    m->by_va = malloc((m->n_spans ? m->n_spans : 1) * sizeof *m->by_va);
    if (m->by_va == NULL)
        goto out;
    for (size_t k = 0; k < m->n_spans; k++) {
        if (m->spans[k].has_va)
            m->by_va[m->n_by_va++] = &m->spans[k];
    }
    qsort(m->by_va, m->n_by_va, sizeof *m->by_va, cmp_span_va);
    rc = DG_OK;
out:
    free(order);
    free(h.v);
    return rc;
}

size_t
regions_count(const struct dg_regions *m)
{
    return m->n_spans;
}

const struct dg_region *
regions_get(const struct dg_regions *m, size_t i)
{
    return i < m->n_spans ? &m->spans[i] : NULL;
}

const struct dg_region *
regions_at(const struct dg_regions *m, uint64_t off)
{
    size_t lo = 0, hi = m->n_spans;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct dg_region *s = &m->spans[mid];

        if (off < s->off)
            hi = mid;
        else if (off - s->off >= s->len)
            lo = mid + 1;
        else
            return s;
    }
    return NULL;
}

size_t
regions_va_count(const struct dg_regions *m)
{
    return m->n_by_va;
}

const struct dg_region *
regions_va_get(const struct dg_regions *m, size_t i)
{
    return i < m->n_by_va ? m->by_va[i] : NULL;
}

const struct dg_region *
regions_at_va(const struct dg_regions *m, uint64_t va)
{
    size_t lo = 0, hi = m->n_by_va;

    /* Spans may overlap in va (odd writers); return the last one starting <= va
     * that contains it, else any earlier one that does. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (m->by_va[mid]->va <= va)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k-- > 0;) {
        const struct dg_region *s = m->by_va[k];

        if (va - s->va < s->len)
            return s;
        if (lo - k > 64)
            break;
    }
    return NULL;
}

uint64_t
regions_unreadable(const struct dg_regions *m)
{
    return add_sat(m->unreadable_extra, m->unreadable_clipped);
}

uint64_t
regions_clipped(const struct dg_regions *m)
{
    return m->unreadable_clipped;
}

struct regions_info *
regions_info(struct dg_regions *m)
{
    return &m->info;
}

const struct regions_info *
regions_info_const(const struct dg_regions *m)
{
    return &m->info;
}

dg_err
regions_add_module(struct dg_regions *m, uint64_t va, uint64_t size, uint64_t file_off,
                   const char *name, const char *build_id, const char *debug_file)
{
    struct regions_module *e;

    if (m->n_modules >= REGIONS_MAX_MODULES)
        return DG_E_LIMIT;
    if ((e = grow_to(m->modules, m->n_modules + 1, &m->cap_modules, sizeof *m->modules, 16)) == NULL)
        return DG_E_NOMEM;
    m->modules = e;
    e = &m->modules[m->n_modules];
    *e = (struct regions_module){.va = va, .size = size, .file_off = file_off};
    if ((name != NULL && (e->name = intern(m, name)) == NULL) ||
        (build_id != NULL && (e->build_id = intern(m, build_id)) == NULL) ||
        (debug_file != NULL && (e->debug_file = intern(m, debug_file)) == NULL))
        return DG_E_NOMEM;
    m->n_modules++;
    return DG_OK;
}

size_t
regions_module_count(const struct dg_regions *m)
{
    return m->n_modules;
}

const struct regions_module *
regions_module_get(const struct dg_regions *m, size_t i)
{
    return i < m->n_modules ? &m->modules[i] : NULL;
}

const struct regions_module *
regions_module_at(const struct dg_regions *m, uint64_t va)
{
    for (size_t i = 0; i < m->n_modules; i++)
        if (va >= m->modules[i].va && va - m->modules[i].va < m->modules[i].size)
            return &m->modules[i];
    return NULL;
}

dg_err
regions_set_thread_name(struct dg_regions *m, int64_t tid, const char *name)
{
    struct thread_name *t;

    if (m->n_threads >= REGIONS_MAX_THREAD_NAMES)
        return DG_E_LIMIT;
    if ((t = grow_to(m->threads, m->n_threads + 1, &m->cap_threads, sizeof *m->threads, 16)) ==
        NULL)
        return DG_E_NOMEM;
    m->threads = t;
    m->threads[m->n_threads].tid = tid;
    if ((m->threads[m->n_threads].name = intern(m, name)) == NULL)
        return DG_E_NOMEM;
    m->n_threads++;
    return DG_OK;
}

const char *
regions_thread_name(const struct dg_regions *m, int64_t tid)
{
    for (size_t i = 0; i < m->n_threads; i++)
        if (m->threads[i].tid == tid)
            return m->threads[i].name;
    return NULL;
}
