/* SPDX-License-Identifier: MIT */
/* bench.h - state shared by the coordinator (run.c) and the I/O workers (worker.c). */
#ifndef NT_BENCH_BENCH_H
#define NT_BENCH_BENCH_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "options.h"
#include "payload.h"

#define NT_NAME_MAX  48
#define NT_CACHELINE 64

/* What the workers do; the coordinator moves it forward and wakes every worker. */
enum nt_phase {
    NT_PHASE_SETUP,   /* connect, handshake, join; no sending */
    NT_PHASE_WARMUP,  /* senders send; nothing measured */
    NT_PHASE_MEASURE, /* the measured window; stalled receivers stop reading */
    NT_PHASE_DRAIN,   /* senders stop; receivers read what is still in flight */
    NT_PHASE_STOP     /* workers close everything and return */
};

/* Outcomes counted per worker, for the active receivers and, apart, the stalled ones. */
struct nt_counters {
    uint64_t deliveries; /* payloads that passed every check, in order or late */
    uint64_t lost;       /* sequence numbers skipped (minus those that came late) */
    uint64_t dups;       /* a sequence number received twice */
    uint64_t reorders;   /* a sequence number received after a later one */
    uint64_t corrupt;    /* a message-shaped frame whose payload or sender name is wrong */
    uint64_t unexpected; /* a line or frame that is neither a message nor a known notice */
    uint64_t goodbyes;   /* natter "Disconnected: ..." lines, IRC "ERROR :..." */
    uint64_t closed;     /* connections the server closed (EOF or error) after setup */
};

/* One sender as the receivers of every worker see it. One cache line each. */
struct nt_sender_shared {
    _Atomic uint64_t delivered; /* every seq below this reached every active receiver */
    _Atomic uint64_t sent;      /* messages sent so far (written by the owning worker) */
    _Atomic uint32_t *slots;    /* [ring]: workers done with the seq in that slot */
    uint32_t owner;             /* the worker that writes this sender's socket */
    uint32_t name_len;
    char name[NT_NAME_MAX]; /* natter: the name the receivers see before ": "; IRC: the nick */
} __attribute__((aligned(NT_CACHELINE)));

struct nt_worker;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX (tls.h) */
struct ssl_st;     /* OpenSSL's SSL */

struct nt_bench {
    const struct nt_options *opt;
    struct sockaddr_in dst; /* the control client's: the first --port */
    /* Receiver i connects to recv_dst[i % n_recv_ports] (--port), sender j to
     * send_dst[j % n_send_ports] (--sender-port, or --port's when none). */
    struct sockaddr_in recv_dst[NT_LIST_MAX];
    struct sockaddr_in send_dst[NT_LIST_MAX];
    uint32_t n_recv_ports, n_send_ports;
    struct nt_payload_fmt fmt;
    char tag[8];   /* makes the names of this run unique: "r12_k3x9" */
    char name_sep; /* between role+number and tag: '_' (names have no '.', PROTOCOL.md §2.2) */

    uint32_t n_recv;  /* receivers (connections mode: the idle clients) */
    uint32_t n_send;  /* sender connections (0 in connections mode) */
    uint32_t n_track; /* senders whose sequences receivers track (1 in connections mode) */
    uint32_t n_stalled;
    uint32_t window;
    uint32_t ring;     /* power of two >= window */
    bool track_window; /* throughput and stalled: senders wait for deliveries */
    uint32_t n_sources;
    uint32_t n_active_workers; /* workers holding at least one active receiver */

    struct nt_sender_shared *snd; /* [n_track] */

    /* Frames, built once. The outgoing message is pub_pre + payload + pub_suf; an incoming one
     * (Redis, NATS) is msg_pre + payload + "\r\n"; for IRC msg_pre is what comes between the
     * sender's prefix and the payload, " PRIVMSG #channel :". */
    char pub_pre[128];
    size_t pub_pre_len;
    char pub_suf[4];
    size_t pub_suf_len;
    size_t frame_len; /* pub_pre_len + size + pub_suf_len */
    char msg_pre[128];
    size_t msg_pre_len;
    size_t msg_len;
    char recv_hello[256]; /* Redis SUBSCRIBE; NATS CONNECT+SUB+PING; IRC JOIN (every conn) */
    size_t recv_hello_len;
    char send_hello[128]; /* NATS CONNECT+PING */
    size_t send_hello_len;
    uint64_t period_ns; /* latency mode: time between two messages of one sender */

    struct ssl_ctx_st *tls_ctx; /* owned: --tls, every session's context; else NULL */
    /* --ws: every connection upgrades to a WebSocket; each line above (pub_pre + payload,
     * the control lines) is one masked text message instead, without its line end, and
     * frame_len is that of a sender's framed message. */
    bool ws;
    const char *ws_proto; /* borrowed: the subprotocol asked for, NULL = none */

    _Atomic int phase;
    uint64_t t_warmup_ns; /* written before the phase moves to WARMUP */

    /* natter: leave notices seen (IRC: QUIT or KICK), per receiver and per sender; first time
     * one was seen. */
    _Atomic uint8_t *left_recv;
    _Atomic uint8_t *left_send;
    _Atomic uint64_t first_stalled_left_ns;
    _Atomic uint64_t senders_stopped; /* DRAIN: senders whose final count is published */

    struct nt_worker *workers;
    uint32_t n_workers;

    pthread_mutex_t lock; /* guards error */
    _Atomic int failed;
    char error[512];
};

/* Per-connection sequence state for one sender. */
struct nt_seq {
    uint64_t next; /* the seq expected next */
    uint64_t bits; /* bit i: seq next-1-i was received */
};

enum nt_role { NT_ROLE_RECV, NT_ROLE_SEND };
enum nt_state {
    NT_ST_IDLE,       /* not connected yet */
    NT_ST_CONNECTING, /* non-blocking connect in progress */
    NT_ST_TLS,        /* --tls: connected, TLS handshake in progress */
    NT_ST_UPGRADE,    /* --ws: upgrade request sent, waiting for the 101 */
    NT_ST_HELLO,      /* natter: waiting for the prompt; NATS: waiting for INFO; IRC: NICK and
                         USER sent, waiting for 001 */
    NT_ST_MOTD,       /* IRC: registered, waiting for the end of the MOTD (376 or 422) */
    NT_ST_JOINING,    /* natter: name sent, waiting for the marker's join notice; Redis: waiting
                         for the subscribe reply; NATS: waiting for PONG; IRC: JOIN sent,
                         waiting for 366 */
    NT_ST_READY,
    NT_ST_DEAD
};

struct nt_conn {
    int fd;
    uint8_t role;
    uint8_t state;
    bool is_stalled; /* stalled mode: one of the K */
    bool is_paused;  /* stalled and not reading now */
    bool is_cut;     /* the server closed it or said goodbye */
    bool want_out;   /* EPOLLOUT registered */
    bool in_burst;   /* counted in the worker's connections not yet answered by the server */
    uint8_t port;    /* index into recv_dst (receivers) or send_dst (senders) */
    uint32_t idx;    /* receiver or sender number */
    uint32_t carry_len, carry_cap;
    char *carry; /* owned: the start of an incomplete frame */
    /* receivers */
    struct nt_seq *seq; /* owned, [n_track] */
    uint64_t progress;  /* sum of seq[].next */
    uint64_t cut_ns;
    /* senders, and small control writes on any connection */
    char *out; /* owned */
    size_t out_off, out_len, out_cap;
    uint64_t next_seq;
    uint64_t next_due; /* latency mode */

    struct ssl_st *ssl; /* owned: --tls, the session over this socket; else NULL */

    /* --ws */
    char ws_accept[29]; /* the Sec-WebSocket-Accept the 101 must carry */
    bool in_msg;        /* a fragmented message is being put together in msg */
    uint8_t msg_op;     /* its opcode (text or binary) */
    uint32_t msg_len, msg_cap;
    char *msg; /* owned: the fragments so far */
};

struct nt_worker {
    struct nt_bench *b;
    uint32_t id;
    pthread_t thread;
    int epfd;
    int efd; /* eventfd: the coordinator's and other workers' doorbell */
    _Atomic int sleeping;

    struct nt_conn *conns; /* owned: receivers first, then senders */
    uint32_t n_conns, n_recv, n_active;
    /* Set-up: the next connection to open; how many are open but not yet answered by the server
     * (so maybe not even accepted), and the most allowed. */
    uint32_t next_connect, connecting, max_connecting;

    uint32_t *acks; /* owned, [n_track * ring]: receipts by this worker's active receivers */
    char *rbuf;     /* owned: carry room + read buffer */
    char *cbuf;     /* owned, --tls: ciphertext read from a socket */
    uint64_t now;
    bool measuring;

    struct nt_counters k[2]; /* [0] active receivers, [1] stalled receivers */
    struct nt_hist hist;
    /* Per --port (index into recv_dst): deliveries to the active receivers on it, and with
     * more than one port their latencies (owned, [n_recv_ports]; NULL with one port). */
    uint64_t port_deliv[NT_LIST_MAX];
    struct nt_hist *port_hist;
    uint64_t sender_lines;      /* natter, IRC: lines senders received (others' messages) */
    uint64_t pub_replies;       /* Redis: PUBLISH replies */
    uint64_t pub_min_receivers; /* Redis: smallest receiver count a PUBLISH reply gave */
    uint64_t pub_drop_ns;       /* Redis: when a reply first counted fewer than all receivers */
    uint64_t server_errors;     /* Redis "-ERR", NATS "-ERR", IRC numerics 400-599 */
    char server_error[160];
    char tls_info[64]; /* --tls: "TLSv1.3 CIPHER" of this worker's first session */
    uint64_t ws_rng;   /* --ws: mask keys (nt_wsc_next_key) */
    uint64_t ws_pings; /* --ws: pings the server sent (each answered) */

    /* Published for the coordinator (relaxed stores, once per loop iteration). */
    _Atomic uint64_t p_deliv[2];
    _Atomic uint64_t p_port_deliv[NT_LIST_MAX]; /* port_deliv */
    _Atomic uint64_t p_tls;                     /* --tls: TLS handshakes completed */
    _Atomic uint64_t p_ws;                      /* --ws: upgrades answered with a valid 101 */
    _Atomic uint64_t p_named; /* handshake sent (natter: name; IRC: registered, 001) */
    _Atomic uint64_t p_ready; /* joined: may send and receive */
    _Atomic int p_drained;
} __attribute__((aligned(NT_CACHELINE)));

/* The monotonic clock in ns (the payload's clock). */
uint64_t nt_now_ns(void);

/* Records the first fatal error (printf-style) and marks the run failed. Thread-safe. */
void nt_bench_fail(struct nt_bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Wakes worker w if it waits in epoll (eventfd write). Thread-safe. */
void nt_worker_wake(struct nt_worker *w);

/*
 * Sets up worker w's connections (receivers [first_recv, +n_recv) step stride, senders owned by
 * it) and buffers. Returns 0 or -errno. The thread is started by nt_worker_start.
 */
int nt_worker_init(struct nt_worker *w, struct nt_bench *b, uint32_t id);

/* Starts w's thread. Returns 0 or -errno. */
int nt_worker_start(struct nt_worker *w);

/* Joins w's thread (after the phase went to STOP). */
void nt_worker_join(struct nt_worker *w);

/* Frees what nt_worker_init allocated (after nt_worker_join, once results are read). */
void nt_worker_fini(struct nt_worker *w);

#endif
