/* SPDX-License-Identifier: MIT */
/* fuzz_framer.c - libFuzzer harness for framer.c: lines, CR, max_line, telnet IAC (§5.1-5.2). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/framer.h"
#include "fuzz.h"

/*
 * Input: a 4-byte header, then the byte stream a peer sends.
 *   [0]     bit 0: strip_iac (chat mode) or not (echo mode); bits 1-3: the largest chunk size
 *   [1]     max_line: mostly 1-16 so the cap is hit often, sometimes up to 256 or 4096
 *   [2..3]  seed for the chunk sizes
 *
 * The stream is framed three ways and the outcomes must be the same:
 *   1. by a reference model written from PROTOCOL.md §5.1-5.2 (telnet filter, then split at LF);
 *   2. by one nt_framer_next() loop over the whole stream;
 *   3. by nt_framer_next() over random chunks, each in its own heap buffer of exactly its size,
 *      freed as soon as it is consumed (ASan catches a line pointer kept past its input).
 * And on every call: line_len <= max_line, in/in_len move forward together, the partial-line
 * buffer stays within max_line + 1 bytes and is freed whenever no line is pending.
 */

#define IAC  0xFF
#define SB   0xFA
#define SE   0xF0
#define WILL 0xFB
#define DONT 0xFE
/* PROTOCOL.md §5.2: a subnegotiation ends after this many bytes even without IAC SE. */
#define SB_MAX 64

static size_t pick_max_line(uint8_t b)
{
    if (b < 160)
        return 1 + b % 16;
    if (b < 224)
        return 1 + (size_t)(b - 160) * 4; /* 1..253 */
    if (b < 255)
        return 4096;
    return 1;
}

static const size_t max_chunks[8] = {1, 2, 3, 7, 16, 64, 512, 4096};

/* Records one outcome: 'L', length, bytes, had_cr; or 'T' for a line over the cap. */
static void put_line(struct fuzz_log *log, const char *line, size_t len, bool had_cr)
{
    uint32_t n = (uint32_t)len;
    fuzz_log_put(log, "L", 1);
    fuzz_log_put(log, &n, sizeof(n));
    if (len > 0)
        fuzz_log_put(log, line, len);
    fuzz_log_put(log, had_cr ? "\1" : "\0", 1);
}

static void put_too_long(struct fuzz_log *log)
{
    fuzz_log_put(log, "T", 1);
}

/* ---- the reference model ---- */

/* Telnet filter, one byte at a time, as §5.2 describes it; writes data bytes to out. */
static size_t ref_telnet(const uint8_t *in, size_t n, uint8_t *out)
{
    enum { DATA, CMD, OPTION, SUB, SUB_IAC } st = DATA;
    unsigned sb = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        switch (st) {
        case DATA:
            if (c == IAC)
                st = CMD;
            else
                out[o++] = c;
            break;
        case CMD:
            st = DATA;
            if (c == IAC)
                out[o++] = IAC; /* IAC IAC: a literal 0xFF */
            else if (c >= WILL && c <= DONT)
                st = OPTION; /* IAC WILL|WONT|DO|DONT OPT */
            else if (c == SB) {
                st = SUB;
                sb = 0;
            }
            break;
        case OPTION:
            st = DATA;
            break;
        case SUB:
            if (c == IAC)
                st = SUB_IAC;
            else if (++sb >= SB_MAX)
                st = DATA;
            break;
        case SUB_IAC:
            if (c == SE)
                st = DATA;
            else
                st = ++sb >= SB_MAX ? DATA : SUB;
            break;
        }
    }
    return o;
}

/* One raw line (without its LF): strip one CR before the LF, then the cap decides. */
static void ref_line(struct fuzz_log *log, const uint8_t *p, size_t n, size_t max_line)
{
    bool cr = n > 0 && p[n - 1] == '\r';
    if (cr)
        n--;
    if (n > max_line)
        put_too_long(log);
    else
        put_line(log, (const char *)p, n, cr);
}

static void reference(const uint8_t *in, size_t n, size_t max_line, bool strip_iac,
                      struct fuzz_log *log)
{
    uint8_t *data = malloc(n ? n : 1);
    CHECK(data != NULL);
    if (strip_iac)
        n = ref_telnet(in, n, data);
    else if (n > 0)
        memcpy(data, in, n);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            ref_line(log, data + start, i - start, max_line);
            start = i + 1;
        }
    }
    /* At the end of input a partial line counts as a line (§5.1). */
    if (start < n)
        ref_line(log, data + start, n - start, max_line);
    free(data);
}

/* ---- the framer ---- */

/* Feeds in[0..n) to f, recording outcomes until NT_FRAME_MORE, checking every call. */
static void feed(struct nt_framer *f, const uint8_t *in, size_t n, struct fuzz_log *log)
{
    /* An exact-size heap copy: reading past it, or keeping a pointer into it, is an ASan error. */
    char *copy = malloc(n ? n : 1);
    CHECK(copy != NULL);
    if (n > 0)
        memcpy(copy, in, n);
    const char *p = copy;
    size_t left = n;
    size_t outcomes = 0;
    for (;;) {
        const char *line = NULL;
        size_t line_len = (size_t)-1;
        const char *before = p;
        enum nt_frame_result r = nt_framer_next(f, &p, &left, &line, &line_len);
        CHECK(p >= before && p <= copy + n);
        CHECK((size_t)(p - copy) + left == n);
        CHECK(f->len <= f->max_line + 1);
        if (r == NT_FRAME_MORE) {
            CHECK(left == 0);
            /* Memory only while a line is pending (OPERATIONS.md, "Limits"). */
            CHECK(f->len > 0 || f->buf == NULL);
            break;
        }
        /* Each outcome uses at least one byte: no endless loop. */
        CHECK(++outcomes <= n);
        if (r == NT_FRAME_LINE) {
            CHECK(line_len <= f->max_line);
            CHECK(line_len == 0 || line != NULL);
            put_line(log, line, line_len, f->had_cr);
        } else {
            CHECK(r == NT_FRAME_TOO_LONG);
            put_too_long(log);
        }
    }
    free(copy);
}

static void finish(struct nt_framer *f, struct fuzz_log *log)
{
    const char *line = NULL;
    size_t line_len = (size_t)-1;
    enum nt_frame_result r = nt_framer_end(f, &line, &line_len);
    if (r == NT_FRAME_LINE) {
        CHECK(line_len <= f->max_line);
        CHECK(line_len == 0 || line != NULL);
        put_line(log, line, line_len, f->had_cr);
    } else {
        CHECK(r == NT_FRAME_MORE);
    }
    CHECK(nt_framer_end(f, &line, &line_len) == NT_FRAME_MORE); /* it was consumed */
    nt_framer_fini(f);
    CHECK(f->buf == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    bool strip_iac = data[0] & 1;
    size_t max_chunk = max_chunks[(data[0] >> 1) & 7];
    size_t max_line = pick_max_line(data[1]);
    uint32_t seed = (uint32_t)data[2] << 8 | data[3];
    const uint8_t *in = data + 4;
    size_t n = size - 4;

    struct fuzz_log want = {0}, whole = {0}, chunked = {0};
    reference(in, n, max_line, strip_iac, &want);

    struct nt_framer f;
    nt_framer_init(&f, max_line, strip_iac);
    CHECK(f.buf == NULL); /* init allocates nothing */
    feed(&f, in, n, &whole);
    finish(&f, &whole);

    nt_framer_init(&f, max_line, strip_iac);
    for (size_t off = 0; off < n;) {
        size_t chunk = 1 + fuzz_rand(&seed) % max_chunk;
        if (chunk > n - off)
            chunk = n - off;
        feed(&f, in + off, chunk, &chunked);
        if (fuzz_rand(&seed) % 8 == 0)
            feed(&f, in + off, 0, &chunked); /* an empty read changes nothing */
        off += chunk;
    }
    finish(&f, &chunked);

    CHECK(fuzz_log_equal(&whole, &want));
    CHECK(fuzz_log_equal(&chunked, &want));
    fuzz_log_free(&want);
    fuzz_log_free(&whole);
    fuzz_log_free(&chunked);
    return 0;
}
