/* SPDX-License-Identifier: MIT */
/* worker.c - one I/O thread: its connections, an epoll loop, the senders and the receive path.
 * The protocols' parsers (and the WebSocket framing under natter, IRC and ws) live here too,
 * next to the per-delivery code they call. */

/* Linux only: epoll, eventfd, IP_BIND_ADDRESS_NO_PORT, prctl. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "tls.h"
#include "websocket.h"

/* One read takes up to this much; a loop iteration serves up to MAX_EVENTS connections. Big
 * reads are what keeps the receive path at one system call per many lines. */
#define READ_SIZE  (256 * 1024)
#define CARRY_MAX  (16 * 1024) /* the longest incomplete frame kept between reads */
#define MAX_EVENTS 1024
/* The longest a worker sleeps without looking at the phase, in case a wake-up is missed. */
#define MAX_SLEEP_NS (50 * 1000 * 1000)
/* --tls: ciphertext goes into a session's read BIO this much at a time, each piece decrypted
 * before the next: a memory BIO keeps the capacity of its largest write for good, and
 * thousands of idle sessions should not each keep 256 KiB. One record is at most ~16.7 KiB. */
#define TLS_FEED (16 * 1024)
/* --tls: plaintext encrypted at once; more waits until the socket took the ciphertext. */
#define TLS_WRITE (64 * 1024)
/* --ws: the longest server frame taken (it must fit the carry with its header), and the
 * longest message put together from fragments. */
#define WS_FRAME_MAX (CARRY_MAX - 16)
#define WS_MSG_MAX   (64 * 1024)

static const char NATTER_PROMPT[] = "Enter your name: ";
static const char JOINED[] = " has joined the chat ***";
static const char LEFT[] = " has left the chat ***";

uint64_t nt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void nt_bench_fail(struct nt_bench *b, const char *fmt, ...)
{
    pthread_mutex_lock(&b->lock);
    if (!atomic_load(&b->failed)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->error, sizeof(b->error), fmt, ap);
        va_end(ap);
        atomic_store(&b->failed, 1);
    }
    pthread_mutex_unlock(&b->lock);
}

void nt_worker_wake(struct nt_worker *w)
{
    uint64_t one = 1;
    ssize_t n = write(w->efd, &one, sizeof(one));
    (void)n; /* EAGAIN: the counter is already non-zero, so the worker wakes anyway */
}

/* A printable excerpt of peer bytes for an error message. */
static void excerpt(char *out, size_t size, const char *p, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < size; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
            out[o++] = (char)ch;
        } else {
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", ch);
        }
    }
    out[o < size ? o : size - 1] = '\0';
}

/* The server address c connects to: its --port (receivers) or --sender-port (senders). */
static const struct sockaddr_in *conn_dst(const struct nt_bench *b, const struct nt_conn *c)
{
    return c->role == NT_ROLE_RECV ? &b->recv_dst[c->port] : &b->send_dst[c->port];
}

static unsigned conn_port(const struct nt_bench *b, const struct nt_conn *c)
{
    return ntohs(conn_dst(b, c)->sin_port);
}

static void conn_label(const struct nt_conn *c, char *out, size_t size)
{
    snprintf(out, size, "%s%u", c->role == NT_ROLE_RECV ? "receiver " : "sender ", c->idx);
}

/* ------------------------------------------------------------------------------------------ */
/* Connection plumbing */

static void set_events(struct nt_worker *w, struct nt_conn *c)
{
    struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = c};
    if (!c->is_paused)
        ev.events |= EPOLLIN;
    if (c->want_out)
        ev.events |= EPOLLOUT;
    epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static bool is_setup(const struct nt_conn *c)
{
    return c->state < NT_ST_READY;
}

/* The server answered c (prompt, INFO, subscribe reply), so it accepted it: c leaves the
 * connect burst. A server accepts from a queue of its listen backlog (100 in asyncio, 511 in
 * natter and Redis); a connection that overflows it looks established to us but is never
 * answered, so at most --connect-burst connections wait for an answer at once. More at once
 * also lets a chat server batch the join notices. */
static void answered(struct nt_worker *w, struct nt_conn *c)
{
    if (c->in_burst) {
        c->in_burst = false;
        w->connecting--;
    }
}

/* Closes c's socket; a connection still in its handshake frees its slot in the connect burst. */
static void drop(struct nt_worker *w, struct nt_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd); /* also leaves the epoll set */
        c->fd = -1;
    }
    nt_tls_free(c->ssl);
    c->ssl = NULL;
    answered(w, c);
    c->state = NT_ST_DEAD;
    if (!c->is_cut) {
        c->is_cut = true;
        c->cut_ns = nt_now_ns();
    }
}

/* The server closed c, or it failed. During setup that ends the run; afterwards it is counted
 * (a stalled receiver being cut off is what stalled mode looks for). */
static void conn_lost(struct nt_worker *w, struct nt_conn *c, int err)
{
    struct nt_bench *b = w->b;
    bool setup = is_setup(c);
    int state = c->state;
    drop(w, c);
    if (setup) {
        char label[32];
        conn_label(c, label, sizeof(label));
        if (state == NT_ST_TLS) {
            nt_bench_fail(b,
                          "%s: TLS handshake failed: connection %s%s%s (is the server "
                          "listening with TLS on %s:%u?)",
                          label, err ? "failed" : "closed by the server", err ? ": " : "",
                          err ? strerror(err) : "", b->opt->host, conn_port(b, c));
            return;
        }
        if (state == NT_ST_UPGRADE) {
            nt_bench_fail(b,
                          "%s: WebSocket upgrade failed: connection %s%s%s before the 101 (is "
                          "it an HTTP listener with GET %s on %s:%u?)",
                          label, err ? "failed" : "closed by the server", err ? ": " : "",
                          err ? strerror(err) : "", b->opt->ws_path, b->opt->host, conn_port(b, c));
            return;
        }
        nt_bench_fail(b, "%s: connection %s during setup%s%s", label,
                      err ? "failed" : "closed by the server", err ? ": " : "",
                      err ? strerror(err) : "");
        return;
    }
    w->k[c->role == NT_ROLE_RECV && c->is_stalled].closed++;
}

static void setup_error(struct nt_worker *w, struct nt_conn *c, const char *what, const char *p,
                        size_t len)
{
    char label[32], text[200];
    conn_label(c, label, sizeof(label));
    excerpt(text, sizeof(text), p, len < 120 ? len : 120);
    nt_bench_fail(w->b, "%s: %s: \"%s\"", label, what, text);
    drop(w, c);
}

/* A TLS failure on c: ends the run during setup (with OpenSSL's reason), else counts c as
 * closed. */
static void tls_failed(struct nt_worker *w, struct nt_conn *c, const char *what)
{
    char label[32], why[256];
    conn_label(c, label, sizeof(label));
    nt_tls_why(c->ssl, c->state == NT_ST_TLS, why, sizeof(why));
    if (is_setup(c)) {
        nt_bench_fail(w->b, "%s: %s: %s", label, what, why);
        drop(w, c);
        return;
    }
    conn_lost(w, c, EPROTO);
}

static void want_out(struct nt_worker *w, struct nt_conn *c, bool want)
{
    if (c->want_out != want) {
        c->want_out = want;
        set_events(w, c);
    }
}

/* flush_out over TLS: the ciphertext queued first, then c->out encrypted a piece at a time,
 * each piece only once the socket took the one before (so what waits for the socket stays in
 * c->out, where the senders see it, as on the plain path). */
static int flush_tls(struct nt_worker *w, struct nt_conn *c)
{
    for (;;) {
        const char *p;
        size_t len = nt_tls_out(c->ssl, &p);
        while (len > 0) {
            ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
            if (n > 0) {
                nt_tls_out_done(c->ssl, (size_t)n);
                len = nt_tls_out(c->ssl, &p);
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                want_out(w, c, true);
                return 0;
            }
            conn_lost(w, c, n < 0 ? errno : 0);
            return -1;
        }
        /* Plaintext waits for the handshake (our own protocol starts after it anyway). */
        if (c->out_off == c->out_len || c->state == NT_ST_TLS)
            break;
        size_t chunk = c->out_len - c->out_off;
        if (chunk > TLS_WRITE)
            chunk = TLS_WRITE;
        if (nt_tls_write(c->ssl, c->out + c->out_off, chunk) != 0) {
            tls_failed(w, c, "TLS write failed");
            return -1;
        }
        c->out_off += chunk;
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    want_out(w, c, false);
    return 0;
}

/* Writes what c->out holds. Returns 0, or -1 when c was lost. */
static int flush_out(struct nt_worker *w, struct nt_conn *c)
{
    if (c->ssl != NULL)
        return flush_tls(w, c);
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!c->want_out) {
                c->want_out = true;
                set_events(w, c);
            }
            return 0;
        }
        conn_lost(w, c, n < 0 ? errno : 0);
        return -1;
    }
    c->out_off = c->out_len = 0;
    if (c->want_out) {
        c->want_out = false;
        set_events(w, c);
    }
    return 0;
}

/* Makes room for n more bytes in c->out. False when that would pass the hard cap. */
static bool out_reserve(struct nt_conn *c, size_t n)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + n <= c->out_cap)
        return true;
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + n <= c->out_cap)
            return true;
    }
    size_t cap = c->out_cap ? c->out_cap : 256;
    while (cap < c->out_len + n)
        cap *= 2;
    if (cap > (64u << 20))
        return false;
    char *p = realloc(c->out, cap);
    if (p == NULL)
        return false;
    c->out = p;
    c->out_cap = cap;
    return true;
}

/* Queues a small control write (name, SUBSCRIBE, PONG) and tries to send it. */
static int send_small(struct nt_worker *w, struct nt_conn *c, const char *p, size_t len)
{
    if (!out_reserve(c, len)) {
        nt_bench_fail(w->b, "out of memory for a control write");
        return -1;
    }
    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;
    return flush_out(w, c);
}

/* Queues the lines at p (each ending in LF or CR LF) and tries to send them: as they are, or
 * with --ws one masked text message per line, without its line end. */
static int send_ctl(struct nt_worker *w, struct nt_conn *c, const char *p, size_t len)
{
    if (!w->b->ws)
        return send_small(w, c, p, len);
    const char *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t n = (size_t)(e - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (!out_reserve(c, nt_wsc_frame_size(n))) {
            nt_bench_fail(w->b, "out of memory for a control write");
            return -1;
        }
        c->out_len +=
            nt_wsc_frame(c->out + c->out_len, NT_WSC_TEXT, p, n, nt_wsc_next_key(&w->ws_rng));
        p = nl ? nl + 1 : end;
    }
    return flush_out(w, c);
}

/* --ws: queues one control frame (pong, close) with payload p[0..len) and tries to send it. */
static int send_ws_control(struct nt_worker *w, struct nt_conn *c, enum nt_wsc_opcode op,
                           const char *p, size_t len)
{
    if (!out_reserve(c, nt_wsc_frame_size(len))) {
        nt_bench_fail(w->b, "out of memory for a control write");
        return -1;
    }
    c->out_len += nt_wsc_frame(c->out + c->out_len, op, p, len, nt_wsc_next_key(&w->ws_rng));
    return flush_out(w, c);
}

/* The connection finished its part of the handshake (sent its name or subscription). */
static void mark_named(struct nt_worker *w, struct nt_conn *c)
{
    atomic_store_explicit(&w->p_named, atomic_load_explicit(&w->p_named, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    (void)c;
}

static void mark_ready(struct nt_worker *w, struct nt_conn *c)
{
    answered(w, c);
    c->state = NT_ST_READY;
    atomic_store_explicit(&w->p_ready, atomic_load_explicit(&w->p_ready, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* "r12_TAG": a name that is a valid natter name and IRC nick. */
static void conn_name(const struct nt_bench *b, const struct nt_conn *c, char *out, size_t size)
{
    snprintf(out, size, "%c%u%c%s", c->role == NT_ROLE_RECV ? 'r' : 's', c->idx, b->name_sep,
             b->tag);
}

static int open_conn(struct nt_worker *w, struct nt_conn *c)
{
    struct nt_bench *b = w->b;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        nt_bench_fail(b, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (c->is_stalled) {
        /* Before connect, so the window the server sees is small from the start. */
        int size = (int)b->opt->stalled_rcvbuf;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    if (b->n_sources > 1) {
        /* One source address gives ~28k ports towards one server port; spread the
         * connections over 127.0.0.2... Without a port, bind leaves the choice to connect. */
        uint32_t n = c->role == NT_ROLE_RECV ? c->idx : b->n_recv + c->idx;
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000002u + n % b->n_sources);
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (const struct sockaddr *)&src, sizeof(src)) != 0) {
            nt_bench_fail(b, "bind to 127.0.0.%u: %s", 2 + n % b->n_sources, strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (connect(fd, (const struct sockaddr *)conn_dst(b, c), sizeof(struct sockaddr_in)) != 0 &&
        errno != EINPROGRESS) {
        nt_bench_fail(b, "connect to %s:%u: %s", b->opt->host, conn_port(b, c), strerror(errno));
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->state = NT_ST_CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        nt_bench_fail(b, "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void start_connects(struct nt_worker *w)
{
    while (w->next_connect < w->n_conns && w->connecting < w->max_connecting &&
           !atomic_load_explicit(&w->b->failed, memory_order_relaxed)) {
        struct nt_conn *c = &w->conns[w->next_connect++];
        if (open_conn(w, c) != 0)
            return;
        c->in_burst = true;
        w->connecting++;
    }
}

/* Connected (and, with --tls, the handshake done; with --ws, upgraded): the protocol's own
 * handshake starts. */
static void start_app(struct nt_worker *w, struct nt_conn *c)
{
    struct nt_bench *b = w->b;
    switch (b->opt->proto) {
    case NT_PROTO_NATTER:
    case NT_PROTO_NATS:
        c->state = NT_ST_HELLO; /* the prompt, or INFO */
        break;
    case NT_PROTO_WS: {
        /* No prompt and no answer: the name is the first message, and broadcast.js sends to
         * every open client, named or not yet, so the connection is in already. */
        char name[NT_NAME_MAX + 2];
        conn_name(b, c, name, sizeof(name) - 1);
        size_t nl = strlen(name);
        name[nl++] = '\n';
        c->state = NT_ST_JOINING;
        mark_named(w, c);
        if (send_ctl(w, c, name, nl) == 0)
            mark_ready(w, c);
        break;
    }
    case NT_PROTO_REDIS:
        if (c->role == NT_ROLE_RECV) {
            c->state = NT_ST_JOINING;
            mark_named(w, c);
            send_small(w, c, b->recv_hello, b->recv_hello_len);
        } else {
            mark_named(w, c);
            mark_ready(w, c);
        }
        break;
    case NT_PROTO_IRC: {
        /* Registration needs no answer first; the JOIN waits for the end of the MOTD. */
        char name[NT_NAME_MAX], line[2 * NT_NAME_MAX + 48];
        conn_name(b, c, name, sizeof(name));
        int n =
            snprintf(line, sizeof(line), "NICK %s\r\nUSER %s 0 * :natter-bench\r\n", name, name);
        c->state = NT_ST_HELLO;
        send_ctl(w, c, line, (size_t)n);
        break;
    }
    }
}

/* Connected (and, with --tls, the handshake done): --ws sends the upgrade request, else the
 * protocol starts. */
static void start_proto(struct nt_worker *w, struct nt_conn *c)
{
    struct nt_bench *b = w->b;
    if (!b->ws) {
        start_app(w, c);
        return;
    }
    char req[1024];
    size_t n = nt_wsc_request(req, sizeof(req), b->opt->host, conn_port(b, c), b->opt->ws_path,
                              b->ws_proto, c->ws_accept);
    if (n == 0) {
        nt_bench_fail(b, "cannot make a WebSocket key (no random bytes)");
        drop(w, c);
        return;
    }
    c->state = NT_ST_UPGRADE;
    send_small(w, c, req, n);
}

/* Advances c's TLS handshake; once it is done, the protocol starts. Returns 0 when done, 1 when
 * it needs more from the server, -1 when it failed (c is dropped, the run failed). */
static int tls_handshake(struct nt_worker *w, struct nt_conn *c)
{
    enum nt_tls_status st = nt_tls_handshake(c->ssl);
    if (st == NT_TLS_WANT)
        return flush_out(w, c) == 0 ? 1 : -1;
    if (st != NT_TLS_OK) {
        tls_failed(w, c, "TLS handshake failed");
        return -1;
    }
    if (w->tls_info[0] == '\0')
        nt_tls_describe(c->ssl, w->tls_info, sizeof(w->tls_info));
    atomic_store_explicit(&w->p_tls, atomic_load_explicit(&w->p_tls, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    c->state = NT_ST_HELLO; /* a setup state other than NT_ST_TLS, until start_proto says */
    start_proto(w, c);
    if (c->state == NT_ST_DEAD)
        return -1;
    /* The handshake's last flight (client Finished) is still queued unless start_proto sent. */
    return flush_out(w, c) == 0 ? 0 : -1;
}

static void on_connected(struct nt_worker *w, struct nt_conn *c)
{
    struct nt_bench *b = w->b;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        conn_lost(w, c, err);
        return;
    }
    c->want_out = false;
    set_events(w, c);
    if (b->tls_ctx != NULL) {
        c->ssl = nt_tls_new(b->tls_ctx);
        if (c->ssl == NULL) {
            nt_bench_fail(b, "out of memory for a TLS session");
            drop(w, c);
            return;
        }
        c->state = NT_ST_TLS;
        tls_handshake(w, c); /* the ClientHello */
        return;
    }
    start_proto(w, c);
}

/* ------------------------------------------------------------------------------------------ */
/* Counting deliveries */

/* A receipt of (sid, seq) by an active receiver of this worker; completes the message for the
 * sender's window when it was the last receiver of the last worker. */
static void ack(struct nt_worker *w, uint32_t sid, uint64_t seq)
{
    struct nt_bench *b = w->b;
    uint32_t slot = (uint32_t)seq & (b->ring - 1);
    uint32_t *a = &w->acks[(size_t)sid * b->ring + slot];
    if (++*a < w->n_active)
        return;
    *a = 0;
    struct nt_sender_shared *sh = &b->snd[sid];
    if (b->n_active_workers > 1) {
        uint32_t done = atomic_fetch_add_explicit(&sh->slots[slot], 1, memory_order_acq_rel) + 1;
        if (done < b->n_active_workers)
            return;
        atomic_store_explicit(&sh->slots[slot], 0, memory_order_relaxed);
    }
    /* Completions come in sequence order: a receiver gets seq only after seq-1, so every
     * worker completes seq-1 first. */
    atomic_store(&sh->delivered, seq + 1);
    if (sh->owner != w->id) {
        struct nt_worker *o = &b->workers[sh->owner];
        if (atomic_exchange(&o->sleeping, 0))
            nt_worker_wake(o);
    }
}

static void deliver(struct nt_worker *w, struct nt_conn *c, uint32_t sid, uint64_t seq, uint64_t ts)
{
    struct nt_bench *b = w->b;
    struct nt_counters *k = &w->k[c->is_stalled];
    struct nt_seq *q = &c->seq[sid];
    bool counts = b->track_window && !c->is_stalled;
    if (seq >= q->next) {
        uint64_t gap = seq - q->next;
        if (gap > 0) {
            k->lost += gap;
            if (counts) {
                uint64_t from = gap > b->ring ? seq - b->ring : q->next;
                for (uint64_t x = from; x < seq; x++)
                    ack(w, sid, x);
            }
            q->bits = gap + 1 >= 64 ? 1 : (q->bits << (gap + 1)) | 1;
        } else {
            q->bits = (q->bits << 1) | 1;
        }
        c->progress += gap + 1;
        q->next = seq + 1;
        k->deliveries++;
        if (!c->is_stalled)
            w->port_deliv[c->port]++;
        if (w->measuring && !c->is_stalled) {
            uint64_t lat = w->now > ts ? w->now - ts : 0;
            nt_hist_record(&w->hist, lat);
            if (w->port_hist != NULL)
                nt_hist_record(&w->port_hist[c->port], lat);
        }
        if (counts)
            ack(w, sid, seq);
        return;
    }
    uint64_t d = q->next - 1 - seq;
    if (d < 64 && ((q->bits >> d) & 1)) {
        k->dups++;
        return;
    }
    if (d < 64)
        q->bits |= UINT64_C(1) << d;
    k->reorders++;
    if (k->lost > 0)
        k->lost--;
    k->deliveries++;
    if (!c->is_stalled)
        w->port_deliv[c->port]++;
}

/* Checks a payload and counts it. name/name_len: natter's sender name before ": " (NULL for
 * Redis and NATS, where the channel is the only envelope). */
static void on_payload(struct nt_worker *w, struct nt_conn *c, const char *payload,
                       const char *name, size_t name_len)
{
    struct nt_bench *b = w->b;
    uint32_t sid;
    uint64_t seq, ts;
    if (!nt_payload_decode(&b->fmt, payload, &sid, &seq, &ts) || sid >= b->n_track) {
        w->k[c->is_stalled].corrupt++;
        return;
    }
    if (name != NULL) {
        const struct nt_sender_shared *sh = &b->snd[sid];
        if (name_len != sh->name_len || memcmp(name, sh->name, name_len) != 0) {
            w->k[c->is_stalled].corrupt++;
            return;
        }
    }
    deliver(w, c, sid, seq, ts);
}

/* ------------------------------------------------------------------------------------------ */
/* natter */

/* Parses "r12_TAG" / "s3_TAG" / "m1_TAG": the role letter and number, or false. */
static bool our_name(const struct nt_bench *b, const char *name, size_t len, char *role,
                     uint32_t *idx)
{
    size_t tl = strlen(b->tag);
    if (len < tl + 3 || name[len - tl - 1] != b->name_sep ||
        memcmp(name + len - tl, b->tag, tl) != 0)
        return false;
    uint64_t v = 0;
    size_t digits = len - tl - 2;
    for (size_t i = 1; i <= digits; i++) {
        if (name[i] < '0' || name[i] > '9' || v > UINT32_MAX / 10)
            return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *role = name[0];
    *idx = (uint32_t)v;
    return true;
}

/* Someone left (natter's leave notice, IRC's QUIT or KICK): if it is one of ours, record it
 * (stalled mode looks for the server cutting a stalled reader off). */
static void note_left(struct nt_bench *b, const char *name, size_t name_len)
{
    char role;
    uint32_t idx;
    if (!our_name(b, name, name_len, &role, &idx))
        return;
    if (role == 'r' && idx < b->n_recv) {
        if (atomic_exchange(&b->left_recv[idx], 1) == 0 && idx < b->n_stalled) {
            uint64_t zero = 0;
            atomic_compare_exchange_strong(&b->first_stalled_left_ns, &zero, nt_now_ns());
        }
    } else if (role == 's' && idx < b->n_send) {
        atomic_store(&b->left_send[idx], 1);
    }
}

/* A line "*** ... ***": a join (the marker's tells a joining connection it is in), a leave (of
 * one of ours: recorded), the shutdown notice; any other notice (a welcome line, a room's news)
 * is ignored. */
static void natter_notice(struct nt_worker *w, struct nt_conn *c, const char *line, size_t len)
{
    struct nt_bench *b = w->b;
    static const char shutdown[] = "*** Server is shutting down ***";
    const size_t jl = sizeof(JOINED) - 1, ll = sizeof(LEFT) - 1;
    int k = c->role == NT_ROLE_RECV && c->is_stalled;
    if (len < 8 || memcmp(line, "*** ", 4) != 0 || memcmp(line + len - 4, " ***", 4) != 0) {
        w->k[k].unexpected++;
        return;
    }
    if (len == sizeof(shutdown) - 1 && memcmp(line, shutdown, len) == 0) {
        w->k[k].goodbyes++;
        return;
    }
    /* Names have no spaces (PROTOCOL.md §2.2): the name ends at the first one. */
    const char *name = line + 4, *end = line + len;
    const char *sp = memchr(name, ' ', (size_t)(end - name));
    if (sp == NULL)
        return;
    size_t name_len = (size_t)(sp - name), rest = (size_t)(end - sp);
    char role;
    uint32_t idx;
    if (rest == jl && memcmp(sp, JOINED, jl) == 0) {
        if (c->state == NT_ST_JOINING && our_name(b, name, name_len, &role, &idx) && role == 'm')
            mark_ready(w, c);
        return;
    }
    /* " has left the chat ***", or " has left the chat (REASON) ***" after /quit REASON */
    if (rest >= ll && memcmp(sp, LEFT, ll - 4) == 0)
        note_left(b, name, name_len);
}

static void natter_line(struct nt_worker *w, struct nt_conn *c, const char *line, size_t len)
{
    struct nt_bench *b = w->b;
    if (len > 0 && line[0] == '*') {
        natter_notice(w, c, line, len);
        return;
    }
    if (c->state != NT_ST_READY) {
        setup_error(w, c, "unexpected line while joining", line, len);
        return;
    }
    size_t size = b->fmt.size;
    struct nt_counters *k = &w->k[c->is_stalled];
    if (len >= size + 3 && line[len - size - 2] == ':' && line[len - size - 1] == ' ') {
        on_payload(w, c, line + len - size, line, len - size - 2);
        return;
    }
    if (len >= 13 && memcmp(line, "Disconnected:", 13) == 0) {
        k->goodbyes++;
        if (!c->is_cut) {
            c->is_cut = true;
            c->cut_ns = nt_now_ns();
        }
        return;
    }
    k->unexpected++;
}

static size_t parse_natter(struct nt_worker *w, struct nt_conn *c, const char *p, size_t len)
{
    const char *s = p, *end = p + len;
    if (c->state == NT_ST_HELLO) {
        const size_t pl = sizeof(NATTER_PROMPT) - 1;
        size_t n = len < pl ? len : pl;
        if (memcmp(s, NATTER_PROMPT, n) != 0) {
            const char *nl = memchr(s, '\n', len);
            setup_error(w, c, "expected the name prompt, got", s, nl ? (size_t)(nl - s) : len);
            return len;
        }
        if (len < pl)
            return 0;
        s += pl;
        answered(w, c);
        char name[NT_NAME_MAX + 2];
        conn_name(w->b, c, name, sizeof(name) - 1);
        size_t nl = strlen(name);
        name[nl++] = '\n';
        c->state = NT_ST_JOINING;
        mark_named(w, c);
        if (send_small(w, c, name, nl) != 0)
            return len;
    }
    if (c->role == NT_ROLE_SEND && c->state == NT_ST_READY) {
        /* Senders get the other senders' lines: count them, nothing more. */
        uint64_t lines = 0;
        const char *q = s;
        while ((q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
            lines++;
            q++;
        }
        w->sender_lines += lines;
        return len;
    }
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (nl == NULL)
            break;
        natter_line(w, c, s, (size_t)(nl - s));
        s = nl + 1;
        if (c->state == NT_ST_DEAD)
            return len;
        if (c->role == NT_ROLE_SEND && c->state == NT_ST_READY)
            return (size_t)(s - p) + parse_natter(w, c, s, (size_t)(end - s));
    }
    return (size_t)(s - p);
}

/* ------------------------------------------------------------------------------------------ */
/* Redis (RESP2) */

struct resp {
    char type;     /* '+', '-', ':', '$', '*' */
    int64_t num;   /* ':' value, '*' count, '$' length */
    const char *s; /* '+', '-', '$': the text */
    size_t len;
    size_t n_el;
    struct {
        char type;
        int64_t num;
        const char *s;
        size_t len;
    } el[4];
};

/* One CRLF-terminated header line at p: its type, number or text. Returns the bytes used, 0
 * when incomplete, -1 when malformed. */
static long resp_line(const char *p, size_t len, char *type, int64_t *num, const char **s,
                      size_t *slen)
{
    const char *nl = memchr(p, '\n', len);
    if (nl == NULL)
        return len > 4096 ? -1 : 0;
    if (nl == p || nl[-1] != '\r')
        return -1;
    *type = p[0];
    *s = p + 1;
    *slen = (size_t)(nl - 1 - (p + 1));
    *num = 0;
    if (*type == ':' || *type == '$' || *type == '*') {
        const char *q = p + 1;
        bool neg = q < nl - 1 && *q == '-';
        if (neg)
            q++;
        if (q >= nl - 1)
            return -1;
        for (; q < nl - 1; q++) {
            if (*q < '0' || *q > '9' || *num > INT64_MAX / 10 - 10)
                return -1;
            *num = *num * 10 + (*q - '0');
        }
        if (neg)
            *num = -*num;
    } else if (*type != '+' && *type != '-') {
        return -1;
    }
    return (long)(nl + 1 - p);
}

/* One RESP value (an array may hold simple values and bulk strings, up to 4 kept). Returns the
 * bytes used, 0 when incomplete, -1 when malformed. */
static long resp_parse(const char *p, size_t len, struct resp *r)
{
    long used = resp_line(p, len, &r->type, &r->num, &r->s, &r->len);
    if (used <= 0)
        return used;
    size_t pos = (size_t)used;
    if (r->type == '$') {
        if (r->num < 0)
            return (long)pos;
        if (len - pos < (size_t)r->num + 2)
            return (size_t)r->num > (1u << 20) ? -1 : 0;
        r->s = p + pos;
        r->len = (size_t)r->num;
        return (long)(pos + (size_t)r->num + 2);
    }
    if (r->type != '*')
        return (long)pos;
    r->n_el = 0;
    for (int64_t i = 0; i < r->num; i++) {
        char t;
        int64_t num;
        const char *s;
        size_t sl;
        long u = resp_line(p + pos, len - pos, &t, &num, &s, &sl);
        if (u <= 0)
            return u;
        pos += (size_t)u;
        if (t == '*')
            return -1; /* nested arrays: not part of pub/sub */
        if (t == '$' && num >= 0) {
            if (len - pos < (size_t)num + 2)
                return (size_t)num > (1u << 20) ? -1 : 0;
            s = p + pos;
            sl = (size_t)num;
            pos += (size_t)num + 2;
        }
        if (r->n_el < 4) {
            r->el[r->n_el].type = t;
            r->el[r->n_el].num = num;
            r->el[r->n_el].s = s;
            r->el[r->n_el].len = sl;
            r->n_el++;
        }
    }
    return (long)pos;
}

static bool el_is(const struct resp *r, size_t i, const char *word)
{
    size_t n = strlen(word);
    return i < r->n_el && r->el[i].len == n && strncasecmp(r->el[i].s, word, n) == 0;
}

static void server_error(struct nt_worker *w, const char *s, size_t len)
{
    if (w->server_errors++ == 0)
        excerpt(w->server_error, sizeof(w->server_error), s, len < 120 ? len : 120);
}

static void redis_value(struct nt_worker *w, struct nt_conn *c, const struct resp *r,
                        const char *raw, size_t raw_len)
{
    struct nt_bench *b = w->b;
    if (r->type == '-') {
        server_error(w, r->s, r->len);
        if (is_setup(c))
            setup_error(w, c, "server error", r->s, r->len);
        return;
    }
    if (c->role == NT_ROLE_SEND) {
        if (r->type == ':') {
            w->pub_replies++;
            if ((uint64_t)r->num < w->pub_min_receivers)
                w->pub_min_receivers = (uint64_t)r->num;
            if ((uint64_t)r->num < b->n_recv && w->pub_drop_ns == 0)
                w->pub_drop_ns = nt_now_ns();
            return;
        }
        w->k[0].unexpected++;
        return;
    }
    if (r->type == '*' && el_is(r, 0, "subscribe")) {
        if (c->state == NT_ST_JOINING)
            mark_ready(w, c);
        return;
    }
    if (r->type == '*' && el_is(r, 0, "message") && r->n_el == 3) {
        if (r->el[2].len == b->fmt.size)
            on_payload(w, c, r->el[2].s, NULL, 0);
        else
            w->k[c->is_stalled].corrupt++;
        return;
    }
    if (is_setup(c)) {
        setup_error(w, c, "unexpected reply while subscribing", raw, raw_len);
        return;
    }
    w->k[c->is_stalled].unexpected++;
}

static size_t parse_redis(struct nt_worker *w, struct nt_conn *c, const char *p, size_t len)
{
    struct nt_bench *b = w->b;
    const char *s = p, *end = p + len;
    const size_t whole = b->msg_len, pre = b->msg_pre_len;
    while (s < end) {
        size_t avail = (size_t)(end - s);
        /* The common case: a complete "message" frame of the size we send. */
        if (avail >= whole && memcmp(s, b->msg_pre, pre) == 0 && s[whole - 2] == '\r' &&
            s[whole - 1] == '\n' && c->role == NT_ROLE_RECV) {
            on_payload(w, c, s + pre, NULL, 0);
            s += whole;
            continue;
        }
        struct resp r;
        long used = resp_parse(s, avail, &r);
        if (used == 0)
            break;
        if (used < 0) {
            if (is_setup(c)) {
                setup_error(w, c, "malformed RESP", s, avail);
            } else {
                w->k[c->role == NT_ROLE_RECV && c->is_stalled].unexpected++;
                conn_lost(w, c, EPROTO);
            }
            return len;
        }
        redis_value(w, c, &r, s, (size_t)used);
        s += used;
        if (c->state == NT_ST_DEAD)
            return len;
    }
    return (size_t)(s - p);
}

/* ------------------------------------------------------------------------------------------ */
/* NATS */

static bool starts(const char *line, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len >= n && memcmp(line, word, n) == 0;
}

static size_t parse_nats(struct nt_worker *w, struct nt_conn *c, const char *p, size_t len)
{
    struct nt_bench *b = w->b;
    const char *s = p, *end = p + len;
    const size_t whole = b->msg_len, pre = b->msg_pre_len;
    while (s < end) {
        size_t avail = (size_t)(end - s);
        if (avail >= whole && memcmp(s, b->msg_pre, pre) == 0 && s[whole - 2] == '\r' &&
            s[whole - 1] == '\n' && c->role == NT_ROLE_RECV) {
            on_payload(w, c, s + pre, NULL, 0);
            s += whole;
            continue;
        }
        const char *nl = memchr(s, '\n', avail);
        if (nl == NULL)
            break;
        const char *line = s;
        size_t ll = (size_t)(nl - s);
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (starts(line, ll, "MSG ")) {
            /* MSG <subject> <sid> [reply-to] <#bytes>: the size is the last field. */
            const char *q = line + ll;
            while (q > line && q[-1] != ' ')
                q--;
            uint64_t n = 0;
            for (const char *d = q; d < line + ll; d++) {
                if (*d < '0' || *d > '9' || n > (1u << 24)) {
                    n = UINT64_MAX;
                    break;
                }
                n = n * 10 + (uint64_t)(*d - '0');
            }
            if (n == UINT64_MAX || q == line + ll) {
                w->k[c->is_stalled].unexpected++;
                conn_lost(w, c, EPROTO);
                return len;
            }
            size_t need = (size_t)(nl + 1 - s) + n + 2;
            if (avail < need)
                break;
            const char *body = nl + 1;
            if (c->role == NT_ROLE_RECV && n == b->fmt.size && body[n] == '\r' &&
                body[n + 1] == '\n')
                on_payload(w, c, body, NULL, 0);
            else
                w->k[c->role == NT_ROLE_RECV && c->is_stalled].corrupt++;
            s += need;
            continue;
        }
        if (starts(line, ll, "PING")) {
            send_small(w, c, "PONG\r\n", 6);
        } else if (starts(line, ll, "PONG")) {
            if (c->state == NT_ST_JOINING)
                mark_ready(w, c);
        } else if (starts(line, ll, "INFO")) {
            if (c->state == NT_ST_HELLO) {
                answered(w, c);
                c->state = NT_ST_JOINING;
                mark_named(w, c);
                if (c->role == NT_ROLE_RECV)
                    send_small(w, c, b->recv_hello, b->recv_hello_len);
                else
                    send_small(w, c, b->send_hello, b->send_hello_len);
            }
        } else if (starts(line, ll, "+OK")) {
            /* verbose replies, if the server insists */
        } else if (starts(line, ll, "-ERR")) {
            server_error(w, line, ll);
            if (is_setup(c))
                setup_error(w, c, "server error", line, ll);
        } else if (is_setup(c)) {
            setup_error(w, c, "unexpected line", line, ll);
        } else {
            w->k[c->role == NT_ROLE_RECV && c->is_stalled].unexpected++;
        }
        s = nl + 1;
        if (c->state == NT_ST_DEAD)
            return len;
    }
    return (size_t)(s - p);
}

/* ------------------------------------------------------------------------------------------ */
/* IRC (RFC 1459/2812 client protocol) */

/* The next space-separated word of [*p, end): its start and length; *p moves past it and the
 * spaces after it. */
static size_t irc_word(const char **p, const char *end, const char **word)
{
    const char *q = *p;
    *word = q;
    const char *sp = memchr(q, ' ', (size_t)(end - q));
    size_t n = sp ? (size_t)(sp - q) : (size_t)(end - q);
    q += n;
    while (q < end && *q == ' ')
        q++;
    *p = q;
    return n;
}

static bool irc_is(const char *word, size_t len, const char *what)
{
    size_t n = strlen(what);
    return len == n && memcmp(word, what, n) == 0;
}

/* Any line but a PRIVMSG of the size we send to the channel: registration, numerics, PING,
 * ERROR, others' JOIN/PART/QUIT/MODE/NOTICE (ignored, except that a QUIT or KICK of one of ours
 * is recorded like natter's leave notice). */
static void irc_other(struct nt_worker *w, struct nt_conn *c, const char *line, size_t len)
{
    struct nt_bench *b = w->b;
    int k = c->role == NT_ROLE_RECV && c->is_stalled;
    const char *p = line, *end = line + len, *src = NULL, *cmd;
    size_t src_len = 0;
    /* Any line from the server means it accepted the connection. */
    answered(w, c);
    if (p < end && *p == '@') { /* IRCv3 tags: none asked for, but skip them */
        const char *tags;
        irc_word(&p, end, &tags);
    }
    if (p < end && *p == ':') {
        p++;
        src_len = irc_word(&p, end, &src);
    }
    size_t cmd_len = irc_word(&p, end, &cmd);
    if (cmd_len == 0)
        return; /* an empty line */
    if (irc_is(cmd, cmd_len, "PING")) {
        char pong[560];
        size_t n = (size_t)(end - p) < 500 ? (size_t)(end - p) : 500;
        int m = snprintf(pong, sizeof(pong), "PONG %.*s\r\n", (int)n, p);
        send_ctl(w, c, pong, (size_t)m);
        return;
    }
    if (irc_is(cmd, cmd_len, "ERROR")) {
        if (is_setup(c)) {
            setup_error(w, c, "the server closed the link", line, len);
            return;
        }
        w->k[k].goodbyes++;
        if (!c->is_cut) {
            c->is_cut = true;
            c->cut_ns = nt_now_ns();
        }
        return;
    }
    if (cmd_len == 3 && cmd[0] >= '0' && cmd[0] <= '9' && cmd[1] >= '0' && cmd[1] <= '9' &&
        cmd[2] >= '0' && cmd[2] <= '9') {
        int num = (cmd[0] - '0') * 100 + (cmd[1] - '0') * 10 + (cmd[2] - '0');
        if (num == 1 && c->state == NT_ST_HELLO) {
            c->state = NT_ST_MOTD;
            mark_named(w, c);
        } else if ((num == 376 || num == 422) && c->state == NT_ST_MOTD) {
            /* The end of the MOTD, or no MOTD: registration is over. */
            c->state = NT_ST_JOINING;
            send_ctl(w, c, b->recv_hello, b->recv_hello_len);
        } else if (num == 366 && c->state == NT_ST_JOINING) {
            /* End of NAMES: the server has us in the channel, so every later PRIVMSG to it
             * reaches us. */
            mark_ready(w, c);
        } else if (num >= 400 && num < 600) {
            /* An error reply: a refused nick (432, 433), a channel we cannot join (471..477), a
             * message the server would not relay (404), a flood limit... */
            server_error(w, line, len);
            if (is_setup(c))
                setup_error(w, c, "server error", line, len);
        }
        return;
    }
    if (irc_is(cmd, cmd_len, "QUIT")) {
        if (src != NULL) {
            const char *bang = memchr(src, '!', src_len);
            note_left(b, src, bang ? (size_t)(bang - src) : src_len);
        }
        return;
    }
    if (irc_is(cmd, cmd_len, "KICK")) {
        const char *chan, *nick;
        irc_word(&p, end, &chan);
        size_t nick_len = irc_word(&p, end, &nick);
        note_left(b, nick, nick_len);
        return;
    }
    if (irc_is(cmd, cmd_len, "PRIVMSG") && c->state == NT_ST_READY) {
        /* To the channel but not a payload of our size: damaged; anything else: unexpected. */
        const char *target;
        size_t target_len = irc_word(&p, end, &target);
        size_t cl = strlen(b->opt->channel);
        if (target_len == cl + 1 && target[0] == '#' &&
            memcmp(target + 1, b->opt->channel, cl) == 0 && c->role == NT_ROLE_RECV)
            w->k[k].corrupt++;
        else
            w->k[k].unexpected++;
        return;
    }
    /* JOIN, PART, MODE, NOTICE, NICK, TOPIC, PONG, CAP, ...: nothing to do. */
}

/* One line without its CR LF. The common case first: ":NICK!USER@HOST PRIVMSG #channel
 * :PAYLOAD" with a payload of our size, which a receiver checks (the nick must be the sender's
 * whose id the payload carries) and a sender counts. */
static void irc_line(struct nt_worker *w, struct nt_conn *c, const char *line, size_t len)
{
    struct nt_bench *b = w->b;
    const size_t size = b->fmt.size, mid = b->msg_pre_len;
    if (len > size + mid && line[0] == ':' && c->state == NT_ST_READY &&
        memcmp(line + len - size - mid, b->msg_pre, mid) == 0) {
        if (c->role == NT_ROLE_SEND) {
            w->sender_lines++;
            return;
        }
        const char *nick = line + 1, *src_end = line + len - size - mid;
        const char *bang = memchr(nick, '!', (size_t)(src_end - nick));
        on_payload(w, c, line + len - size, nick,
                   bang ? (size_t)(bang - nick) : (size_t)(src_end - nick));
        return;
    }
    irc_other(w, c, line, len);
}

static size_t parse_irc(struct nt_worker *w, struct nt_conn *c, const char *p, size_t len)
{
    const char *s = p, *end = p + len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (nl == NULL)
            break;
        size_t ll = (size_t)(nl - s);
        if (ll > 0 && s[ll - 1] == '\r')
            ll--;
        irc_line(w, c, s, ll);
        s = nl + 1;
        if (c->state == NT_ST_DEAD)
            return len;
    }
    return (size_t)(s - p);
}

/* ------------------------------------------------------------------------------------------ */
/* WebSocket (--ws): server frames over any of natter, IRC and ws */

/* A protocol error in the server's frames or handshake: ends the run during set-up; after it,
 * counted as unexpected (its description kept as the first server error) and the connection
 * closed, since the stream cannot be followed any further. */
static void ws_bad(struct nt_worker *w, struct nt_conn *c, const char *what, const char *p,
                   size_t len)
{
    if (is_setup(c)) {
        setup_error(w, c, what, p, len);
        return;
    }
    char text[160];
    snprintf(text, sizeof(text), "WebSocket: %s", what);
    server_error(w, text, strlen(text));
    w->k[c->role == NT_ROLE_RECV && c->is_stalled].unexpected++;
    conn_lost(w, c, EPROTO);
}

/* The 101 came and checked out: the protocol over it starts. */
static void ws_opened(struct nt_worker *w, struct nt_conn *c)
{
    answered(w, c);
    atomic_store_explicit(&w->p_ws, atomic_load_explicit(&w->p_ws, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    c->state = NT_ST_HELLO; /* a set-up state, until start_app says */
    start_app(w, c);
}

/* One whole text message: a line of the protocol, without its line end. */
static void ws_text(struct nt_worker *w, struct nt_conn *c, const char *p, size_t len)
{
    struct nt_bench *b = w->b;
    switch (b->opt->proto) {
    case NT_PROTO_NATTER:
        if (c->state == NT_ST_HELLO) {
            /* The first message is the prompt, exactly (no LF). */
            const size_t pl = sizeof(NATTER_PROMPT) - 1;
            if (len != pl || memcmp(p, NATTER_PROMPT, pl) != 0) {
                setup_error(w, c, "expected the name prompt as the first message, got", p, len);
                return;
            }
            char name[NT_NAME_MAX + 2];
            conn_name(b, c, name, sizeof(name) - 1);
            size_t nl = strlen(name);
            name[nl++] = '\n';
            c->state = NT_ST_JOINING;
            mark_named(w, c);
            send_ctl(w, c, name, nl);
            return;
        }
        if (c->role == NT_ROLE_SEND && c->state == NT_ST_READY) {
            w->sender_lines++;
            return;
        }
        natter_line(w, c, p, len);
        return;
    case NT_PROTO_IRC:
        irc_line(w, c, p, len);
        return;
    case NT_PROTO_WS: {
        if (c->role == NT_ROLE_SEND) {
            w->sender_lines++;
            return;
        }
        size_t size = b->fmt.size;
        if (len >= size + 3 && p[len - size - 2] == ':' && p[len - size - 1] == ' ') {
            on_payload(w, c, p + len - size, p, len - size - 2);
            return;
        }
        w->k[c->is_stalled].unexpected++;
        return;
    }
    default:
        return;
    }
}

/* A whole message (text or binary). */
static void ws_message(struct nt_worker *w, struct nt_conn *c, uint8_t op, const char *p,
                       size_t len)
{
    if (op == NT_WSC_TEXT) {
        ws_text(w, c, p, len);
        return;
    }
    if (is_setup(c)) {
        setup_error(w, c, "a binary message", p, len);
        return;
    }
    w->k[c->role == NT_ROLE_RECV && c->is_stalled].unexpected++;
}

/* Adds a fragment to the message being put together. False (c lost) when it grows too long. */
static bool ws_append(struct nt_worker *w, struct nt_conn *c, const char *p, size_t len)
{
    if (c->msg_len + len > WS_MSG_MAX) {
        ws_bad(w, c, "a fragmented message over 64 KiB", p, len);
        return false;
    }
    if (c->msg_len + len > c->msg_cap) {
        uint32_t cap = c->msg_cap ? c->msg_cap : 256;
        while (cap < c->msg_len + len)
            cap *= 2;
        char *q = realloc(c->msg, cap);
        if (q == NULL) {
            nt_bench_fail(w->b, "out of memory");
            drop(w, c);
            return false;
        }
        c->msg = q;
        c->msg_cap = cap;
    }
    memcpy(c->msg + c->msg_len, p, len);
    c->msg_len += (uint32_t)len;
    return true;
}

/* The server's Close frame: answered with the same code (RFC 6455 §5.5.1), then the connection
 * is gone, counted as closed (during set-up that ends the run, with the code and reason). */
static void ws_close(struct nt_worker *w, struct nt_conn *c, const char *p, size_t len)
{
    char text[160];
    unsigned code = len >= 2 ? (unsigned)(unsigned char)p[0] << 8 | (unsigned char)p[1] : 1005;
    int n = snprintf(text, sizeof(text), "WebSocket close %u", code);
    if (len > 2) {
        char reason[130];
        excerpt(reason, sizeof(reason), p + 2, len - 2);
        snprintf(text + n, sizeof(text) - (size_t)n, " \"%s\"", reason);
    }
    send_ws_control(w, c, NT_WSC_CLOSE, p, len >= 2 ? 2 : 0);
    if (c->state == NT_ST_DEAD)
        return;
    if (is_setup(c)) {
        char label[32];
        conn_label(c, label, sizeof(label));
        nt_bench_fail(w->b, "%s: the server closed the WebSocket during set-up: %s", label, text);
        drop(w, c);
        return;
    }
    /* A normal close or a going-away (a shutdown, a slow reader cut off) is a close like a
     * TCP one; any other code is the server complaining about something: kept. */
    if (code != 1000 && code != 1001 && code != 1005)
        server_error(w, text, strlen(text));
    conn_lost(w, c, 0);
}

/* --ws: the response head while upgrading, then server frames, each message handed to the
 * protocol as one line. Frames are parsed in place; the common one (an unfragmented text
 * message under 126 bytes) costs two byte tests. */
static size_t parse_ws(struct nt_worker *w, struct nt_conn *c, char *p, size_t len)
{
    struct nt_bench *b = w->b;
    char *s = p, *end = p + len;
    if (c->state == NT_ST_UPGRADE) {
        size_t hl = nt_wsc_head_len(s, len);
        if (hl == 0) {
            if (len > NT_WSC_HEAD_MAX)
                setup_error(w, c, "a response head over 8 KiB", s, len);
            return len > NT_WSC_HEAD_MAX ? len : 0;
        }
        char why[256];
        if (!nt_wsc_check_response(s, hl, c->ws_accept, b->ws_proto, why, sizeof(why))) {
            setup_error(w, c, why, s, hl);
            return len;
        }
        s += hl;
        ws_opened(w, c);
        if (c->state == NT_ST_DEAD)
            return len;
    }
    while (end - s >= 2) {
        unsigned char b0 = (unsigned char)s[0], b1 = (unsigned char)s[1];
        if (b0 == (0x80 | NT_WSC_TEXT) && b1 < 126 && !c->in_msg) {
            if ((size_t)(end - s) < 2u + b1)
                break;
            s += 2 + b1;
            ws_text(w, c, s - b1, b1);
            if (c->state == NT_ST_DEAD)
                return len;
            continue;
        }
        struct nt_wsc_frame f;
        enum nt_wsc_status st = nt_wsc_decode(s, (size_t)(end - s), &f);
        if (st == NT_WSC_MORE)
            break;
        if (st == NT_WSC_BAD) {
            ws_bad(w, c, f.what, s, (size_t)(end - s) < 16 ? (size_t)(end - s) : 16);
            return len;
        }
        if (f.len > WS_FRAME_MAX) {
            ws_bad(w, c, "a frame over 16 KiB", s, f.header);
            return len;
        }
        if ((size_t)(end - s) < f.header + f.len)
            break;
        const char *pl = s + f.header;
        size_t n = (size_t)f.len;
        s += f.header + n;
        switch (f.opcode) {
        case NT_WSC_TEXT:
        case NT_WSC_BINARY:
            if (c->in_msg) {
                ws_bad(w, c, "a new message inside a fragmented one", pl, n);
                return len;
            }
            if (f.fin) {
                ws_message(w, c, f.opcode, pl, n);
                break;
            }
            c->in_msg = true;
            c->msg_op = f.opcode;
            c->msg_len = 0;
            if (!ws_append(w, c, pl, n))
                return len;
            break;
        case NT_WSC_CONTINUATION:
            if (!c->in_msg) {
                ws_bad(w, c, "a continuation frame with no message to continue", pl, n);
                return len;
            }
            if (!ws_append(w, c, pl, n))
                return len;
            if (f.fin) {
                c->in_msg = false;
                ws_message(w, c, c->msg_op, c->msg, c->msg_len);
                c->msg_len = 0;
            }
            break;
        case NT_WSC_PING:
            w->ws_pings++;
            send_ws_control(w, c, NT_WSC_PONG, pl, n);
            break;
        case NT_WSC_PONG:
            break; /* we send no pings */
        case NT_WSC_CLOSE:
            ws_close(w, c, pl, n);
            return len;
        default:
            break;
        }
        if (c->state == NT_ST_DEAD)
            return len;
    }
    return (size_t)(s - p);
}

/* ------------------------------------------------------------------------------------------ */
/* Reading */

static void keep_carry(struct nt_worker *w, struct nt_conn *c, const char *p, size_t len)
{
    if (len == 0) {
        c->carry_len = 0;
        return;
    }
    if (len > CARRY_MAX) {
        /* Longer than any frame we expect: count it and start afresh. */
        if (is_setup(c))
            setup_error(w, c, "frame too long", p, len);
        else
            w->k[c->role == NT_ROLE_RECV && c->is_stalled].unexpected++;
        c->carry_len = 0;
        return;
    }
    if (len > c->carry_cap) {
        uint32_t cap = c->carry_cap ? c->carry_cap : 256;
        while (cap < len)
            cap *= 2;
        char *q = realloc(c->carry, cap);
        if (q == NULL) {
            nt_bench_fail(w->b, "out of memory");
            c->carry_len = 0;
            return;
        }
        c->carry = q;
        c->carry_cap = cap;
    }
    memmove(c->carry, p, len);
    c->carry_len = (uint32_t)len;
}

/* Parses the total bytes at start (the carry, then what was just read) and keeps the
 * incomplete frame at the end for next time. */
static void parse(struct nt_worker *w, struct nt_conn *c, char *start, size_t total)
{
    size_t used;
    switch (w->b->ws ? NT_PROTO_WS : w->b->opt->proto) {
    case NT_PROTO_WS:
        used = parse_ws(w, c, start, total);
        break;
    case NT_PROTO_NATTER:
        used = parse_natter(w, c, start, total);
        break;
    case NT_PROTO_REDIS:
        used = parse_redis(w, c, start, total);
        break;
    case NT_PROTO_IRC:
        used = parse_irc(w, c, start, total);
        break;
    default:
        used = parse_nats(w, c, start, total);
        break;
    }
    if (c->state == NT_ST_DEAD) {
        c->carry_len = 0;
        return;
    }
    keep_carry(w, c, start + used, total - used);
}

/* --tls: decrypts everything fed so far and parses it, in batches of up to READ_SIZE. Returns
 * 0, or -1 when c was lost. */
static int tls_decrypt(struct nt_worker *w, struct nt_conn *c)
{
    for (;;) {
        char *area = w->rbuf + CARRY_MAX;
        size_t have = c->carry_len, got = 0;
        char *start = area - have;
        enum nt_tls_status st = nt_tls_read(c->ssl, area, READ_SIZE, &got);
        if (got > 0) {
            /* The carry goes right before the new bytes, as on the plain path. */
            if (have)
                memcpy(start, c->carry, have);
            parse(w, c, start, have + got);
            if (c->state == NT_ST_DEAD)
                return -1;
        }
        if (st == NT_TLS_OK)
            continue; /* the batch was full: there may be more */
        if (st == NT_TLS_WANT)
            return 0;
        if (st == NT_TLS_EOF)
            conn_lost(w, c, 0);
        else
            tls_failed(w, c, "TLS read failed");
        return -1;
    }
}

/* on_readable over TLS: ciphertext from the socket, fed a piece at a time, the handshake
 * advanced while it lasts, then the plaintext parsed as on the plain path. */
static void on_readable_tls(struct nt_worker *w, struct nt_conn *c)
{
    ssize_t n = read(c->fd, w->cbuf, READ_SIZE);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_lost(w, c, errno);
        return;
    }
    if (n == 0) {
        if (c->state == NT_ST_TLS) {
            conn_lost(w, c, 0); /* says "TLS handshake failed: closed by the server" */
            return;
        }
        /* What was fed is parsed already; a close_notify, or none (the server just closed:
         * SSL_OP_IGNORE_UNEXPECTED_EOF makes that a close too), ends the session. */
        nt_tls_eof(c->ssl);
        tls_decrypt(w, c);
        return;
    }
    w->now = nt_now_ns();
    for (size_t off = 0; off < (size_t)n;) {
        size_t chunk = (size_t)n - off < TLS_FEED ? (size_t)n - off : TLS_FEED;
        if (nt_tls_feed(c->ssl, w->cbuf + off, chunk) != 0) {
            nt_bench_fail(w->b, "out of memory for TLS input");
            drop(w, c);
            return;
        }
        off += chunk;
        if (c->state == NT_ST_TLS) {
            int rc = tls_handshake(w, c);
            if (rc < 0)
                return;
            if (rc > 0)
                continue;
        }
        if (tls_decrypt(w, c) != 0)
            return;
    }
    /* Reading can queue ciphertext of its own (alerts, key updates). When the socket is full
     * already, EPOLLOUT sends it. */
    const char *p;
    if (!c->want_out && nt_tls_out(c->ssl, &p) > 0)
        flush_out(w, c);
}

static void on_readable(struct nt_worker *w, struct nt_conn *c)
{
    if (c->ssl != NULL) {
        on_readable_tls(w, c);
        return;
    }
    /* The incomplete frame from the last read goes right before the new bytes, so every frame
     * is parsed in place, in one piece. */
    char *area = w->rbuf + CARRY_MAX;
    size_t have = c->carry_len;
    char *start = area - have;
    if (have)
        memcpy(start, c->carry, have);
    ssize_t n = read(c->fd, area, READ_SIZE);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_lost(w, c, n < 0 ? errno : 0);
        return;
    }
    w->now = nt_now_ns();
    parse(w, c, start, have + (size_t)n);
}

/* ------------------------------------------------------------------------------------------ */
/* Sending */

/* Appends n messages of sender c to its output; ts(i) is now, or the schedule in latency mode. */
static bool build(struct nt_worker *w, struct nt_conn *c, uint64_t n)
{
    struct nt_bench *b = w->b;
    if (!out_reserve(c, (size_t)n * b->frame_len)) {
        nt_bench_fail(b,
                      "sender %u: more than 64 MiB waiting to be written: the server is "
                      "not reading",
                      c->idx);
        return false;
    }
    char *o = c->out + c->out_len;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t ts = w->now;
        if (b->opt->mode == NT_MODE_LATENCY) {
            ts = c->next_due;
            c->next_due += b->period_ns;
        }
        if (b->ws) {
            /* One masked text message: the line without its line end. */
            size_t len = b->pub_pre_len + b->fmt.size;
            uint32_t key = nt_wsc_next_key(&w->ws_rng);
            o += nt_wsc_header(o, NT_WSC_TEXT, len, key);
            memcpy(o, b->pub_pre, b->pub_pre_len);
            nt_payload_encode(&b->fmt, o + b->pub_pre_len, c->idx, c->next_seq++, ts);
            nt_wsc_mask(o, len, key);
            o += len;
            continue;
        }
        memcpy(o, b->pub_pre, b->pub_pre_len);
        o += b->pub_pre_len;
        nt_payload_encode(&b->fmt, o, c->idx, c->next_seq++, ts);
        o += b->fmt.size;
        memcpy(o, b->pub_suf, b->pub_suf_len);
        o += b->pub_suf_len;
    }
    c->out_len = (size_t)(o - c->out);
    atomic_store_explicit(&b->snd[c->idx].sent, c->next_seq, memory_order_relaxed);
    return true;
}

/* How many messages sender c may send now. */
static uint64_t sender_room(const struct nt_worker *w, const struct nt_conn *c)
{
    const struct nt_bench *b = w->b;
    if (c->state != NT_ST_READY || c->out_len > c->out_off)
        return 0;
    if (b->opt->mode == NT_MODE_LATENCY) {
        if (c->next_due > w->now)
            return 0;
        return (w->now - c->next_due) / b->period_ns + 1;
    }
    uint64_t done = atomic_load_explicit(&b->snd[c->idx].delivered, memory_order_acquire);
    uint64_t in_flight = c->next_seq - done;
    return in_flight >= b->window ? 0 : b->window - in_flight;
}

static void run_senders(struct nt_worker *w)
{
    for (uint32_t i = w->n_recv; i < w->n_conns; i++) {
        struct nt_conn *c = &w->conns[i];
        if (c->state == NT_ST_READY && c->out_len > c->out_off &&
            w->b->opt->mode == NT_MODE_LATENCY) {
            /* Blocked by the socket: the schedule goes on, the messages wait in order. */
            uint64_t late =
                c->next_due <= w->now ? (w->now - c->next_due) / w->b->period_ns + 1 : 0;
            if (late > 0 && build(w, c, late) == false)
                return;
            continue;
        }
        uint64_t n = sender_room(w, c);
        if (n == 0)
            continue;
        if (!build(w, c, n))
            return;
        flush_out(w, c);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Phases */

static void pause_reading(struct nt_worker *w, struct nt_conn *c, bool pause)
{
    if (c->fd < 0 || c->is_paused == pause)
        return;
    c->is_paused = pause;
    if (pause) {
        set_events(w, c);
    } else {
        /* It may have been taken out of the set when the server's FIN arrived. */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
            epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev);
    }
}

static void enter_phase(struct nt_worker *w, int phase)
{
    struct nt_bench *b = w->b;
    switch (phase) {
    case NT_PHASE_WARMUP:
        for (uint32_t i = w->n_recv; i < w->n_conns; i++) {
            struct nt_conn *c = &w->conns[i];
            /* Spread the senders' schedules evenly over one period. */
            c->next_due = b->t_warmup_ns + b->period_ns * c->idx / (b->n_send ? b->n_send : 1);
        }
        break;
    case NT_PHASE_MEASURE:
        w->measuring = true;
        for (uint32_t i = 0; i < w->n_recv; i++) {
            if (w->conns[i].is_stalled)
                pause_reading(w, &w->conns[i], true);
        }
        break;
    case NT_PHASE_DRAIN:
        w->measuring = false;
        for (uint32_t i = w->n_recv; i < w->n_conns; i++) {
            struct nt_conn *c = &w->conns[i];
            atomic_store(&b->snd[c->idx].sent, c->next_seq);
            atomic_fetch_add(&b->senders_stopped, 1);
        }
        for (uint32_t i = 0; i < w->n_recv; i++)
            pause_reading(w, &w->conns[i], false);
        break;
    default:
        break;
    }
}

/* DRAIN: true when every receiver here has every message sent, or is gone. */
static bool drained(struct nt_worker *w)
{
    struct nt_bench *b = w->b;
    if (atomic_load(&b->senders_stopped) < b->n_send)
        return false;
    uint64_t target = 0;
    for (uint32_t s = 0; s < b->n_track; s++)
        target += atomic_load_explicit(&b->snd[s].sent, memory_order_relaxed);
    for (uint32_t i = 0; i < w->n_recv; i++) {
        const struct nt_conn *c = &w->conns[i];
        if (c->state == NT_ST_READY && c->progress < target)
            return false;
    }
    return true;
}

static void publish(struct nt_worker *w)
{
    atomic_store_explicit(&w->p_deliv[0], w->k[0].deliveries, memory_order_relaxed);
    atomic_store_explicit(&w->p_deliv[1], w->k[1].deliveries, memory_order_relaxed);
    for (uint32_t i = 0; i < w->b->n_recv_ports; i++)
        atomic_store_explicit(&w->p_port_deliv[i], w->port_deliv[i], memory_order_relaxed);
}

/* The epoll timeout for this iteration, in ns. */
static uint64_t next_timeout(struct nt_worker *w, int phase)
{
    struct nt_bench *b = w->b;
    uint64_t t = MAX_SLEEP_NS;
    if (phase == NT_PHASE_SETUP && w->next_connect < w->n_conns)
        t = 10 * 1000 * 1000;
    if ((phase == NT_PHASE_WARMUP || phase == NT_PHASE_MEASURE) &&
        b->opt->mode == NT_MODE_LATENCY) {
        for (uint32_t i = w->n_recv; i < w->n_conns; i++) {
            const struct nt_conn *c = &w->conns[i];
            if (c->state != NT_ST_READY)
                continue;
            uint64_t due = c->next_due > w->now ? c->next_due - w->now : 0;
            if (due < t)
                t = due;
        }
    }
    return t;
}

static int wait_events(struct nt_worker *w, struct epoll_event *evs, uint64_t timeout_ns)
{
    static _Atomic int no_pwait2;
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000u),
                              .tv_nsec = (long)(timeout_ns % 1000000000u)};
        int n = epoll_pwait2(w->epfd, evs, MAX_EVENTS, &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        atomic_store(&no_pwait2, 1);
    }
    return epoll_wait(w->epfd, evs, MAX_EVENTS, (int)((timeout_ns + 999999) / 1000000));
}

static void *worker_main(void *arg)
{
    struct nt_worker *w = arg;
    struct nt_bench *b = w->b;
    struct epoll_event *evs = calloc(MAX_EVENTS, sizeof(*evs));
    if (evs == NULL) {
        nt_bench_fail(b, "out of memory");
        return NULL;
    }
    if (b->opt->mode == NT_MODE_LATENCY) {
        /* The default 50 µs timer slack would show up in every latency. */
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    }
    bool has_senders = w->n_conns > w->n_recv;
    int seen = -1;
    for (;;) {
        int phase = atomic_load(&b->phase);
        if (phase != seen) {
            for (int p = seen + 1; p <= phase; p++)
                enter_phase(w, p);
            seen = phase;
        }
        if (phase == NT_PHASE_STOP)
            break;
        w->now = nt_now_ns();
        if (phase == NT_PHASE_SETUP)
            start_connects(w);
        if ((phase == NT_PHASE_WARMUP || phase == NT_PHASE_MEASURE) && has_senders)
            run_senders(w);
        if (phase == NT_PHASE_DRAIN && !atomic_load_explicit(&w->p_drained, memory_order_relaxed))
            atomic_store(&w->p_drained, drained(w));
        publish(w);

        uint64_t timeout = next_timeout(w, phase);
        bool announce = b->n_workers > 1 && has_senders && b->track_window &&
                        (phase == NT_PHASE_WARMUP || phase == NT_PHASE_MEASURE);
        if (announce) {
            /* Another worker that completes one of our messages wakes us only if we said we
             * sleep; look once more after saying so (no lost wake-up). */
            atomic_store(&w->sleeping, 1);
            for (uint32_t i = w->n_recv; i < w->n_conns; i++) {
                if (sender_room(w, &w->conns[i]) > 0) {
                    timeout = 0;
                    break;
                }
            }
        }
        int n = wait_events(w, evs, timeout);
        if (announce)
            atomic_store(&w->sleeping, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            nt_bench_fail(b, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            struct nt_conn *c = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (c == NULL) {
                uint64_t v;
                ssize_t r = read(w->efd, &v, sizeof(v));
                (void)r;
                continue;
            }
            if (c->fd < 0)
                continue;
            if (c->state == NT_ST_CONNECTING) {
                if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    on_connected(w, c);
                if (c->fd < 0 || !(e & EPOLLIN))
                    continue;
            }
            if (c->is_paused && (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
                /* Not reading: the server's FIN or an error. Note it; the backlog and the FIN
                 * are read in DRAIN. */
                if (!c->is_cut) {
                    c->is_cut = true;
                    c->cut_ns = nt_now_ns();
                }
                epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
                continue;
            }
            if (!c->is_paused && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                on_readable(w, c);
            if (c->fd >= 0 && (e & EPOLLOUT) && c->want_out)
                flush_out(w, c);
        }
    }
    publish(w);
    free(evs);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Set-up and tear-down */

int nt_worker_init(struct nt_worker *w, struct nt_bench *b, uint32_t id)
{
    memset(w, 0, sizeof(*w));
    w->b = b;
    w->id = id;
    w->epfd = -1;
    w->efd = -1;
    nt_hist_init(&w->hist);
    w->pub_min_receivers = UINT64_MAX;
    if (b->ws)
        w->ws_rng = nt_wsc_seed();
    uint32_t nw = b->n_workers;
    for (uint32_t r = id; r < b->n_recv; r += nw)
        w->n_recv++;
    uint32_t n_send = 0;
    for (uint32_t s = id; s < b->n_send; s += nw)
        n_send++;
    w->n_conns = w->n_recv + n_send;
    w->conns = calloc(w->n_conns ? w->n_conns : 1, sizeof(*w->conns));
    w->acks = calloc((size_t)b->n_track * b->ring, sizeof(*w->acks));
    w->rbuf = malloc(CARRY_MAX + READ_SIZE);
    if (w->conns == NULL || w->acks == NULL || w->rbuf == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < NT_LIST_MAX; i++)
        atomic_init(&w->p_port_deliv[i], 0);
    if (b->n_recv_ports > 1) {
        w->port_hist = malloc(b->n_recv_ports * sizeof(*w->port_hist));
        if (w->port_hist == NULL)
            return -ENOMEM;
        for (uint32_t i = 0; i < b->n_recv_ports; i++)
            nt_hist_init(&w->port_hist[i]);
    }
    if (b->tls_ctx != NULL) {
        w->cbuf = malloc(READ_SIZE);
        if (w->cbuf == NULL)
            return -ENOMEM;
    }
    uint32_t k = 0;
    for (uint32_t r = id; r < b->n_recv; r += nw, k++) {
        struct nt_conn *c = &w->conns[k];
        c->fd = -1;
        c->role = NT_ROLE_RECV;
        c->idx = r;
        c->port = (uint8_t)(r % b->n_recv_ports);
        c->is_stalled = r < b->n_stalled;
        if (!c->is_stalled)
            w->n_active++;
        c->seq = calloc(b->n_track, sizeof(*c->seq));
        if (c->seq == NULL)
            return -ENOMEM;
    }
    for (uint32_t s = id; s < b->n_send; s += nw, k++) {
        struct nt_conn *c = &w->conns[k];
        c->fd = -1;
        c->role = NT_ROLE_SEND;
        c->idx = s;
        c->port = (uint8_t)(s % b->n_send_ports);
        b->snd[s].owner = id;
    }
    uint32_t burst = (uint32_t)b->opt->connect_burst;
    w->max_connecting = burst / nw > 1 ? burst / nw : 1;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        return -errno;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->efd, &ev) != 0)
        return -errno;
    return 0;
}

int nt_worker_start(struct nt_worker *w)
{
    return -pthread_create(&w->thread, NULL, worker_main, w);
}

void nt_worker_join(struct nt_worker *w)
{
    pthread_join(w->thread, NULL);
}

void nt_worker_fini(struct nt_worker *w)
{
    for (uint32_t i = 0; w->conns && i < w->n_conns; i++) {
        struct nt_conn *c = &w->conns[i];
        if (c->fd >= 0)
            close(c->fd);
        nt_tls_free(c->ssl);
        free(c->msg);
        free(c->carry);
        free(c->seq);
        free(c->out);
    }
    free(w->conns);
    free(w->port_hist);
    free(w->acks);
    free(w->rbuf);
    free(w->cbuf);
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->efd >= 0)
        close(w->efd);
    w->conns = NULL;
}
