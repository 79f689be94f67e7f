/* SPDX-License-Identifier: MIT */
/* fuzz_ws.c - libFuzzer harness for ws.c: RFC 6455 client frames (whole and streamed), server
 * frames. */
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

/* The streaming reader (nt_ws_read) over in[0..n) in pieces of step bytes: its data in out, the
 * events it stopped for in evs (PING, PONG, then a CLOSE or a failure last), the bytes it took. */
struct run {
    char *out;
    size_t out_len;
    int evs[64];
    size_t n_evs;
    size_t took;
};

static void run_reader(const char *in, size_t n, size_t cap, size_t step, struct run *r)
{
    struct nt_ws_reader rd;
    nt_ws_reader_init(&rd, cap);
    r->out = malloc(n + 1);
    CHECK(r->out != NULL);
    r->out_len = r->n_evs = r->took = 0;
    while (r->took < n && r->n_evs < 64) {
        size_t piece = n - r->took < step ? n - r->took : step, used;
        size_t before = r->out_len;
        int ev = nt_ws_read(&rd, in + r->took, piece, &used, r->out, &r->out_len);
        CHECK(used <= piece);
        CHECK(r->out_len <= before + used + 1); /* never more than it took, and an LF */
        r->took += used;
        if (ev == NT_WS_EV_NONE) {
            CHECK(used == piece);
            continue;
        }
        CHECK(ev == NT_WS_EV_PING || ev == NT_WS_EV_PONG || ev == NT_WS_EV_CLOSE ||
              ev == NT_WS_CLOSE_PROTOCOL || ev == NT_WS_CLOSE_BAD_DATA ||
              ev == NT_WS_CLOSE_TOO_BIG);
        if (ev == NT_WS_EV_PING)
            CHECK(rd.ctl_len <= NT_WS_MAX_CONTROL);
        if (ev == NT_WS_EV_CLOSE)
            CHECK(rd.close_code == 1005 || nt_ws_close_code_ok(rd.close_code));
        r->evs[r->n_evs++] = ev;
        if (ev != NT_WS_EV_PING && ev != NT_WS_EV_PONG)
            break;
    }
}

/*
 * The reader gives the same events, data and stopping point however the input is cut, and its
 * data is what nt_ws_decode finds in the frames it took whole: data payloads, an LF after each
 * final one (only the messages it refused may differ, from their refusal on).
 */
static void check_reader(const char *orig, size_t len, size_t cap, size_t step,
                         const char *expected, size_t expected_len)
{
    struct run whole, cut;
    run_reader(orig, len, cap, len ? len : 1, &whole);
    run_reader(orig, len, cap, step, &cut);
    CHECK(whole.n_evs == cut.n_evs && whole.took == cut.took && whole.out_len == cut.out_len);
    CHECK(memcmp(whole.evs, cut.evs, whole.n_evs * sizeof(int)) == 0);
    CHECK(whole.out_len == 0 || memcmp(whole.out, cut.out, whole.out_len) == 0);
    bool failed = whole.n_evs > 0 && whole.evs[whole.n_evs - 1] >= NT_WS_CLOSE_NORMAL;
    if (!failed && whole.n_evs < 64)
        CHECK(whole.out_len >= expected_len &&
              (expected_len == 0 || memcmp(whole.out, expected, expected_len) == 0));
    free(whole.out);
    free(cut.out);
}

/*
 * Server frames: the input's lines framed as text (and binary) give one final unmasked frame per
 * line, whose payload is the line without LF and CR (for text: cut before its first byte that
 * is not UTF-8, and what is left is UTF-8: the reader takes it as a client's text).
 */
static void check_frame_lines(const char *in, size_t n, enum nt_ws_opcode opcode)
{
    struct nt_msg *m = nt_ws_frame_lines(opcode, in, n);
    size_t at = 0, line = 0;
    while (line < n) {
        const char *nl = memchr(in + line, '\n', n - line);
        size_t end = nl ? (size_t)(nl - in) : n;
        size_t want = end - line;
        if (nl && want > 0 && in[end - 1] == '\r')
            want--;
        CHECK(at + 2 <= m->len);
        const unsigned char *h = (const unsigned char *)m->data + at;
        CHECK(h[0] == (0x80 | opcode) && (h[1] & 0x80) == 0);
        size_t len = h[1], hl = 2;
        if (len == 126) {
            len = (size_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (len == 127) {
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | h[i];
            hl = 10;
        }
        CHECK(at + hl + len <= m->len);
        CHECK(opcode == NT_WS_TEXT ? len <= want : len == want);
        CHECK(len == 0 || memcmp(m->data + at + hl, in + line, len) == 0);
        if (opcode == NT_WS_TEXT && len > 0) {
            char *frame = malloc(len + 14);
            CHECK(frame != NULL);
            unsigned char ch[NT_WS_SERVER_HEADER];
            size_t chl = nt_ws_header(NT_WS_TEXT, true, len, ch);
            memcpy(frame, ch, chl);
            frame[1] = (char)(frame[1] | 0x80);
            memset(frame + chl, 0, 4); /* a zero mask: the payload as it is */
            memcpy(frame + chl + 4, in + line, len);
            struct nt_ws_reader r;
            nt_ws_reader_init(&r, NT_WS_MAX_PAYLOAD);
            char *out = malloc(len + 14 + 1);
            CHECK(out != NULL);
            size_t used, out_len = 0;
            CHECK(nt_ws_read(&r, frame, chl + 4 + len, &used, out, &out_len) == NT_WS_EV_NONE);
            free(out);
            free(frame);
        }
        at += hl + len;
        line = nl ? end + 1 : n;
    }
    CHECK(at == m->len);
    nt_msg_unref(m);
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
    /* What the reader must give for the frames decoded whole here (data payloads, LF at FIN),
     * while they follow the message rules the reader adds (no stray continuation, no message
     * inside a message, UTF-8 text, a valid Close). */
    char *expected = malloc(len + 64);
    CHECK(expected != NULL);
    size_t expected_len = 0;
    bool in_message = false, rules_kept = true;
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
        if (rules_kept && f.opcode <= NT_WS_BINARY) {
            if ((f.opcode == NT_WS_CONTINUATION) != in_message) {
                rules_kept = false;
            } else {
                memcpy(expected + expected_len, f.payload, f.len);
                expected_len += f.len;
                in_message = !f.fin;
                if (f.fin)
                    expected[expected_len++] = '\n';
            }
        } else if (f.opcode == NT_WS_CLOSE) {
            rules_kept = false; /* the reader stops there */
        }
    }
    /* Only frames that keep the rules are compared; UTF-8 is the reader's alone to judge, so a
     * refusal (of any kind) ends the comparison. */
    check_reader(orig, len, cap, (size_t)(data[0] / 9) % 7 + 1, expected,
                 rules_kept ? expected_len : 0);
    check_frame_lines(orig, len, data[0] & 1 ? NT_WS_BINARY : NT_WS_TEXT);
    free(expected);
    free(buf);
    free(orig);
    return 0;
}
