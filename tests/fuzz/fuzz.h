/* SPDX-License-Identifier: MIT */
/* fuzz.h - what every libFuzzer harness in tests/fuzz shares: the entry point, CHECK, a PRNG. */
#ifndef NT_FUZZ_H
#define NT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer calls this once per input; returning 0 keeps the input eligible for the corpus. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * An invariant of the code under test. A failure aborts, which libFuzzer reports as a crash and
 * saves the input (crash-<sha1>); the message names the invariant.
 */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* xorshift32: derives chunk sizes and the like from a few input bytes, so a crash replays. */
static inline uint32_t fuzz_rand(uint32_t *state)
{
    uint32_t x = *state ? *state : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* A growable byte log: harnesses record what they saw and compare two logs with memcmp. */
struct fuzz_log {
    unsigned char *bytes; /* owned */
    size_t len;
    size_t cap;
};

static inline void fuzz_log_put(struct fuzz_log *log, const void *p, size_t n)
{
    if (log->len + n > log->cap) {
        size_t cap = log->cap ? log->cap : 256;
        while (cap < log->len + n)
            cap *= 2;
        unsigned char *b = realloc(log->bytes, cap);
        if (b == NULL)
            abort();
        log->bytes = b;
        log->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        log->bytes[log->len + i] = ((const unsigned char *)p)[i];
    log->len += n;
}

static inline int fuzz_log_equal(const struct fuzz_log *a, const struct fuzz_log *b)
{
    if (a->len != b->len)
        return 0;
    for (size_t i = 0; i < a->len; i++) {
        if (a->bytes[i] != b->bytes[i])
            return 0;
    }
    return 1;
}

static inline void fuzz_log_free(struct fuzz_log *log)
{
    free(log->bytes);
    log->bytes = NULL;
    log->len = log->cap = 0;
}

#endif
