/* SPDX-License-Identifier: MIT */
/* test_framer.c - unit tests for framer.c: lines, CR, max_line, telnet IAC (PROTOCOL.md §5). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/framer.h"

/* Telnet command bytes (RFC 854). */
#define IAC  "\xff"
#define SE   "\xf0"
#define NOP  "\xf1"
#define AYT  "\xf6"
#define GA   "\xf9"
#define SB   "\xfa"
#define WILL "\xfb"
#define WONT "\xfc"
#define DO   "\xfd"
#define DONT "\xfe"

/* One outcome other than NT_FRAME_MORE, with a copy of the line. */
struct ev {
    enum nt_frame_result r;
    char *line; /* owned, NULL for TOO_LONG */
    size_t len;
};

struct evs {
    struct ev *v; /* owned */
    size_t n;
    size_t cap;
};

static void evs_push(struct evs *e, enum nt_frame_result r, const char *line, size_t len)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->v = test_realloc(e->v, e->cap * sizeof(*e->v));
        assert_non_null(e->v);
    }
    e->v[e->n].r = r;
    e->v[e->n].len = r == NT_FRAME_LINE ? len : 0;
    e->v[e->n].line = NULL;
    if (r == NT_FRAME_LINE) {
        e->v[e->n].line = test_malloc(len + 1);
        assert_non_null(e->v[e->n].line);
        if (len)
            memcpy(e->v[e->n].line, line, len);
        e->v[e->n].line[len] = '\0';
    }
    e->n++;
}

static void evs_free(struct evs *e)
{
    for (size_t i = 0; i < e->n; i++)
        test_free(e->v[i].line);
    test_free(e->v);
    e->v = NULL;
    e->n = e->cap = 0;
}

/* The input copy being fed; freed by teardown() when an assertion fails inside feed(). */
static char *copy;

static int teardown(void **state)
{
    (void)state;
    free(copy);
    copy = NULL;
    return 0;
}

/*
 * Feeds data[0..len) to f from a heap copy of exactly len bytes (ASan catches reads past it, and
 * use of it after it is freed on return), collecting outcomes until NT_FRAME_MORE.
 */
static void feed(struct nt_framer *f, const char *data, size_t len, struct evs *out)
{
    copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, data, len);
    const char *in = copy;
    size_t in_len = len;
    size_t calls = 0;
    for (;;) {
        const char *line = NULL;
        size_t line_len = 12345;
        const char *before = in;
        enum nt_frame_result r = nt_framer_next(f, &in, &in_len, &line, &line_len);
        /* in and in_len move together, forward, within the input */
        assert_true(in >= before);
        assert_true(in <= copy + len);
        assert_int_equal((size_t)(in - copy) + in_len, len);
        if (r == NT_FRAME_MORE) {
            assert_int_equal(in_len, 0);
            break;
        }
        assert_true(r == NT_FRAME_LINE || r == NT_FRAME_TOO_LONG);
        if (r == NT_FRAME_LINE) {
            assert_true(line_len <= f->max_line);
            if (line_len)
                assert_non_null(line);
        }
        evs_push(out, r, line, line_len);
        /* every outcome but MORE needs at least one input byte: no endless loop */
        assert_true(++calls <= len + 1);
    }
    free(copy);
    copy = NULL;
}

/* Feeds data in chunks of chunk bytes (0 = all at once) to a fresh framer. */
static void run(size_t max_line, bool strip, const char *data, size_t len, size_t chunk,
                struct evs *out)
{
    struct nt_framer f;
    nt_framer_init(&f, max_line, strip);
    if (chunk == 0) {
        feed(&f, data, len, out);
    } else {
        for (size_t off = 0; off < len; off += chunk) {
            size_t n = len - off < chunk ? len - off : chunk;
            feed(&f, data + off, n, out);
        }
    }
    nt_framer_fini(&f);
}

/* Expected outcomes: a line (string with its length) or TOO_LONG (line NULL). */
struct exp {
    const char *line;
    size_t len;
};
#define L(s)                                                                                       \
    {                                                                                              \
        (s), sizeof(s) - 1                                                                         \
    }
#define TL                                                                                         \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

static void check_evs(const struct evs *got, const struct exp *exp, size_t n, const char *what,
                      size_t chunk)
{
    if (got->n != n) {
        print_error("%s (chunk %zu): %zu outcomes, expected %zu\n", what, chunk, got->n, n);
        for (size_t i = 0; i < got->n; i++)
            print_error("  got[%zu] = %s len %zu\n", i,
                        got->v[i].r == NT_FRAME_LINE ? "LINE" : "TOO_LONG", got->v[i].len);
    }
    assert_int_equal(got->n, n);
    for (size_t i = 0; i < n; i++) {
        if (exp[i].line == NULL) {
            assert_int_equal(got->v[i].r, NT_FRAME_TOO_LONG);
        } else {
            assert_int_equal(got->v[i].r, NT_FRAME_LINE);
            if (got->v[i].len != exp[i].len || memcmp(got->v[i].line, exp[i].line, exp[i].len) != 0)
                print_error("%s (chunk %zu): line %zu is \"%s\" (%zu bytes), expected \"%s\"\n",
                            what, chunk, i, got->v[i].line, got->v[i].len, exp[i].line);
            assert_int_equal(got->v[i].len, exp[i].len);
            assert_memory_equal(got->v[i].line, exp[i].line, exp[i].len);
        }
    }
}

/* Checks data against exp fed all at once and in every chunk size from 1 to len. */
static void expect_lines(size_t max_line, bool strip, const char *data, size_t len,
                         const struct exp *exp, size_t n)
{
    for (size_t chunk = 0; chunk <= len; chunk++) {
        struct evs got = {0};
        run(max_line, strip, data, len, chunk, &got);
        check_evs(&got, exp, n, data, chunk);
        evs_free(&got);
    }
}

#define EXPECT(max_line, strip, data, ...)                                                         \
    do {                                                                                           \
        static const struct exp exp_[] = {__VA_ARGS__};                                            \
        expect_lines((max_line), (strip), (data), sizeof(data) - 1, exp_, NT_ARRAY_LEN_(exp_));    \
    } while (0)
#define EXPECT_NONE(max_line, strip, data)                                                         \
    expect_lines((max_line), (strip), (data), sizeof(data) - 1, NULL, 0)
#define NT_ARRAY_LEN_(a) (sizeof(a) / sizeof((a)[0]))

/* ---- plain framing (§5.1) ---- */

static void test_init_allocates_nothing(void **state)
{
    (void)state;
    struct nt_framer f;
    nt_framer_init(&f, 16, true);
    assert_null(f.buf);
    assert_int_equal(f.len, 0);
    assert_int_equal(f.max_line, 16);
    assert_true(f.strip_iac);
    assert_false(f.discarding);
    nt_framer_fini(&f);
    nt_framer_init(&f, 16, false);
    assert_false(f.strip_iac);
    nt_framer_fini(&f);
}

static void test_empty_input(void **state)
{
    (void)state;
    struct nt_framer f;
    nt_framer_init(&f, 16, true);
    const char *in = "";
    size_t in_len = 0;
    const char *line = NULL;
    size_t line_len = 0;
    assert_int_equal(nt_framer_next(&f, &in, &in_len, &line, &line_len), NT_FRAME_MORE);
    assert_int_equal(in_len, 0);
    nt_framer_fini(&f);
}

static void test_one_line(void **state)
{
    (void)state;
    EXPECT(16, true, "hello\n", L("hello"));
    EXPECT(16, false, "hello\n", L("hello"));
}

static void test_one_line_zero_copy_and_rest_kept(void **state)
{
    (void)state;
    struct nt_framer f;
    nt_framer_init(&f, 64, true);
    static const char data[] = "Hi Alice!\npartial";
    const char *in = data;
    size_t in_len = sizeof(data) - 1;
    const char *line = NULL;
    size_t line_len = 0;
    assert_int_equal(nt_framer_next(&f, &in, &in_len, &line, &line_len), NT_FRAME_LINE);
    assert_int_equal(line_len, 9);
    assert_memory_equal(line, "Hi Alice!", 9);
    /* the line was consumed together with its LF, the rest is still input */
    assert_ptr_equal(in, data + 10);
    assert_int_equal(in_len, 7);
    assert_int_equal(nt_framer_next(&f, &in, &in_len, &line, &line_len), NT_FRAME_MORE);
    assert_int_equal(in_len, 0);
    /* the partial line is kept in f */
    assert_int_equal(f.len, 7);
    assert_non_null(f.buf);
    assert_memory_equal(f.buf, "partial", 7);
    in = " done\n";
    in_len = 6;
    assert_int_equal(nt_framer_next(&f, &in, &in_len, &line, &line_len), NT_FRAME_LINE);
    assert_int_equal(line_len, 12);
    assert_memory_equal(line, "partial done", 12);
    assert_int_equal(nt_framer_next(&f, &in, &in_len, &line, &line_len), NT_FRAME_MORE);
    nt_framer_fini(&f);
    assert_null(f.buf);
}

static void test_several_lines_in_one_input(void **state)
{
    (void)state;
    EXPECT(16, true, "one\ntwo\nthree\n", L("one"), L("two"), L("three"));
    EXPECT(16, true, "one\ntwo\nthree", L("one"), L("two"));
}

static void test_line_split_into_single_bytes(void **state)
{
    (void)state;
    /* expect_lines feeds every chunk size, including 1; check the 1-byte case directly too */
    static const char data[] = "split across bytes\nand again\n";
    struct evs got = {0};
    run(64, true, data, sizeof(data) - 1, 1, &got);
    static const struct exp exp[] = {L("split across bytes"), L("and again")};
    check_evs(&got, exp, 2, data, 1);
    evs_free(&got);
}

static void test_crlf(void **state)
{
    (void)state;
    EXPECT(16, true, "hello\r\nworld\r\n", L("hello"), L("world"));
    EXPECT(16, false, "hello\r\n", L("hello"));
    /* a lone CR inside a line is kept; only the one right before LF is dropped */
    EXPECT(16, true, "a\rb\n", L("a\rb"));
    EXPECT(16, true, "\rab\n", L("\rab"));
    EXPECT(16, true, "a\r\r\n", L("a\r"));
    EXPECT_NONE(16, true, "ab\r");
    EXPECT(16, true, "ab\rc\n", L("ab\rc"));
}

static void test_empty_lines(void **state)
{
    (void)state;
    EXPECT(16, true, "\n", L(""));
    EXPECT(16, true, "\n\n\n", L(""), L(""), L(""));
    EXPECT(16, true, "\r\n\r\n", L(""), L(""));
    EXPECT(16, true, "a\n\nb\n", L("a"), L(""), L("b"));
}

static void test_no_newline_no_line(void **state)
{
    (void)state;
    EXPECT_NONE(16, true, "no newline yet");
}

/* ---- max_line (§3.4) ---- */

static void test_exactly_max_line_accepted(void **state)
{
    (void)state;
    EXPECT(4, true, "abcd\n", L("abcd"));
    EXPECT(4, true, "abcd\nefgh\n", L("abcd"), L("efgh"));
    EXPECT(1, true, "a\nb\n\n", L("a"), L("b"), L(""));
}

static void test_max_line_plus_one_too_long(void **state)
{
    (void)state;
    EXPECT(4, true, "abcde\n", TL);
    EXPECT(4, true, "abcde\nok\n", TL, L("ok"));
    /* reported once however long the rest is, the rest up to LF is discarded */
    EXPECT(4, true, "abcdefghijklmnopqrstuvwxyz\nok\n", TL, L("ok"));
    EXPECT(1, true, "ab\nc\n", TL, L("c"));
    /* two over-long lines in a row: one report each */
    EXPECT(4, true, "abcdefgh\n123456789\nxy\n", TL, TL, L("xy"));
    /* still discarding when the input ends: nothing more until the LF */
    EXPECT(4, true, "abcdefgh", TL);
    /* a CR that is not before LF counts */
    EXPECT(4, true, "abc\r\rd\n", TL);
    EXPECT(4, true, "abcd\rx\nok\n", TL, L("ok"));
}

static void test_max_line_with_crlf_accepted(void **state)
{
    (void)state;
    /* the CR before LF is not content: max_line bytes + CRLF is fine */
    EXPECT(4, true, "abcd\r\n", L("abcd"));
    EXPECT(4, true, "abcd\r\nefgh\r\n", L("abcd"), L("efgh"));
    EXPECT(4, false, "abcd\r\n", L("abcd"));
    EXPECT(1, true, "a\r\n", L("a"));
    /* max_line bytes + CR + CR + LF: content is max_line + 1 bytes */
    EXPECT(4, true, "abcd\r\r\nok\n", TL, L("ok"));
}

static void test_too_long_across_inputs(void **state)
{
    (void)state;
    struct nt_framer f;
    nt_framer_init(&f, 8, true);
    struct evs got = {0};
    feed(&f, "12345", 5, &got);
    assert_int_equal(got.n, 0);
    feed(&f, "6789", 4, &got); /* 9 bytes: over */
    assert_int_equal(got.n, 1);
    assert_int_equal(got.v[0].r, NT_FRAME_TOO_LONG);
    /* nothing is buffered for a line being discarded */
    assert_true(f.len <= 8);
    feed(&f, "abcdefghijklmnop", 16, &got);
    feed(&f, "abcdefghijklmnop", 16, &got);
    assert_int_equal(got.n, 1); /* reported once */
    feed(&f, "xyz\nnext", 8, &got);
    assert_int_equal(got.n, 1);
    feed(&f, " ln\n", 4, &got);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.v[1].r, NT_FRAME_LINE);
    assert_int_equal(got.v[1].len, 7);
    assert_memory_equal(got.v[1].line, "next ln", 7);
    /* and a fresh over-long line is reported again */
    feed(&f, "123456789\n", 10, &got);
    assert_int_equal(got.n, 3);
    assert_int_equal(got.v[2].r, NT_FRAME_TOO_LONG);
    feed(&f, "ok\n", 3, &got);
    assert_int_equal(got.n, 4);
    assert_int_equal(got.v[3].r, NT_FRAME_LINE);
    assert_int_equal(got.v[3].len, 2);
    evs_free(&got);
    nt_framer_fini(&f);
}

static void test_too_long_large_default(void **state)
{
    (void)state;
    /* the default max_line, 4096: 4096 bytes pass, 4097 do not */
    size_t n = 4096 + 1 + 4097 + 1 + 3;
    char *data = test_malloc(n);
    assert_non_null(data);
    memset(data, 'x', 4096);
    data[4096] = '\n';
    memset(data + 4097, 'y', 4097);
    data[4097 + 4097] = '\n';
    memcpy(data + 4097 + 4098, "ok\n", 3);
    for (size_t chunk = 0; chunk <= 5000; chunk += (chunk < 10 ? 1 : 997)) {
        struct evs got = {0};
        run(4096, true, data, n, chunk, &got);
        assert_int_equal(got.n, 3);
        assert_int_equal(got.v[0].r, NT_FRAME_LINE);
        assert_int_equal(got.v[0].len, 4096);
        assert_memory_equal(got.v[0].line, data, 4096);
        assert_int_equal(got.v[1].r, NT_FRAME_TOO_LONG);
        assert_int_equal(got.v[2].r, NT_FRAME_LINE);
        assert_int_equal(got.v[2].len, 2);
        evs_free(&got);
    }
    test_free(data);
}

/* ---- telnet IAC (§5.2) ---- */

static void test_iac_iac_is_literal_ff(void **state)
{
    (void)state;
    EXPECT(16, true, "a" IAC IAC "b\n",
           L("a\xff"
             "b"));
    EXPECT(16, true, IAC IAC IAC IAC "\n", L("\xff\xff"));
}

static void test_iac_option_negotiation_removed(void **state)
{
    (void)state;
    EXPECT(16, true,
           "a" IAC WILL "\x01"
           "b\n",
           L("ab"));
    EXPECT(16, true,
           "a" IAC WONT "\x01"
           "b\n",
           L("ab"));
    EXPECT(16, true,
           "a" IAC DO "\x03"
           "b\n",
           L("ab"));
    EXPECT(16, true,
           "a" IAC DONT "\x22"
           "b\n",
           L("ab"));
    /* the option byte may be anything, IAC included */
    EXPECT(16, true, "a" IAC DO IAC "b\n", L("ab"));
    /* what telnet sends on connect, then a CRLF line */
    EXPECT(16, true,
           IAC DO "\x01" IAC WILL "\x03" IAC DO "\x18" IAC WILL "\x1f"
                  "Alice\r\n",
           L("Alice"));
}

static void test_iac_option_byte_lf_does_not_end_line(void **state)
{
    (void)state;
    EXPECT(16, true,
           "ab" IAC DO "\n"
           "cd\n",
           L("abcd"));
    EXPECT(16, true,
           "ab" IAC WILL "\n"
           "cd\n",
           L("abcd"));
    EXPECT(16, true,
           "ab" IAC DO "\r"
           "cd\n",
           L("abcd"));
    /* nor does the CR before it get dropped as part of a CRLF */
    EXPECT(16, true,
           "ab\r" IAC DO "\n"
           "\n",
           L("ab"));
}

static void test_iac_other_command_two_bytes(void **state)
{
    (void)state;
    EXPECT(16, true, "a" IAC NOP "b\n", L("ab"));
    EXPECT(16, true, "a" IAC AYT "b\n", L("ab"));
    EXPECT(16, true, "a" IAC GA "b\n", L("ab"));
    EXPECT(16, true, "a" IAC SE "b\n", L("ab"));
    /* any other byte X: IAC X is two bytes, X included */
    EXPECT(16, true, "a" IAC "xb\n", L("ab"));
    EXPECT(16, true,
           "a" IAC "\n"
           "b\n",
           L("ab"));
}

static void test_iac_subnegotiation_removed(void **state)
{
    (void)state;
    /* terminal type: IAC SB TERMINAL-TYPE IS "xterm" IAC SE */
    EXPECT(32, true, "a" IAC SB "\x18\x00xterm" IAC SE "b\n", L("ab"));
    /* window size with an escaped 255 inside */
    EXPECT(32, true, "a" IAC SB "\x1f\x00" IAC IAC "\x00\x18" IAC SE "b\n", L("ab"));
    EXPECT(32, true, IAC SB IAC SE "hi\n", L("hi"));
}

static void test_iac_subnegotiation_is_bounded(void **state)
{
    (void)state;
    /* an SB that never ends stops after at most 64 bytes: later lines get through */
    char data[2 + 200 + 1 + 6];
    memcpy(data, IAC SB, 2);
    memset(data + 2, 'x', 200);
    data[202] = '\n';
    memcpy(data + 203, "hello\n", 6);
    for (size_t chunk = 0; chunk <= sizeof(data); chunk += (chunk < 8 ? 1 : 50)) {
        struct evs got = {0};
        run(4096, true, data, sizeof(data), chunk, &got);
        assert_int_equal(got.n, 2);
        assert_int_equal(got.v[0].r, NT_FRAME_LINE);
        /* the SB swallowed the first 64-ish bytes, the rest of the x's are a line */
        assert_in_range(got.v[0].len, 200 - 64, 200 - 60);
        for (size_t i = 0; i < got.v[0].len; i++)
            assert_int_equal(got.v[0].line[i], 'x');
        assert_int_equal(got.v[1].r, NT_FRAME_LINE);
        assert_int_equal(got.v[1].len, 5);
        assert_memory_equal(got.v[1].line, "hello", 5);
        evs_free(&got);
    }
}

static void test_iac_split_across_inputs(void **state)
{
    (void)state;
    struct nt_framer f;
    nt_framer_init(&f, 16, true);
    struct evs got = {0};
    feed(&f, "ab" IAC, 3, &got);
    feed(&f, DO, 1, &got);
    feed(&f, "\n", 1, &got); /* the option byte */
    assert_int_equal(got.n, 0);
    feed(&f, "c" IAC, 2, &got);
    feed(&f, IAC, 1, &got); /* IAC IAC split */
    feed(&f, "d" IAC SB, 3, &got);
    feed(&f, "\x18", 1, &got);
    feed(&f, IAC, 1, &got);
    feed(&f, SE "e\n", 3, &got);
    assert_int_equal(got.n, 1);
    assert_int_equal(got.v[0].r, NT_FRAME_LINE);
    assert_int_equal(got.v[0].len, 6);
    assert_memory_equal(got.v[0].line,
                        "abc\xff"
                        "d"
                        "e",
                        6);
    evs_free(&got);
    nt_framer_fini(&f);
    /* and the same through every chunking */
    EXPECT(16, true,
           "ab" IAC DO "\n"
           "c" IAC IAC "d" IAC SB "\x18" IAC SE "e\n",
           L("abc\xff"
             "de"));
}

static void test_iac_not_counted_in_max_line(void **state)
{
    (void)state;
    /* removed before framing: 4 content bytes with telnet noise fit max_line 4 */
    EXPECT(4, true, "ab" IAC WILL "\x01" IAC NOP "cd\n", L("abcd"));
    EXPECT(4, true, "ab" IAC IAC "cd\n", TL);
}

static void test_iac_in_discarded_line(void **state)
{
    (void)state;
    /* an IAC DO LF inside an over-long line does not end the discarding */
    EXPECT(4, true,
           "abcdef" IAC DO "\n"
           "gh\nok\n",
           TL, L("ok"));
}

static void test_iac_untouched_without_strip(void **state)
{
    (void)state;
    EXPECT(16, false,
           "a" IAC WILL "\x01"
           "b\n",
           L("a\xff\xfb\x01"
             "b"));
    EXPECT(16, false, "a" IAC IAC "b\n",
           L("a\xff\xff"
             "b"));
    EXPECT(16, false,
           "ab" IAC DO "\n"
           "cd\n",
           L("ab\xff\xfd"), L("cd"));
    EXPECT(16, false, IAC SB "\x18" IAC SE "\n", L("\xff\xfa\x18\xff\xf0"));
    /* raw bytes count towards max_line in echo mode */
    EXPECT(4, false, "ab" IAC NOP "\n", L("ab\xff\xf1"));
    EXPECT(4, false, "ab" IAC NOP "c\n", TL);
}

/* ---- lifetime ---- */

static void test_fini_after_partial_line(void **state)
{
    (void)state;
    struct nt_framer f;
    nt_framer_init(&f, 64, true);
    struct evs got = {0};
    feed(&f, "partial line", 12, &got);
    assert_int_equal(got.n, 0);
    nt_framer_fini(&f); /* ASan reports a leak if the buffer is not freed */
    /* f may be initialised and used again */
    nt_framer_init(&f, 64, true);
    assert_int_equal(f.len, 0);
    feed(&f, "fresh\n", 6, &got);
    assert_int_equal(got.n, 1);
    assert_int_equal(got.v[0].len, 5);
    assert_memory_equal(got.v[0].line, "fresh", 5);
    feed(&f, "again partial", 13, &got);
    nt_framer_fini(&f);
    evs_free(&got);
}

static void test_fini_after_partial_iac_and_discard(void **state)
{
    (void)state;
    struct nt_framer f;
    nt_framer_init(&f, 4, true);
    struct evs got = {0};
    feed(&f, "abcdefg" IAC SB "x", 10, &got);
    nt_framer_fini(&f);
    nt_framer_init(&f, 4, true);
    /* no state survives: not discarding, not inside an SB */
    assert_false(f.discarding);
    feed(&f, "ok\n", 3, &got);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.v[1].r, NT_FRAME_LINE);
    assert_int_equal(got.v[1].len, 2);
    nt_framer_fini(&f);
    evs_free(&got);
}

static void test_buffer_freed_after_line_completes(void **state)
{
    (void)state;
    /* "allocated only while one is pending" (memory per client, OPERATIONS.md) */
    struct nt_framer f;
    nt_framer_init(&f, 64, true);
    struct evs got = {0};
    feed(&f, "abc", 3, &got);
    assert_non_null(f.buf);
    feed(&f, "def\n", 4, &got);
    assert_int_equal(got.n, 1);
    assert_int_equal(f.len, 0);
    assert_null(f.buf);
    nt_framer_fini(&f);
    evs_free(&got);
}

/* ---- a reload changes max_line between two reads (OPERATIONS.md "Reloading") ---- */

/* Feeds before, changes the cap to max_after, feeds after; returns the outcomes in got. */
static void feed_around_set_max(size_t max_before, const char *before, size_t max_after,
                                const char *after, struct evs *got)
{
    struct nt_framer f;
    nt_framer_init(&f, max_before, true);
    feed(&f, before, strlen(before), got);
    nt_framer_set_max(&f, max_after);
    feed(&f, after, strlen(after), got);
    nt_framer_fini(&f);
}

static void test_set_max_grows_a_pending_line(void **state)
{
    (void)state;
    static const struct exp exp[] = {L("abcdefgh"), L("0123456789"), TL};
    struct evs got = {0};
    /* "abc" pending under a cap of 3; the cap becomes 10: the buffer grows, nothing is lost */
    feed_around_set_max(3, "abc", 10, "defgh\n0123456789\n0123456789x\n", &got);
    check_evs(&got, exp, 3, "grow", 0);
    evs_free(&got);
}

static void test_set_max_refuses_a_pending_line_over_the_new_cap(void **state)
{
    (void)state;
    /* "abcdef" pending under 10, the cap becomes 3: its LF ends a line that is too long */
    static const struct exp at_lf[] = {TL, L("xyz")};
    struct evs got = {0};
    feed_around_set_max(10, "abcdef", 3, "\nxyz\n", &got);
    check_evs(&got, at_lf, 2, "shrink, then LF", 0);
    evs_free(&got);
    /* ... or its next byte does, and the rest up to LF is dropped */
    static const struct exp at_byte[] = {TL, L("ok")};
    feed_around_set_max(10, "abcdef", 3, "ghij\nok\n", &got);
    check_evs(&got, at_byte, 2, "shrink, then more", 0);
    evs_free(&got);
    /* a pending line within the new cap, CR LF included, still counts */
    static const struct exp within[] = {L("abc"), L("de")};
    feed_around_set_max(10, "ab", 3, "c\r\nde\n", &got);
    check_evs(&got, within, 2, "shrink, within", 0);
    evs_free(&got);
}

static void test_set_max_applies_to_the_end_of_input(void **state)
{
    (void)state;
    struct nt_framer f;
    nt_framer_init(&f, 10, true);
    struct evs got = {0};
    feed(&f, "abcdef", 6, &got);
    nt_framer_set_max(&f, 4);
    const char *line;
    size_t len;
    assert_int_not_equal(nt_framer_end(&f, &line, &len), NT_FRAME_LINE);
    assert_int_equal(got.n, 0);
    nt_framer_fini(&f);
}

/* ---- zero-copy and buffered paths agree; a model of §5.1, §5.2 (without SB), §3.4 ---- */

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

static void model(size_t max_line, bool strip, const unsigned char *d, size_t len, struct evs *out)
{
    char *buf = test_malloc(max_line + 2);
    assert_non_null(buf);
    size_t n = 0;
    bool discarding = false;
    int iac = 0; /* 0 data, 1 after IAC, 2 option byte next */
    for (size_t i = 0; i < len; i++) {
        unsigned char b = d[i];
        if (strip) {
            if (iac == 1) {
                iac = (b >= 0xfb && b <= 0xfe) ? 2 : 0;
                if (b != 0xff)
                    continue;
            } else if (iac == 2) {
                iac = 0;
                continue;
            } else if (b == 0xff) {
                iac = 1;
                continue;
            }
        }
        if (b == '\n') {
            if (discarding) {
                discarding = false;
            } else {
                if (n > 0 && buf[n - 1] == '\r')
                    n--;
                evs_push(out, NT_FRAME_LINE, buf, n);
            }
            n = 0;
            continue;
        }
        if (discarding)
            continue;
        buf[n++] = (char)b;
        if (n > max_line && !(n == max_line + 1 && b == '\r')) {
            evs_push(out, NT_FRAME_TOO_LONG, NULL, 0);
            discarding = true;
            n = 0;
        }
    }
    test_free(buf);
}

static void check_same(const struct evs *a, const struct evs *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->v[i].r, b->v[i].r);
        if (a->v[i].r == NT_FRAME_LINE) {
            assert_int_equal(a->v[i].len, b->v[i].len);
            assert_memory_equal(a->v[i].line, b->v[i].line, a->v[i].len);
        }
    }
}

static void test_random_streams_match_model(void **state)
{
    (void)state;
    static const unsigned char alphabet[] = {'a',  'b',  'c',  '\r', '\n', '\n', 0xff,
                                             0xfb, 0xfd, 0xf1, 0x01, 'z',  0xff};
    unsigned char data[300];
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = rnd() % sizeof(data);
        for (size_t i = 0; i < len; i++)
            data[i] = alphabet[rnd() % sizeof(alphabet)];
        size_t max_line = 1 + rnd() % 10;
        bool strip = rnd() % 4 != 0;

        struct evs want = {0}, whole = {0}, pieces = {0};
        model(max_line, strip, data, len, &want);
        run(max_line, strip, (const char *)data, len, 0, &whole);
        check_same(&want, &whole);

        /* random chunk sizes through one framer */
        struct nt_framer f;
        nt_framer_init(&f, max_line, strip);
        for (size_t off = 0; off < len;) {
            size_t c = 1 + rnd() % 12;
            if (c > len - off)
                c = len - off;
            feed(&f, (const char *)data + off, c, &pieces);
            off += c;
        }
        nt_framer_fini(&f);
        check_same(&want, &pieces);

        evs_free(&want);
        evs_free(&whole);
        evs_free(&pieces);
    }
}

static void test_random_streams_with_sb_chunking_agrees(void **state)
{
    (void)state;
    /* with SB in the mix there is no model here, but chunking must never change the outcome */
    static const unsigned char alphabet[] = {'a',  'b',  '\r', '\n', 0xff, 0xfa,
                                             0xf0, 0xfb, 0xfd, 0xf1, 'c',  0xff};
    unsigned char data[400];
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = rnd() % sizeof(data);
        for (size_t i = 0; i < len; i++)
            data[i] = alphabet[rnd() % sizeof(alphabet)];
        size_t max_line = 1 + rnd() % 70;
        struct evs whole = {0}, ones = {0};
        run(max_line, true, (const char *)data, len, 0, &whole);
        run(max_line, true, (const char *)data, len, 1, &ones);
        check_same(&whole, &ones);
        evs_free(&whole);
        evs_free(&ones);
    }
}

/* ---- end of input (§5.1): a partial last line still counts ---- */

static void end_case(const char *data, bool want_line, const char *want)
{
    struct nt_framer f;
    struct evs ev = {0};
    nt_framer_init(&f, 8, true);
    feed(&f, data, strlen(data), &ev);
    const char *line = NULL;
    size_t len = 0;
    enum nt_frame_result r = nt_framer_end(&f, &line, &len);
    if (want_line) {
        assert_int_equal(r, NT_FRAME_LINE);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(line, want, len);
    } else {
        assert_int_equal(r, NT_FRAME_MORE);
    }
    /* the partial line was handed out once */
    assert_int_equal(nt_framer_end(&f, &line, &len), NT_FRAME_MORE);
    evs_free(&ev);
    nt_framer_fini(&f);
}

static void test_end_returns_partial_line(void **state)
{
    (void)state;
    end_case("done\npart", true, "part");
    end_case("part\r", true, "part");
    end_case("done\n", false, NULL);
    end_case("", false, NULL);
    /* what is left of an over-long line is never a line */
    end_case("abcdefghijkl", false, NULL);
    /* telnet bytes alone are no line */
    end_case("\xff\xfb\x01", false, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_end_returns_partial_line, teardown),
        cmocka_unit_test_teardown(test_init_allocates_nothing, teardown),
        cmocka_unit_test_teardown(test_empty_input, teardown),
        cmocka_unit_test_teardown(test_one_line, teardown),
        cmocka_unit_test_teardown(test_one_line_zero_copy_and_rest_kept, teardown),
        cmocka_unit_test_teardown(test_several_lines_in_one_input, teardown),
        cmocka_unit_test_teardown(test_line_split_into_single_bytes, teardown),
        cmocka_unit_test_teardown(test_crlf, teardown),
        cmocka_unit_test_teardown(test_empty_lines, teardown),
        cmocka_unit_test_teardown(test_no_newline_no_line, teardown),
        cmocka_unit_test_teardown(test_exactly_max_line_accepted, teardown),
        cmocka_unit_test_teardown(test_max_line_plus_one_too_long, teardown),
        cmocka_unit_test_teardown(test_max_line_with_crlf_accepted, teardown),
        cmocka_unit_test_teardown(test_too_long_across_inputs, teardown),
        cmocka_unit_test_teardown(test_too_long_large_default, teardown),
        cmocka_unit_test_teardown(test_iac_iac_is_literal_ff, teardown),
        cmocka_unit_test_teardown(test_iac_option_negotiation_removed, teardown),
        cmocka_unit_test_teardown(test_iac_option_byte_lf_does_not_end_line, teardown),
        cmocka_unit_test_teardown(test_iac_other_command_two_bytes, teardown),
        cmocka_unit_test_teardown(test_iac_subnegotiation_removed, teardown),
        cmocka_unit_test_teardown(test_iac_subnegotiation_is_bounded, teardown),
        cmocka_unit_test_teardown(test_iac_split_across_inputs, teardown),
        cmocka_unit_test_teardown(test_iac_not_counted_in_max_line, teardown),
        cmocka_unit_test_teardown(test_iac_in_discarded_line, teardown),
        cmocka_unit_test_teardown(test_iac_untouched_without_strip, teardown),
        cmocka_unit_test_teardown(test_fini_after_partial_line, teardown),
        cmocka_unit_test_teardown(test_fini_after_partial_iac_and_discard, teardown),
        cmocka_unit_test_teardown(test_buffer_freed_after_line_completes, teardown),
        cmocka_unit_test_teardown(test_set_max_grows_a_pending_line, teardown),
        cmocka_unit_test_teardown(test_set_max_refuses_a_pending_line_over_the_new_cap, teardown),
        cmocka_unit_test_teardown(test_set_max_applies_to_the_end_of_input, teardown),
        cmocka_unit_test_teardown(test_random_streams_match_model, teardown),
        cmocka_unit_test_teardown(test_random_streams_with_sb_chunking_agrees, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
