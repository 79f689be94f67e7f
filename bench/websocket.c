/* SPDX-License-Identifier: MIT */
/* websocket.c - RFC 6455 client framing and handshake for --ws (websocket.h). */
#include "websocket.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; /* RFC 6455 §1.3 */

/* base64(SHA-1(key + GUID)) into out (28 characters and a NUL). */
static bool accept_of(const char *key, size_t key_len, char out[NT_WSC_ACCEPT_LEN + 1])
{
    char buf[64 + sizeof(GUID)];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (key_len > 64)
        return false;
    memcpy(buf, key, key_len);
    memcpy(buf + key_len, GUID, sizeof(GUID) - 1);
    if (EVP_Digest(buf, key_len + sizeof(GUID) - 1, digest, &dlen, EVP_sha1(), NULL) != 1 ||
        dlen != 20)
        return false;
    return EVP_EncodeBlock((unsigned char *)out, digest, 20) == NT_WSC_ACCEPT_LEN;
}

size_t nt_wsc_request(char *out, size_t cap, const char *host, unsigned port, const char *path,
                      const char *proto, char accept[NT_WSC_ACCEPT_LEN + 1])
{
    unsigned char raw[16];
    char key[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return 0;
    if (EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw)) != 24)
        return 0;
    if (!accept_of(key, 24, accept))
        return 0;
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s:%u\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s%s%s"
                     "User-Agent: natter-bench\r\n"
                     "\r\n",
                     path, host, port, key, proto ? "Sec-WebSocket-Protocol: " : "",
                     proto ? proto : "", proto ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}

size_t nt_wsc_head_len(const char *p, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++) {
        const char *q = memchr(p + i, '\r', len - i - 3);
        if (q == NULL)
            return 0;
        i = (size_t)(q - p);
        if (q[1] == '\n' && q[2] == '\r' && q[3] == '\n')
            return i + 4;
    }
    return 0;
}

/* Whether the comma-separated list v[0..n) holds token (case-insensitive). */
static bool has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    const char *end = v + n;
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        const char *s = v;
        while (v < end && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
            return true;
    }
    return false;
}

static bool is_value(const char *v, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(v, want, n) == 0;
}

bool nt_wsc_check_response(const char *p, size_t len, const char *accept, const char *proto,
                           char *why, size_t size)
{
    const char *end = p + len, *eol = memchr(p, '\r', len);
    if (eol == NULL)
        eol = end;
    size_t sl = (size_t)(eol - p);
    if (sl < 12 || memcmp(p, "HTTP/1.", 7) != 0 || memcmp(p + 8, " 101", 4) != 0 ||
        (sl > 12 && p[12] != ' ')) {
        snprintf(why, size, "expected \"HTTP/1.1 101 Switching Protocols\", got \"%.*s\"",
                 (int)(sl < 120 ? sl : 120), p);
        return false;
    }
    bool upgrade = false, connection = false;
    int n_accept = 0, n_proto = 0;
    const char *got_proto = NULL;
    size_t got_proto_len = 0;
    for (const char *line = eol + 2; line < end;) {
        const char *nl = memchr(line, '\r', (size_t)(end - line));
        if (nl == NULL || nl == line)
            break; /* the blank line */
        const char *colon = memchr(line, ':', (size_t)(nl - line));
        const char *v = colon ? colon + 1 : nl, *ve = nl;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t nlen = colon ? (size_t)(colon - line) : 0, vlen = (size_t)(ve - v);
#define NAME_IS(s) (nlen == sizeof(s) - 1 && strncasecmp(line, s, nlen) == 0)
        if (NAME_IS("Upgrade")) {
            upgrade = vlen == 9 && strncasecmp(v, "websocket", 9) == 0;
        } else if (NAME_IS("Connection")) {
            connection = connection || has_token(v, vlen, "upgrade");
        } else if (NAME_IS("Sec-WebSocket-Accept")) {
            n_accept++;
            if (!is_value(v, vlen, accept)) {
                snprintf(why, size, "Sec-WebSocket-Accept is \"%.*s\", expected \"%s\"",
                         (int)(vlen < 60 ? vlen : 60), v, accept);
                return false;
            }
        } else if (NAME_IS("Sec-WebSocket-Protocol")) {
            n_proto++;
            got_proto = v;
            got_proto_len = vlen;
        } else if (NAME_IS("Sec-WebSocket-Extensions")) {
            snprintf(why, size, "the server chose an extension none was offered: \"%.*s\"",
                     (int)(vlen < 60 ? vlen : 60), v);
            return false;
        }
#undef NAME_IS
        line = nl + 2;
    }
    if (!upgrade || !connection) {
        snprintf(why, size, "101 without %s",
                 !upgrade ? "\"Upgrade: websocket\"" : "\"Connection: upgrade\"");
        return false;
    }
    if (n_accept != 1) {
        snprintf(why, size, "101 with %d Sec-WebSocket-Accept headers", n_accept);
        return false;
    }
    if (proto == NULL && n_proto > 0) {
        snprintf(why, size, "the server chose subprotocol \"%.*s\", none was asked for",
                 (int)(got_proto_len < 60 ? got_proto_len : 60), got_proto);
        return false;
    }
    if (proto != NULL && (n_proto != 1 || !is_value(got_proto, got_proto_len, proto))) {
        if (n_proto == 0)
            snprintf(why, size, "101 without Sec-WebSocket-Protocol (asked for \"%s\")", proto);
        else
            snprintf(why, size, "Sec-WebSocket-Protocol is \"%.*s\", asked for \"%s\"",
                     (int)(got_proto_len < 60 ? got_proto_len : 60), got_proto, proto);
        return false;
    }
    return true;
}

enum nt_wsc_status nt_wsc_decode(const char *p, size_t avail, struct nt_wsc_frame *f)
{
    if (avail < 2)
        return NT_WSC_MORE;
    unsigned char b0 = (unsigned char)p[0], b1 = (unsigned char)p[1];
    f->fin = (b0 & 0x80) != 0;
    f->opcode = b0 & 0x0f;
    f->what = NULL;
    if (b1 & 0x80) {
        f->what = "a masked server frame";
        return NT_WSC_BAD;
    }
    if (b0 & 0x70) {
        f->what = "an RSV bit set (no extension was agreed)";
        return NT_WSC_BAD;
    }
    unsigned len7 = b1 & 0x7f;
    if (len7 < 126) {
        f->header = 2;
        f->len = len7;
    } else if (len7 == 126) {
        if (avail < 4)
            return NT_WSC_MORE;
        f->header = 4;
        f->len = (uint64_t)(unsigned char)p[2] << 8 | (unsigned char)p[3];
    } else {
        if (avail < 10)
            return NT_WSC_MORE;
        f->header = 10;
        f->len = 0;
        for (int i = 2; i < 10; i++)
            f->len = f->len << 8 | (unsigned char)p[i];
        if (f->len >> 63) {
            f->what = "a 64-bit length with its top bit set";
            return NT_WSC_BAD;
        }
    }
    switch (f->opcode) {
    case NT_WSC_CONTINUATION:
    case NT_WSC_TEXT:
    case NT_WSC_BINARY:
        return NT_WSC_FRAME;
    case NT_WSC_CLOSE:
    case NT_WSC_PING:
    case NT_WSC_PONG:
        if (!f->fin) {
            f->what = "a fragmented control frame";
            return NT_WSC_BAD;
        }
        if (f->len > 125) {
            f->what = "a control frame over 125 bytes";
            return NT_WSC_BAD;
        }
        return NT_WSC_FRAME;
    default:
        f->what = "a reserved opcode";
        return NT_WSC_BAD;
    }
}

void nt_wsc_mask(char *p, size_t len, uint32_t key)
{
    unsigned char k[4];
    memcpy(k, &key, 4);
    uint64_t k8;
    unsigned char kk[8] = {k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]};
    memcpy(&k8, kk, 8);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= k8;
        memcpy(p + i, &v, 8);
    }
    for (; i < len; i++)
        p[i] = (char)((unsigned char)p[i] ^ k[i & 3]);
}

size_t nt_wsc_frame_size(size_t len)
{
    return (len < 126 ? 2 : len < 65536 ? 4 : 10) + 4 + len;
}

size_t nt_wsc_header(char *out, enum nt_wsc_opcode opcode, size_t len, uint32_t key)
{
    unsigned char *o = (unsigned char *)out;
    size_t n;
    o[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        o[1] = (unsigned char)(0x80 | len);
        n = 2;
    } else if (len < 65536) {
        o[1] = 0x80 | 126;
        o[2] = (unsigned char)(len >> 8);
        o[3] = (unsigned char)len;
        n = 4;
    } else {
        o[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            o[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        n = 10;
    }
    memcpy(o + n, &key, 4);
    return n + 4;
}

size_t nt_wsc_frame(char *out, enum nt_wsc_opcode opcode, const char *p, size_t len, uint32_t key)
{
    size_t h = nt_wsc_header(out, opcode, len, key);
    if (len > 0)
        memcpy(out + h, p, len);
    nt_wsc_mask(out + h, len, key);
    return h + len;
}

uint64_t nt_wsc_seed(void)
{
    uint64_t s = 0;
    while (s == 0) {
        if (RAND_bytes((unsigned char *)&s, sizeof(s)) != 1)
            s = UINT64_C(0x9E3779B97F4A7C15);
    }
    return s;
}
