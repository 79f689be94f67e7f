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
