/* SPDX-License-Identifier: MIT */
/* conn.h - one connection: transport, send queue, caps, deadlines, the close state machine. */
#ifndef NT_CONN_H
#define NT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lib/msg.h"
#include "lib/util.h"
#include "net/net.h"
#include "net/tcp.h"
#include "net/timeouts.h"
#include "net/transport.h"

struct nt_conn;
struct nt_tls_ctx;

/* What a door does with its conn. net/ calls up through this, never into chat/ or door/. */
struct nt_conn_handler {
    /* The door's name, for metrics: "line", "irc", "http" ("none" before a door took it). */
    const char *name;
    /* Bytes from the peer. Returns how many it took; fewer than len pauses reading (flood
     * control): the rest is kept and offered again when the THROTTLE deadline passes. */
    size_t (*on_data)(struct nt_conn *c, const char *data, size_t len);
    /* The peer half-closed (it may still read). The door says goodbye or closes. */
    void (*on_eof)(struct nt_conn *c);
    /* c stopped taking input (a goodbye or a close began), for reason; once, first thing. */
    void (*on_end)(struct nt_conn *c, const char *reason);
    /* c's NAME or IDLE deadline passed. */
    void (*on_timeout)(struct nt_conn *c, enum nt_timeout_kind kind);
    /* c is about to be freed: the door frees its session. */
    void (*on_closed)(struct nt_conn *c);
    /* Optional: writes the bytes of c's goodbye (text: the line natter would send, without LF,
     * or NULL; reason: why c ends) into out (cap bytes, line ending included) and returns their
     * count (0: nothing). A door whose protocol is not lines of text (IRC's ERROR) sets it; NULL
     * sends text and LF. */
    size_t (*goodbye)(struct nt_conn *c, const char *text, const char *reason, char *out,
                      size_t cap);
};

/* The room a door's goodbye hook has (nt_conn_handler.goodbye). */
#define NT_CONN_GOODBYE_MAX 512

enum nt_conn_state {
    NT_CONN_OPEN,   /* reading and writing */
    NT_CONN_LINGER, /* flushing a goodbye, then FIN, then waiting for the peer */
    NT_CONN_CLOSING /* uv_close() called; freed in the close callback */
};

struct nt_conn {
    struct nt_tcp tcp;               /* embedded: the bottom transport */
    struct nt_transport *tls;        /* owned, or NULL for plaintext */
    struct nt_transport *ws;         /* owned, or NULL: a WebSocket over tcp or tls */
    struct nt_transport *t;          /* the top transport: &tcp.base, tls or ws */
    struct nt_net *net;              /* borrowed */
    const struct nt_conn_handler *h; /* static; a door's */
    void *ctx;                       /* the door's session, owned by the door */
    uint64_t id;                     /* for logs */
    char peer[64];                   /* "127.0.0.1:50514" or "[::1]:50514" */
    char ip[48];                     /* the address alone: "127.0.0.1", "::1" */
    enum nt_conn_state state;
    const char *reason;   /* static; why it ends, once decided */
    bool is_over;         /* a send went over --max-output: queue dropped, takes nothing more */
    bool has_ended;       /* on_end ran */
    bool fin_after_flush; /* LINGER: half-close once the queue is empty */
    bool got_eof;         /* the peer half-closed: close once our FIN is out */
    bool is_reading;
    bool is_counted;    /* the server counts it against --max-clients */
    bool is_ip_counted; /* the server counts it in its per-address table */

    /* Paused input (flood control): the unread part of one read. */
    char *backlog; /* owned */
    size_t backlog_len, backlog_off;

    /* Send queue: a ring of refs not yet handed to the transport (STYLE.md, ownership rule 4). */
    struct nt_msg **q; /* owned array of refs */
    uint32_t q_head, q_len, q_cap;
    uint32_t q_off; /* bytes of q[q_head] already written */
    size_t q_bytes; /* unwritten bytes in the ring */

    /* At most one zero-copy write in flight; it holds the refs it writes until its callback. */
    uv_write_t *wreq;         /* owned, NULL when no write is in flight */
    struct nt_msg **inflight; /* owned array of refs, n_inflight of them */
    uint32_t n_inflight;
    bool is_shutting; /* a transport shutdown is pending */

    /* Stall detection: bytes the transport took and what it still held, when last checked. */
    uint64_t taken;
    uint64_t stall_taken, stall_pending;

    struct nt_list dirty_link;       /* in net->dirty while it has output to flush */
    struct nt_list all_link;         /* in net->conns */
    struct nt_timeout_node timeout;  /* NAME, IDLE (the door's) or LINGER */
    struct nt_timeout_node throttle; /* THROTTLE: paused input */
    struct nt_timeout_node stall;    /* STALL: output waits and nothing is taken */
};

/*
 * Accepts a connection from listener `server` into a new conn (owned by net's conn list, freed
 * by its close callback), over TLS when tls_ctx is not NULL. The conn has a handler that ignores
 * everything until a door sets its own (nt_conn_set_handler). Returns NULL when accepting failed
 * (logged).
 */
struct nt_conn *nt_conn_accept(struct nt_net *net, uv_stream_t *server, struct nt_tls_ctx *tls_ctx);

/* A conn with no socket, for tests and the protocol fuzzer: as if accepted from ip. Its output
 * stays in its queue (q) unless the loop's flush runs; a flush fails on the missing socket and
 * closes it. */
struct nt_conn *nt_conn_new_detached(struct nt_net *net, const char *ip);

/* Takes the oldest queued message off c's queue, as if written (tests and the fuzzer read a
 * detached conn's output this way). Returns a reference for the caller, or NULL when empty. */
struct nt_msg *nt_conn_take_queued(struct nt_conn *c);

/* Sets the door's handler and session. */
void nt_conn_set_handler(struct nt_conn *c, const struct nt_conn_handler *h, void *ctx);

/* Starts reading from c (closes c on failure). */
void nt_conn_start(struct nt_conn *c);

/* Offers bytes to the handler as a read would, with flood-control pausing (for the fuzzer). */
void nt_conn_input(struct nt_conn *c, const char *in, size_t in_len);

/* Offers bytes as a socket read would, to the user of c's bottom transport: a WebSocket (or TLS)
 * transport above it decodes them first, then nt_conn_input() (for the fuzzer). */
void nt_conn_read(struct nt_conn *c, const char *data, size_t n);

/*
 * Queues msg for c. Takes its own reference; the caller keeps theirs. Returns 0; UV_ECANCELED
 * when c takes no output (lingering, closing, or over its cap); or UV_ENOBUFS when this message
 * would take c over --max-output: its queue is dropped, it takes nothing more, and the caller
 * must have it dropped at a safe point (nt_conn_goodbye with reason "slow"). Never closes or
 * frees anything. The bytes leave in this loop iteration's flush.
 */
int nt_conn_send(struct nt_conn *c, struct nt_msg *msg);

/*
 * Queues a door's own bytes (not an event's format bytes, which are already what the transport
 * needs) like nt_conn_send(): over a WebSocket, as the frames of its lines (net/ws.h), else msg
 * itself.
 */
int nt_conn_send_text(struct nt_conn *c, struct nt_msg *msg);

/* Queues a copy of the n bytes at data for c, like nt_conn_send_text(). */
int nt_conn_send_bytes(struct nt_conn *c, const char *data, size_t n);

/*
 * The connection is a WebSocket from now on (its handshake's 101 is queued): a WebSocket
 * transport (net/ws.h) goes on top of c's transport, framing with opcode (NT_WS_TEXT or
 * NT_WS_BINARY). The door that takes c next picks its event formats by nt_conn_framing().
 */
void nt_conn_upgrade_ws(struct nt_conn *c, int opcode);

/* How c's output is framed, for a door's event formats: 0 (a byte stream), or the WebSocket
 * opcode of its messages (NT_WS_TEXT, NT_WS_BINARY). */
int nt_conn_framing(const struct nt_conn *c);

/*
 * Ends c: calls the handler's on_end(reason), queues goodbye (a line without LF, may be NULL)
 * past the output cap, flushes, half-closes, and closes when the peer closes or the linger time
 * passes (PROTOCOL.md §4.6). Idempotent; safe in any callback but a delivery.
 */
void nt_conn_goodbye(struct nt_conn *c, const char *goodbye, const char *reason);

/* Closes c now: on_end(reason) if not yet, drops its output, uv_close() once. Idempotent. c is
 * freed by the close callback, on a later loop phase. */
void nt_conn_close(struct nt_conn *c, const char *reason);

/* Offers c's door again what it left unread (a member that waited for the other nodes' answer
 * on its name: door/cluster.c), now, and reads on. */
void nt_conn_resume(struct nt_conn *c);

/* Writes out c's queued output (net's flush calls this once per loop iteration). */
void nt_conn_flush(struct nt_conn *c);

/* Pending output: bytes queued by natter plus bytes the transport holds unwritten. */
size_t nt_conn_pending(const struct nt_conn *c);

/* Sets c's door deadline (NAME or IDLE), or clears it with NT_TIMEOUT_KINDS. */
void nt_conn_set_deadline(struct nt_conn *c, enum nt_timeout_kind kind);

/* Restarts c's door deadline after activity. O(1). */
void nt_conn_touch(struct nt_conn *c);

/* The loop's time in milliseconds (for flood control). */
uint64_t nt_conn_now_ms(const struct nt_conn *c);

/* Whether c is over TLS. */
bool nt_conn_is_tls(const struct nt_conn *c);

/*
 * Initialises net on loop with limits and the duration of each deadline kind (NAME, IDLE and
 * THROTTLE come from the doors' settings; LINGER is NT_LINGER_MS; STALL is --stall-timeout): the
 * per-iteration flush of every dirty conn and the deadlines. Returns 0 or a libuv error.
 */
int nt_conn_net_init(struct nt_net *net, uv_loop_t *loop, const struct nt_net_limits *limits,
                     const uint64_t *durations_ms);

/* New limits and deadlines' durations (a reload): output caps apply from the next message queued,
 * deadlines running move by the change (nt_timeouts_set_duration). */
void nt_conn_net_reload(struct nt_net *net, const struct nt_net_limits *limits,
                        const uint64_t *durations_ms);

/* Closes net's handles (asynchronous); call once every conn is closing. */
void nt_conn_net_close(struct nt_net *net);

/* The deadline callback (nt_conn_net_init passes it to the timeouts). */
void nt_conn_expired(struct nt_timeouts *t, struct nt_timeout_node *node);

/* Cuts the conn with the largest backlog (net's flush, past --max-output-total). */
void nt_conn_cut_largest(struct nt_net *net);

#endif
