/* SPDX-License-Identifier: MIT */
/* ws.h - RFC 6455 WebSocket framing for the web door: client frames decoded (and unmasked) as a
 * stream, server frames encoded, close codes checked, the handshake's accept key. Pure: no I/O. */
#ifndef NT_WS_H
#define NT_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define NT_WS_MAX_PAYLOAD                                                                          \
    ((size_t)1024 * 1024)       /* a frame header declaring more is closed with 1009 */
#define NT_WS_MAX_CONTROL   125 /* a control frame's payload (§5.5) */
#define NT_WS_MAX_HEADER    14  /* a client frame's header: 2 + 8 length + 4 mask */
#define NT_WS_SERVER_HEADER 10  /* a server frame's header at most (no mask) */

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

/* What nt_ws_read() stopped for. */
enum nt_ws_event {
    NT_WS_EV_NONE = 0, /* all the input was taken */
    NT_WS_EV_PING,     /* a Ping came: its payload is r->ctl[0..ctl_len) (answer with a Pong) */
    NT_WS_EV_PONG,     /* a Pong came (nothing to do) */
    NT_WS_EV_CLOSE,    /* a valid Close came: r->close_code (1005: none given) */
    /* Any other value is the close code of a failure: NT_WS_CLOSE_PROTOCOL, _BAD_DATA, _TOO_BIG. */
};

/*
 * A client's frame stream, decoded as it arrives (in any pieces): the payload of data messages
 * goes out unmasked, each message followed by one LF, so a line door's framer reads one message
 * as one line (RFC 6455 §5.4 fragments are joined; control frames between them are taken out).
 * Text messages are checked as UTF-8 as they come (§8.1). Caller's storage; no allocation.
 */
struct nt_ws_reader {
    size_t max_payload;                  /* a frame header declaring more: NT_WS_CLOSE_TOO_BIG */
    unsigned char hdr[NT_WS_MAX_HEADER]; /* the current frame's header, as far as it came */
    uint8_t hdr_len;
    bool in_payload; /* the header is done: payload bytes follow */
    bool fin;
    uint8_t opcode;     /* the current frame's */
    uint8_t msg_opcode; /* TEXT or BINARY while a data message is open, else 0 */
    uint8_t mask_at;    /* payload bytes of the frame so far, mod 4 */
    unsigned char mask[4];
    uint64_t left; /* payload bytes of the current frame still to come */
    uint32_t utf8; /* the open text message's UTF-8 state: continuation bytes awaited... */
    unsigned char ctl[NT_WS_MAX_CONTROL]; /* a control frame's payload */
    size_t ctl_len;
    unsigned close_code; /* after NT_WS_EV_CLOSE */
};

/* Readies r for a new stream, refusing frames over max_payload bytes. */
void nt_ws_reader_init(struct nt_ws_reader *r, size_t max_payload);

/*
 * Decodes in[0..n) and appends the data it carries to out (at *out_len; out has room for n + 1
 * more bytes: a frame header is longer than the LF it becomes, but a frame whose header came in
 * an earlier call may end in this one).
 * Stops after the input (NT_WS_EV_NONE), after a whole control frame (PING, PONG, CLOSE: call
 * again with the rest), or at the first thing a client must not send, returning its close code:
 * NT_WS_CLOSE_PROTOCOL (an unmasked frame, an RSV bit, a reserved opcode, a fragmented or long
 * control frame, a continuation with no message open or a new message inside one, a bad Close
 * payload), NT_WS_CLOSE_BAD_DATA (a text message that is not UTF-8, as soon as it is seen),
 * NT_WS_CLOSE_TOO_BIG (a header declaring more than max_payload). *used says how much of in it
 * took. After a failure or CLOSE the stream is over: do not call again.
 */
int nt_ws_read(struct nt_ws_reader *r, const char *in, size_t n, size_t *used, char *out,
               size_t *out_len);

/*
 * The frames of the lines in data[0..n): every line (up to an LF, a CR before it dropped, and a
 * last one without LF too) as one unfragmented message of opcode (TEXT or BINARY). A text line
 * that is not valid UTF-8 is cut before its first invalid byte (a peer must never get a text
 * frame it has to fail). Returns a message with one reference for the caller.
 */
struct nt_msg *nt_ws_frame_lines(enum nt_ws_opcode opcode, const char *data, size_t n);

/* Writes a Close frame with code (0: no code) and no reason to out; returns its size (2 or 4). */
size_t nt_ws_close_frame(unsigned code, unsigned char out[4]);

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
