/* SPDX-License-Identifier: MIT */
/* ws.h - RFC 6455 WebSocket framing for the web door: client frames decoded (and unmasked) in
 * place, server frame headers encoded, close codes checked. Pure: no I/O, no allocation. */
#ifndef NT_WS_H
#define NT_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NT_WS_MAX_PAYLOAD   (1024 * 1024) /* a frame header declaring more is closed with 1009 */
#define NT_WS_MAX_CONTROL   125           /* a control frame's payload (§5.5) */
#define NT_WS_MAX_HEADER    14            /* a client frame's header: 2 + 8 length + 4 mask */
#define NT_WS_SERVER_HEADER 10            /* a server frame's header at most (no mask) */

enum nt_ws_opcode {
    NT_WS_CONTINUATION = 0x0,
    NT_WS_TEXT = 0x1,
    NT_WS_BINARY = 0x2,
    NT_WS_CLOSE = 0x8,
    NT_WS_PING = 0x9,
    NT_WS_PONG = 0xA,
};

/* Close codes (§7.4.1) the door sends. */
#define NT_WS_CLOSE_NORMAL     1000
#define NT_WS_CLOSE_GOING_AWAY 1001
#define NT_WS_CLOSE_PROTOCOL   1002
#define NT_WS_CLOSE_BAD_DATA   1007 /* a text message that is not UTF-8 */
#define NT_WS_CLOSE_POLICY     1008
#define NT_WS_CLOSE_TOO_BIG    1009

/* One decoded frame; payload points into the buffer given, already unmasked. */
struct nt_ws_frame {
    bool fin;
    uint8_t opcode;
    char *payload;
    size_t len;
    size_t frame_len; /* header and payload: the bytes this frame took */
};

/*
 * Decodes the client frame at the start of buf[0..len) (RFC 6455 §5.2) and unmasks its payload in
 * place. Returns 1 with *f filled; 0 when the frame is not complete yet (read more); or a close
 * code: NT_WS_CLOSE_PROTOCOL for a frame a client must not send (not masked, an RSV bit set,
 * a reserved opcode, a control frame that is fragmented or longer than 125 bytes, a 64-bit
 * length with its top bit set), NT_WS_CLOSE_TOO_BIG as soon as the header declares a payload
 * over max_payload. The header is judged before its payload has come.
 */
int nt_ws_decode(char *buf, size_t len, size_t max_payload, struct nt_ws_frame *f);

/* Writes the header of an unmasked server frame (§5.2, the shortest length form) to out;
 * returns its size (2, 4 or 10). */
size_t nt_ws_header(enum nt_ws_opcode opcode, bool fin, uint64_t len,
                    unsigned char out[NT_WS_SERVER_HEADER]);

/* Whether code may appear in a Close frame received (§7.4): 1000-1003, 1007-1011, 3000-4999. */
bool nt_ws_close_code_ok(unsigned code);

/*
 * The Sec-WebSocket-Accept value for key (§4.2.2): base64(SHA-1(key + the GUID)). sha1 is given
 * by the caller (lib/ has no crypto of its own): it hashes n bytes into 20. Writes 28 characters
 * and a NUL to out.
 */
void nt_ws_accept(const char *key, size_t key_len,
                  void (*sha1)(const void *data, size_t n, unsigned char digest[20]), char out[29]);

/* Whether key is a valid Sec-WebSocket-Key: base64 of 16 bytes (24 characters, "==" at the end). */
bool nt_ws_key_ok(const char *key, size_t key_len);

#endif
