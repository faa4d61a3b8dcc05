/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_ptrfree.c - the scan's map of blocks without a pointer (ptrfree.h)
 * and the cover it tests words against (ptrcover.h):
 *   - ptr_cover_any() answers as ptr_cover_has() word by word, on the AVX2
 *     and the portable path, for words on both sides of every interval's
 *     ends and at every count and alignment;
 *   - in a dump of a globals region, a heap of pointers, a region of text,
 *     one of random bytes and a read-only one of random bytes, exactly the
 *     4 KiB blocks of text, random bytes and zeros are marked, but the one
 *     block of text that holds a pointer into the heap and blocks that
 *     reach into the read-only region, into the heap or across a chunk's
 *     edge;
 *   - the same blocks are marked when each chunk carries the detectors'
 *     memo (chunkmemo.h) with its answers, and the memo's answers are the
 *     ones taken;
 *   - the summaries of where each piece's words point (ptrsums.h) are
 *     closed for exactly the pieces that lie whole in a chunk's owned bytes
 *     (or end the file), and each closed one holds the bit of every word of
 *     writable memory in its piece that lies in the cover and the filter,
 *     and no other (or is all ones, saturated), on both paths; their
 *     pieces grow with the file and their memory stays in the budget; without
 *     sums (nothing found yet) the same blocks are marked, the memo's
 *     answers both ways are taken, and no summary is closed;
 *   - ptr_free_run() walks the map by maximal runs of blocks alike;
 *   - the pointer search finds the same paths with the map as without it,
 *     with one reader or two, with summaries made before or not, and one of
 *     its chains passes through the pointer in the text; marking that one
 *     block by force loses that chain, so the search reads no marked block
 *     of a window it reads; emptying the summary of the globals by force
 *     loses every chain, so the search reads no piece whose summary misses
 *     its targets;
 *   - the map answers only for a search it can: not past PTR_FREE_REACH,
 *     not for a map with memory its cover does not hold; its blocks grow
 *     past 64 GiB, and it is bounded however large the file says it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../scanner/container/regions.h"
#include "../../scanner/engine/chunkmemo.h"
#include "../../scanner/input/input.h"
#include "../../scanner/util/simd.h"
#include "../../scanner/where/ptrfree.h"
#include "../../scanner/where/ptrpath.h"
#include "../../scanner/where/ptrsums.h"
#include "tap.h"

#define GLOBALS_VA 0x400000ull
#define GLOBALS_LEN (64u << 10)
#define HEAP_VA 0x7f0000000000ull
#define HEAP_LEN (4u << 20)
#define TEXT_VA 0x7f1000000000ull
#define TEXT_LEN ((2u << 20) + 4096u) /* not a whole number of blocks */
#define RAND_VA 0x7f2000000000ull
#define RAND_LEN (2u << 20)
#define RO_VA 0x7f3000000000ull
#define RO_LEN (1u << 20)
#define CHUNK ((3u << 20) + 5120u) /* chunk edges inside the regions and their blocks */
#define CHUNK_ALIGNED (3u << 20)   /* the engine's chunks start on a block, as a memo's do */
#define MARGIN 512u
#define N_CHAINS 4

#include "ptrdump.h"

/* The file offsets of the regions, one after the other. */
enum { R_GLOBALS, R_HEAP, R_TEXT, R_RAND, R_RO, N_REG };
static const uint64_t reg_va[N_REG] = {GLOBALS_VA, HEAP_VA, TEXT_VA, RAND_VA, RO_VA};
static const uint64_t reg_len[N_REG] = {GLOBALS_LEN, HEAP_LEN, TEXT_LEN, RAND_LEN, RO_LEN};

static uint64_t
reg_off(int r)
{
    uint64_t off = 0;

    for (int i = 0; i < r; i++)
        off += reg_len[i];
    return off;
}

/* The text block that holds chain 0's second pointer. */
#define TEXT_PTR_AT (TEXT_VA + (1u << 20) + 0x1230)

/* Fills the file and returns the keys: chains global -> heap object ->
 * heap object -> key; chain 0's middle hop is a pointer in the text. */
static void
fill(uint8_t *file, uint64_t *keys)
{
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    static const char words[] = "the quick brown fox jumps over the lazy dog; ";

    memset(file, 0, GLOBALS_LEN);
    for (uint64_t off = reg_off(R_HEAP); off < reg_off(R_TEXT); off += 8) {
        uint64_t r = next(&seed);

        put(file, off, r % 4 == 0 ? HEAP_VA + (next(&seed) % HEAP_LEN & ~7ull) : r);
    }
    for (uint64_t i = 0; i < TEXT_LEN; i++)
        file[reg_off(R_TEXT) + i] = (uint8_t)words[i % (sizeof words - 1)];
    for (uint64_t off = reg_off(R_RAND); off < reg_off(R_RO) + RO_LEN; off += 8)
        put(file, off, next(&seed));
    for (size_t c = 0; c < N_CHAINS; c++) {
        uint64_t obj[3];

        for (int k = 0; k < 3; k++)
            obj[k] = HEAP_VA + 0x1000 + (next(&seed) % (HEAP_LEN - 0x2000) & ~7ull);
        if (c == 0)
            obj[1] = TEXT_PTR_AT - 0x28; /* its pointer at +0x28 lies in the text */
        keys[c] = obj[2];
        for (int k = 0; k < 2; k++) {
            uint64_t at = obj[k] + 0x28;
            int r = at >= TEXT_VA ? R_TEXT : R_HEAP;

            put(file, reg_off(r) + (at - reg_va[r]), obj[k + 1] - 0x10);
        }
        put(file, 0x100 * (c + 1), obj[0] - 0x10);
    }
}

/* The map; with split, the read-only region's last page is memory far from
 * the rest (a map the first one's cover does not hold). */
static bool
make_map(struct dg_regions *map, uint64_t file_len, bool split)
{
    for (int r = 0; r < N_REG; r++) {
        struct dg_region g = {.off = reg_off(r), .len = reg_len[r], .va = reg_va[r],
                              .has_va = true,
                              .perms = r == R_RO ? DG_PERM_R : DG_PERM_R | DG_PERM_W,
                              .kind = r == R_GLOBALS ? DG_SPAN_MODULE
                                      : r == R_RO    ? DG_SPAN_FILE
                                                     : DG_SPAN_HEAP,
                              .thread = -1};

        if (split && r == R_RO) {
            struct dg_region far = g;

            g.len -= 4096;
            far.off += g.len;
            far.len = 4096;
            far.va = 0x10000000ull;
            regions_claim(map, &far, REGIONS_PRIO_MEMORY);
        }
        regions_claim(map, &g, REGIONS_PRIO_MEMORY);
    }
    regions_info(map)->word_size = 8;
    regions_info(map)->format = "elf-core";
    return regions_finish(map, file_len) == DG_OK;
}

enum memo_use { NO_MEMO, MEMO, LYING_MEMO, LYING_YES };

/* Marks pf as the engine does, chunk by chunk: with the chunk's memo
 * (chunkmemo.h) when asked, after the detectors asked it about every block
 * (and, for LYING_MEMO, with its answers made "no pointer" everywhere; for
 * LYING_YES, "a pointer"). */
static void
mark_sums(struct ptr_free *pf, const struct dg_regions *map, const uint8_t *file,
          uint64_t file_len, bool avx2, enum memo_use use, uint64_t chunk, bool sums)
{
    struct dg_chunk_memo m = {.cover = &pf->cover};

    for (uint64_t off = 0; off < file_len; off += chunk) {
        struct dg_chunk ch = {.p = file + off, .off = off};

        ch.len = (size_t)(file_len - off < chunk + MARGIN ? file_len - off : chunk + MARGIN);
        ch.owned = ch.len < chunk ? ch.len : chunk;
        ch.last = off + ch.len >= file_len;
        if (use != NO_MEMO && chunk_memo_reset(&m, &ch) == DG_OK) {
            m.avx2 = avx2;
            for (size_t b = 0; b < m.n_blocks; b++) {
                (void)chunk_pointer_near(&m, b);
                if (use == LYING_MEMO || use == LYING_YES)
                    m.blocks[b].ptr = use == LYING_YES;
            }
            ch.memo = &m;
        }
        ptr_free_chunk(pf, map, &ch, avx2, sums);
    }
    chunk_memo_free(&m);
}

/* mark_sums() with the summaries made, as the engine does once something
 * was found. */
static void
mark(struct ptr_free *pf, const struct dg_regions *map, const uint8_t *file, uint64_t file_len,
     bool avx2, enum memo_use use, uint64_t chunk)
{
    mark_sums(pf, map, file, file_len, avx2, use, chunk, true);
}

static bool
marked(const struct ptr_free *pf, uint64_t off)
{
    return zero_map_covers(&pf->blocks, off, 1);
}

/* pf's summaries against a brute-force count: a piece's summary is closed
 * when the piece lies whole in the owned bytes of one chunk of that size
 * (or the chunk that ends the file); a closed one holds the bit of each
 * word of writable memory that starts in the piece and lies in the cover
 * and the filter, and no other, unless it is all ones. */
static bool
sums_right(const struct ptr_free *pf, const struct dg_regions *map, const uint8_t *file,
           uint64_t file_len, uint64_t chunk, unsigned *n_closed, unsigned *n_full)
{
    const struct ptr_sums *ps = &pf->sums;
    const size_t words = ptr_sum_words(ps->sum_bits);
    uint64_t *want = calloc(words, sizeof *want);
    bool ok = want != NULL && ps->n > 0;

    *n_closed = *n_full = 0;
    for (uint64_t k = 0; ok && k < ps->n; k++) {
        const uint64_t lo = k * ps->block, hi = lo + ps->block < file_len ? lo + ps->block
                                                                           : file_len;
        const uint64_t *sum = ptr_sums_get(ps, k);
        size_t set = 0;

        if (lo >= file_len)
            break;
        ok &= (sum != NULL) == (lo / chunk == (hi - 1) / chunk); /* the piece ends the file */
        if (sum == NULL)
            continue;
        (*n_closed)++;
        memset(want, 0, words * sizeof *want);
        for (size_t r = 0; r < regions_va_count(map); r++) {
            const struct dg_region *g = regions_va_get(map, r);

            if (g->perms != 0 && !(g->perms & DG_PERM_W))
                continue;
            for (uint64_t at = g->off + (8 - g->va % 8) % 8; at + 8 <= g->off + g->len; at += 8) {
                uint64_t v;

                if (at < lo || at >= hi)
                    continue;
                memcpy(&v, file + at, 8);
                if (ptr_cover_has(&pf->cover, v) &&
                    ptr_mapped_has(ps->mapped, PTR_SUMS_MAPPED_BITS, v)) {
                    unsigned b = ptr_sum_bit(v, ps->sum_bits);

                    want[b >> 6] |= 1ull << (b & 63);
                }
            }
        }
        for (size_t i = 0; i < words; i++)
            set += (size_t)popcount64(sum[i]);
        if (set == words * 64) {
            (*n_full)++;
            continue;
        }
        for (size_t i = 0; i < words; i++)
            ok &= sum[i] == want[i];
    }
    free(want);
    return ok;
}

/* ptr_free_run() against the map's bits block by block: the runs from
 * any offset to any end hold blocks alike, the next run starts with a
 * block unlike the run before, and they end where asked. */
static void
runs(struct tap *t, const struct ptr_free *pf, uint64_t file_len)
{
    uint64_t seed = 0xD1B54A32D192ED03ull, unit = pf->blocks.unit;
    unsigned n_runs = 0;
    bool same = true;

    for (int round = 0; round < 200; round++) {
        uint64_t off = round == 0 ? 0 : next(&seed) % file_len;
        uint64_t end = round == 0 ? file_len : off + 1 + next(&seed) % (file_len - off);
        bool before = false;

        for (uint64_t at = off, stop; at < end; at = stop) {
            bool is_free;

            stop = ptr_free_run(pf, at, end, &is_free);
            same &= stop > at && stop <= end && (stop == end || stop % unit == 0);
            same &= at == off || is_free != before; /* maximal runs */
            for (uint64_t b = at; b < stop && b < at + 64 * unit; b += unit)
                same &= marked(pf, b) == is_free;
            same &= marked(pf, stop - 1) == is_free;
            before = is_free;
            n_runs++;
        }
    }
    tap_check(t, same, "ptr_free_run() walks the map by runs of blocks alike (%u runs)", n_runs);
}

/* ptr_cover_any() against ptr_cover_has(), word by word. */
static void
cover_words(struct tap *t, const struct ptr_cover *c)
{
    enum { N = 64 };
    uint8_t buf[8 * N + 8];
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    bool avx2 = dg_cpu_avx2(), same = true;
    unsigned rounds = 0;

    for (int round = 0; round < 4000; round++) {
        size_t shift = (size_t)(next(&seed) % 8), n = (size_t)(next(&seed) % (N + 1));
        bool want = false;

        for (size_t k = 0; k < n; k++) {
            uint64_t v, r = next(&seed);
            unsigned i = (unsigned)(r >> 8) % (c->n > 0 ? c->n : 1);

            /* mostly words outside, some at an interval's ends */
            switch (r % 16) {
            case 0:
                v = c->lo[i] - 1 + (r >> 40) % 3;
                break;
            case 1:
                v = c->lo[i] + c->span[i] - 1 + (r >> 40) % 3;
                break;
            default:
                v = r % 4 == 0 ? next(&seed) & 0x7f7f7f7f7f7f7f7full : next(&seed);
            }
            memcpy(buf + shift + 8 * k, &v, 8);
            want |= ptr_cover_has(c, v);
        }
        same &= ptr_cover_any(c, buf + shift, n, false) == want;
        same &= ptr_cover_any(c, buf + shift, n, avx2) == want;
        rounds++;
    }
    tap_check(t, same, "ptr_cover_any() answers as ptr_cover_has(), %u runs of words (%s)",
              rounds, avx2 ? "AVX2 and portable" : "portable");
}

int
main(void)
{
    struct tap t = {0};
    uint64_t file_len = reg_off(N_REG);
    uint8_t *file = malloc(file_len);
    struct dg_regions *map = regions_new(), *bigger = regions_new();
    struct ptr_free pf;
    struct dg_input in;
    struct dg_dump d;
    uint64_t keys[N_CHAINS];
    struct ptrpath_query ref[N_CHAINS], got[N_CHAINS];
    dg_err rc_ref, rc;
    bool avx2 = dg_cpu_avx2();

    if (!tap_check(&t, file != NULL && map != NULL && bigger != NULL, "dump made"))
        return tap_done(&t);
    fill(file, keys);
    if (!tap_check(&t, make_map(map, file_len, false) && make_map(bigger, file_len, true),
                   "regions finished"))
        return tap_done(&t);
    ptr_free_init(&pf, map, file_len);
    tap_check(&t, pf.on && pf.cover.n > 0, "the map is on, its cover has %u intervals",
              pf.cover.n);
    cover_words(&t, &pf.cover);

    for (int pass = 0; pass < 4; pass++) {
        bool use_avx2 = pass % 2 == 1 && avx2, same = true;
        enum memo_use use = pass < 2 ? NO_MEMO : MEMO;
        uint64_t chunk = pass < 2 ? CHUNK : CHUNK_ALIGNED;
        uint64_t ptr_block = (reg_off(R_TEXT) + (TEXT_PTR_AT - TEXT_VA)) / PTR_FREE_UNIT_MIN;
        unsigned n_marked = 0, n_want = 0;

        ptr_free_free(&pf);
        ptr_free_init(&pf, map, file_len);
        mark(&pf, map, file, file_len, use_avx2, use, chunk);
        for (uint64_t b = 0; b < file_len / PTR_FREE_UNIT_MIN; b++) {
            uint64_t lo = b * PTR_FREE_UNIT_MIN, hi = lo + PTR_FREE_UNIT_MIN;
            /* text and random bytes only, in one chunk, without the
             * pointer; and the globals but their first block, zeros */
            bool want = (lo >= reg_off(R_TEXT) && hi <= reg_off(R_RO) &&
                         lo / chunk == (hi - 1) / chunk && b != ptr_block) ||
                        (lo > 0 && hi <= GLOBALS_LEN);

            n_want += want;
            n_marked += marked(&pf, lo);
            same &= marked(&pf, lo) == want;
        }
        {
            unsigned n_closed, n_full;
            bool right = sums_right(&pf, map, file, file_len, chunk, &n_closed, &n_full);

            tap_check(&t, right && n_closed > 0 && n_full < n_closed,
                      "%s%s: the summaries of the pieces whole in a chunk are closed and hold "
                      "where their words point (%u closed, %u saturated)",
                      use_avx2 ? "AVX2" : "portable", use == MEMO ? ", with the memo" : "",
                      n_closed, n_full);
        }
        tap_check(&t, same && pf.blocks.unit == PTR_FREE_UNIT_MIN && n_want > 900 &&
                      !marked(&pf, ptr_block * PTR_FREE_UNIT_MIN),
                  "%s: the blocks of text and random bytes are marked, but the one with a "
                  "pointer and those across a chunk's edge; the globals' blocks of zeros, not "
                  "the one with pointers; none of the heap or read-only memory (%u marked, %u "
                  "wanted)%s",
                  use_avx2 ? "AVX2" : "portable", n_marked, n_want,
                  use == MEMO ? ", from the answers of the detectors' memo" : "");
    }
    /* without sums (nothing found yet), the same blocks are marked and no
     * summary is closed */
    {
        unsigned n_with = 0, n_without = 0, n_closed = 0;

        for (uint64_t b = 0; b < file_len / PTR_FREE_UNIT_MIN; b++)
            n_with += marked(&pf, b * PTR_FREE_UNIT_MIN);
        ptr_free_free(&pf);
        ptr_free_init(&pf, map, file_len);
        mark_sums(&pf, map, file, file_len, avx2, NO_MEMO, CHUNK_ALIGNED, false);
        for (uint64_t b = 0; b < file_len / PTR_FREE_UNIT_MIN; b++)
            n_without += marked(&pf, b * PTR_FREE_UNIT_MIN);
        for (uint64_t k = 0; k < pf.sums.n; k++)
            n_closed += ptr_sums_get(&pf.sums, k) != NULL;
        tap_check(&t, n_with == n_without && n_closed == 0,
                  "without sums: the same %u blocks marked (%u with), no summary closed (%u)",
                  n_without, n_with, n_closed);
        /* and a memo's "a pointer" is taken as it is */
        ptr_free_free(&pf);
        ptr_free_init(&pf, map, file_len);
        mark_sums(&pf, map, file, file_len, avx2, LYING_YES, CHUNK_ALIGNED, false);
        n_without = 0;
        for (uint64_t b = 0; b < file_len / PTR_FREE_UNIT_MIN; b++)
            n_without += marked(&pf, b * PTR_FREE_UNIT_MIN);
        tap_check(&t, n_without == 0,
                  "without sums, told of a pointer in every block: %u blocks marked", n_without);
    }
    /* the memo's answers are taken: told that no block holds a pointer,
     * the map marks the heap's blocks too, and its summaries stay empty */
    {
        unsigned n_marked = 0, n_heap = (unsigned)(HEAP_LEN / PTR_FREE_UNIT_MIN);
        bool empty = true;

        ptr_free_free(&pf);
        ptr_free_init(&pf, map, file_len);
        mark(&pf, map, file, file_len, avx2, LYING_MEMO, CHUNK_ALIGNED);
        for (uint64_t b = 0; b < n_heap; b++)
            n_marked += marked(&pf, reg_off(R_HEAP) + b * PTR_FREE_UNIT_MIN);
        for (uint64_t k = reg_off(R_HEAP) / pf.sums.block;
             k < reg_off(R_TEXT) / pf.sums.block; k++) {
            const uint64_t *sum = ptr_sums_get(&pf.sums, k);

            for (size_t i = 0; sum != NULL && i < ptr_sum_words(pf.sums.sum_bits); i++)
                empty &= sum[i] == 0;
            empty &= sum != NULL;
        }
        tap_check(&t, n_marked == n_heap && empty,
                  "a memo's answers are the map's: told of no pointer, %u of the heap's %u "
                  "blocks are marked, %s", n_marked, n_heap,
                  empty ? "its summaries empty" : "but its summaries are not empty");
        ptr_free_free(&pf); /* the map the checks below read */
        ptr_free_init(&pf, map, file_len);
        mark(&pf, map, file, file_len, avx2, NO_MEMO, CHUNK);
    }

    {
        /* a summary with one bit in PTR_SUMS_FULL set is made all ones */
        const size_t words = ptr_sum_words(pf.sums.sum_bits);
        const size_t need = ((size_t)1 << pf.sums.sum_bits) / PTR_SUMS_FULL;
        uint64_t *sum = calloc(words, sizeof *sum);
        bool below = sum != NULL && !ptr_sums_saturate(&pf.sums, sum, need - 1) && sum[0] == 0;
        bool at = sum != NULL && ptr_sums_saturate(&pf.sums, sum, need);

        for (size_t i = 0; at && i < words; i++)
            at = sum[i] == UINT64_MAX;
        tap_check(&t, below && at, "a summary with %zu of %u bits set is saturated, all ones; "
                  "with one fewer it is left", need, 1u << pf.sums.sum_bits);
        free(sum);
    }
    {
        /* the summaries' pieces grow with the file, their memory does not */
        static const struct {
            uint64_t size, block;
        } sized[] = {
            {1ull << 30, PTR_SUMS_BLOCK_MIN},
            {10ull << 30, 2u << 20},
            {1ull << 40, PTR_SUMS_BLOCK_MAX}, /* past 32 GiB: the first 32 GiB only */
        };
        const uint64_t most = PTR_SUMS_BUDGET / (ptr_sum_words(PTR_SUMS_BITS) * 8);
        bool ok = true;

        for (size_t i = 0; i < sizeof sized / sizeof sized[0]; i++) {
            struct dg_regions *big = regions_new();
            struct dg_region g = {.off = 0, .len = sized[i].size, .va = HEAP_VA, .has_va = true,
                                  .perms = DG_PERM_R | DG_PERM_W, .kind = DG_SPAN_HEAP,
                                  .thread = -1};
            struct ptr_sums ps;

            ok &= big != NULL && regions_claim(big, &g, REGIONS_PRIO_MEMORY) == DG_OK &&
                  regions_finish(big, sized[i].size) == DG_OK &&
                  ptr_sums_init(&ps, big, PTR_FREE_REACH, 0) == DG_OK &&
                  ps.block == sized[i].block &&
                  ps.n * (ptr_sum_words(ps.sum_bits) * 8) <= PTR_SUMS_BUDGET &&
                  ps.n == (sized[i].size / ps.block < most ? sized[i].size / ps.block : most);
            ptr_sums_free(&ps);
            regions_free(big);
        }
        tap_check(&t, ok, "summaries of 256 KiB pieces for 1 GiB, 2 MiB for 10 GiB, 4 MiB "
                  "and the first 32 GiB for 1 TiB: never more than %u bytes",
                  (unsigned)PTR_SUMS_BUDGET);
    }
    tap_check(&t, ptr_free_usable(&pf, map, 512) && ptr_free_usable(&pf, map, PTR_FREE_REACH),
              "usable for searches up to PTR_FREE_REACH below a target");
    tap_check(&t, !ptr_free_usable(&pf, map, PTR_FREE_REACH + 8),
              "not for a search that reaches further");
    tap_check(&t, !ptr_free_usable(&pf, bigger, 512),
              "not for a map with memory the cover does not hold");
    tap_check(&t, !ptr_free_usable(NULL, map, 512), "nor without a map");
    runs(&t, &pf, file_len);
    {
        /* file sizes, and the block size and count their maps should have */
        static const struct {
            uint64_t size, unit, units;
        } sized[] = {
            {0, PTR_FREE_UNIT_MIN, PTR_FREE_MAX_UNITS}, /* a stream: its first 64 GiB */
            {64ull << 30, PTR_FREE_UNIT_MIN, PTR_FREE_MAX_UNITS + 1},
            {100ull << 30, 2 * PTR_FREE_UNIT_MIN, (100ull << 30) / (8u << 10) + 1},
            {1ull << 50, PTR_FREE_UNIT_MAX, PTR_FREE_MAX_UNITS}, /* a sparse petabyte */
        };
        bool ok = true;

        for (size_t i = 0; i < sizeof sized / sizeof sized[0]; i++) {
            struct ptr_free sz;

            ptr_free_init(&sz, map, sized[i].size);
            ok &= sz.on && sz.blocks.unit == sized[i].unit &&
                  sz.blocks.n_units == sized[i].units;
            ptr_free_free(&sz);
        }
        tap_check(&t, ok,
                  "blocks of 4 KiB up to 64 GiB (and for a stream), larger past it, and a "
                  "map of at most %llu bits however large a file says it is",
                  (unsigned long long)PTR_FREE_MAX_UNITS + 1);
    }

    input_open_memory("mem", file, file_len, &in);
    d = (struct dg_dump){.in = &in, .map = map};
    run_budget(&d, keys, N_CHAINS, 1, 0, 60.0, 0, ref, &rc_ref);
    {
        bool all = rc_ref == DG_OK;

        for (size_t i = 0; i < N_CHAINS; i++)
            all &= ref[i].rc == DG_OK && strncmp(ref[i].path, "g+0x", 4) == 0;
        tap_check(&t, all, "without the map: every chain found (%s)", ref[0].path);
    }
    d.ptrfree = &pf;
    for (unsigned threads = 1; threads <= 2; threads++)
        for (unsigned pre = 0; pre <= 2; pre += 2) {
            bool same = true;

            run_budget(&d, keys, N_CHAINS, threads, pre, 60.0, 0, got, &rc);
            for (size_t i = 0; i < N_CHAINS; i++)
                same &= got[i].rc == ref[i].rc && strcmp(got[i].path, ref[i].path) == 0;
            tap_check(&t, rc == DG_OK && same,
                      "with the map, %u reader(s), summaries before by %u threads: the same "
                      "paths", threads, pre);
        }
    /* chain 0's pointer in the text, in a window the search reads but for
     * its marked blocks: with that pointer's block marked by force too, the
     * search reads no byte of it, and that chain alone is lost */
    zero_map_set(&pf.blocks, (reg_off(R_TEXT) + (TEXT_PTR_AT - TEXT_VA)) / pf.blocks.unit);
    run_budget(&d, keys, N_CHAINS, 1, 0, 60.0, 0, got, &rc);
    tap_check(&t, rc == DG_OK && got[0].rc != DG_OK && got[1].rc == DG_OK,
              "the block with a pointer marked by force: its chain is not found (%s), the "
              "next is", got[0].rc != DG_OK ? got[0].why : got[0].path);

    /* the summary of the globals' piece emptied by force: the search reads
     * none of its words at the levels that look for a root there, and every
     * chain is lost */
    {
        uint64_t *sum = ptr_sums_open(&pf.sums, 0);
        bool lost = true;

        zero_map_free(&pf.blocks); /* no block is marked: only the summaries skip */
        zero_map_init(&pf.blocks, PTR_FREE_UNIT_MIN, file_len);
        run_budget(&d, keys, N_CHAINS, 1, 0, 60.0, 0, got, &rc);
        for (size_t i = 0; i < N_CHAINS; i++)
            lost &= got[i].rc == ref[i].rc && strcmp(got[i].path, ref[i].path) == 0;
        tap_check(&t, rc == DG_OK && lost && ptr_sums_get(&pf.sums, 0) != NULL &&
                      GLOBALS_LEN <= pf.sums.block,
                  "with the summaries alone, the same paths");
        memset(sum, 0, ptr_sum_words(pf.sums.sum_bits) * sizeof *sum);
        run_budget(&d, keys, N_CHAINS, 1, 0, 60.0, 0, got, &rc);
        for (size_t i = 0; i < N_CHAINS; i++)
            lost &= got[i].rc != DG_OK;
        tap_check(&t, rc == DG_OK && lost,
                  "the globals' summary emptied by force: no chain is found (%s)",
                  got[0].rc != DG_OK ? got[0].why : got[0].path);
    }

    input_close(&in);
    ptr_free_free(&pf);
    tap_check(&t, !marked(&pf, 0), "freed: nothing is marked");
    regions_free(map);
    regions_free(bigger);
    free(file);
    return tap_done(&t);
}
