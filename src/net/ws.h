/* SPDX-License-Identifier: MIT */
/* ws.h - the WebSocket transport (RFC 6455): client frames in, a door's framed messages out. */
#ifndef NT_NET_WS_H
#define NT_NET_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/msg.h"
#include "lib/ws.h"
#include "net/transport.h"

/*
 * A WebSocket over lower (TCP or TLS, borrowed; it must outlive this transport), after the
 * handshake: makes itself lower's user. What it reads is the data of the client's messages, each
 * followed by an LF (lib/ws.c nt_ws_read), passed up as one read per lower read; a Ping is
 * answered with a Pong through up->on_reply, a Close with a Close, then up->on_read(UV_EOF); a
 * client's protocol error queues a Close with its code (nt_ws_error() says which) and ends the
 * same way. What it writes must already be frames (nt_ws_frame() or an event's WebSocket format):
 * writes and the shutdown pass to lower unchanged, so the zero-copy write of TCP stays.
 * opcode is that of every message it frames: NT_WS_TEXT, or NT_WS_BINARY (binary.ircv3.net).
 * Returns it, to be freed with nt_ws_free() after the lower stream closed.
 */
struct nt_transport *nt_ws_new(struct nt_transport *lower, enum nt_ws_opcode opcode);

/* Frees t (from nt_ws_new()). */
void nt_ws_free(struct nt_transport *t);

/* The opcode t frames messages with. */
enum nt_ws_opcode nt_ws_opcode(const struct nt_transport *t);

/* The frames of the lines in data[0..n) as t sends them (nt_ws_frame_lines), one reference for
 * the caller; an empty message once t's Close is queued (nothing may follow it, §5.5.1). */
struct nt_msg *nt_ws_frame(struct nt_transport *t, const char *data, size_t n);

/*
 * The last bytes t sends: the frames of data[0..n) and a Close frame (1001 when reason is
 * "shutdown", 1008 for a reader cut off: "slow", "stalled", "memory"; else 1000), and from then on
 * nt_ws_frame() frames nothing; NULL when t's Close was already queued (the peer closed, or a
 * protocol error). One reference for the caller.
 */
struct nt_msg *nt_ws_goodbye(struct nt_transport *t, const char *data, size_t n,
                             const char *reason);

/* Why t failed the connection ("1009 message too big"), or NULL while it did not. Static. */
const char *nt_ws_error(const struct nt_transport *t);

#endif
