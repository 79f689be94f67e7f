/* SPDX-License-Identifier: MIT */
/* hist.c - log-linear latency histogram. */
#include "hist.h"

#include <string.h>

void nt_hist_init(struct nt_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

uint64_t nt_hist_bucket_upper(unsigned b)
{
    if (b < NT_HIST_SUB)
        return b;
    unsigned shift = b / NT_HIST_SUB - 1;
    uint64_t sub = b % NT_HIST_SUB;
    return ((NT_HIST_SUB + sub) << shift) | ((UINT64_C(1) << shift) - 1);
}

void nt_hist_merge(struct nt_hist *dst, const struct nt_hist *src)
{
    for (unsigned i = 0; i < NT_HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
    if (src->min < dst->min)
        dst->min = src->min;
}

uint64_t nt_hist_quantile(const struct nt_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    /* ceil(q * count) without libm; at least the first value. */
    double exact = q * (double)h->count;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (unsigned b = 0; b < NT_HIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= rank) {
            uint64_t upper = nt_hist_bucket_upper(b);
            return upper < h->max ? upper : h->max;
        }
    }
    return h->max;
}
