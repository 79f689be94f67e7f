/* SPDX-License-Identifier: MIT */
/* test_ws.c - unit tests for ws.c: RFC 6455's own examples, the limits, every protocol error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_examples),
        cmocka_unit_test(test_lengths_and_limits),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_close_codes_and_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
