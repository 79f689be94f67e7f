/* SPDX-License-Identifier: MIT */
/* fuzz_ws.c - libFuzzer harness for ws.c: RFC 6455 client frames, server frame headers. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ws.h"
#include "fuzz.h"

/*
 * Input: byte 0 picks the payload cap (small ones are hit often), the rest is what a client sends:
 * frames decoded one after the other, the way the web door reads them. Invariants per frame:
 *   - the answer is 0 (more), 1, 1002 or 1009, and it is 0 for every shorter prefix of a frame
 *     that decodes, while a prefix long enough to hold the header gives the same error;
 *   - a decoded frame lies inside the input, within the cap; a control frame is final and at
 *     most 125 bytes; its opcode is one RFC 6455 defines;
 *   - the payload is the input's bytes XOR the mask (checked against a copy);
 *   - the header natter would send for it decodes (after masking) to the same frame.
 */

static size_t pick_cap(uint8_t b)
{
    static const size_t caps[] = {0, 1, 125, 126, 127, 1000, 65535, 65536, NT_WS_MAX_PAYLOAD};
    return caps[b % (sizeof(caps) / sizeof(caps[0]))];
}

static int decode_copy(const char *in, size_t n, size_t cap, struct nt_ws_frame *f)
{
    char *copy = malloc(n ? n : 1);
    CHECK(copy != NULL);
    if (n > 0)
        memcpy(copy, in, n);
    int rc = nt_ws_decode(copy, n, cap, f);
    free(copy);
    return rc;
}

static void check_header_round_trip(const struct nt_ws_frame *f, size_t cap)
{
    unsigned char h[NT_WS_SERVER_HEADER];
    size_t hn = nt_ws_header((enum nt_ws_opcode)f->opcode, f->fin, f->len, h);
    CHECK(hn == 2 || hn == 4 || hn == 10);
    CHECK(hn == (f->len < 126 ? 2 : f->len <= 0xFFFF ? 4 : 10));
    size_t n = hn + 4 + f->len;
    char *frame = malloc(n);
    CHECK(frame != NULL);
    memcpy(frame, h, hn);
    frame[1] = (char)(frame[1] | 0x80); /* as a client would send it: masked, here with 0s */
    memset(frame + hn, 0, 4);
    if (f->len > 0)
        memcpy(frame + hn + 4, f->payload, f->len);
    struct nt_ws_frame g;
    CHECK(nt_ws_decode(frame, n, cap, &g) == 1);
    CHECK(g.fin == f->fin && g.opcode == f->opcode && g.len == f->len && g.frame_len == n);
    CHECK(f->len == 0 || memcmp(g.payload, f->payload, f->len) == 0);
    free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cap = pick_cap(data[0]);
    size_t len = size - 1;
    char *buf = malloc(len ? len : 1);
    char *orig = malloc(len ? len : 1);
    CHECK(buf != NULL && orig != NULL);
    if (len > 0) {
        memcpy(buf, data + 1, len);
        memcpy(orig, data + 1, len);
    }
    size_t at = 0;
    for (int frames = 0; frames < 64; frames++) {
        struct nt_ws_frame f;
        int rc = nt_ws_decode(buf + at, len - at, cap, &f);
        CHECK(rc == 0 || rc == 1 || rc == NT_WS_CLOSE_PROTOCOL || rc == NT_WS_CLOSE_TOO_BIG);
        if (rc != 1) {
            /* An error is judged on the header: every longer input would say the same. */
            if (rc != 0) {
                struct nt_ws_frame g;
                char *more = malloc(len - at + 16);
                CHECK(more != NULL);
                memcpy(more, buf + at, len - at);
                memset(more + len - at, 0, 16);
                CHECK(nt_ws_decode(more, len - at + 16, cap, &g) == rc);
                free(more);
            }
            break;
        }
        CHECK(f.frame_len >= 6 && f.frame_len <= len - at);
        CHECK(f.payload >= buf + at && f.payload + f.len == buf + at + f.frame_len);
        CHECK(f.len <= cap);
        CHECK(f.opcode <= NT_WS_BINARY || (f.opcode >= NT_WS_CLOSE && f.opcode <= NT_WS_PONG));
        if (f.opcode >= NT_WS_CLOSE)
            CHECK(f.fin && f.len <= NT_WS_MAX_CONTROL);
        const unsigned char *mask = (const unsigned char *)orig + at + (f.frame_len - f.len - 4);
        const char *raw = orig + at + (f.frame_len - f.len);
        for (size_t i = 0; i < f.len; i++)
            CHECK((unsigned char)f.payload[i] == ((unsigned char)raw[i] ^ mask[i & 3]));
        for (size_t n = 0; n < f.frame_len; n += 1 + n / 8)
            CHECK(decode_copy(orig + at, n, cap, &(struct nt_ws_frame){0}) == 0);
        check_header_round_trip(&f, cap);
        at += f.frame_len;
    }
    free(buf);
    free(orig);
    return 0;
}
