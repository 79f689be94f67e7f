/* SPDX-License-Identifier: MIT */
/* websocket.h - the client side of RFC 6455 for --ws: the upgrade request and the check of its
 * answer, masked client frames, server frame headers. Pure but for the random key: no I/O. */
#ifndef NT_BENCH_WEBSOCKET_H
#define NT_BENCH_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NT_WSC_ACCEPT_LEN 28   /* base64 of a SHA-1 digest */
#define NT_WSC_HEAD_MAX   8192 /* the longest response head taken */
#define NT_WSC_HEADER_MAX 14   /* a client frame's header: 2 + 8 length + 4 mask key */

enum nt_wsc_opcode {
    NT_WSC_CONTINUATION = 0x0,
    NT_WSC_TEXT = 0x1,
    NT_WSC_BINARY = 0x2,
    NT_WSC_CLOSE = 0x8,
    NT_WSC_PING = 0x9,
    NT_WSC_PONG = 0xA,
};

/*
 * Writes the upgrade request (RFC 6455 §4.1) for `GET path` to host:port, asking for the
 * subprotocol proto (NULL: none), with a fresh random Sec-WebSocket-Key, to out (cap bytes).
 * Stores the Sec-WebSocket-Accept the server must answer with in accept (28 characters and a
 * NUL). Returns the request's length, or 0 when it does not fit or no random key could be made.
 */
size_t nt_wsc_request(char *out, size_t cap, const char *host, unsigned port, const char *path,
                      const char *proto, char accept[NT_WSC_ACCEPT_LEN + 1]);

/* The length of the response head at p (through its blank line, CR LF CR LF), or 0 when it is
 * not complete in len bytes. */
size_t nt_wsc_head_len(const char *p, size_t len);

/*
 * Checks the response head p[0..len) (nt_wsc_head_len bytes) against the request: status 101,
 * `Upgrade: websocket`, a Connection header with the token `upgrade`, Sec-WebSocket-Accept equal
 * to accept, Sec-WebSocket-Protocol equal to proto (absent when proto is NULL), no
 * Sec-WebSocket-Extensions (none were offered). Returns true, or false with what is wrong, for
 * a person, in why (the status line for any status but 101).
 */
bool nt_wsc_check_response(const char *p, size_t len, const char *accept, const char *proto,
                           char *why, size_t size);

/* A server frame's header (RFC 6455 §5.2). */
struct nt_wsc_frame {
    bool fin;
    uint8_t opcode;
    size_t header;    /* bytes of the header */
    uint64_t len;     /* payload bytes */
    const char *what; /* NT_WSC_BAD: why */
};

enum nt_wsc_status { NT_WSC_FRAME, NT_WSC_MORE, NT_WSC_BAD };

/*
 * Decodes the header of the server frame at p (avail bytes): NT_WSC_FRAME with *f filled (its
 * payload may not have come yet: check f->header + f->len against avail), NT_WSC_MORE when the
 * header itself is not complete, NT_WSC_BAD for a frame a server must not send (masked, an RSV
 * bit without an extension, a reserved opcode, a control frame fragmented or over 125 bytes, a
 * 64-bit length with its top bit set); f->what then says which.
 */
enum nt_wsc_status nt_wsc_decode(const char *p, size_t avail, struct nt_wsc_frame *f);

/* XORs len bytes at p with the 4-byte mask key (key's bytes in memory order, as on the wire),
 * eight bytes at a time. */
void nt_wsc_mask(char *p, size_t len, uint32_t key);

/* The size of a client frame with len bytes of payload: header, mask key, payload. */
size_t nt_wsc_frame_size(size_t len);

/* Writes the header of a final client frame (FIN, opcode, MASK, the shortest length form and
 * key) to out; returns its size (6, 8 or 14). The payload goes right after it, masked. */
size_t nt_wsc_header(char *out, enum nt_wsc_opcode opcode, size_t len, uint32_t key);

/* Writes a whole final client frame of payload p[0..len) masked with key to out (which has room
 * for nt_wsc_frame_size(len) bytes); returns its size. */
size_t nt_wsc_frame(char *out, enum nt_wsc_opcode opcode, const char *p, size_t len, uint32_t key);

/* Seeds a mask-key generator state from the system's random source (never 0). */
uint64_t nt_wsc_seed(void);

/* The next mask key of the xorshift64* state *s. Mask keys need not be secret to a test
 * client: they only keep proxies from reading frames as requests (RFC 6455 §10.3). */
static inline uint32_t nt_wsc_next_key(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (uint32_t)((x * UINT64_C(0x2545F4914F6CDD1D)) >> 32);
}

#endif
