/* SPDX-License-Identifier: MIT */
/* fuzz_wire.c - libFuzzer harness for wire.c: what another node (or anyone who can PUBLISH to
 * natter's Redis channels) sends. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "lib/wire.h"

/*
 * Any bytes: decoding never reads outside them; a message that decodes has its strings inside
 * the input and within the limits, and encodes back to exactly the input (one encoding per
 * message), and every shorter prefix of it is refused as short.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct nt_wire_msg m;
    enum nt_wire_result r = nt_wire_decode(buf, size, &m);
    CHECK(r >= NT_WIRE_OK && r <= NT_WIRE_TRAILING);
    CHECK(nt_wire_result_name(r)[0] != '?');
    if (r != NT_WIRE_OK)
        return 0;
    const struct nt_wire_str *strs[] = {&m.node, &m.room, &m.actor, &m.target,
                                        &m.text, &m.tags, &m.reason};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        CHECK(strs[i]->len == 0 || (strs[i]->p >= buf && strs[i]->p + strs[i]->len <= buf + size));
        CHECK(strs[i]->len <= (i == 0 ? NT_WIRE_MAX_NODE : NT_WIRE_MAX_STR));
    }
    CHECK(m.node.len >= 1);
    struct nt_msg *enc = nt_wire_encode(&m);
    CHECK(enc->len == size && memcmp(enc->data, data, size) == 0);
    nt_msg_unref(enc);
    for (size_t n = 0; n < size; n += 1 + n / 4) {
        struct nt_wire_msg x;
        CHECK(nt_wire_decode(buf, n, &x) == NT_WIRE_SHORT);
    }
    return 0;
}
