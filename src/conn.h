/* SPDX-License-Identifier: MIT */
/* conn.h - one client: read -> framer -> chat; its send queue; the close state machine. */
#ifndef NT_CONN_H
#define NT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "framer.h"
#include "msg.h"
#include "timeouts.h"
#include "util.h"

struct nt_server;
struct nt_room;

enum nt_conn_state {
    NT_CONN_NAMING, /* prompted, no valid name yet */
    NT_CONN_NAMED,  /* in the chat */
    NT_CONN_ECHO,   /* echo mode */
    NT_CONN_LINGER, /* out of the chat; flushing a goodbye, then FIN, then waiting for the peer */
    NT_CONN_CLOSING /* uv_close() called; freed in the close callback */
};

struct nt_conn {
    uv_tcp_t tcp;          /* embedded handle; tcp.data unused */
    struct nt_server *srv; /* borrowed */
    uint64_t id;           /* for logs */
    char peer[64];         /* "127.0.0.1:50514" or "[::1]:50514" */
    char ip[48];           /* the address alone: "127.0.0.1", "::1" */
    enum nt_conn_state state;
    struct nt_framer framer; /* owned buffer */
    char *name;              /* owned, NUL-terminated; NULL until named */
    size_t name_len;
    unsigned name_attempts; /* refused names so far */
    const char *reason;     /* static; why it is leaving, once decided */
    char *leave_notice;     /* owned; replaces "has left the chat" (kick, /quit REASON) */
    struct nt_room *room;   /* borrowed; the room while named */
    bool is_oper;           /* /oper succeeded */
    bool is_ip_counted;     /* counted in the server's per-address table */

    /* Flood control (PROTOCOL.md §7.9): a token bucket in thousandths of a line. While it is
     * empty, reading stops and the unread part of the last read waits in backlog. */
    uint64_t tokens;
    uint64_t refilled_ms; /* uv_now() of the last refill */
    char *backlog;        /* owned; at most one read's worth */
    size_t backlog_len, backlog_off;
    struct nt_timeout_node throttle;

    /* Send queue: a ring of refs not yet handed to libuv (STYLE.md, ownership rule 4). */
    struct nt_msg **q; /* owned array of refs */
    uint32_t q_head, q_len, q_cap;
    uint32_t q_off; /* bytes of q[q_head] already written */
    size_t q_bytes; /* unwritten bytes in the ring */

    /* At most one uv_write in flight; it holds the refs it writes until its callback. */
    uv_write_t *wreq;         /* owned, NULL when no write is in flight */
    struct nt_msg **inflight; /* owned array of refs, n_inflight of them */
    uint32_t n_inflight;
    uv_shutdown_t *sreq; /* owned, while a shutdown is pending */

    bool fin_after_flush;      /* LINGER: half-close once the queue is empty */
    bool is_counted;           /* counts against max_clients (refused conns do not) */
    bool has_left;             /* nt_chat_leave() ran */
    bool got_eof;              /* the peer half-closed: close once our FIN is out */
    struct nt_list dirty_link; /* in srv->dirty while it has output to flush */
    struct nt_list all_link;   /* in srv->conns */
    struct nt_list hub_link;   /* in the hub's member list while named */
    struct nt_timeout_node timeout;
};

/*
 * Sets up a conn for a new connection on srv's listener `server` and accepts it. Returns the
 * conn (owned by srv's conn list, freed by its close callback), or NULL when accepting failed (the
 * error is logged).
 */
struct nt_conn *nt_conn_accept(struct nt_server *srv, uv_stream_t *server);

/*
 * A conn with no socket, for tests and the protocol fuzzer: as if accepted from ip. Its output
 * stays in its queue (q) unless the loop's flush runs; a flush fails on the missing socket and
 * closes it.
 */
struct nt_conn *nt_conn_new_detached(struct nt_server *srv, const char *ip);

/*
 * Handles bytes read from c's peer: frames them and runs each line through the chat (with flood
 * control, which may keep the rest in c's backlog and stop reading). May close c (it stays valid
 * until its close callback).
 */
void nt_conn_input(struct nt_conn *c, const char *in, size_t in_len);

/* Handles the peer's end of input: a pending partial line counts as a last line (§5.1), then
 * c says goodbye with reason "quit". */
void nt_conn_end_of_input(struct nt_conn *c);

/* Formats an IPv4 or IPv6 address with its port as "1.2.3.4:80" or "[::1]:80" into out. Used
 * for peers and for the addresses the server listens on. */
void nt_conn_format_addr(const struct sockaddr_storage *ss, char *out, size_t size);

/* Starts reading from c. */
void nt_conn_start(struct nt_conn *c);

/*
 * Queues msg for c. Takes its own reference; the caller keeps theirs. Returns 0, or UV_ECANCELED
 * when c no longer takes output (lingering or closing), or UV_ENOBUFS when c went over
 * --max-output (c is then dropped as a slow consumer: out of the chat, lingering). Never frees c:
 * it is valid on return. The bytes leave in this loop iteration's flush.
 */
int nt_conn_send(struct nt_conn *c, struct nt_msg *msg);

/* Queues a copy of the NUL-terminated str for c, like nt_conn_send(). */
int nt_conn_send_str(struct nt_conn *c, const char *str);

/*
 * Takes c out of the chat for reason (a static string, see docs/OPERATIONS.md), queues goodbye
 * (may be NULL) past the output cap, flushes, half-closes, and closes when the peer closes or the
 * linger time passes (PROTOCOL.md §4.6). Idempotent; safe in any callback.
 */
void nt_conn_goodbye(struct nt_conn *c, const char *goodbye, const char *reason);

/*
 * Closes c now: takes it out of the chat for reason (if not yet), drops its queued output and
 * calls uv_close() once. Idempotent; safe in any callback and while the hub iterates. c is freed
 * by the close callback, on a later loop phase.
 */
void nt_conn_close(struct nt_conn *c, const char *reason);

/* Writes out c's queued output (called by the server's flush, once per loop iteration). */
void nt_conn_flush(struct nt_conn *c);

/* Resumes a conn paced by flood control: refills its bucket, handles its backlog, and reads
 * again once the backlog is gone (or waits for the next token). */
void nt_conn_unthrottle(struct nt_conn *c);

/* Pending output: bytes queued by natter plus bytes libuv holds unwritten. */
size_t nt_conn_pending(const struct nt_conn *c);

#endif
