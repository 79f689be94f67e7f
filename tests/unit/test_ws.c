/* SPDX-License-Identifier: MIT */
/* test_ws.c - unit tests for ws.c: RFC 6455's own examples, the limits, every protocol error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "lib/ws.h"

static void sha1(const void *data, size_t n, unsigned char digest[20])
{
    SHA1(data, n, digest);
}

/* Decodes bytes[0..n) from an exact-size heap copy; returns the result, the frame in *f with
 * its payload copied to payload (NUL-terminated). */
static int decode(const char *bytes, size_t n, size_t max, struct nt_ws_frame *f, char *payload)
{
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, bytes, n);
    int rc = nt_ws_decode(copy, n, max, f);
    if (rc == 1) {
        assert_true(f->payload >= copy && f->payload + f->len <= copy + n);
        assert_int_equal(f->frame_len, n - (size_t)(copy + n - (f->payload + f->len)));
        memcpy(payload, f->payload, f->len);
        payload[f->len] = '\0';
    }
    free(copy);
    return rc;
}

/* RFC 6455 §5.7: "A single-frame masked text message". */
static const char masked_hello[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";

static void test_rfc_examples(void **state)
{
    (void)state;
    struct nt_ws_frame f;
    char payload[70000];
    assert_int_equal(decode(masked_hello, 11, 1024, &f, payload), 1);
    assert_true(f.fin);
    assert_int_equal(f.opcode, NT_WS_TEXT);
    assert_string_equal(payload, "Hello");
    assert_int_equal(f.frame_len, 11);
    /* Every shorter prefix asks for more. */
    for (size_t n = 0; n < 11; n++)
        assert_int_equal(decode(masked_hello, n, 1024, &f, payload), 0);
    /* Two frames back to back: the first is decoded, frame_len says where the next starts. */
    char two[22];
    memcpy(two, masked_hello, 11);
    memcpy(two + 11, masked_hello, 11);
    two[0] = 0x01;        /* not FIN: the first fragment */
    two[11] = (char)0x80; /* FIN, continuation */
    assert_int_equal(decode(two, 22, 1024, &f, payload), 1);
    assert_false(f.fin);
    assert_int_equal(f.opcode, NT_WS_TEXT);
    assert_int_equal(f.frame_len, 11);

    unsigned char h[NT_WS_SERVER_HEADER];
    assert_int_equal(nt_ws_header(NT_WS_TEXT, true, 5, h), 2);
    assert_memory_equal(h, "\x81\x05", 2); /* "A single-frame unmasked text message" */
    assert_int_equal(nt_ws_header(NT_WS_TEXT, false, 3, h), 2);
    assert_memory_equal(h, "\x01\x03", 2); /* its fragmented form */
    assert_int_equal(nt_ws_header(NT_WS_CONTINUATION, true, 2, h), 2);
    assert_memory_equal(h, "\x80\x02", 2);
    assert_int_equal(nt_ws_header(NT_WS_PING, true, 5, h), 2);
    assert_memory_equal(h, "\x89\x05", 2);
    assert_int_equal(nt_ws_header(NT_WS_BINARY, true, 256, h), 4);
    assert_memory_equal(h, "\x82\x7e\x01\x00", 4); /* 256 bytes */
    assert_int_equal(nt_ws_header(NT_WS_BINARY, true, 65536, h), 10);
    assert_memory_equal(h, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10); /* 64 KiB */
    assert_int_equal(nt_ws_header(NT_WS_TEXT, true, 125, h), 2);
    assert_int_equal(nt_ws_header(NT_WS_TEXT, true, 126, h), 4);
    assert_int_equal(nt_ws_header(NT_WS_TEXT, true, 65535, h), 4);

    /* §1.3: the handshake's example key and answer. */
    char accept[29];
    nt_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, sha1, accept);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* A masked client frame: opcode byte b0, payload text of n bytes with the all-zero-but-one mask. */
static size_t client_frame(unsigned char b0, size_t n, char *out)
{
    size_t at = 0;
    out[at++] = (char)b0;
    if (n < 126) {
        out[at++] = (char)(0x80 | n);
    } else if (n <= 0xFFFF) {
        out[at++] = (char)(0x80 | 126);
        out[at++] = (char)(n >> 8);
        out[at++] = (char)n;
    } else {
        out[at++] = (char)(0x80 | 127);
        for (int i = 0; i < 8; i++)
            out[at++] = (char)((uint64_t)n >> (56 - 8 * i));
    }
    memcpy(out + at, "\x01\x02\x03\x04", 4);
    at += 4;
    for (size_t i = 0; i < n; i++)
        out[at + i] = (char)('a' ^ (i % 4 + 1));
    return at + n;
}

static void test_lengths_and_limits(void **state)
{
    (void)state;
    static char buf[70000], payload[70000];
    struct nt_ws_frame f;
    size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 69000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = client_frame(0x82, sizes[i], buf);
        assert_int_equal(decode(buf, n, 69000, &f, payload), 1);
        assert_int_equal(f.len, sizes[i]);
        for (size_t j = 0; j < f.len; j++)
            assert_int_equal(payload[j], 'a');
        assert_int_equal(decode(buf, n - 1, 69000, &f, payload), 0);
    }
    /* Over the cap: known from the header alone, before the payload comes. */
    size_t n = client_frame(0x81, 1001, buf);
    assert_int_equal(decode(buf, 4, 1000, &f, payload), NT_WS_CLOSE_TOO_BIG);
    assert_int_equal(decode(buf, n, 1001, &f, payload), 1);
    /* A 64-bit length of 2^63 or more is a protocol error; 2^40 is just too big. */
    char huge[14] = "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00"
                    "abcd";
    assert_int_equal(decode(huge, 10, NT_WS_MAX_PAYLOAD, &f, payload), NT_WS_CLOSE_PROTOCOL);
    huge[2] = 0;
    huge[4] = 1;
    assert_int_equal(decode(huge, 10, NT_WS_MAX_PAYLOAD, &f, payload), NT_WS_CLOSE_TOO_BIG);
}

static void test_protocol_errors(void **state)
{
    (void)state;
    static char buf[300], payload[300];
    struct nt_ws_frame f;
    const unsigned char bad_first[] = {0xC1, 0xA1, 0x91, 0x83, 0x87, 0x8B, 0x8F, 0x8E};
    /* RSV1 (deflate was declined), RSV2, RSV3, reserved opcodes 3, 7, 0xB, 0xF, 0xE */
    for (size_t i = 0; i < sizeof(bad_first); i++) {
        size_t n = client_frame(bad_first[i], 3, buf);
        assert_int_equal(decode(buf, n, 1000, &f, payload), NT_WS_CLOSE_PROTOCOL);
        assert_int_equal(decode(buf, 2, 1000, &f, payload), NT_WS_CLOSE_PROTOCOL);
    }
    /* Not masked. */
    assert_int_equal(decode("\x81\x05Hello", 7, 1000, &f, payload), NT_WS_CLOSE_PROTOCOL);
    /* A control frame fragmented, or over 125 bytes. */
    size_t n = client_frame(0x09, 3, buf); /* PING without FIN */
    assert_int_equal(decode(buf, n, 1000, &f, payload), NT_WS_CLOSE_PROTOCOL);
    n = client_frame(0x89, 126, buf);
    assert_int_equal(decode(buf, n, 1000, &f, payload), NT_WS_CLOSE_PROTOCOL);
    n = client_frame(0x88, 125, buf);
    assert_int_equal(decode(buf, n, 1000, &f, payload), 1);
    assert_int_equal(f.opcode, NT_WS_CLOSE);
    n = client_frame(0x8A, 0, buf);
    assert_int_equal(decode(buf, n, 1000, &f, payload), 1);
    assert_int_equal(f.opcode, NT_WS_PONG);
}

static void test_close_codes_and_keys(void **state)
{
    (void)state;
    unsigned ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999};
    unsigned bad[] = {0, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_true(nt_ws_close_code_ok(ok[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(nt_ws_close_code_ok(bad[i]));
    assert_true(nt_ws_key_ok("dGhlIHNhbXBsZSBub25jZQ==", 24));
    assert_false(nt_ws_key_ok("dGhlIHNhbXBsZSBub25jZR==", 24)); /* padding bits set */
    assert_false(nt_ws_key_ok("dGhlIHNhbXBsZSBub25jZQ=", 23));
    assert_false(nt_ws_key_ok("dGhlIHNhbXBsZSBub25j*Q==", 24));
    assert_false(nt_ws_key_ok("dGhlIHNhbXBsZSBub25jZQQ=", 24));
}

/* --- the streaming reader ------------------------------------------------------------------ */

/* A masked client frame of opcode with payload p[0..n) into out; returns its size. */
static size_t masked_frame(unsigned char *out, bool fin, unsigned opcode, const char *p, size_t n)
{
    static const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
    size_t h = 0;
    out[h++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (n < 126) {
        out[h++] = (unsigned char)(0x80 | n);
    } else if (n <= 0xFFFF) {
        out[h++] = 0x80 | 126;
        out[h++] = (unsigned char)(n >> 8);
        out[h++] = (unsigned char)n;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[h++] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    }
    memcpy(out + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        out[h + i] = (unsigned char)p[i] ^ mask[i & 3];
    return h + n;
}

/* Feeds in[0..n) to r in pieces of step bytes, collecting the data in out (NUL-terminated) and
 * stopping at the first event; *at says how far it got. Returns the event. */
static int feed(struct nt_ws_reader *r, const unsigned char *in, size_t n, size_t step, char *out,
                size_t *at)
{
    size_t out_len = 0;
    *at = 0;
    while (*at < n) {
        size_t piece = n - *at < step ? n - *at : step, used;
        int ev = nt_ws_read(r, (const char *)in + *at, piece, &used, out, &out_len);
        assert_true(used <= piece);
        *at += used;
        if (ev != NT_WS_EV_NONE) {
            out[out_len] = '\0';
            return ev;
        }
        assert_int_equal(used, piece);
    }
    out[out_len] = '\0';
    return NT_WS_EV_NONE;
}

static void test_reader_messages_become_lines(void **state)
{
    (void)state;
    struct nt_ws_reader r;
    char out[256];
    size_t at;
    /* RFC 6455 §5.7's "Hello", whole and then one byte at a time: the same line. */
    for (size_t step = 1; step <= 11; step += 10) {
        nt_ws_reader_init(&r, 1024);
        assert_int_equal(feed(&r, (const unsigned char *)masked_hello, 11, step, out, &at), 0);
        assert_string_equal(out, "Hello\n");
    }
    /* Fragments are joined, with a Ping between them answered on its own (§5.4). */
    unsigned char in[256];
    size_t n = masked_frame(in, false, NT_WS_TEXT, "Hel", 3);
    size_t ping_end = n + masked_frame(in + n, true, NT_WS_PING, "p!", 2);
    n = ping_end + masked_frame(in + ping_end, true, NT_WS_CONTINUATION, "lo", 2);
    n += masked_frame(in + n, true, NT_WS_TEXT, "", 0); /* an empty message: an empty line */
    nt_ws_reader_init(&r, 1024);
    size_t out_len = 0, used;
    assert_int_equal(nt_ws_read(&r, (const char *)in, n, &used, out, &out_len), NT_WS_EV_PING);
    assert_int_equal(used, ping_end);
    assert_int_equal(r.ctl_len, 2);
    assert_memory_equal(r.ctl, "p!", 2);
    size_t used2;
    assert_int_equal(nt_ws_read(&r, (const char *)in + used, n - used, &used2, out, &out_len), 0);
    assert_int_equal(used + used2, n);
    assert_int_equal(out_len, 7);
    assert_memory_equal(out, "Hello\n\n", 7);
    /* Binary messages are not UTF-8 checked; a Pong is reported and ignored. */
    n = masked_frame(in, true, NT_WS_BINARY, "\xff\xfe", 2);
    n += masked_frame(in + n, true, NT_WS_PONG, "", 0);
    nt_ws_reader_init(&r, 1024);
    assert_int_equal(feed(&r, in, n, 3, out, &at), NT_WS_EV_PONG);
    assert_string_equal(out, "\xff\xfe\n");
    /* A 70000-byte message (64-bit length form) comes through in any pieces. */
    static char big[70000];
    static unsigned char frame[70014];
    static char got[70016];
    memset(big, 'x', sizeof(big));
    n = masked_frame(frame, true, NT_WS_TEXT, big, sizeof(big));
    nt_ws_reader_init(&r, 100000);
    assert_int_equal(feed(&r, frame, n, 4096, got, &at), 0);
    assert_int_equal(strlen(got), sizeof(big) + 1);
}

static void test_reader_utf8(void **state)
{
    (void)state;
    struct nt_ws_reader r;
    char out[64];
    size_t at;
    unsigned char in[64];
    static const char *const bad[] = {
        "\xff", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\x80", "\xc3",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = masked_frame(in, true, NT_WS_TEXT, bad[i], strlen(bad[i]));
        nt_ws_reader_init(&r, 1024);
        assert_int_equal(feed(&r, in, n, 1, out, &at), NT_WS_CLOSE_BAD_DATA);
    }
    /* A four-byte character split over two fragments is fine; one left open at the end is not. */
    size_t n = masked_frame(in, false, NT_WS_TEXT, "\xf0\x9f", 2);
    n += masked_frame(in + n, true, NT_WS_CONTINUATION, "\x98\x80", 2);
    nt_ws_reader_init(&r, 1024);
    assert_int_equal(feed(&r, in, n, 5, out, &at), 0);
    assert_string_equal(out, "\xf0\x9f\x98\x80\n");
    n = masked_frame(in, false, NT_WS_TEXT, "\xf0\x9f", 2);
    n += masked_frame(in + n, true, NT_WS_CONTINUATION, "\x98", 1);
    nt_ws_reader_init(&r, 1024);
    assert_int_equal(feed(&r, in, n, 64, out, &at), NT_WS_CLOSE_BAD_DATA);
}

static void test_reader_refusals(void **state)
{
    (void)state;
    struct nt_ws_reader r;
    char out[64];
    size_t at;
    unsigned char in[64];
    size_t n;
    /* Not masked: judged from the first two bytes. */
    nt_ws_reader_init(&r, 1024);
    assert_int_equal(feed(&r, (const unsigned char *)"\x81\x05", 2, 1, out, &at),
                     NT_WS_CLOSE_PROTOCOL);
    assert_int_equal(at, 2);
    /* RSV bits, reserved opcodes, long or fragmented control frames. */
    static const unsigned char heads[][2] = {
        {0xC1, 0x80}, {0x83, 0x80}, {0x8B, 0x80}, {0x09, 0x80}, {0x89, 0xFE}};
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        nt_ws_reader_init(&r, 1024);
        assert_int_equal(feed(&r, heads[i], 2, 2, out, &at), NT_WS_CLOSE_PROTOCOL);
    }
    /* A continuation with no message open, a new message inside one. */
    n = masked_frame(in, true, NT_WS_CONTINUATION, "x", 1);
    nt_ws_reader_init(&r, 1024);
    assert_int_equal(feed(&r, in, n, 64, out, &at), NT_WS_CLOSE_PROTOCOL);
    n = masked_frame(in, false, NT_WS_TEXT, "x", 1);
    n += masked_frame(in + n, true, NT_WS_TEXT, "y", 1);
    nt_ws_reader_init(&r, 1024);
    assert_int_equal(feed(&r, in, n, 64, out, &at), NT_WS_CLOSE_PROTOCOL);
    /* 100 MB declared: 1009 as soon as the length is in, before the mask and the payload. */
    static const unsigned char huge[] = {0x82, 0xFF, 0, 0, 0, 0, 0x05, 0xF5, 0xE1, 0x00};
    nt_ws_reader_init(&r, NT_WS_MAX_PAYLOAD);
    assert_int_equal(feed(&r, huge, sizeof(huge), 1, out, &at), NT_WS_CLOSE_TOO_BIG);
    assert_int_equal(at, sizeof(huge));
    /* The 64-bit length's top bit must be 0. */
    static const unsigned char top[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1};
    nt_ws_reader_init(&r, NT_WS_MAX_PAYLOAD);
    assert_int_equal(feed(&r, top, sizeof(top), 64, out, &at), NT_WS_CLOSE_PROTOCOL);
}

static void test_reader_close(void **state)
{
    (void)state;
    struct nt_ws_reader r;
    char out[64];
    size_t at;
    unsigned char in[64];
    size_t n = masked_frame(in, true, NT_WS_CLOSE, "", 0);
    nt_ws_reader_init(&r, 1024);
    assert_int_equal(feed(&r, in, n, 64, out, &at), NT_WS_EV_CLOSE);
    assert_int_equal(r.close_code, 1005); /* none given */
    n = masked_frame(in, true, NT_WS_CLOSE,
                     "\x03\xe8"
                     "bye",
                     5);
    nt_ws_reader_init(&r, 1024);
    assert_int_equal(feed(&r, in, n, 1, out, &at), NT_WS_EV_CLOSE);
    assert_int_equal(r.close_code, 1000);
    static const char *const bad[] = {"\x03", "\x03\xed", "\x03\xe8\xff", "\x00\x00"};
    static const size_t lens[] = {1, 2, 3, 2};
    for (size_t i = 0; i < 4; i++) { /* 1 byte, 1005 (never sent), a bad reason, code 0 */
        n = masked_frame(in, true, NT_WS_CLOSE, bad[i], lens[i]);
        nt_ws_reader_init(&r, 1024);
        assert_int_equal(feed(&r, in, n, 64, out, &at), NT_WS_CLOSE_PROTOCOL);
    }
}

/* --- server frames ------------------------------------------------------------------------- */

static void test_frame_lines(void **state)
{
    (void)state;
    /* One message per line, without LF or CR LF; the last one without LF too. */
    struct nt_msg *m = nt_ws_frame_lines(NT_WS_TEXT, "a\nbc\r\nd", 7);
    assert_int_equal(m->len, 10);
    assert_memory_equal(m->data,
                        "\x81\x01"
                        "a"
                        "\x81\x02"
                        "bc"
                        "\x81\x01"
                        "d",
                        10);
    nt_msg_unref(m);
    m = nt_ws_frame_lines(NT_WS_BINARY, "x\n", 2);
    assert_int_equal(m->len, 3);
    assert_memory_equal(m->data, "\x82\x01x", 3);
    nt_msg_unref(m);
    m = nt_ws_frame_lines(NT_WS_TEXT, "", 0);
    assert_int_equal(m->len, 0);
    nt_msg_unref(m);
    /* A text line that is not UTF-8 stops before the bad byte; a binary one is kept whole. */
    m = nt_ws_frame_lines(NT_WS_TEXT,
                          "ab\xff"
                          "cd\n\xc3",
                          7);
    assert_int_equal(m->len, 6);
    assert_memory_equal(m->data,
                        "\x81\x02"
                        "ab"
                        "\x81\x00",
                        6);
    nt_msg_unref(m);
    m = nt_ws_frame_lines(NT_WS_BINARY, "ab\xff\n", 4);
    assert_int_equal(m->len, 5);
    nt_msg_unref(m);
    /* 200 bytes: the 16-bit length form. */
    char line[201];
    memset(line, 'y', 200);
    line[200] = '\n';
    m = nt_ws_frame_lines(NT_WS_TEXT, line, sizeof(line));
    assert_int_equal(m->len, 204);
    assert_memory_equal(m->data, "\x81\x7e\x00\xc8", 4);
    nt_msg_unref(m);
    unsigned char close[4];
    assert_int_equal(nt_ws_close_frame(1000, close), 4);
    assert_memory_equal(close, "\x88\x02\x03\xe8", 4);
    assert_int_equal(nt_ws_close_frame(0, close), 2);
    assert_memory_equal(close, "\x88\x00", 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_examples),
        cmocka_unit_test(test_lengths_and_limits),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_close_codes_and_keys),
        cmocka_unit_test(test_reader_messages_become_lines),
        cmocka_unit_test(test_reader_utf8),
        cmocka_unit_test(test_reader_refusals),
        cmocka_unit_test(test_reader_close),
        cmocka_unit_test(test_frame_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
