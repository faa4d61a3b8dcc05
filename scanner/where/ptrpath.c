/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ptrpath.c - the pointer paths from roots to heap keys (see ptrpath.h).
 *
 * A breadth-first search backwards from every key at once: level 0 holds
 * the keys' addresses; each level reads every memory region of the dump
 * once, word by word, and keeps the words whose value lies in [target -
 * max_offset, target] of a target of the level before (sorted intervals,
 * binary search). A word the caller calls a root ends its key's search at
 * that depth (the root of highest rank wins; a weak root is kept while a
 * few more levels look for a better one); the others become the next
 * level's targets, the smallest offsets in all first. Only writable
 * memory (or memory of unknown permissions) is read: a pointer to a heap
 * object is stored at run time. Memory is read in
 * 1 MiB windows through input_read_at(), by up to lim->threads readers
 * (taking the windows in turn; a stream is searched only when its spill holds
 * all of it, input_reads_back()): the search's own thread and helpers
 * started at the first level and kept to the last (struct crew), each
 * moved off a CPU it finds another on (spread.h). Nothing is indexed, but
 * while the first level reads a window it notes which 64 KiB blocks of
 * address space the window's pointer-like words point into (2 KiB a
 * window, hashed, or less when there are more than SUMS_BUDGET allows;
 * words that point where the dump has no memory left out: a vector test
 * against a few intervals covering the dump's memory drops most of them,
 * a hashed map of its 64 KiB blocks the rest); a later level
 * reads only the windows whose blocks meet its targets'. The summaries need
 * no key, so a caller with idle threads can have them made beforehand
 * (ptrpath_sums_start() and ptrpath_sums_help(): the scan has the threads of
 * the detectors' finish() do it once their own work is done);
 * then the first level too reads only the windows that may point near a key.
 * Better still, an ELF core's scan makes them of each piece of the file as
 * it reads the chunk (ptrsums.h, through ptrfree.h): a window whose pieces'
 * summaries it closed needs no summary of its own, and no level, the first
 * included, reads a piece whose summary misses its targets.
 * No level reads a window the scan found all zeros (zeromap.h), nor the
 * blocks of a window where it found no word that points into the dump
 * (ptrfree.h: text, random bytes; the rest of the window is read in
 * pieces), when the scan's map of those answers for this search. A level
 * after which every key left ends whatever it finds (each holds a weak
 * root and has looked extra_depth levels past it) wants only roots above
 * those: it reads only the regions that may hold one (the caller's
 * region_rank: a heap holds none), a few megabytes of globals where the
 * other levels read the heap.
 * Memory use is the nodes, those summaries (at most SUMS_BUDGET bytes) and
 * a window per reader.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptrpath.h"
#include "ptrcover.h"
#include "ptrfree.h"
#include "ptrsums.h"
#include "../util/deadline.h"
#include "../util/iobuf.h"
#include "../util/simd.h"
#include "../util/spread.h"
#include "../util/words.h"

#define WINDOW (1u << 20)
#define PIECE_GAP (8u << 10) /* blocks without a pointer read through rather than skipped:
                              * fewer than this many bytes between two pieces */
#define PAGE_BITS 16u  /* the per-level filter of target pages: 8 KiB */
/* A window's summary: 2^sum_bits bits, one per hashed 64 KiB of address.
 * Pointer-rich windows set a few hundred bits, and a level's targets tens,
 * so small summaries collide: on the real benchmark core the levels after
 * the first read 403 windows at 4,096 bits, 230 at 16,384, to find their
 * hits in 85. More windows than the budget holds at that size get smaller
 * summaries, down to 4,096 bits. */
#define SUM_BITS_MAX 14u
#define SUM_BITS_MIN 12u
#define SUM_WORDS_MAX ((1u << SUM_BITS_MAX) / 64)
#define SUMS_BUDGET PTR_SUMS_BUDGET /* bytes of summaries, unless the limits say (16 GiB
                                     * of writable memory at the smallest size) */
#define NO_PARENT SIZE_MAX
#define SEEN_SLOTS 1024u /* the set of nodes' first size (a power of two) */

#define MAX_READERS 16u /* readers of a level */
#define CREW_SPIN_NS 2000000 /* how long a helper or the search waits spinning (a
                              * level's judge takes 0.3 to 1.6 ms), then sleeps */

struct reader;

/* The helper readers of the levels (readers 1 to n; the search's own thread
 * is reader 0): started at the first level that has threads to spare and
 * kept until the search ends. A thread started for each level ran 0.14 to
 * 0.3 ms after pthread_create() on this 2-vCPU VM's idle CPU, and its join
 * came 0.1 to 0.2 ms after its end, at each of the real core's eight
 * levels. Between levels a helper spins a little, then sleeps. */
struct crew {
    pthread_t tid[MAX_READERS];
    unsigned n;            /* helpers running */
    bool tried;            /* crew_ensure() has run */
    bool made;             /* lock, go and done are made */
    bool spin;             /* more CPUs than the search's threads: waits may spin */
    struct reader *rd;     /* the level's readers, set before gen moves */
    atomic_uint gen;       /* moved when a level starts, or to stop */
    atomic_uint busy;      /* helpers still reading the level */
    atomic_bool stop;
    pthread_mutex_t lock;  /* for waits past the spin */
    pthread_cond_t go, done;
    struct crew_member {
        struct crew *crew;
        unsigned no;       /* its reader's number */
    } member[MAX_READERS];
};

struct node {
    uint64_t at;      /* where the pointer word sits (a key's own node: the key) */
    uint64_t val;     /* the word's value */
    uint64_t cost;    /* sum of the offsets from here to the key */
    size_t parent;    /* node this one leads to, NO_PARENT for a key */
    size_t q;         /* the query (key) it belongs to */
};

/* Target interval of a node of the level being searched for. */
struct target {
    uint64_t lo, hi;  /* [hi - max_offset, hi] */
    uint64_t cost;    /* the node's cost */
    size_t node;
};

struct hit {
    uint64_t at, val;
    uint64_t off;     /* target's hi - val, plus the target's cost */
    size_t parent;
    bool prune;       /* not to be followed: a root, or what the root function refused */
};

/* Per query. */
struct qstate {
    bool done;
    unsigned stop;          /* last level searched */
    size_t n_nodes;
    size_t best;            /* hit index of this level's best root, or SIZE_MAX */
    int best_rank;
    char best_name[160];
    char fallback[512];     /* a weak root's path, kept while looking deeper */
    int fallback_rank;
};

struct search {
    const struct dg_dump *d;
    const struct ptrpath_limits *lim;
    unsigned word;
    bool big;
    struct node *nodes;
    size_t n_nodes, cap_nodes;
    uint64_t *seen;         /* hash set of (query, at) of nodes, at most half full */
    size_t seen_mask, n_seen;
    double t_end;
    atomic_bool timed_out;
    atomic_size_t next_win; /* read_windows(): the next window no reader has taken */
    /* The readers' window buffers, n_bufs of WINDOW bytes (bufs_reserve()):
     * one allocation kept from level to level, so that each level's readers
     * do not fault fresh pages in (microseconds a page in a virtual
     * machine), or NULL. */
    uint8_t *bufs;
    size_t n_bufs;
    uint64_t pages[(1u << PAGE_BITS) / 64]; /* scan_level(): target pages, hashed */
    /* Per window (by number, in reading order, the same at every level):
     * the 64 KiB blocks of address space its pointer-like words point into,
     * hashed (sum_bit()), filled while the first level reads the window. A
     * later level skips a window whose summary holds none of its targets'
     * blocks: no word there can point into a target. NULL: none kept (a
     * word size or byte order other than 64-bit little-endian). */
    uint64_t *sums;
    size_t n_sums;
    /* The scan's summaries of the file's pieces (ptrsums.h), when they
     * answer for this search (same bits as sums): a window whose pieces'
     * summaries are closed needs none of its own, and no level reads a
     * piece whose closed summary misses its targets. Else NULL. */
    const struct ptr_sums *fsums;
    unsigned sum_bits;      /* each summary's size: 2^sum_bits bits (sum_words()) */
    bool sums_ready;        /* the first level read every window and filled its summary */
    atomic_bool sums_broken; /* a window of the first level was not read whole */
    uint64_t tsum[SUM_WORDS_MAX]; /* scan_level(): the targets' blocks */
    /* The 64 KiB blocks that hold a byte of the dump's memory, or lie less
     * than max_offset below one, hashed (MAPPED_BITS): a word pointing
     * anywhere else points near no target at any level, so it stays out of
     * the summaries (a library's offsets and sizes look like addresses and
     * would fill them). NULL: every pointer-like word goes in. */
    uint64_t *mapped;
    /* At most PTR_COVER_N intervals of user address space ([lo, lo + span])
     * that hold every block of the mapped filter exactly, the wide gaps
     * between the dump's memory left out (a JVM's heap below 4 GiB, the
     * executable's at 0x55..., libraries and stacks at 0x7f...). Most
     * words that look like user addresses lie in those gaps; the vector
     * test drops them before any lookup. n 0: the dump has no user
     * memory, and every user address counts. */
    struct ptr_cover cover;
    /* The blocks the scan found to hold no word that points into the dump
     * (ptrfree.h), when they answer for this search; else NULL. A window
     * of them has no word for a summary or a target at any level. */
    const struct ptr_free *pfree;
    /* Per region of the map in address order, the highest rank a root
     * there may have (the caller's region_rank), made at the first level
     * that asks (rank_regions()); NULL before, or without region_rank. */
    signed char *rank_of;
    /* scan_level(): with roots_only, the regions ranked below min_rank are
     * not read; set only once the summaries are made, so that no window's
     * summary is left out. */
    bool roots_only;
    int min_rank;
    struct crew crew;       /* the levels' helper readers */
};

/* Bit b of a bit set of 64-bit words: set it, test it. */
static inline void
bit_set(uint64_t *set, uint64_t b)
{
    set[b >> 6] |= 1ull << (b & 63);
}

static inline bool
bit_test(const uint64_t *set, uint64_t b)
{
    return set[b >> 6] >> (b & 63) & 1;
}

/* The 64-bit words of one of s's summaries. */
static inline size_t
sum_words(const struct search *s)
{
    return ptr_sum_words(s->sum_bits);
}

static int
cmp_target(const void *a, const void *b)
{
    const struct target *x = a, *y = b;

    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int
cmp_hit(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;

    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* The target whose interval holds v with the smallest offset plus cost
 * (the path with the smallest offsets in all), or NULL. Intervals have one
 * width, so those holding v are contiguous by lo. */
static const struct target *
find_target(const struct target *t, size_t n, uint64_t width, uint64_t v)
{
    size_t lo = 0, hi = n;
    const struct target *best = NULL;

    while (lo < hi) { /* first with t.lo > v */
        size_t mid = lo + (hi - lo) / 2;

        if (t[mid].lo <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k-- > 0;) {
        if (v - t[k].lo > width)
            break;
        if (v <= t[k].hi &&
            (best == NULL || t[k].hi - v + t[k].cost < best->hi - v + best->cost))
            best = &t[k];
    }
    return best;
}

/* The bit of 4 KiB page number pg in struct search's pages filter: a
 * multiplicative hash of its low 32 bits (pages less than 16 TiB apart
 * differ in them), which pages_may_hold_avx2() computes four at a time. */
#define PAGE_HASH 0x9e3779b1u
static inline uint64_t
page_bit(uint64_t pg)
{
    return ((uint32_t)pg * PAGE_HASH) >> (32 - PAGE_BITS);
}

static uint64_t
seen_key(uint64_t at, size_t q)
{
    return (at ^ ((uint64_t)q * 0x9e3779b97f4a7c15ull)) | 1; /* never 0 (empty) */
}

/* Where key k is in set (mask + 1 slots, never full), or the empty slot
 * where it goes. */
static size_t
seen_slot(const uint64_t *set, size_t mask, uint64_t k)
{
    size_t i = (size_t)((k * 0xff51afd7ed558ccdull) >> 17) & mask;

    while (set[i] != 0 && set[i] != k)
        i = (i + 1) & mask;
    return i;
}

/* Adds (q, at) to the set: 1, or 0 when it was there, or -1 when the set
 * had to grow and there was no memory. The set starts small and doubles:
 * a search keeps a few thousand nodes, and a table sized for the most it
 * may keep (max_nodes per key) would cost its pages' first touch. */
static int
seen_add(struct search *s, uint64_t at, size_t q)
{
    const uint64_t k = seen_key(at, q);
    size_t i = seen_slot(s->seen, s->seen_mask, k);

    if (s->seen[i] == k)
        return 0;
    if (2 * (s->n_seen + 1) > s->seen_mask + 1) {
        const size_t mask = 2 * s->seen_mask + 1;
        uint64_t *set = calloc(mask + 1, sizeof *set);

        if (set == NULL)
            return -1;
        for (size_t j = 0; j <= s->seen_mask; j++)
            if (s->seen[j] != 0)
                set[seen_slot(set, mask, s->seen[j])] = s->seen[j];
        free(s->seen);
        s->seen = set;
        s->seen_mask = mask;
        i = seen_slot(set, mask, k);
    }
    s->seen[i] = k;
    s->n_seen++;
    return 1;
}

/* Makes s hold window buffers for at least n readers, one allocation
 * (iobuf_alloc(): in huge pages from 2 MiB, so that a first use costs a
 * fault or two); none when there is no memory (each reader then allocates
 * its own). Not while readers run. */
static void
bufs_reserve(struct search *s, size_t n)
{
    size_t bytes = n * WINDOW;

    if (n <= s->n_bufs)
        return;
    free(s->bufs);
    bytes = (bytes + IOBUF_HUGE - 1) / IOBUF_HUGE * IOBUF_HUGE;
    s->bufs = iobuf_alloc(bytes);
    s->n_bufs = s->bufs != NULL ? bytes / WINDOW : 0;
}

/* Reader slot i's window buffer, or NULL. */
static uint8_t *
bufs_get(const struct search *s, size_t i)
{
    return i < s->n_bufs ? s->bufs + i * WINDOW : NULL;
}

/* One reader of a level, or of summaries only: windows of writable memory
 * (the windows of all regions counted in order; read_windows()). */
struct reader {
    struct search *s;
    const struct target *t;   /* NULL, n_t 0: summaries only (ptrpath_sums_start()) */
    size_t n_t, cap;
    uint64_t gmin, gmax;
    bool avx2;        /* dg_cpu_avx2() */
    bool tcov;        /* every target lies in s's cover: a word outside it is no hit */
    uint64_t *sum;    /* the summary to fill for the window being read, or NULL */
    uint64_t last_blk; /* sum_add(): the block of the word it looked at last */
    struct hit *h;
    size_t n;
    dg_err rc;
    uint8_t *buf;     /* a window buffer of the search's (bufs_get()), or NULL: its own */
    struct spread_set *spread; /* its fellow readers (of a level, or summaries' helpers),
                               * kept on CPUs apart; or NULL */
    unsigned no;      /* this reader's number in spread */
};

/* Notes in the window's summary the block of pointer-like word v, unless
 * it points where the dump has no memory. */
static inline void
sum_add(struct reader *rd, uint64_t v)
{
    if (v >> PTR_SUMS_GRAIN == rd->last_blk)
        return; /* pointers into one object come in runs */
    rd->last_blk = v >> PTR_SUMS_GRAIN;
    if (ptr_mapped_has(rd->s->mapped, PTR_MAPPED_BITS, v))
        bit_set(rd->sum, ptr_sum_bit(v, rd->s->sum_bits));
}

/* True if the page of v may hold a target (most pointer-like words point
 * elsewhere and stop here). */
static inline bool
page_may_hold(const struct search *s, uint64_t v)
{
    return bit_test(s->pages, page_bit(v >> 12));
}

/* The word v at address at, inside [gmin, gmax] and on a page that may hold
 * a target: a hit when it points into one. */
static void
consider(struct reader *rd, uint64_t at, uint64_t v)
{
    const struct search *s = rd->s;
    const struct target *tg;

    if ((tg = find_target(rd->t, rd->n_t, s->lim->max_offset, v)) == NULL)
        return;
    if (rd->n == 2 * rd->cap) {
        /* keep the best cap: they hold every hit of this reader that can be
         * among the level's best cap, whichever windows it read */
        qsort(rd->h, rd->n, sizeof *rd->h, cmp_hit);
        rd->n = rd->cap;
    }
    rd->h[rd->n++] = (struct hit){.at = at, .val = v, .off = tg->hi - v + tg->cost,
                                  .parent = tg->node};
}

#if DG_HAVE_AVX2
/* page_may_hold() of the four words of v: the lanes whose page's bit is set,
 * as a 4-bit mask. */
DG_TARGET_AVX2 static inline unsigned
pages_may_hold_avx2(const struct search *s, __m256i v)
{
    const __m256i h = _mm256_and_si256(
        _mm256_mul_epu32(_mm256_srli_epi64(v, 12), _mm256_set1_epi64x(PAGE_HASH)),
        _mm256_set1_epi64x(0xffffffff));
    const __m256i bit = _mm256_srli_epi64(h, 32 - PAGE_BITS); /* page_bit() */
    const __m256i word = _mm256_i64gather_epi64((const long long *)(const void *)s->pages,
                                                _mm256_srli_epi64(bit, 6), 8);
    const __m256i set = _mm256_and_si256(
        _mm256_srlv_epi64(word, _mm256_and_si256(bit, _mm256_set1_epi64x(63))),
        _mm256_set1_epi64x(1));

    return (unsigned)_mm256_movemask_pd(
        _mm256_castsi256_pd(_mm256_cmpeq_epi64(set, _mm256_set1_epi64x(1))));
}

/* scan_words64() four words at a time: the range test of most words is one
 * vector compare (unsigned, through the sign bit), the page test of the
 * words it lets through one gather. Returns the bytes done. */
DG_TARGET_AVX2 static size_t
scan_words64_avx2(struct reader *rd, const uint8_t *buf, size_t got, uint64_t va)
{
    const struct search *s = rd->s;
    const struct ptr_lane_range targets = ptr_lane_range(rd->gmin, rd->gmax);
    const bool need_cov = rd->sum != NULL || rd->tcov; /* tcov: the cover has intervals */
    struct ptr_cover_lanes cover;
    struct ptr_lane_range all;
    uint64_t all_lo, all_hi;
    size_t k = 0;

    ptr_cover_lanes(&s->cover, &cover);
    /* One range holding the cover and the targets: a vector with no word
     * in it needs no other test. Small numbers, text, random bytes and the
     * words that pack two 32-bit values are such: half of the vectors of
     * the real benchmark core, most of the synthetic one. */
    ptr_cover_hull(&s->cover, &all_lo, &all_hi);
    if (rd->n_t > 0) {
        all_lo = rd->gmin < all_lo ? rd->gmin : all_lo;
        all_hi = rd->gmax > all_hi ? rd->gmax : all_hi;
    }
    all = ptr_lane_range(all_lo, all_hi);
    for (; k + 32 <= got; k += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(buf + k));
        unsigned in = 0, cov = 15u, uin;

        if (_mm256_movemask_pd(_mm256_castsi256_pd(ptr_lane_outside(all, v))) == 15)
            continue;
        if (need_cov)
            cov = ~(unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(ptr_cover_outside(&cover, v))) &
                  15u;
        uin = rd->sum != NULL ? cov : 0;
        if (rd->n_t > 0)
            in = ~(unsigned)_mm256_movemask_pd(
                     _mm256_castsi256_pd(ptr_lane_outside(targets, v))) &
                 (rd->tcov ? cov : 15u);
        if (in != 0)
            in &= pages_may_hold_avx2(s, v);
        /* each word that may matter is taken out of the vector once, for
         * the summary and for the targets both */
        for (unsigned m = in | uin; m != 0; m &= m - 1) {
            unsigned j = (unsigned)__builtin_ctz(m);
            uint64_t w;

            memcpy(&w, buf + k + 8 * j, 8);
            if (uin >> j & 1)
                sum_add(rd, w);
            if (in >> j & 1)
                consider(rd, va + k + 8 * j, w);
        }
    }
    return k;
}
#endif

/* The little-endian 64-bit words of buf[0..got), the first at address va:
 * those in s's cover go to the window's summary, those inside [gmin, gmax]
 * to consider(). */
static void
scan_words64(struct reader *rd, const uint8_t *buf, size_t got, uint64_t va)
{
    size_t k = 0;

#if DG_HAVE_AVX2
    if (rd->avx2)
        k = scan_words64_avx2(rd, buf, got, va);
#endif
    for (; k + 8 <= got; k += 8) {
        uint64_t v;

        memcpy(&v, buf + k, 8);
        if (rd->sum != NULL && ptr_cover_has(&rd->s->cover, v))
            sum_add(rd, v);
        if (rd->n_t > 0 && v - rd->gmin <= rd->gmax - rd->gmin && page_may_hold(rd->s, v))
            consider(rd, va + k, v);
    }
}

/* Reads bytes [a, b) of the window at pos of region reg (want bytes long)
 * into the same place of buf, its ends moved out to whole words (the
 * window starts on one), and searches their words. */
static void
read_piece(struct reader *rd, uint8_t *buf, const struct dg_region *reg, uint64_t pos, size_t a,
           size_t b, size_t want)
{
    struct search *s = rd->s;
    const uint64_t va = reg->va + pos;
    size_t got = 0;
    dg_err rc;

    a -= a % s->word;
    b += (s->word - b % s->word) % s->word;
    if (b > want)
        b = want;
    rc = input_read_at(s->d->in, reg->off + pos + a, buf + a, b - a, &got);
    if ((rc != DG_OK || got < b - a) && rd->sum != NULL)
        atomic_store(&s->sums_broken, true); /* the window's summary is not whole */
    if (rc != DG_OK)
        return; /* that piece only */
    if (s->word == 8 && !s->big) {
        scan_words64(rd, buf + a, got, va + a);
        return;
    }
    for (size_t k = 0; k + s->word <= got; k += s->word) {
        uint64_t v = 0;

        for (unsigned i = 0; i < s->word; i++)
            v |= (uint64_t)buf[a + k + (s->big ? s->word - 1 - i : i)] << (8 * i);
        if (v >= rd->gmin && v <= rd->gmax && page_may_hold(s, v))
            consider(rd, va + a + k, v);
    }
}

/* True when summary sum (of s's size) has a block of the level's targets
 * (s->tsum): a word there may point near one. */
static bool
meets_targets(const struct search *s, const uint64_t *sum)
{
    for (size_t i = 0; i < sum_words(s); i++)
        if (sum[i] & s->tsum[i])
            return true;
    return false;
}

/* What the scan's summaries say of the window at file offsets [off, off +
 * len): -1 nothing (a block's summary is not closed, or there are none),
 * 1 that a word of it may point near a target of the level (s->tsum: none
 * while summaries are made before the targets are known), 0 that none
 * does. */
static int
scan_says(const struct search *s, uint64_t off, uint64_t len)
{
    int meets = 0;

    if (s->fsums == NULL || len == 0)
        return -1;
    for (uint64_t k = off / s->fsums->block; k <= (off + len - 1) / s->fsums->block; k++) {
        const uint64_t *sum = ptr_sums_get(s->fsums, k);

        if (sum == NULL)
            return -1;
        meets = meets || meets_targets(s, sum);
    }
    return meets;
}

/* Whether the scan's summary of the block holding file offset off says
 * that no word there points near a target of the level (a closed summary
 * that misses every block of s->tsum); *end is the block's end. */
static bool
scan_says_none(const struct search *s, uint64_t off, uint64_t *end)
{
    const uint64_t k = off / s->fsums->block;
    const uint64_t *sum = ptr_sums_get(s->fsums, k);

    *end = (k + 1) * s->fsums->block;
    return sum != NULL && !meets_targets(s, sum);
}

/* The end of the run of bytes alike that starts at byte at of the window
 * at file offset base, want bytes long (at most want); in *is_free whether
 * the run need not be read: its blocks hold no pointer (ptrfree.h) or, with
 * sums, the scan's summaries say no word there points near a target. A
 * run's end may come before the next change. */
static uint64_t
free_run(const struct search *s, uint64_t base, uint64_t at, uint64_t want, bool sums,
         bool *is_free)
{
    bool no_ptr = false, none;
    uint64_t e_ptr = want, e_sum;

    if (s->pfree != NULL)
        e_ptr = ptr_free_run(s->pfree, base + at, base + want, &no_ptr) - base;
    *is_free = no_ptr;
    if (!sums || s->fsums == NULL)
        return e_ptr;
    none = scan_says_none(s, base + at, &e_sum);
    e_sum = e_sum - base < want ? e_sum - base : want;
    *is_free = no_ptr || none;
    if (no_ptr && none)
        return e_ptr > e_sum ? e_ptr : e_sum;
    if (no_ptr == none)
        return e_ptr < e_sum ? e_ptr : e_sum;
    return no_ptr ? e_ptr : e_sum;
}

/* Reads the windows it takes in turn with the other readers (s->next_win:
 * the next window no reader has taken; the numbers a reader takes grow, so
 * it walks the regions once), filling their summaries on the first level
 * and collecting hits. Which reader reads which window changes from run to
 * run; what a level finds does not (consider()). */
static void *
read_windows(void *arg)
{
    struct reader *rd = arg;
    struct search *s = rd->s;
    const struct dg_regions *map = s->d->map;
    uint8_t *own = rd->buf == NULL ? iobuf_alloc(WINDOW) : NULL;
    uint8_t *buf = rd->buf != NULL ? rd->buf : own;
    size_t w_no = 0, claim = atomic_fetch_add(&s->next_win, 1);
    int said;

    rd->h = malloc((rd->cap > 0 ? 2 * rd->cap : 1) * sizeof *rd->h);
    rd->n = 0;
    rd->rc = rd->h != NULL && buf != NULL ? DG_OK : DG_E_NOMEM;
    for (size_t r = 0; rd->rc == DG_OK && r < regions_va_count(map) && !atomic_load(&s->timed_out);
         r++) {
        const struct dg_region *reg = regions_va_get(map, r);
        uint64_t skip = (s->word - reg->va % s->word) % s->word;

        if (reg->perms != 0 && !(reg->perms & DG_PERM_W))
            continue; /* what keeps a heap object alive is written at run time */
        const bool rootless = s->roots_only && s->rank_of[r] < s->min_rank;

        for (uint64_t pos = skip; pos < reg->len && !atomic_load(&s->timed_out);
             pos += WINDOW, w_no++) {
            size_t want = reg->len - pos < WINDOW ? (size_t)(reg->len - pos) : WINDOW;

            if (w_no != claim)
                continue;
            claim = atomic_fetch_add(&s->next_win, 1);
            if (rootless)
                continue; /* no word here is a root the level wants */
            if (rd->spread != NULL)
                (void)spread_check(rd->spread, rd->no); /* not on another reader's CPU */
            rd->sum = NULL;
            rd->last_blk = UINT64_MAX;
            said = scan_says(s, reg->off + pos, want);
            if (said == 0)
                continue; /* no word here points near a target (none yet: nothing to do) */
            if (said < 0 && s->sums != NULL && w_no < s->n_sums) {
                uint64_t *sum = s->sums + w_no * sum_words(s);

                if (s->sums_ready) {
                    if (!meets_targets(s, sum))
                        continue; /* no word here points near a target */
                } else {
                    rd->sum = sum;
                }
            }
            if (rd->n_t == 0 && rd->sum == NULL)
                goto done; /* summaries only: the windows past n_sums have none */
            if (s->d->zeros != NULL && zero_map_covers(s->d->zeros, reg->off + pos, want))
                continue; /* the scan found only zeros here: no pointer, an empty summary */
            /* the window but its blocks without a pointer (ptrfree.h), in
             * pieces: the runs of other blocks, and between them the runs of
             * free blocks too short to be worth a read of their own */
            for (uint64_t at = 0, stop; at < want; at = stop) {
                const bool sums = rd->sum == NULL; /* else this window's own is being made */
                bool is_free;

                stop = free_run(s, reg->off + pos, at, want, sums, &is_free);
                while (!is_free && stop < want) {
                    bool next_free;
                    uint64_t next = free_run(s, reg->off + pos, stop, want, sums, &next_free);

                    if (next_free && (next == want || next - stop >= PIECE_GAP))
                        break; /* a gap worth not reading */
                    stop = next; /* more to read, or a short gap read through */
                }
                if (!is_free)
                    read_piece(rd, buf, reg, pos, (size_t)at, (size_t)stop, want);
            }
            if (deadline_now() > s->t_end)
                atomic_store(&s->timed_out, true);
        }
    }
done:
    free(own);
    return NULL;
}

/* Whether a wait on v goes on: v is still was (until_zero false), or not
 * yet 0. */
static bool
crew_waiting(atomic_uint *v, unsigned was, bool until_zero)
{
    const unsigned now = atomic_load(v);

    return until_zero ? now != 0 : now == was;
}

/* Waits while crew_waiting(v, was, until_zero): spinning for CREW_SPIN_NS
 * at most when c->spin, then asleep on cv (under c->lock, which whoever
 * changes v holds to signal cv). */
static void
crew_await(struct crew *c, atomic_uint *v, unsigned was, bool until_zero, pthread_cond_t *cv)
{
    if (c->spin) {
        const double end = deadline_now() + CREW_SPIN_NS / 1e9;

        for (unsigned k = 1; crew_waiting(v, was, until_zero); k++) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
            if (k % 1024 == 0 && deadline_now() > end)
                break;
        }
    }
    pthread_mutex_lock(&c->lock);
    while (crew_waiting(v, was, until_zero))
        pthread_cond_wait(cv, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

static void *
crew_main(void *arg)
{
    const struct crew_member *m = arg;
    struct crew *c = m->crew;
    unsigned seen = 0;

    for (;;) {
        crew_await(c, &c->gen, seen, false, &c->go);
        seen = atomic_load(&c->gen);
        if (atomic_load(&c->stop))
            return NULL;
        read_windows(&c->rd[m->no]);
        if (atomic_fetch_sub(&c->busy, 1) == 1) {
            pthread_mutex_lock(&c->lock);
            pthread_cond_broadcast(&c->done);
            pthread_mutex_unlock(&c->lock);
        }
    }
}

/* Starts up to want helpers, once per search (spread_start(): each on a
 * CPU of its own); c->n says how many run. */
static void
crew_ensure(struct crew *c, unsigned want)
{
    cpu_set_t all;

    if (c->tried || want == 0)
        return;
    c->tried = true;
    atomic_init(&c->gen, 0);
    atomic_init(&c->busy, 0);
    atomic_init(&c->stop, false);
    if (pthread_mutex_init(&c->lock, NULL) != 0)
        return;
    if (pthread_cond_init(&c->go, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        return;
    }
    if (pthread_cond_init(&c->done, NULL) != 0) {
        pthread_cond_destroy(&c->go);
        pthread_mutex_destroy(&c->lock);
        return;
    }
    c->made = true;
    c->spin = sched_getaffinity(0, sizeof all, &all) == 0 && (unsigned)CPU_COUNT(&all) > want;
    for (; c->n < want; c->n++) {
        c->member[c->n] = (struct crew_member){.crew = c, .no = c->n + 1};
        if (spread_start(&c->tid[c->n], crew_main, &c->member[c->n], c->n + 1) != 0)
            break;
    }
}

/* Has the helpers read rd[1..n] of the level starting. */
static void
crew_start(struct crew *c, struct reader *rd)
{
    if (c->n == 0)
        return;
    c->rd = rd;
    atomic_store(&c->busy, c->n);
    pthread_mutex_lock(&c->lock);
    atomic_fetch_add(&c->gen, 1);
    pthread_cond_broadcast(&c->go);
    pthread_mutex_unlock(&c->lock);
}

/* Waits for the helpers to finish the level. */
static void
crew_wait(struct crew *c)
{
    if (c->n > 0)
        crew_await(c, &c->busy, 0, true, &c->done);
}

/* Stops the helpers and frees what crew_ensure() made. */
static void
crew_stop(struct crew *c)
{
    if (!c->made)
        return;
    if (c->n > 0) {
        pthread_mutex_lock(&c->lock);
        atomic_store(&c->stop, true);
        atomic_fetch_add(&c->gen, 1);
        pthread_cond_broadcast(&c->go);
        pthread_mutex_unlock(&c->lock);
        for (unsigned i = 0; i < c->n; i++)
            pthread_join(c->tid[i], NULL);
    }
    pthread_cond_destroy(&c->done);
    pthread_cond_destroy(&c->go);
    pthread_mutex_destroy(&c->lock);
}

/* Reads every writable memory window once for the targets t (sorted),
 * with up to lim->threads readers when the input can be read at any offset
 * from several threads (a file, memory, or a stream read back from its
 * spill), and
 * returns the hits, best first, at most cap of them. */
static dg_err
scan_level(struct search *s, const struct target *t, size_t n_t, size_t cap, struct hit **out,
           size_t *n_out)
{
    struct reader rd[MAX_READERS];
    struct spread_set spread;
    unsigned n_rd = s->lim->threads > 1 && input_reads_back(s->d->in) ? s->lim->threads : 1;
    uint64_t gmin = t[0].lo, gmax = 0;
    bool avx2 = dg_cpu_avx2(), tcov = s->cover.n > 0;
    size_t n = 0;
    struct hit *h;
    dg_err rc = DG_OK;

    if (n_rd > MAX_READERS)
        n_rd = MAX_READERS;
    /* a bit per 4 KiB page any target interval touches (hashed into
     * PAGE_BITS bits): most pointer-like words point elsewhere and cost a
     * shift, a multiply and a bit test instead of a binary search */
    memset(s->pages, 0, sizeof s->pages);
    memset(s->tsum, 0, sizeof s->tsum);
    for (size_t i = 0; i < n_t; i++) {
        for (uint64_t blk = t[i].lo >> PTR_SUMS_GRAIN;
             (s->sums != NULL || s->fsums != NULL) && blk <= t[i].hi >> PTR_SUMS_GRAIN; blk++) {
            bit_set(s->tsum, ptr_sum_bit(blk << PTR_SUMS_GRAIN, s->sum_bits));
        }
        gmax = t[i].hi > gmax ? t[i].hi : gmax;
        tcov = tcov && ptr_cover_in(&s->cover, t[i].lo, t[i].hi);
        for (uint64_t pg = t[i].lo >> 12; pg <= t[i].hi >> 12; pg++) {
            bit_set(s->pages, page_bit(pg));
        }
    }
    atomic_store(&s->next_win, 0);
    bufs_reserve(s, n_rd);
    spread_set_init(&spread, n_rd);
    for (unsigned i = 0; i < n_rd; i++)
        rd[i] = (struct reader){.s = s, .t = t, .n_t = n_t, .cap = cap, .gmin = gmin,
                                .gmax = gmax, .avx2 = avx2, .tcov = tcov, .rc = DG_OK,
                                .buf = bufs_get(s, i), .spread = &spread, .no = i};
    crew_ensure(&s->crew, n_rd - 1);
    crew_start(&s->crew, rd);
    read_windows(&rd[0]);
    for (unsigned i = s->crew.n + 1; i < n_rd; i++)
        read_windows(&rd[i]); /* a share whose helper did not start */
    crew_wait(&s->crew);
    /* the readers' hits together, the best cap of them */
    for (unsigned i = 0; i < n_rd; i++) {
        n += rd[i].n;
        if (rd[i].rc != DG_OK)
            rc = rd[i].rc;
    }
    h = rc == DG_OK ? malloc((n > 0 ? n : 1) * sizeof *h) : NULL;
    if (h == NULL && rc == DG_OK)
        rc = DG_E_NOMEM;
    n = 0;
    for (unsigned i = 0; i < n_rd; i++) {
        if (h != NULL && rd[i].h != NULL) {
            memcpy(h + n, rd[i].h, rd[i].n * sizeof *h);
            n += rd[i].n;
        }
        free(rd[i].h);
    }
    if (rc != DG_OK) {
        free(h);
        return rc;
    }
    /* the summaries hold for later levels only if the first read them all */
    if (s->sums != NULL && !s->sums_ready) {
        s->sums_ready = !atomic_load(&s->sums_broken) && !atomic_load(&s->timed_out);
        if (!s->sums_ready) {
            free(s->sums);
            s->sums = NULL;
        }
    }
    if (n > 1)
        qsort(h, n, sizeof *h, cmp_hit);
    if (n > cap)
        n = cap;
    *out = h;
    *n_out = n;
    return DG_OK;
}

static dg_err
add_node(struct search *s, uint64_t at, uint64_t val, size_t parent, uint64_t cost, size_t q)
{
    if (s->n_nodes == s->cap_nodes) {
        size_t cap = s->cap_nodes ? 2 * s->cap_nodes : 64;
        struct node *nn = realloc(s->nodes, cap * sizeof *nn);

        if (nn == NULL)
            return DG_E_NOMEM;
        s->nodes = nn;
        s->cap_nodes = cap;
    }
    s->nodes[s->n_nodes++] =
        (struct node){.at = at, .val = val, .parent = parent, .cost = cost, .q = q};
    return DG_OK;
}

/* "ROOT -> +0x28 -> +0x10 -> key at +0x0" from the hit h back to its key. */
static void
write_path(const struct search *s, const char *root, const struct hit *h, char *out, size_t len)
{
    size_t k = (size_t)snprintf(out, len, "%s", root), i = h->parent;
    uint64_t val = h->val;

    for (unsigned guard = 0; k < len && guard <= s->lim->max_depth + 1; guard++) {
        const struct node *nd = &s->nodes[i];

        if (nd->parent == NO_PARENT) {
            snprintf(out + k, len - k, " -> key at +0x%llx", (unsigned long long)(nd->at - val));
            return;
        }
        k += (size_t)snprintf(out + k, len - k, " -> +0x%llx", (unsigned long long)(nd->at - val));
        val = nd->val;
        i = nd->parent;
    }
}

/* Ends query i at depth with its fallback, or with rc and why. */
static void
finish(struct ptrpath_query *q, struct qstate *st, dg_err rc, const char *why)
{
    st->done = true;
    if (st->fallback[0] != '\0') {
        snprintf(q->path, sizeof q->path, "%s", st->fallback);
        q->rc = DG_OK;
        return;
    }
    q->rc = rc;
    snprintf(q->why, sizeof q->why, "%s", why);
}

/* One level: roots first, then the next level's nodes. */
static dg_err
judge(struct search *s, struct ptrpath_query *q, struct qstate *st, size_t n, struct hit *h,
      size_t n_h, unsigned depth, ptrpath_root_fn root, void *arg)
{
    const struct ptrpath_limits *lim = s->lim;
    size_t *kept = calloc(n, sizeof *kept);
    char why[200];
    dg_err rc = DG_OK;

    if (kept == NULL)
        return DG_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        st[i].best = SIZE_MAX;
        st[i].best_rank = -1;
    }
    for (size_t i = 0; i < n_h; i++) {
        size_t k = s->nodes[h[i].parent].q;
        char name[160];
        int rank = 0;
        bool is_root;

        if (st[k].done) {
            h[i].prune = true;
            continue;
        }
        is_root = root(arg, h[i].at, name, sizeof name, &rank);
        h[i].prune = is_root || rank < 0; /* roots and refused words are not followed */
        if (is_root && rank > st[k].best_rank) {
            st[k].best = i;
            st[k].best_rank = rank;
            memcpy(st[k].best_name, name, sizeof name);
        }
    }
    for (size_t k = 0; k < n; k++) {
        if (st[k].done || st[k].best == SIZE_MAX)
            continue;
        if (st[k].best_rank >= lim->good_rank) {
            write_path(s, st[k].best_name, &h[st[k].best], q[k].path, sizeof q[k].path);
            q[k].rc = DG_OK;
            st[k].done = true;
        } else if (st[k].fallback[0] == '\0' || st[k].best_rank > st[k].fallback_rank) {
            /* a weak root (a stack): look a little deeper for a global */
            if (st[k].fallback[0] == '\0')
                st[k].stop = depth + lim->extra_depth < lim->max_depth
                                 ? depth + lim->extra_depth
                                 : lim->max_depth;
            write_path(s, st[k].best_name, &h[st[k].best], st[k].fallback,
                       sizeof st[k].fallback);
            st[k].fallback_rank = st[k].best_rank;
        }
    }
    for (size_t i = 0; i < n_h && rc == DG_OK; i++) {
        size_t k = s->nodes[h[i].parent].q;
        int added;

        if (h[i].prune || st[k].done || kept[k] >= lim->max_level_nodes ||
            st[k].n_nodes >= lim->max_nodes)
            continue;
        if ((added = seen_add(s, h[i].at, k)) < 0)
            rc = DG_E_NOMEM;
        if (added <= 0)
            continue; /* a node already, or no room to say so */
        rc = add_node(s, h[i].at, h[i].val, h[i].parent, h[i].off, k);
        kept[k]++;
        st[k].n_nodes++;
    }
    for (size_t k = 0; k < n && rc == DG_OK; k++) {
        if (st[k].done)
            continue;
        if (s->timed_out) {
            snprintf(why, sizeof why, "no pointer path within %.0f s (searched %u levels)",
                     lim->max_seconds, depth);
            finish(&q[k], &st[k], DG_E_LIMIT, why);
        } else if (st[k].fallback[0] != '\0' && depth >= st[k].stop) {
            finish(&q[k], &st[k], DG_OK, "");
        } else if (kept[k] == 0) {
            snprintf(why, sizeof why,
                     "no pointer to the key's object from a global or a stack (%u levels)",
                     depth);
            finish(&q[k], &st[k], DG_E_NOT_FOUND, why);
        } else if (st[k].n_nodes >= lim->max_nodes) {
            snprintf(why, sizeof why, "no pointer path within %zu objects", lim->max_nodes);
            finish(&q[k], &st[k], DG_E_LIMIT, why);
        } else if (depth >= lim->max_depth) {
            snprintf(why, sizeof why, "no pointer path within %u pointers", lim->max_depth);
            finish(&q[k], &st[k], DG_E_LIMIT, why);
        }
    }
    free(kept);
    return rc;
}

/* The word size and byte order of s's dump and, for 64-bit little-endian
 * words, room for the first level's summaries and the mapped filter (else
 * every level reads every window). */
static void
sums_setup(struct search *s)
{
    const struct regions_info *info = regions_info_const(s->d->map);
    size_t n_win = 0, budget, most;

    s->word = info->word_size == 4 ? 4 : 8;
    s->big = info->big_endian;
    s->pfree = NULL;
    if (s->word != 8 || s->big)
        return;
    s->fsums = NULL;
    if (ptr_free_usable(s->d->ptrfree, s->d->map, s->lim->max_offset)) {
        s->pfree = s->d->ptrfree;
        if (ptr_sums_holds(&s->pfree->sums, s->d->map, s->lim->max_offset))
            s->fsums = &s->pfree->sums;
    }
    for (size_t r = 0; r < regions_va_count(s->d->map); r++) {
        const struct dg_region *reg = regions_va_get(s->d->map, r);

        if (reg->perms == 0 || (reg->perms & DG_PERM_W)) /* what read_windows() reads */
            n_win += (size_t)((reg->len + WINDOW - 1) / WINDOW) + 1;
    }
    budget = s->lim->sums_budget != 0 ? s->lim->sums_budget : SUMS_BUDGET;
    most = budget / ((1u << SUM_BITS_MIN) / 8); /* windows at the smallest size */
    s->n_sums = n_win < most ? n_win : most;
    s->sum_bits = SUM_BITS_MAX;
    while (s->sum_bits > SUM_BITS_MIN && s->n_sums * ((size_t)1 << s->sum_bits) / 8 > budget)
        s->sum_bits--;
    if (s->fsums != NULL) { /* one size, so that a level's targets test both */
        s->sum_bits = s->fsums->sum_bits;
        most = budget / (((size_t)1 << s->sum_bits) / 8);
        s->n_sums = n_win < most ? n_win : most;
    }
    s->sums = calloc(s->n_sums ? s->n_sums * sum_words(s) : 1, sizeof *s->sums);
    s->mapped = ptr_mapped_build(s->d->map, s->lim->max_offset, PTR_MAPPED_BITS);
    ptr_cover_build(s->d->map, s->lim->max_offset, &s->cover);
}

/* ---- the first level's summaries, made before the keys are known ---- */

enum { MAX_HELPERS = 16 };

struct ptrpath_sums {
    struct dg_dump dump;
    struct ptrpath_limits lim;
    struct search s;          /* d, lim: the two above; sums, mapped, t_end */
    struct reader rd[MAX_HELPERS + 1]; /* the helpers'; the last: the caller's, in sums_wait() */
    struct spread_set spread;  /* the helpers, kept on CPUs apart */
    atomic_uint n_helpers;    /* ptrpath_sums_help() calls, some past MAX_HELPERS */
    bool done;
};

/* Reads, on the calling thread too, the windows no helper has taken, and
 * says whether every window's summary is whole (no read failed, the time
 * limit did not pass). Every ptrpath_sums_help() has returned. */
static bool
sums_wait(struct ptrpath_sums *p)
{
    struct reader *me = &p->rd[MAX_HELPERS];
    unsigned n = atomic_load(&p->n_helpers);
    bool whole = true;

    if (n > MAX_HELPERS)
        n = MAX_HELPERS;
    if (!p->done) { /* the helpers' buffers are free now */
        *me = (struct reader){.s = &p->s, .avx2 = dg_cpu_avx2(), .buf = bufs_get(&p->s, 0)};
        read_windows(me);
        p->done = true;
    }
    for (unsigned i = 0; i < n; i++)
        whole = whole && p->rd[i].rc == DG_OK;
    return whole && me->rc == DG_OK && p->s.sums != NULL && !atomic_load(&p->s.sums_broken) &&
           !atomic_load(&p->s.timed_out); /* mapped may be NULL: no filter */
}

dg_err
ptrpath_sums_start(const struct dg_dump *dump, const struct ptrpath_limits *lim,
                   struct ptrpath_sums **out)
{
    struct ptrpath_sums *p;

    *out = NULL;
    if (lim->threads < 2 || !input_reads_back(dump->in))
        return DG_E_UNSUPPORTED; /* no thread to help beside the caller */
    if ((p = calloc(1, sizeof *p)) == NULL)
        return DG_E_NOMEM;
    p->dump = *dump;
    p->lim = *lim;
    p->s.d = &p->dump;
    p->s.lim = &p->lim;
    p->s.t_end = deadline_now() + lim->max_seconds;
    sums_setup(&p->s);
    if (p->s.word != 8 || p->s.big || p->s.sums == NULL) {
        dg_err rc = p->s.word != 8 || p->s.big ? DG_E_UNSUPPORTED : DG_E_NOMEM;

        ptrpath_sums_free(p);
        return rc;
    }
    bufs_reserve(&p->s, lim->threads);
    spread_set_init(&p->spread, lim->threads);
    atomic_init(&p->n_helpers, 0);
    *out = p;
    return DG_OK;
}

void
ptrpath_sums_help(struct ptrpath_sums *p)
{
    unsigned k = atomic_fetch_add(&p->n_helpers, 1);

    if (k >= MAX_HELPERS)
        return; /* enough readers already */
    p->rd[k] = (struct reader){.s = &p->s, .avx2 = dg_cpu_avx2(), .buf = bufs_get(&p->s, k),
                               .spread = &p->spread, .no = k};
    read_windows(&p->rd[k]);
}

void
ptrpath_sums_free(struct ptrpath_sums *p)
{
    if (p == NULL)
        return;
    for (unsigned i = 0; i <= MAX_HELPERS; i++)
        free(p->rd[i].h);
    free(p->s.sums);
    free(p->s.mapped);
    free(p->s.bufs);
    free(p);
}

/* The lowest rank a root found at depth must have to change any open
 * query's answer when each of them ends after this level whatever it finds
 * (it holds a weak root and has looked extra_depth levels past it, judge()):
 * a word that is no root, or a root no higher than the one held, changes
 * nothing. INT_MIN when a query may still follow a plain word. */
static int
final_rank(const struct qstate *st, size_t n, unsigned depth)
{
    int need = INT_MAX;

    for (size_t k = 0; k < n; k++) {
        if (st[k].done)
            continue;
        if (st[k].fallback[0] == '\0' || depth < st[k].stop)
            return INT_MIN;
        if (st[k].fallback_rank < need - 1)
            need = st[k].fallback_rank + 1;
    }
    return need == INT_MAX ? INT_MIN : need;
}

/* Fills s->rank_of through region_rank; false when out of memory. */
static bool
rank_regions(struct search *s, ptrpath_region_rank_fn region_rank, void *arg)
{
    const size_t n = regions_va_count(s->d->map);

    if ((s->rank_of = malloc(n > 0 ? n : 1)) == NULL)
        return false;
    for (size_t r = 0; r < n; r++) {
        int rank = region_rank(arg, regions_va_get(s->d->map, r));

        s->rank_of[r] = (signed char)(rank < -1 ? -1 : rank > SCHAR_MAX ? SCHAR_MAX : rank);
    }
    return true;
}

dg_err
ptrpath_find(const struct dg_dump *dump, struct ptrpath_query *q, size_t n,
             const struct ptrpath_limits *lim, ptrpath_root_fn root,
             ptrpath_region_rank_fn region_rank, void *arg, struct ptrpath_sums *pre)
{
    struct search s = {.d = dump, .lim = lim};
    struct qstate *st;
    size_t first = 0;
    dg_err rc = DG_OK;

    for (size_t i = 0; i < n; i++) {
        q[i].rc = DG_E_NOT_FOUND;
        q[i].path[0] = q[i].why[0] = '\0';
    }
    if (n == 0)
        return DG_OK;
    if (!input_reads_back(dump->in)) {
        for (size_t i = 0; i < n; i++)
            snprintf(q[i].why, sizeof q[i].why,
                     "no pointer path: the dump was read as a stream and not kept");
        return DG_E_UNAVAILABLE;
    }
    st = calloc(n, sizeof *st);
    s.seen = calloc(SEEN_SLOTS, sizeof *s.seen);
    s.seen_mask = SEEN_SLOTS - 1;
    if (st == NULL || s.seen == NULL) {
        free(st);
        free(s.seen);
        return DG_E_NOMEM;
    }
    /* with pre, the time limit counts from when it started */
    s.t_end = pre != NULL ? pre->s.t_end : deadline_now() + lim->max_seconds;
    if (pre != NULL && pre->lim.max_offset == lim->max_offset && sums_wait(pre)) {
        /* the first level's summaries, made while the detectors finished */
        s.word = pre->s.word;
        s.big = pre->s.big;
        s.sums = pre->s.sums;
        s.n_sums = pre->s.n_sums;
        s.sum_bits = pre->s.sum_bits;
        s.mapped = pre->s.mapped;
        s.cover = pre->s.cover;
        s.pfree = pre->s.pfree;
        s.fsums = pre->s.fsums;
        s.sums_ready = true;
        s.bufs = pre->s.bufs;
        s.n_bufs = pre->s.n_bufs;
        pre->s.sums = NULL;
        pre->s.mapped = NULL;
        pre->s.bufs = NULL;
        pre->s.n_bufs = 0;
    } else {
        sums_setup(&s);
    }
    for (size_t i = 0; i < n && rc == DG_OK; i++) {
        st[i].stop = lim->max_depth;
        rc = add_node(&s, q[i].va, 0, NO_PARENT, 0, i);
        if (rc == DG_OK && seen_add(&s, q[i].va, i) < 0)
            rc = DG_E_NOMEM;
    }
    for (unsigned depth = 1; depth <= lim->max_depth && rc == DG_OK; depth++) {
        size_t last = s.n_nodes, n_t = 0, n_h = 0, active = 0;
        struct target *t = malloc((last - first + 1) * sizeof *t);
        struct hit *h = NULL;

        if (t == NULL) {
            rc = DG_E_NOMEM;
            break;
        }
        for (size_t i = first; i < last; i++) {
            if (st[s.nodes[i].q].done)
                continue;
            t[n_t++] = (struct target){
                .lo = s.nodes[i].at > lim->max_offset ? s.nodes[i].at - lim->max_offset : 0,
                .hi = s.nodes[i].at, .cost = s.nodes[i].cost, .node = i};
        }
        for (size_t k = 0; k < n; k++)
            active += !st[k].done;
        if (n_t == 0) {
            free(t);
            break;
        }
        qsort(t, n_t, sizeof *t, cmp_target);
        /* a last level for every query left: its roots only */
        s.min_rank = final_rank(st, n, depth);
        s.roots_only = s.min_rank != INT_MIN && region_rank != NULL &&
                       (s.sums == NULL || s.sums_ready) &&
                       (s.rank_of != NULL || rank_regions(&s, region_rank, arg));
        rc = scan_level(&s, t, n_t, 4 * lim->max_level_nodes * active + 64, &h, &n_h);
        free(t);
        first = last;
        if (rc == DG_OK)
            rc = judge(&s, q, st, n, h, n_h, depth, root, arg);
        free(h);
    }
    for (size_t k = 0; k < n && rc == DG_OK; k++)
        if (!st[k].done)
            finish(&q[k], &st[k], DG_E_NOT_FOUND, "no pointer path found");
    crew_stop(&s.crew);
    free(st);
    free(s.seen);
    free(s.nodes);
    free(s.sums);
    free(s.mapped);
    free(s.bufs);
    free(s.rank_of);
    return rc;
}
