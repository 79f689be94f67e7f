/* SPDX-License-Identifier: MIT */
/* ws.c - RFC 6455 WebSocket framing: client frames in, server frame headers out. */
#include "ws.h"

#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int nt_ws_decode(char *buf, size_t len, size_t max_payload, struct nt_ws_frame *f)
{
    const unsigned char *p = (const unsigned char *)buf;
    if (len < 2)
        return 0;
    bool fin = (p[0] & 0x80) != 0;
    uint8_t opcode = p[0] & 0x0F;
    if ((p[0] & 0x70) != 0) /* RSV1-3: no extension was agreed (permessage-deflate declined) */
        return NT_WS_CLOSE_PROTOCOL;
    bool is_control = (opcode & 0x8) != 0;
    if (opcode > NT_WS_PONG || (opcode > NT_WS_BINARY && opcode < NT_WS_CLOSE))
        return NT_WS_CLOSE_PROTOCOL;
    if ((p[1] & 0x80) == 0) /* §5.1: a client masks every frame */
        return NT_WS_CLOSE_PROTOCOL;
    uint64_t n = p[1] & 0x7F;
    size_t at = 2;
    if (is_control && (!fin || n > NT_WS_MAX_CONTROL)) /* §5.5 */
        return NT_WS_CLOSE_PROTOCOL;
    if (n == 126) {
        if (len < 4)
            return 0;
        n = (uint64_t)p[2] << 8 | p[3];
        at = 4;
    } else if (n == 127) {
        if (len < 10)
            return 0;
        if (p[2] & 0x80)
            return NT_WS_CLOSE_PROTOCOL; /* §5.2: the most significant bit MUST be 0 */
        n = 0;
        for (int i = 2; i < 10; i++)
            n = n << 8 | p[i];
        at = 10;
    }
    if (n > max_payload)
        return NT_WS_CLOSE_TOO_BIG;
    if (len < at + 4)
        return 0;
    const unsigned char *mask = p + at;
    at += 4;
    if (len - at < n)
        return 0;
    char *payload = buf + at;
    for (size_t i = 0; i < n; i++)
        payload[i] = (char)((unsigned char)payload[i] ^ mask[i & 3]);
    f->fin = fin;
    f->opcode = opcode;
    f->payload = payload;
    f->len = (size_t)n;
    f->frame_len = at + (size_t)n;
    return 1;
}

size_t nt_ws_header(enum nt_ws_opcode opcode, bool fin, uint64_t len,
                    unsigned char out[NT_WS_SERVER_HEADER])
{
    out[0] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    return 10;
}

bool nt_ws_close_code_ok(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

void nt_ws_accept(const char *key, size_t key_len,
                  void (*sha1)(const void *data, size_t n, unsigned char digest[20]), char out[29])
{
    char joined[128];
    size_t g = sizeof(WS_GUID) - 1;
    if (key_len > sizeof(joined) - g)
        key_len = sizeof(joined) - g; /* a valid key is 24 bytes: callers check it first */
    memcpy(joined, key, key_len);
    memcpy(joined + key_len, WS_GUID, g);
    unsigned char d[21] = {0};
    sha1(joined, key_len + g, d);
    size_t o = 0;
    for (size_t i = 0; i < 21; i += 3) { /* 20 bytes: six whole groups and one of 2 bytes */
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2]; /* d[20] is 0 */
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = b64[v >> 6 & 63];
        out[o++] = b64[v & 63];
    }
    out[o - 1] = '='; /* 20 bytes: the last group has 2, so its last character is padding */
    out[o] = '\0';
}

bool nt_ws_key_ok(const char *key, size_t key_len)
{
    if (key_len != 24 || key[22] != '=' || key[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        if (key[i] == '\0' || strchr(b64, key[i]) == NULL)
            return false;
    }
    /* 16 bytes end with 4 bits of padding in the 22nd character: they must be 0 (canonical). */
    return (strchr(b64, key[21]) - b64) % 16 == 0;
}

/* --- the streaming reader ----------------------------------------------------------------- */

/* UTF-8 state: the continuation bytes still awaited (low byte) and the range the next one must be
 * in (RFC 3629 §4: no overlong forms, no surrogates, nothing past U+10FFFF). 0: between
 * characters. */
#define U8(need, lo, hi) ((uint32_t)(need) | (uint32_t)(lo) << 8 | (uint32_t)(hi) << 16)

static bool utf8_step(uint32_t *st, unsigned char b)
{
    uint32_t need = *st & 0xFF;
    if (need == 0) {
        if (b < 0x80)
            return true;
        if (b >= 0xC2 && b <= 0xDF)
            *st = U8(1, 0x80, 0xBF);
        else if (b == 0xE0)
            *st = U8(2, 0xA0, 0xBF);
        else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
            *st = U8(2, 0x80, 0xBF);
        else if (b == 0xED)
            *st = U8(2, 0x80, 0x9F);
        else if (b == 0xF0)
            *st = U8(3, 0x90, 0xBF);
        else if (b >= 0xF1 && b <= 0xF3)
            *st = U8(3, 0x80, 0xBF);
        else if (b == 0xF4)
            *st = U8(3, 0x80, 0x8F);
        else
            return false;
        return true;
    }
    if (b < ((*st >> 8) & 0xFF) || b > (*st >> 16))
        return false;
    *st = need == 1 ? 0 : U8(need - 1, 0x80, 0xBF);
    return true;
}

void nt_ws_reader_init(struct nt_ws_reader *r, size_t max_payload)
{
    memset(r, 0, sizeof(*r));
    r->max_payload = max_payload;
}

/* The size of the header starting in r->hdr once its first two bytes are there. */
static size_t header_size(const struct nt_ws_reader *r)
{
    unsigned n = r->hdr[1] & 0x7F;
    return 2 + (n == 126 ? 2 : n == 127 ? 8 : 0) + 4;
}

/* Judges the whole header in r->hdr (as nt_ws_decode does) and starts its payload. Returns 0 or a
 * close code. */
static int start_frame(struct nt_ws_reader *r)
{
    const unsigned char *p = r->hdr;
    r->fin = (p[0] & 0x80) != 0;
    r->opcode = p[0] & 0x0F;
    size_t at = 2;
    uint64_t n = p[1] & 0x7F;
    if (n == 126) {
        n = (uint64_t)p[2] << 8 | p[3];
        at = 4;
    } else if (n == 127) {
        n = 0;
        for (int i = 2; i < 10; i++)
            n = n << 8 | p[i];
        at = 10;
    }
    memcpy(r->mask, p + at, 4);
    r->left = n;
    r->mask_at = 0;
    r->in_payload = true;
    if (r->opcode & 0x8) {
        r->ctl_len = 0;
        return 0;
    }
    /* §5.4: a continuation needs an open message; a new message may not start inside one. */
    if ((r->opcode == NT_WS_CONTINUATION) != (r->msg_opcode != 0))
        return NT_WS_CLOSE_PROTOCOL;
    if (r->opcode != NT_WS_CONTINUATION) {
        r->msg_opcode = r->opcode;
        r->utf8 = 0;
    }
    return 0;
}

/* Checks the first header bytes as soon as they come: a client's mistakes are refused before
 * the payload it announces. Returns 0 or a close code. */
static int check_header_start(const struct nt_ws_reader *r)
{
    const unsigned char *p = r->hdr;
    uint8_t opcode = p[0] & 0x0F;
    if ((p[0] & 0x70) != 0)
        return NT_WS_CLOSE_PROTOCOL; /* RSV1-3: no extension was agreed */
    if (opcode > NT_WS_PONG || (opcode > NT_WS_BINARY && opcode < NT_WS_CLOSE))
        return NT_WS_CLOSE_PROTOCOL;
    if ((p[1] & 0x80) == 0)
        return NT_WS_CLOSE_PROTOCOL; /* §5.1: a client masks every frame */
    if ((opcode & 0x8) && (!(p[0] & 0x80) || (p[1] & 0x7F) > NT_WS_MAX_CONTROL))
        return NT_WS_CLOSE_PROTOCOL; /* §5.5 */
    return 0;
}

/* Checks the declared length once its bytes are in. Returns 0 or a close code. */
static int check_length(const struct nt_ws_reader *r)
{
    const unsigned char *p = r->hdr;
    unsigned n7 = p[1] & 0x7F;
    uint64_t n = n7;
    if (n7 == 126) {
        n = (uint64_t)p[2] << 8 | p[3];
    } else if (n7 == 127) {
        if (p[2] & 0x80)
            return NT_WS_CLOSE_PROTOCOL;
        n = 0;
        for (int i = 2; i < 10; i++)
            n = n << 8 | p[i];
    }
    return n > r->max_payload ? NT_WS_CLOSE_TOO_BIG : 0;
}

/* The current frame's payload is complete. Returns an event, a close code, or NONE. */
static int end_frame(struct nt_ws_reader *r, char *out, size_t *out_len)
{
    r->in_payload = false;
    r->hdr_len = 0;
    switch (r->opcode) {
    case NT_WS_PING:
        return NT_WS_EV_PING;
    case NT_WS_PONG:
        return NT_WS_EV_PONG;
    case NT_WS_CLOSE: {
        /* §5.5.1: no payload, or a code of 2 bytes and a UTF-8 reason. */
        if (r->ctl_len == 0) {
            r->close_code = 1005;
            return NT_WS_EV_CLOSE;
        }
        if (r->ctl_len == 1)
            return NT_WS_CLOSE_PROTOCOL;
        unsigned code = (unsigned)r->ctl[0] << 8 | r->ctl[1];
        uint32_t st = 0;
        for (size_t i = 2; i < r->ctl_len; i++) {
            if (!utf8_step(&st, r->ctl[i]))
                return NT_WS_CLOSE_PROTOCOL;
        }
        if (st != 0 || !nt_ws_close_code_ok(code))
            return NT_WS_CLOSE_PROTOCOL;
        r->close_code = code;
        return NT_WS_EV_CLOSE;
    }
    default:
        if (!r->fin)
            return NT_WS_EV_NONE;
        if (r->msg_opcode == NT_WS_TEXT && r->utf8 != 0)
            return NT_WS_CLOSE_BAD_DATA; /* a character cut off at the end of the message */
        r->msg_opcode = 0;
        out[(*out_len)++] = '\n';
        return NT_WS_EV_NONE;
    }
}

int nt_ws_read(struct nt_ws_reader *r, const char *in, size_t n, size_t *used, char *out,
               size_t *out_len)
{
    size_t at = 0;
    int rc = NT_WS_EV_NONE;
    while (at < n || (r->in_payload && r->left == 0)) {
        if (!r->in_payload) {
            r->hdr[r->hdr_len++] = (unsigned char)in[at++];
            if (r->hdr_len < 2)
                continue;
            if (r->hdr_len == 2 && (rc = check_header_start(r)) != 0)
                break;
            size_t need = header_size(r);
            if (r->hdr_len == need - 4 && (rc = check_length(r)) != 0)
                break;
            if (r->hdr_len < need)
                continue;
            if ((rc = start_frame(r)) != 0)
                break;
            continue;
        }
        size_t take = n - at;
        if (take > r->left)
            take = (size_t)r->left;
        const unsigned char *src = (const unsigned char *)in + at;
        if (r->opcode & 0x8) {
            for (size_t i = 0; i < take; i++)
                r->ctl[r->ctl_len++] = src[i] ^ r->mask[(r->mask_at + i) & 3];
        } else {
            unsigned char *dst = (unsigned char *)out + *out_len;
            bool is_text = r->msg_opcode == NT_WS_TEXT;
            for (size_t i = 0; i < take; i++) {
                dst[i] = src[i] ^ r->mask[(r->mask_at + i) & 3];
                if (is_text && (dst[i] >= 0x80 || r->utf8 != 0) && !utf8_step(&r->utf8, dst[i])) {
                    rc = NT_WS_CLOSE_BAD_DATA;
                    *out_len += i; /* what came before the bad byte, however the input was cut */
                    at += i;
                    break;
                }
            }
            if (rc != 0)
                break;
            *out_len += take;
        }
        at += take;
        r->left -= take;
        r->mask_at = (uint8_t)((r->mask_at + take) & 3);
        if (r->left == 0 && (rc = end_frame(r, out, out_len)) != NT_WS_EV_NONE)
            break;
    }
    *used = at;
    return rc;
}

/* --- server frames ------------------------------------------------------------------------ */

/* How much of line[0..n) a text frame may carry: all of it if it is UTF-8, else what comes
 * before the first byte that is not. */
static size_t valid_prefix(const char *line, size_t n)
{
    uint32_t st = 0;
    size_t last_good = 0;
    for (size_t i = 0; i < n; i++) {
        if (!utf8_step(&st, (unsigned char)line[i]))
            return last_good;
        if (st == 0)
            last_good = i + 1;
    }
    return last_good;
}

/* Writes the frames of data[0..n)'s lines to out (nt_ws_frame_lines), or only counts them when
 * out is NULL. Returns their size. */
static size_t frame_all(enum nt_ws_opcode opcode, const char *data, size_t n, char *out)
{
    size_t total = 0;
    size_t at = 0;
    while (at < n) {
        const char *nl = memchr(data + at, '\n', n - at);
        size_t end = nl ? (size_t)(nl - data) : n;
        size_t len = end - at;
        if (nl && len > 0 && data[end - 1] == '\r')
            len--;
        if (opcode == NT_WS_TEXT)
            len = valid_prefix(data + at, len);
        unsigned char hdr[NT_WS_SERVER_HEADER];
        size_t h = nt_ws_header(opcode, true, len, hdr);
        if (out != NULL) {
            memcpy(out + total, hdr, h);
            memcpy(out + total + h, data + at, len);
        }
        total += h + len;
        at = nl ? end + 1 : n;
    }
    return total;
}

struct nt_msg *nt_ws_frame_lines(enum nt_ws_opcode opcode, const char *data, size_t n)
{
    struct nt_msg *msg = nt_msg_new(frame_all(opcode, data, n, NULL));
    frame_all(opcode, data, n, msg->data);
    return msg;
}

size_t nt_ws_close_frame(unsigned code, unsigned char out[4])
{
    out[0] = 0x80 | NT_WS_CLOSE;
    if (code == 0) {
        out[1] = 0;
        return 2;
    }
    out[1] = 2;
    out[2] = (unsigned char)(code >> 8);
    out[3] = (unsigned char)code;
    return 4;
}
