/* SPDX-License-Identifier: MIT */
/* hist.h - log-linear latency histogram: 32 sub-buckets per power of two (DEPENDENCIES.md §8). */
#ifndef NT_BENCH_HIST_H
#define NT_BENCH_HIST_H

#include <stdint.h>

#define NT_HIST_SUB_BITS 5
#define NT_HIST_SUB      (1u << NT_HIST_SUB_BITS)
/* Values below 32 have a bucket each; above, 59 powers of two with 32 sub-buckets each. */
#define NT_HIST_BUCKETS (60 * NT_HIST_SUB)

/*
 * Counts of values (nanoseconds here) in buckets whose width is at most 1/32 of their lower
 * bound, so a percentile read back is at most 3.125% above the true one. Plain counters: one
 * histogram per thread, added together afterwards with nt_hist_merge(). 15 KiB.
 */
struct nt_hist {
    uint64_t count;
    uint64_t min;
    uint64_t max;
    uint64_t sum;
    uint64_t buckets[NT_HIST_BUCKETS];
};

/* Empties h (caller's storage). */
void nt_hist_init(struct nt_hist *h);

/* The bucket index of value v. Monotonic in v. */
static inline unsigned nt_hist_bucket(uint64_t v)
{
    if (v < NT_HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - NT_HIST_SUB_BITS;
    return (shift + 1) * NT_HIST_SUB + (unsigned)((v >> shift) & (NT_HIST_SUB - 1));
}

/* Counts one value. */
static inline void nt_hist_record(struct nt_hist *h, uint64_t v)
{
    h->buckets[nt_hist_bucket(v)]++;
    h->count++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
    if (v < h->min)
        h->min = v;
}

/* The largest value that falls in bucket b. */
uint64_t nt_hist_bucket_upper(unsigned b);

/* Adds every count of src to dst. */
void nt_hist_merge(struct nt_hist *dst, const struct nt_hist *src);

/*
 * The value at quantile q (0 < q <= 1): the upper bound of the bucket holding the ceil(q*count)-th
 * smallest value, clamped to the largest value seen. 0 when h is empty.
 */
uint64_t nt_hist_quantile(const struct nt_hist *h, double q);

#endif
