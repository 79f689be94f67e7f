/* SPDX-License-Identifier: MIT */
/* test_wire.c - unit tests for wire.c: round trips, one encoding per message, every refusal. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/wire.h"

static struct nt_wire_str str(const char *s, size_t n)
{
    return (struct nt_wire_str){s, n};
}

static void assert_str_equal(struct nt_wire_str a, struct nt_wire_str b)
{
    assert_int_equal(a.len, b.len);
    if (a.len > 0)
        assert_memory_equal(a.p, b.p, a.len);
}

static struct nt_wire_msg sample(void)
{
    struct nt_wire_msg m = {0};
    m.type = NT_WIRE_EVENT;
    m.node = str("north", 5);
    m.seq = 300; /* two bytes */
    m.time_ms = 1796400000123ULL;
    m.kind = 1;
    m.actor_id = 42;
    m.room = str("lobby", 5);
    m.actor = str("Alice", 5);
    m.text = str("hi\0there", 8); /* binary-safe */
    m.tags = str("+typing=active", 14);
    m.reason = str("quit", 4);
    return m;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct nt_wire_msg m = sample(), d;
    struct nt_msg *enc = nt_wire_encode(&m);
    assert_memory_equal(enc->data,
                        "nt\x01"
                        "E\x05north\xac\x02",
                        12);
    assert_int_equal(nt_wire_decode(enc->data, enc->len, &d), NT_WIRE_OK);
    assert_int_equal(d.type, NT_WIRE_EVENT);
    assert_str_equal(d.node, m.node);
    assert_int_equal(d.seq, 300);
    assert_int_equal(d.time_ms, m.time_ms);
    assert_int_equal(d.kind, 1);
    assert_int_equal(d.actor_id, 42);
    assert_str_equal(d.room, m.room);
    assert_str_equal(d.actor, m.actor);
    assert_int_equal(d.target.len, 0);
    assert_str_equal(d.text, m.text);
    assert_str_equal(d.tags, m.tags);
    assert_str_equal(d.reason, m.reason);
    /* Every prefix is short, never a message. */
    for (size_t n = 0; n < enc->len; n++) {
        struct nt_wire_msg x;
        assert_int_equal(nt_wire_decode(enc->data, n, &x), NT_WIRE_SHORT);
    }
    nt_msg_unref(enc);
    /* A heartbeat: every string empty, the largest numbers. */
    struct nt_wire_msg h = {.type = NT_WIRE_HEARTBEAT,
                            .node = str("n", 1),
                            .seq = UINT64_MAX,
                            .time_ms = UINT64_MAX,
                            .kind = UINT32_MAX,
                            .actor_id = UINT64_MAX};
    enc = nt_wire_encode(&h);
    assert_int_equal(enc->len, 4 + 2 + 10 + 10 + 5 + 10 + 6);
    assert_int_equal(nt_wire_decode(enc->data, enc->len, &d), NT_WIRE_OK);
    assert_int_equal(d.seq, UINT64_MAX);
    assert_int_equal(d.kind, UINT32_MAX);
    assert_int_equal(d.actor_id, UINT64_MAX);
    nt_msg_unref(enc);
    /* The cluster's other types: a user with its rooms, a snapshot asked and ended, a ban. */
    const uint8_t types[] = {NT_WIRE_USER, NT_WIRE_SYNC, NT_WIRE_DONE, NT_WIRE_BANS, NT_WIRE_BYE};
    for (size_t i = 0; i < sizeof(types); i++) {
        struct nt_wire_msg u = {.type = types[i],
                                .node = str("south", 5),
                                .seq = 7,
                                .time_ms = 1796591614028,
                                .kind = NT_WIRE_USER_OPER,
                                .actor_id = 42,
                                .actor = str("Bob", 3),
                                .target = str("lobby,rust", 10),
                                .text = str("10.0.0.3", 8)};
        enc = nt_wire_encode(&u);
        assert_int_equal(nt_wire_decode(enc->data, enc->len, &d), NT_WIRE_OK);
        assert_int_equal(d.type, types[i]);
        assert_str_equal(d.target, u.target);
        assert_str_equal(d.text, u.text);
        assert_int_equal(d.kind, NT_WIRE_USER_OPER);
        nt_msg_unref(enc);
    }
}

static void test_refusals(void **state)
{
    (void)state;
    struct nt_wire_msg m = sample(), d;
    struct nt_msg *enc = nt_wire_encode(&m);
    char *buf = malloc(enc->len + 16);
    assert_non_null(buf);
    memcpy(buf, enc->data, enc->len);
    /* Another version, not natter's, an unknown type. */
    buf[2] = 2;
    assert_int_equal(nt_wire_decode(buf, enc->len, &d), NT_WIRE_VERSION_X);
    buf[2] = NT_WIRE_VERSION;
    buf[0] = 'N';
    assert_int_equal(nt_wire_decode(buf, enc->len, &d), NT_WIRE_VERSION_X);
    buf[0] = 'n';
    buf[3] = 'Z';
    assert_int_equal(nt_wire_decode(buf, enc->len, &d), NT_WIRE_TYPE_X);
    buf[3] = NT_WIRE_EVENT;
    /* A byte after the last field. */
    buf[enc->len] = 0;
    assert_int_equal(nt_wire_decode(buf, enc->len + 1, &d), NT_WIRE_TRAILING);
    free(buf);
    nt_msg_unref(enc);
    /* An empty node name; a node name over 64 bytes. */
    assert_int_equal(nt_wire_decode("nt\x01H\x00", 5, &d), NT_WIRE_LENGTH);
    char longer[80] = "nt\x01H\x41";
    assert_int_equal(nt_wire_decode(longer, sizeof(longer), &d), NT_WIRE_LENGTH);
    /* A number not in its shortest form (0 in two bytes), one over 64 bits. */
    assert_int_equal(nt_wire_decode("nt\x01H\x01x\x80\x00", 8, &d), NT_WIRE_NUMBER);
    assert_int_equal(nt_wire_decode("nt\x01H\x01x\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 16, &d),
                     NT_WIRE_NUMBER);
    /* kind over 32 bits. */
    assert_int_equal(nt_wire_decode("nt\x01H\x01x\x01\x01\x80\x80\x80\x80\x10", 13, &d),
                     NT_WIRE_NUMBER);
    /* A string longer than its limit, declared before its bytes come. */
    assert_int_equal(nt_wire_decode("nt\x01H\x01x\x01\x01\x01\x01\x81\x80\x04", 13, &d),
                     NT_WIRE_LENGTH);
    assert_string_equal(nt_wire_result_name(NT_WIRE_TRAILING), "bytes after the last field");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
