/* SPDX-License-Identifier: MIT */
/* run.c - the coordinator: set-up, the marker client, phases, sampling, gathering results. */
#include "run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"
#include "tls.h"
#include "websocket.h"

#define NS_PER_S   1000000000ull
#define NS_PER_MS  1000000ull
#define POLL_NS    (2 * NS_PER_MS) /* how often the coordinator looks at the workers */
#define DRAIN_NS   (5 * NS_PER_S)  /* the most the in-flight messages get after the window */
#define REPROBE_NS (3 * NS_PER_S)  /* natter: a new marker when joining makes no progress */
#define PER_SOURCE 25000           /* connections per source address */

static bool quiet;

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("natter-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / NS_PER_S), .tv_nsec = (long)(t % NS_PER_S)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void on_alarm(int sig)
{
    static const char msg[] = "natter-bench: hard deadline passed; giving up\n";
    (void)sig;
    ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)n;
    _exit(1);
}

/* ------------------------------------------------------------------------------------------ */
/* The control client: natter's marker and the broadcaster of connections mode. Blocking calls
 * with a deadline; the coordinator has nothing else to do meanwhile. With --tls it speaks TLS
 * through the same memory-BIO sessions as the workers (tls.h). With --ws it upgrades first and
 * then sends each line as a masked text message; what it waits for (the prompt, a join notice,
 * an IRC numeric) is found in the raw bytes, since server frames are not masked. */

struct ctl {
    int fd;
    bool ws;            /* upgraded: ctl_send frames each line */
    uint64_t ws_rng;    /* mask keys */
    struct ssl_st *ssl; /* owned: --tls, the session; else NULL */
    const char *name;   /* for errors: "marker client", "broadcast client" */
    size_t len;
    char buf[8192];
};

static int ctl_wait(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = nt_now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int ms = (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS);
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

/* Sends len bytes as they are (plaintext, or ciphertext with --tls). */
static int ctl_send_raw(struct ctl *c, const char *p, size_t len, uint64_t deadline)
{
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            return -errno;
        int rc = ctl_wait(c->fd, POLLOUT, deadline);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* --tls: sends the ciphertext the session queued. */
static int ctl_flush_tls(struct ctl *c, uint64_t deadline)
{
    const char *p;
    size_t len = nt_tls_out(c->ssl, &p);
    if (len == 0)
        return 0;
    int rc = ctl_send_raw(c, p, len, deadline);
    nt_tls_out_done(c->ssl, len);
    return rc;
}

/* --tls: the client handshake, to its end or the deadline. */
static int ctl_handshake(struct nt_bench *b, struct ctl *c, uint64_t deadline)
{
    c->ssl = nt_tls_new(b->tls_ctx);
    if (c->ssl == NULL)
        return -ENOMEM;
    for (;;) {
        enum nt_tls_status st = nt_tls_handshake(c->ssl);
        int rc = ctl_flush_tls(c, deadline);
        if (rc != 0)
            return rc;
        if (st == NT_TLS_OK)
            return 0;
        if (st != NT_TLS_WANT) {
            char why[256];
            nt_tls_why(c->ssl, true, why, sizeof(why));
            nt_bench_fail(b, "%s: TLS handshake failed: %s", c->name, why);
            return -EPROTO;
        }
        rc = ctl_wait(c->fd, POLLIN, deadline);
        if (rc != 0)
            return rc;
        char raw[16384];
        ssize_t n = recv(c->fd, raw, sizeof(raw), 0);
        if (n == 0) {
            nt_bench_fail(b,
                          "%s: TLS handshake failed: connection closed by the server (is it "
                          "listening with TLS?)",
                          c->name);
            return -ECONNRESET;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        if (n > 0 && nt_tls_feed(c->ssl, raw, (size_t)n) != 0)
            return -ENOMEM;
    }
}

static int ctl_open(struct nt_bench *b, struct ctl *c, uint64_t deadline)
{
    c->len = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (const struct sockaddr *)&b->dst, sizeof(b->dst)) != 0 &&
        errno != EINPROGRESS)
        return -errno;
    int rc = ctl_wait(c->fd, POLLOUT, deadline);
    if (rc != 0)
        return rc;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || b->tls_ctx == NULL)
        return -err;
    return ctl_handshake(b, c, deadline);
}

static void ctl_close(struct ctl *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->ws = false;
    nt_tls_free(c->ssl);
    c->ssl = NULL;
    c->len = 0;
}

/* Sends bytes as they are over the socket or the TLS session. */
static int ctl_send_bytes(struct ctl *c, const char *p, size_t len, uint64_t deadline)
{
    if (c->ssl == NULL)
        return ctl_send_raw(c, p, len, deadline);
    if (nt_tls_write(c->ssl, p, len) != 0)
        return -EPROTO;
    return ctl_flush_tls(c, deadline);
}

/* Sends lines (each ending in LF or CR LF): as they are, or once upgraded one masked text
 * message each, without the line end. */
static int ctl_send(struct ctl *c, const char *p, size_t len, uint64_t deadline)
{
    if (!c->ws)
        return ctl_send_bytes(c, p, len, deadline);
    char frame[NT_WSC_HEADER_MAX + NT_PAYLOAD_MAX + 512];
    const char *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t n = (size_t)(e - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n > sizeof(frame) - NT_WSC_HEADER_MAX)
            return -EMSGSIZE;
        size_t f = nt_wsc_frame(frame, NT_WSC_TEXT, p, n, nt_wsc_next_key(&c->ws_rng));
        int rc = ctl_send_bytes(c, frame, f, deadline);
        if (rc != 0)
            return rc;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* A TLS read failed: empties this thread's error queue, says EPROTO. */
static ssize_t ctl_tls_failed(struct ctl *c)
{
    char why[256];
    nt_tls_why(c->ssl, false, why, sizeof(why));
    errno = EPROTO;
    return -1;
}

/* Like recv() on a non-blocking socket, through the session with --tls: bytes, 0 at EOF, or -1
 * with errno (EAGAIN: nothing yet; EPROTO: a TLS failure). */
static ssize_t ctl_recv(struct ctl *c, char *dst, size_t cap)
{
    if (c->ssl == NULL)
        return recv(c->fd, dst, cap, 0);
    for (;;) {
        size_t got = 0;
        enum nt_tls_status st = nt_tls_read(c->ssl, dst, cap, &got);
        if (got > 0)
            return (ssize_t)got;
        if (st == NT_TLS_EOF)
            return 0;
        if (st == NT_TLS_ERROR)
            return ctl_tls_failed(c);
        char raw[16384];
        ssize_t n = recv(c->fd, raw, sizeof(raw), 0);
        if (n < 0)
            return -1;
        if (n == 0) {
            nt_tls_eof(c->ssl);
            st = nt_tls_read(c->ssl, dst, cap, &got);
            if (got > 0)
                return (ssize_t)got;
            return st == NT_TLS_ERROR ? ctl_tls_failed(c) : 0;
        }
        if (nt_tls_feed(c->ssl, raw, (size_t)n) != 0) {
            errno = ENOMEM;
            return -1;
        }
    }
}

/* Reads until the buffer holds needle (or other, when not NULL); drops everything up to and
 * including it. */
static int ctl_expect_any(struct ctl *c, const char *needle, const char *other, uint64_t deadline)
{
    size_t nl = strlen(needle), ol = other ? strlen(other) : 0, keep = nl > ol ? nl : ol;
    for (;;) {
        for (size_t i = 0; i < c->len; i++) {
            size_t got = 0;
            if (i + nl <= c->len && memcmp(c->buf + i, needle, nl) == 0)
                got = nl;
            else if (other && i + ol <= c->len && memcmp(c->buf + i, other, ol) == 0)
                got = ol;
            if (got) {
                memmove(c->buf, c->buf + i + got, c->len - i - got);
                c->len -= i + got;
                return 0;
            }
        }
        if (c->len == sizeof(c->buf)) {
            /* keep the tail that may hold the start of needle */
            memmove(c->buf, c->buf + c->len - keep, keep);
            c->len = keep;
        }
        ssize_t n = ctl_recv(c, c->buf + c->len, sizeof(c->buf) - c->len);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n == 0)
            return -ECONNRESET;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        int rc = ctl_wait(c->fd, POLLIN, deadline);
        if (rc != 0)
            return rc;
    }
}

static int ctl_expect(struct ctl *c, const char *needle, uint64_t deadline)
{
    return ctl_expect_any(c, needle, NULL, deadline);
}

/* --ws: the upgrade request, and the 101 checked as the workers check theirs; what follows the
 * head stays in the buffer. */
static int ctl_upgrade(struct nt_bench *b, struct ctl *c, uint64_t deadline)
{
    char req[1024], accept[NT_WSC_ACCEPT_LEN + 1];
    size_t n = nt_wsc_request(req, sizeof(req), b->opt->host, (unsigned)b->opt->port,
                              b->opt->ws_path, b->ws_proto, accept);
    if (n == 0)
        return -EIO;
    int rc = ctl_send_bytes(c, req, n, deadline);
    if (rc != 0)
        return rc;
    c->ws_rng = nt_wsc_seed();
    for (;;) {
        size_t hl = nt_wsc_head_len(c->buf, c->len);
        if (hl > 0) {
            char why[256];
            if (!nt_wsc_check_response(c->buf, hl, accept, b->ws_proto, why, sizeof(why))) {
                nt_bench_fail(b, "%s: %s", c->name, why);
                return -EPROTO;
            }
            memmove(c->buf, c->buf + hl, c->len - hl);
            c->len -= hl;
            c->ws = true;
            return 0;
        }
        if (c->len == sizeof(c->buf)) {
            nt_bench_fail(b, "%s: a WebSocket response head over %zu bytes", c->name,
                          sizeof(c->buf));
            return -EPROTO;
        }
        ssize_t got = ctl_recv(c, c->buf + c->len, sizeof(c->buf) - c->len);
        if (got > 0) {
            c->len += (size_t)got;
            continue;
        }
        if (got == 0) {
            nt_bench_fail(b, "%s: connection closed by the server before the 101", c->name);
            return -ECONNRESET;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        rc = ctl_wait(c->fd, POLLIN, deadline);
        if (rc != 0)
            return rc;
    }
}

/* Connects, with --tls the handshake, with --ws the upgrade. */
static int ctl_connect(struct nt_bench *b, struct ctl *c, uint64_t deadline)
{
    int rc = ctl_open(b, c, deadline);
    if (rc == 0 && b->ws)
        rc = ctl_upgrade(b, c, deadline);
    return rc;
}

/* IRC: registers as nick, waits for the end of the MOTD, joins the channel and waits for its
 * 366 (the server then has us in it). */
static int ctl_irc_join(struct nt_bench *b, struct ctl *c, const char *nick, uint64_t deadline)
{
    char line[2 * NT_NAME_MAX + 48];
    int n = snprintf(line, sizeof(line), "NICK %s\r\nUSER %s 0 * :natter-bench\r\n", nick, nick);
    int rc = ctl_send(c, line, (size_t)n, deadline);
    if (rc == 0)
        rc = ctl_expect_any(c, " 376 ", " 422 ", deadline);
    if (rc == 0)
        rc = ctl_send(c, b->recv_hello, b->recv_hello_len, deadline);
    if (rc == 0)
        rc = ctl_expect(c, " 366 ", deadline);
    return rc;
}

/* Reads and drops whatever is there (notices), so the server never sees us as slow. */
static void ctl_discard(struct ctl *c)
{
    char tmp[65536];
    while (c->fd >= 0 && ctl_recv(c, tmp, sizeof(tmp)) > 0) {
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Set-up of the shared state */

static uint64_t sum_named(struct nt_bench *b)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < b->n_workers; i++)
        n += atomic_load_explicit(&b->workers[i].p_named, memory_order_relaxed);
    return n;
}

static uint64_t sum_tls(struct nt_bench *b)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < b->n_workers; i++)
        n += atomic_load_explicit(&b->workers[i].p_tls, memory_order_relaxed);
    return n;
}

static uint64_t sum_ws(struct nt_bench *b)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < b->n_workers; i++)
        n += atomic_load_explicit(&b->workers[i].p_ws, memory_order_relaxed);
    return n;
}

static uint64_t sum_ready(struct nt_bench *b)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < b->n_workers; i++)
        n += atomic_load_explicit(&b->workers[i].p_ready, memory_order_relaxed);
    return n;
}

static uint64_t sum_deliv(struct nt_bench *b, int k)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < b->n_workers; i++)
        n += atomic_load_explicit(&b->workers[i].p_deliv[k], memory_order_relaxed);
    return n;
}

/* Deliveries to the active receivers of each --port so far, into per[] (NT_LIST_MAX). */
static void sum_port_deliv(struct nt_bench *b, uint64_t *per)
{
    for (uint32_t p = 0; p < b->n_recv_ports; p++) {
        per[p] = 0;
        for (uint32_t i = 0; i < b->n_workers; i++)
            per[p] += atomic_load_explicit(&b->workers[i].p_port_deliv[p], memory_order_relaxed);
    }
}

static uint64_t sum_sent(struct nt_bench *b)
{
    uint64_t n = 0;
    for (uint32_t s = 0; s < b->n_track; s++)
        n += atomic_load_explicit(&b->snd[s].sent, memory_order_relaxed);
    return n;
}

static bool all_drained(struct nt_bench *b)
{
    for (uint32_t i = 0; i < b->n_workers; i++) {
        if (!atomic_load(&b->workers[i].p_drained))
            return false;
    }
    return true;
}

static void set_phase(struct nt_bench *b, int phase)
{
    atomic_store(&b->phase, phase);
    for (uint32_t i = 0; i < b->n_workers; i++)
        nt_worker_wake(&b->workers[i]);
}

static void make_tag(char *tag)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    uint64_t x = nt_now_ns() ^ ((uint64_t)getpid() * 0x9E3779B97F4A7C15ull);
    x ^= x >> 29;
    for (int i = 0; i < 4; i++) {
        tag[i] = digits[x % 36];
        x /= 36;
    }
    tag[4] = '\0';
}

static void build_frames(struct nt_bench *b)
{
    const struct nt_options *o = b->opt;
    size_t size = b->fmt.size, cl = strlen(o->channel);
    int n1 = 0, n2 = 0, n3 = 0, n4 = 0;
    switch (o->proto) {
    case NT_PROTO_NATTER:
    case NT_PROTO_WS:
        b->pub_suf[0] = '\n';
        b->pub_suf_len = 1;
        break;
    case NT_PROTO_REDIS:
        n1 = snprintf(b->pub_pre, sizeof(b->pub_pre),
                      "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n", cl, o->channel, size);
        n2 = snprintf(b->msg_pre, sizeof(b->msg_pre),
                      "*3\r\n$7\r\nmessage\r\n$%zu\r\n%s\r\n$%zu\r\n", cl, o->channel, size);
        n3 = snprintf(b->recv_hello, sizeof(b->recv_hello),
                      "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n", cl, o->channel);
        memcpy(b->pub_suf, "\r\n", 2);
        b->pub_suf_len = 2;
        break;
    case NT_PROTO_IRC:
        /* Senders: "PRIVMSG #channel :PAYLOAD"; receivers get ":NICK!USER@HOST" + msg_pre +
         * PAYLOAD (the prefix differs from server to server; only the nick is checked). */
        n1 = snprintf(b->pub_pre, sizeof(b->pub_pre), "PRIVMSG #%s :", o->channel);
        n2 = snprintf(b->msg_pre, sizeof(b->msg_pre), " PRIVMSG #%s :", o->channel);
        n3 = snprintf(b->recv_hello, sizeof(b->recv_hello), "JOIN #%s\r\n", o->channel);
        memcpy(b->pub_suf, "\r\n", 2);
        b->pub_suf_len = 2;
        break;
    case NT_PROTO_NATS:
        n1 = snprintf(b->pub_pre, sizeof(b->pub_pre), "PUB %s %zu\r\n", o->channel, size);
        n2 = snprintf(b->msg_pre, sizeof(b->msg_pre), "MSG %s 1 %zu\r\n", o->channel, size);
        n3 = snprintf(b->recv_hello, sizeof(b->recv_hello),
                      "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB %s 1\r\nPING\r\n",
                      o->channel);
        n4 = snprintf(b->send_hello, sizeof(b->send_hello),
                      "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false}\r\nPING\r\n");
        memcpy(b->pub_suf, "\r\n", 2);
        b->pub_suf_len = 2;
        break;
    }
    b->pub_pre_len = (size_t)n1;
    b->msg_pre_len = (size_t)n2;
    b->msg_len = b->msg_pre_len + size + 2;
    b->recv_hello_len = (size_t)n3;
    b->send_hello_len = (size_t)n4;
    b->frame_len = b->pub_pre_len + size + b->pub_suf_len;
    if (b->ws)
        b->frame_len = nt_wsc_frame_size(b->pub_pre_len + size); /* no line end */
}

static int init_bench(struct nt_bench *b, const struct nt_options *o)
{
    memset(b, 0, sizeof(*b));
    b->opt = o;
    pthread_mutex_init(&b->lock, NULL);
    b->dst.sin_family = AF_INET;
    b->dst.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->host, &b->dst.sin_addr) != 1) {
        snprintf(b->error, sizeof(b->error), "--host: '%s' is not an IPv4 address", o->host);
        return -1;
    }
    /* Receivers round-robin over --port, senders over --sender-port (or --port). */
    const struct nt_list_u64 *sp = o->sender_ports.n ? &o->sender_ports : &o->ports;
    b->n_recv_ports = o->ports.n;
    b->n_send_ports = sp->n;
    for (uint32_t i = 0; i < b->n_recv_ports; i++) {
        b->recv_dst[i] = b->dst;
        b->recv_dst[i].sin_port = htons((uint16_t)o->ports.v[i]);
    }
    for (uint32_t i = 0; i < b->n_send_ports; i++) {
        b->send_dst[i] = b->dst;
        b->send_dst[i].sin_port = htons((uint16_t)sp->v[i]);
    }
    nt_payload_fmt_init(&b->fmt, o->size);
    make_tag(b->tag);
    b->name_sep = '_'; /* names follow the IRC nick rules at every door: no '.' */
    b->ws = o->ws;
    b->ws_proto = o->ws && o->ws_protocol[0] ? o->ws_protocol : NULL;
    bool conns = o->mode == NT_MODE_CONNECTIONS || o->mode == NT_MODE_JOINS;
    b->n_recv = (uint32_t)o->receivers;
    b->n_send = conns ? 0 : (uint32_t)o->senders;
    b->n_track = conns ? 1 : b->n_send;
    b->n_stalled = o->mode == NT_MODE_STALLED ? (uint32_t)o->stalled : 0;
    b->window = (uint32_t)o->window;
    b->ring = 1;
    while (b->ring < b->window)
        b->ring <<= 1;
    b->track_window = o->mode == NT_MODE_THROUGHPUT || o->mode == NT_MODE_STALLED;
    uint64_t total = (uint64_t)b->n_recv + b->n_send;
    b->n_sources =
        o->sources ? (uint32_t)o->sources
                   : (total > PER_SOURCE ? (uint32_t)((total + PER_SOURCE - 1) / PER_SOURCE) : 1);
    if (o->mode == NT_MODE_LATENCY)
        b->period_ns = (uint64_t)((double)b->n_send * 1e9 / o->rate);
    if (b->period_ns == 0)
        b->period_ns = 1;
    build_frames(b);
    if (o->tls) {
        /* Connections mode holds thousands of idle sessions: no 16 KiB buffers each. */
        b->tls_ctx = nt_tls_ctx_new(o->tls_ca[0] ? o->tls_ca : NULL, o->mode == NT_MODE_CONNECTIONS,
                                    b->error, sizeof(b->error));
        if (b->tls_ctx == NULL)
            return -1;
    }

    b->snd = aligned_alloc(NT_CACHELINE, b->n_track * sizeof(*b->snd));
    b->left_recv = calloc(b->n_recv, sizeof(*b->left_recv));
    b->left_send = calloc(b->n_send ? b->n_send : 1, sizeof(*b->left_send));
    if (b->snd == NULL || b->left_recv == NULL || b->left_send == NULL)
        return -1;
    memset(b->snd, 0, b->n_track * sizeof(*b->snd));
    for (uint32_t s = 0; s < b->n_track; s++) {
        struct nt_sender_shared *sh = &b->snd[s];
        atomic_init(&sh->delivered, 0);
        atomic_init(&sh->sent, 0);
        sh->slots = calloc(b->ring, sizeof(*sh->slots));
        if (sh->slots == NULL)
            return -1;
        for (uint32_t i = 0; i < b->ring; i++)
            atomic_init(&sh->slots[i], 0);
        int n = snprintf(sh->name, sizeof(sh->name), "s%u%c%s", s, b->name_sep, b->tag);
        sh->name_len = (uint32_t)n;
    }
    for (uint32_t i = 0; i < b->n_recv; i++)
        atomic_init(&b->left_recv[i], 0);
    for (uint32_t i = 0; i < b->n_send; i++)
        atomic_init(&b->left_send[i], 0);
    atomic_init(&b->phase, NT_PHASE_SETUP);
    atomic_init(&b->failed, 0);

    b->n_workers = (uint32_t)o->workers;
    b->workers = aligned_alloc(NT_CACHELINE, b->n_workers * sizeof(*b->workers));
    if (b->workers == NULL)
        return -1;
    for (uint32_t i = 0; i < b->n_workers; i++) {
        int rc = nt_worker_init(&b->workers[i], b, i);
        if (rc != 0) {
            snprintf(b->error, sizeof(b->error), "worker set-up: %s", strerror(-rc));
            b->n_workers = i + 1;
            return -1;
        }
        if (b->workers[i].n_active > 0)
            b->n_active_workers++;
    }
    return 0;
}

static void fini_bench(struct nt_bench *b)
{
    for (uint32_t i = 0; b->workers && i < b->n_workers; i++)
        nt_worker_fini(&b->workers[i]);
    free(b->workers);
    for (uint32_t s = 0; b->snd && s < b->n_track; s++)
        free(b->snd[s].slots);
    free(b->snd);
    free(b->left_recv);
    free(b->left_send);
    nt_tls_ctx_free(b->tls_ctx);
    pthread_mutex_destroy(&b->lock);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The phases */

/* Waits until every connection has sent its name or subscription, then until it is joined.
 * natter: a marker client joins last; a connection that sees its join notice is joined itself.
 * If that stops making progress, a fresh marker joins (a name accepted after the first marker
 * would never see it). */
static int join_all(struct nt_bench *b, struct ctl *ctl, uint64_t deadline, char *marker,
                    size_t marker_size)
{
    uint64_t total = (uint64_t)b->n_recv + b->n_send;
    if (b->opt->proto == NT_PROTO_IRC || b->opt->proto == NT_PROTO_WS) {
        /* No marker: a connection is in the channel at its 366, or (ws) once its upgrade is
         * answered and its name sent. This names the broadcaster of connections mode. */
        snprintf(marker, marker_size, "m1%c%s", b->name_sep, b->tag);
    }
    while (sum_named(b) < total) {
        if (atomic_load(&b->failed))
            return -1;
        if (nt_now_ns() > deadline && b->tls_ctx != NULL && sum_tls(b) < total) {
            /* A server that does not speak TLS may wait for more of the ClientHello. */
            nt_bench_fail(b,
                          "set-up timed out: %llu of %llu connections finished the TLS "
                          "handshake (is the server listening with TLS on %s:%llu?)",
                          (unsigned long long)sum_tls(b), (unsigned long long)total, b->opt->host,
                          (unsigned long long)b->opt->port);
            return -1;
        }
        if (nt_now_ns() > deadline && b->ws && sum_ws(b) < total) {
            nt_bench_fail(b,
                          "set-up timed out: %llu of %llu connections got their 101 (is the "
                          "server an HTTP listener with GET %s on %s:%llu?)",
                          (unsigned long long)sum_ws(b), (unsigned long long)total, b->opt->ws_path,
                          b->opt->host, (unsigned long long)b->opt->port);
            return -1;
        }
        if (nt_now_ns() > deadline) {
            nt_bench_fail(b, "set-up timed out: %llu of %llu connections sent their %s",
                          (unsigned long long)sum_named(b), (unsigned long long)total,
                          b->opt->proto == NT_PROTO_NATTER || b->opt->proto == NT_PROTO_WS ? "name"
                          : b->opt->proto == NT_PROTO_IRC ? "registration (001)"
                                                          : "handshake");
            return -1;
        }
        sleep_until(nt_now_ns() + POLL_NS);
    }
    uint32_t gen = 0;
    uint64_t last = 0, last_change = nt_now_ns();
    for (;;) {
        if (b->opt->proto == NT_PROTO_NATTER && ctl->fd < 0) {
            snprintf(marker, marker_size, "m%u%c%s", ++gen, b->name_sep, b->tag);
            ctl->name = "marker client";
            int rc = ctl_connect(b, ctl, deadline);
            if (rc == 0)
                rc = ctl_expect(ctl, "Enter your name: ", deadline);
            char line[NT_NAME_MAX + 2];
            int n = snprintf(line, sizeof(line), "%s\n", marker);
            if (rc == 0)
                rc = ctl_send(ctl, line, (size_t)n, deadline);
            if (rc != 0) {
                nt_bench_fail(b, "marker client: %s", strerror(-rc));
                return -1;
            }
        }
        uint64_t ready = sum_ready(b), now = nt_now_ns();
        if (ready >= total)
            return 0;
        if (atomic_load(&b->failed))
            return -1;
        if (now > deadline) {
            nt_bench_fail(b, "set-up timed out: %llu of %llu connections joined",
                          (unsigned long long)ready, (unsigned long long)total);
            return -1;
        }
        if (ready != last) {
            last = ready;
            last_change = now;
        } else if (b->opt->proto == NT_PROTO_NATTER && now - last_change > REPROBE_NS) {
            ctl_close(ctl);
            last_change = now;
        }
        ctl_discard(ctl);
        sleep_until(now + POLL_NS);
    }
}

/* The CPU time of every --server-pid into per[] (NT_LIST_MAX), and their sum. *ok goes false
 * when one cannot be read (the process is gone). */
static uint64_t sample_cpu(const struct nt_bench *b, bool *ok, uint64_t *per)
{
    const struct nt_list_u64 *l = &b->opt->server_pids;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        per[i] = 0;
        if (nt_proc_cpu_us((pid_t)l->v[i], &per[i]) != 0)
            *ok = false;
        sum += per[i];
    }
    return sum;
}

/* The RSS of every --server-pid into res->servers[], their sum into *sum. Returns 0, or -1
 * when one cannot be read. */
static int sample_rss(const struct nt_bench *b, struct nt_result *res, uint64_t *sum)
{
    const struct nt_list_u64 *l = &b->opt->server_pids;
    int rc = 0;
    *sum = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        if (nt_proc_rss_kib((pid_t)l->v[i], &res->servers[i].rss_kib) != 0)
            rc = -1;
        *sum += res->servers[i].rss_kib;
    }
    return rc;
}

static void warn_gone(const struct nt_options *o)
{
    fprintf(stderr,
            "natter-bench: warning: cannot read /proc/PID of %s (did %s exit?): no server "
            "figures\n",
            o->server_pids.n > 1 ? "every --server-pid" : "--server-pid",
            o->server_pids.n > 1 ? "one of the servers" : "the server");
}

/* Each server's CPU time over span_s, from its samples before (cpu0) and after (cpu1). */
static void server_cpu(const struct nt_bench *b, struct nt_result *res, const uint64_t *cpu0,
                       const uint64_t *cpu1, double span_s)
{
    for (uint32_t i = 0; i < b->opt->server_pids.n; i++) {
        struct nt_server_result *s = &res->servers[i];
        s->cpu_us = cpu1[i] - cpu0[i];
        s->cpu_pct = span_s > 0 ? (double)s->cpu_us / 1e4 / span_s : 0;
    }
}

/* connections mode: N idle clients are joined; measure the server, then one broadcast. */
static int run_connections(struct nt_bench *b, struct ctl *ctl, const char *marker,
                           struct nt_result *res)
{
    const struct nt_options *o = b->opt;
    uint64_t deadline = nt_now_ns() + 10 * NS_PER_S + (uint64_t)b->n_recv * 100000u;
    int rc = 0;
    if (o->proto == NT_PROTO_IRC) {
        /* The broadcaster must be in the channel (+n: only members may send), and its JOIN is
         * itself sent to every member: it joins before the settle, not inside the measured
         * broadcast. */
        ctl->name = "broadcast client";
        rc = ctl_connect(b, ctl, deadline);
        if (rc == 0)
            rc = ctl_irc_join(b, ctl, marker, deadline);
        if (rc != 0) {
            nt_bench_fail(b, "broadcast client: %s", strerror(-rc));
            return -1;
        }
    }
    if (o->proto == NT_PROTO_WS) {
        /* Its name is its first message: sent before the settle too. */
        char line[NT_NAME_MAX + 2];
        int len = snprintf(line, sizeof(line), "%s\n", marker);
        ctl->name = "broadcast client";
        rc = ctl_connect(b, ctl, deadline);
        if (rc == 0)
            rc = ctl_send(ctl, line, (size_t)len, deadline);
        if (rc != 0) {
            nt_bench_fail(b, "broadcast client: %s", strerror(-rc));
            return -1;
        }
    }
    /* Let the server finish writing and freeing what the joins left behind: servers shrink
     * the buffers of idle clients after a while (Redis: query buffers idle for 2 s). */
    sleep_until(nt_now_ns() + (uint64_t)(o->settle * 1e9));
    ctl_discard(ctl);
    if (o->server_pid) {
        if (sample_rss(b, res, &res->rss_kib) == 0) {
            res->rss_per_conn_kib =
                ((double)res->rss_kib - (double)res->rss_before_kib) / (double)b->n_recv;
        } else {
            res->has_server = false;
            warn_gone(o);
        }
    }
    deadline = nt_now_ns() + 10 * NS_PER_S + (uint64_t)b->n_recv * 100000u;
    char payload[NT_PAYLOAD_MAX];
    char frame[NT_PAYLOAD_MAX + 256];
    size_t n = 0;
    /* The marker is the one extra client; receivers check the name it sends under. Set before
     * the phase moves, which the workers read first. */
    b->snd[0].name_len = (uint32_t)snprintf(b->snd[0].name, sizeof(b->snd[0].name), "%s", marker);
    atomic_store(&b->snd[0].sent, 1);
    set_phase(b, NT_PHASE_MEASURE); /* so the fan-out latency is recorded */
    uint64_t t0 = nt_now_ns();
    nt_payload_encode(&b->fmt, payload, 0, 0, t0);
    switch (o->proto) {
    case NT_PROTO_NATTER:
    case NT_PROTO_WS:
        memcpy(frame, payload, o->size);
        frame[o->size] = '\n';
        n = o->size + 1;
        break;
    case NT_PROTO_REDIS:
    case NT_PROTO_NATS:
    case NT_PROTO_IRC:
        if (o->proto != NT_PROTO_IRC) {
            ctl->name = "broadcast client";
            rc = ctl_connect(b, ctl, deadline);
        }
        if (rc == 0 && o->proto == NT_PROTO_NATS)
            rc = ctl_send(ctl, b->send_hello, b->send_hello_len, deadline);
        memcpy(frame, b->pub_pre, b->pub_pre_len);
        memcpy(frame + b->pub_pre_len, payload, o->size);
        memcpy(frame + b->pub_pre_len + o->size, b->pub_suf, b->pub_suf_len);
        n = b->pub_pre_len + o->size + b->pub_suf_len;
        if (o->proto == NT_PROTO_NATS) {
            memcpy(frame + n, "PING\r\n", 6);
            n += 6;
        }
        break;
    }
    if (rc == 0)
        rc = ctl_send(ctl, frame, n, deadline);
    if (rc != 0) {
        nt_bench_fail(b, "broadcast client: %s", strerror(-rc));
        return -1;
    }
    while (sum_deliv(b, 0) < b->n_recv && nt_now_ns() < deadline && !atomic_load(&b->failed)) {
        ctl_discard(ctl);
        sleep_until(nt_now_ns() + NS_PER_MS / 4);
    }
    res->bcast_s = (double)(nt_now_ns() - t0) / 1e9;
    res->bcast_received = sum_deliv(b, 0);
    set_phase(b, NT_PHASE_DRAIN);
    return 0;
}

/* joins mode: every client is in (res->setup_s says when); the server's CPU time over the
 * storm and its memory afterwards. cpu0 (the sum), per0 (each --server-pid's), self0: the CPU
 * times before the first connect. */
static void end_joins(struct nt_bench *b, struct nt_result *res, uint64_t cpu0,
                      const uint64_t *per0, uint64_t self0, bool cpu_ok)
{
    const struct nt_options *o = b->opt;
    uint64_t per1[NT_LIST_MAX];
    uint64_t cpu1 = sample_cpu(b, &cpu_ok, per1), self1 = nt_self_cpu_us();
    if (o->server_pid && sample_rss(b, res, &res->rss_kib) != 0)
        cpu_ok = false;
    res->joins_per_s = res->setup_s > 0 ? (double)b->n_recv / res->setup_s : 0;
    res->self_cpu_us = self1 - self0;
    res->self_cpu_pct = res->setup_s > 0 ? (double)res->self_cpu_us / 1e4 / res->setup_s : 0;
    res->has_server = o->server_pid != 0 && cpu_ok;
    if (o->server_pid && !cpu_ok)
        warn_gone(o);
    if (res->has_server) {
        server_cpu(b, res, per0, per1, res->setup_s);
        res->server_cpu_us = cpu1 - cpu0;
        res->server_cpu_pct =
            res->setup_s > 0 ? (double)res->server_cpu_us / 1e4 / res->setup_s : 0;
        res->server_cpu_us_per_join = (double)res->server_cpu_us / (double)b->n_recv;
        res->rss_per_conn_kib =
            ((double)res->rss_kib - (double)res->rss_before_kib) / (double)b->n_recv;
    }
}

/* throughput, latency, stalled: warm up, measure, drain. */
static int run_load(struct nt_bench *b, struct nt_result *res, uint64_t *t_measure)
{
    const struct nt_options *o = b->opt;
    uint64_t tw = nt_now_ns();
    b->t_warmup_ns = tw;
    set_phase(b, NT_PHASE_WARMUP);
    uint64_t warm = (uint64_t)(o->warmup * 1e9);
    uint64_t tm = tw + warm;
    /* The reference rate for stalled mode: the last second of the warmup, everyone reading. */
    uint64_t base_span = warm < NS_PER_S ? warm : NS_PER_S;
    if (base_span >= NS_PER_S / 5) {
        sleep_until(tm - base_span);
        uint64_t d0 = sum_deliv(b, 0), t0 = nt_now_ns();
        sleep_until(tm);
        uint64_t d1 = sum_deliv(b, 0), t1 = nt_now_ns();
        res->baseline_per_s = (double)(d1 - d0) * 1e9 / (double)(t1 - t0);
    } else {
        sleep_until(tm);
    }
    if (atomic_load(&b->failed))
        return -1;

    bool cpu_ok = true;
    uint64_t deliv0 = sum_deliv(b, 0), sent0 = sum_sent(b);
    uint64_t port0[NT_LIST_MAX], port1[NT_LIST_MAX], per0[NT_LIST_MAX], per1[NT_LIST_MAX];
    sum_port_deliv(b, port0);
    uint64_t cpu0 = sample_cpu(b, &cpu_ok, per0), self0 = nt_self_cpu_us();
    uint64_t t0 = nt_now_ns();
    *t_measure = t0;
    set_phase(b, NT_PHASE_MEASURE);
    uint64_t dur = (uint64_t)(o->duration * 1e9), end = t0 + dur;
    uint64_t prev_d = deliv0, prev_t = t0;
    uint32_t sec = 0;
    while (prev_t < end && sec < NT_MAX_SECONDS) {
        uint64_t next = t0 + (uint64_t)(sec + 1) * NS_PER_S;
        if (next > end)
            next = end;
        while (nt_now_ns() < next && !atomic_load(&b->failed))
            sleep_until(nt_now_ns() + 50 * NS_PER_MS < next ? nt_now_ns() + 50 * NS_PER_MS : next);
        if (atomic_load(&b->failed))
            return -1;
        uint64_t d = sum_deliv(b, 0), t = nt_now_ns();
        if (t - prev_t >= NS_PER_S / 2 || t >= end) {
            res->per_second[sec] = (double)(d - prev_d) * 1e9 / (double)(t - prev_t);
            sec++;
            if (o->mode == NT_MODE_STALLED)
                progress("  %2us: %.0f deliveries/s", sec, res->per_second[sec - 1]);
        }
        prev_d = d;
        prev_t = t;
    }
    res->n_seconds = sec;
    uint64_t deliv1 = sum_deliv(b, 0), sent1 = sum_sent(b);
    sum_port_deliv(b, port1);
    uint64_t cpu1 = sample_cpu(b, &cpu_ok, per1), self1 = nt_self_cpu_us();
    uint64_t t1 = nt_now_ns();
    if (o->server_pid && sample_rss(b, res, &res->rss_kib) != 0)
        cpu_ok = false;
    set_phase(b, NT_PHASE_DRAIN);

    res->window_s = (double)(t1 - t0) / 1e9;
    for (uint32_t i = 0; i < b->n_recv_ports; i++) {
        res->ports[i].window_deliveries = port1[i] - port0[i];
        res->ports[i].deliveries_per_s = (double)(port1[i] - port0[i]) / res->window_s;
    }
    res->deliveries = deliv1 - deliv0;
    res->deliveries_per_s = (double)res->deliveries / res->window_s;
    res->msgs = sent1 - sent0;
    res->msgs_per_s = (double)res->msgs / res->window_s;
    res->self_cpu_us = self1 - self0;
    res->self_cpu_pct = (double)res->self_cpu_us / 1e4 / res->window_s;
    if (res->deliveries)
        res->self_cpu_us_per_delivery = (double)res->self_cpu_us / (double)res->deliveries;
    res->has_server = o->server_pid != 0 && cpu_ok;
    if (o->server_pid && !cpu_ok)
        warn_gone(o);
    if (res->has_server) {
        server_cpu(b, res, per0, per1, res->window_s);
        res->server_cpu_us = cpu1 - cpu0;
        res->server_cpu_pct = (double)res->server_cpu_us / 1e4 / res->window_s;
        if (res->deliveries)
            res->server_cpu_us_per_delivery = (double)res->server_cpu_us / (double)res->deliveries;
    }

    uint64_t deadline = nt_now_ns() + DRAIN_NS;
    while (!all_drained(b) && nt_now_ns() < deadline && !atomic_load(&b->failed))
        sleep_until(nt_now_ns() + POLL_NS);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Adds up the workers' counts, the loss at the tail, the stalled receivers' fate. */
static void gather(struct nt_bench *b, struct nt_result *res, uint64_t t_measure)
{
    nt_hist_init(&res->hist);
    for (uint32_t p = 0; p < b->n_recv_ports; p++)
        nt_hist_init(&res->ports[p].hist);
    res->pub_min_receivers = UINT64_MAX;
    uint64_t pub_drop_ns = 0;
    for (uint32_t i = 0; i < b->n_workers; i++) {
        struct nt_worker *w = &b->workers[i];
        struct nt_counters *dst[2] = {&res->active, &res->stalled_k};
        for (int k = 0; k < 2; k++) {
            dst[k]->deliveries += w->k[k].deliveries;
            dst[k]->lost += w->k[k].lost;
            dst[k]->dups += w->k[k].dups;
            dst[k]->reorders += w->k[k].reorders;
            dst[k]->corrupt += w->k[k].corrupt;
            dst[k]->unexpected += w->k[k].unexpected;
            dst[k]->goodbyes += w->k[k].goodbyes;
            dst[k]->closed += w->k[k].closed;
        }
        nt_hist_merge(&res->hist, &w->hist);
        for (uint32_t p = 0; p < b->n_recv_ports; p++) {
            res->ports[p].deliveries += w->port_deliv[p];
            nt_hist_merge(&res->ports[p].hist, w->port_hist ? &w->port_hist[p] : &w->hist);
        }
        res->sender_lines += w->sender_lines;
        res->ws_pings += w->ws_pings;
        res->pub_replies += w->pub_replies;
        if (w->pub_min_receivers < res->pub_min_receivers)
            res->pub_min_receivers = w->pub_min_receivers;
        if (w->pub_drop_ns && (pub_drop_ns == 0 || w->pub_drop_ns < pub_drop_ns))
            pub_drop_ns = w->pub_drop_ns;
        if (w->tls_info[0] && !res->tls_info[0])
            memcpy(res->tls_info, w->tls_info, sizeof(res->tls_info));
        if (w->server_errors && res->server_errors == 0)
            memcpy(res->server_error, w->server_error, sizeof(res->server_error));
        res->server_errors += w->server_errors;
        for (uint32_t c = 0; c < w->n_conns; c++) {
            struct nt_conn *conn = &w->conns[c];
            if (conn->role == NT_ROLE_SEND) {
                if (conn->is_cut)
                    res->senders_closed++;
                continue;
            }
            /* What was sent and never arrived (nor was counted as a gap) is lost too. */
            struct nt_counters *k = conn->is_stalled ? &res->stalled_k : &res->active;
            for (uint32_t s = 0; s < b->n_track; s++) {
                uint64_t sent = atomic_load(&b->snd[s].sent);
                if (sent > conn->seq[s].next)
                    k->lost += sent - conn->seq[s].next;
            }
            if (conn->is_stalled && (conn->is_cut || atomic_load(&b->left_recv[conn->idx])))
                res->stalled_cut++;
        }
    }
    if (res->pub_min_receivers == UINT64_MAX)
        res->pub_min_receivers = 0;
    res->sent = sum_sent(b);
    /* What each port's connections were and sent: the layout of init_bench. */
    bool own_senders = b->opt->sender_ports.n > 0;
    for (uint32_t i = 0; i < b->n_recv; i++)
        res->ports[i % b->n_recv_ports].receivers++;
    for (uint32_t s = 0; s < b->n_send; s++) {
        uint32_t p = s % b->n_send_ports;
        uint64_t sent = atomic_load(&b->snd[s].sent);
        if (own_senders) {
            res->sender_ports[p].senders++;
            res->sender_ports[p].sent += sent;
        } else {
            res->ports[p].senders++;
            res->ports[p].sent += sent;
        }
    }
    res->total_deliveries = res->active.deliveries;
    res->expected_deliveries = res->sent * (uint64_t)(b->n_recv - b->n_stalled);
    for (uint32_t i = 0; i < b->n_recv; i++) {
        if (atomic_load(&b->left_recv[i])) {
            if (i < b->n_stalled)
                res->stalled_left++;
            else
                res->active_left++;
        }
    }
    for (uint32_t i = 0; i < b->n_send; i++)
        res->senders_left += atomic_load(&b->left_send[i]);

    /* stalled mode: how the others fared, and when the server cut the stalled ones */
    res->cut_after_s = -1;
    res->cut_seen_by = "";
    if (b->n_stalled > 0 && t_measure) {
        uint64_t first = atomic_load(&b->first_stalled_left_ns);
        if (first) {
            res->cut_seen_by = "leave notice";
        } else if (pub_drop_ns) {
            first = pub_drop_ns;
            res->cut_seen_by = "PUBLISH count";
        } else {
            for (uint32_t i = 0; i < b->n_workers; i++) {
                for (uint32_t c = 0; c < b->workers[i].n_recv; c++) {
                    const struct nt_conn *conn = &b->workers[i].conns[c];
                    if (conn->is_stalled && conn->is_cut && (first == 0 || conn->cut_ns < first))
                        first = conn->cut_ns;
                }
            }
            if (first)
                res->cut_seen_by = "EOF (read after the window)";
        }
        if (first)
            res->cut_after_s = first > t_measure ? (double)(first - t_measure) / 1e9 : 0;
        if (res->n_seconds > 0 && res->baseline_per_s <= 0)
            res->baseline_per_s = res->per_second[0];
        if (res->n_seconds > 0 && res->baseline_per_s > 0) {
            double sorted[NT_MAX_SECONDS + 1];
            memcpy(sorted, res->per_second, res->n_seconds * sizeof(double));
            qsort(sorted, res->n_seconds, sizeof(double), cmp_double);
            res->min_ratio = sorted[0] / res->baseline_per_s;
            res->median_ratio = sorted[res->n_seconds / 2] / res->baseline_per_s;
            if (res->n_seconds % 2 == 0)
                res->median_ratio = (sorted[res->n_seconds / 2 - 1] + sorted[res->n_seconds / 2]) /
                                    2 / res->baseline_per_s;
        }
    }
}

int nt_run(const struct nt_options *o, struct nt_result *res)
{
    memset(res, 0, sizeof(*res));
    quiet = o->quiet;
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    uint64_t conns = o->receivers + (o->mode == NT_MODE_CONNECTIONS ? 1 : o->senders) + 1;
    double setup = o->setup_timeout > 0 ? o->setup_timeout : 20.0 + 0.005 * (double)conns;
    /* The hard deadline: nothing below can take longer, but a bug or a wedged kernel could. */
    double hard = setup + o->warmup + o->duration + o->settle + (double)DRAIN_NS / 1e9 + 30 +
                  (double)o->receivers * 1e-4;
    signal(SIGALRM, on_alarm);
    alarm((unsigned)hard + 1);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        conns + 16 + 2 * o->workers > rl.rlim_cur) {
        snprintf(res->error, sizeof(res->error),
                 "%llu connections need more descriptors than the limit of %llu",
                 (unsigned long long)conns, (unsigned long long)rl.rlim_cur);
        return -1;
    }

    struct nt_bench *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        return -1;
    }
    struct ctl ctl = {.fd = -1};
    char marker[NT_NAME_MAX] = "";
    uint64_t t_measure = 0;
    int started = 0;
    int rc = init_bench(b, o);
    if (rc != 0) {
        snprintf(res->error, sizeof(res->error), "%s", b->error[0] ? b->error : "out of memory");
        goto out;
    }
    res->receivers = b->n_recv;
    res->senders = b->n_send;
    res->stalled = b->n_stalled;
    res->workers = b->n_workers;
    res->sources = b->n_sources;
    res->n_ports = b->n_recv_ports;
    for (uint32_t i = 0; i < o->ports.n; i++)
        res->ports[i].port = o->ports.v[i];
    res->n_sender_ports = o->sender_ports.n;
    for (uint32_t i = 0; i < o->sender_ports.n; i++)
        res->sender_ports[i].port = o->sender_ports.v[i];
    res->n_servers = o->server_pids.n;
    for (uint32_t i = 0; i < o->server_pids.n; i++) {
        res->servers[i].pid = o->server_pids.v[i];
        uint64_t kib;
        if (nt_proc_rss_kib((pid_t)o->server_pids.v[i], &kib) != 0) {
            snprintf(res->error, sizeof(res->error), "--server-pid %llu: no such process",
                     (unsigned long long)o->server_pids.v[i]);
            rc = -1;
            goto out;
        }
        res->rss_before_kib += kib;
    }
    res->has_server = o->server_pid != 0;

    /* joins mode measures the server over the set-up itself. */
    bool cpu_ok = true;
    uint64_t per0[NT_LIST_MAX];
    uint64_t cpu0 = sample_cpu(b, &cpu_ok, per0), self0 = nt_self_cpu_us();
    uint64_t t_setup = nt_now_ns();
    for (; started < (int)b->n_workers; started++) {
        rc = nt_worker_start(&b->workers[started]);
        if (rc != 0) {
            nt_bench_fail(b, "pthread_create: %s", strerror(-rc));
            break;
        }
    }
    char where[NT_LIST_MAX * 14 + 48];
    nt_options_ports(o, where, sizeof(where));
    progress("%s %s: %u receivers, %u senders on %s%s%s%s%s", nt_proto_name(o->proto),
             nt_mode_name(o->mode), b->n_recv, b->n_send, where, o->tls ? " over TLS" : "",
             o->ws ? (o->tls ? " + WebSocket" : " over WebSocket") : "", b->ws_proto ? " " : "",
             b->ws_proto ? b->ws_proto : "");
    if (rc == 0)
        rc = join_all(b, &ctl, t_setup + (uint64_t)(setup * 1e9), marker, sizeof(marker));
    res->setup_s = (double)(nt_now_ns() - t_setup) / 1e9;
    if (rc == 0) {
        progress("all %llu connections joined in %.2f s", (unsigned long long)b->n_recv + b->n_send,
                 res->setup_s);
        if (o->mode == NT_MODE_JOINS) {
            end_joins(b, res, cpu0, per0, self0, cpu_ok);
        } else if (o->mode == NT_MODE_CONNECTIONS) {
            rc = run_connections(b, &ctl, marker, res);
        } else {
            ctl_close(&ctl); /* its leave notice is ignored like any other */
            rc = run_load(b, res, &t_measure);
        }
    }
    set_phase(b, NT_PHASE_STOP);
    for (int i = 0; i < started; i++)
        nt_worker_join(&b->workers[i]);
    ctl_close(&ctl);
    if (atomic_load(&b->failed)) {
        snprintf(res->error, sizeof(res->error), "%s", b->error);
        rc = -1;
    }
    if (rc == 0) {
        gather(b, res, t_measure);
        res->completed = true;
    }
out:
    alarm(0);
    fini_bench(b);
    free(b);
    return rc == 0 ? 0 : -1;
}

bool nt_result_failed(const struct nt_options *o, const struct nt_result *res)
{
    const struct nt_counters *a = &res->active;
    if (a->lost || a->dups || a->reorders || a->corrupt || a->unexpected || a->goodbyes ||
        a->closed || res->senders_closed || res->active_left || res->senders_left)
        return true;
    if (res->total_deliveries != res->expected_deliveries)
        return true;
    if (o->mode == NT_MODE_CONNECTIONS && res->bcast_received != res->receivers)
        return true;
    return false;
}
