/* SPDX-License-Identifier: MIT */
/* conn.c - one connection: transport, send queue, caps, deadlines, the close state machine. */
/* struct tcp_info and the TCP_* states are glibc extensions. */
#define _DEFAULT_SOURCE /* NOLINT(bugprone-reserved-identifier): a glibc feature macro */
#include "net/conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "net/tls.h"
#include "net/ws.h"

/* writev() takes at most IOV_MAX (1024) buffers; libuv splits larger writes itself, but a batch
 * of this size already amortises the system call. */
#define IOV_BATCH 1024
/* Slots of a new send ring (a power of two); rings grow by doubling. */
#define RING_MIN 8

static void on_read(struct nt_transport *t, ssize_t nread, const char *data);
static void on_writable(struct nt_transport *t);
static void on_shutdown(struct nt_transport *t, int status);
static void on_reply(struct nt_transport *t, const char *data, size_t n, bool past_cap);

static const struct nt_transport_up conn_up = {
    .on_read = on_read,
    .on_writable = on_writable,
    .on_shutdown = on_shutdown,
    .on_reply = on_reply,
};

/* The handler of a conn no door has taken (refused at the door): input is ignored. */
static size_t null_data(struct nt_conn *c, const char *data, size_t len)
{
    (void)c;
    (void)data;
    return len;
}

static void null_eof(struct nt_conn *c)
{
    nt_conn_goodbye(c, NULL, "closed");
}

static void null_end(struct nt_conn *c, const char *reason)
{
    (void)c;
    (void)reason;
}

static void null_timeout(struct nt_conn *c, enum nt_timeout_kind kind)
{
    (void)kind;
    nt_conn_close(c, "timeout");
}

static void null_closed(struct nt_conn *c)
{
    (void)c;
}

static const struct nt_conn_handler null_handler = {
    .name = "none",
    .on_data = null_data,
    .on_eof = null_eof,
    .on_end = null_end,
    .on_timeout = null_timeout,
    .on_closed = null_closed,
};

static struct nt_conn *conn_of(struct nt_transport *t)
{
    return t->up_ctx;
}

static void on_close_unaccepted(uv_handle_t *handle)
{
    free(NT_CONTAINER_OF(handle, struct nt_conn, tcp.handle));
}

static void on_idle(uv_idle_t *idle)
{
    (void)idle; /* only there so that the poll phase does not block while output waits */
}

/* Schedules c's output for this iteration's flush. O(1). */
static void mark_dirty(struct nt_net *net, struct nt_conn *c)
{
    if (nt_list_is_linked(&c->dirty_link))
        return;
    if (nt_list_is_empty(&net->dirty))
        uv_idle_start(&net->flush_idle, on_idle);
    nt_list_append(&net->dirty, &c->dirty_link);
}

/* Everything a conn needs but its socket; it joins net's conn list. */
static void setup(struct nt_net *net, struct nt_conn *c)
{
    c->net = net;
    c->id = ++net->next_conn_id;
    c->state = NT_CONN_OPEN;
    c->h = &null_handler;
    c->t = c->tls ? c->tls : &c->tcp.base;
    c->t->up = &conn_up;
    c->t->up_ctx = c;
    nt_timeouts_node_init(&c->timeout);
    nt_timeouts_node_init(&c->throttle);
    nt_timeouts_node_init(&c->stall);
    nt_list_append(&net->conns, &c->all_link);
    net->n_conns++;
}

struct nt_conn *nt_conn_new_detached(struct nt_net *net, const char *ip)
{
    struct nt_conn *c = nt_xcalloc(1, sizeof(*c));
    NT_ASSERT(nt_tcp_init(&c->tcp, net->loop, net->read_buf, sizeof(net->read_buf)) == 0);
    snprintf(c->ip, sizeof(c->ip), "%s", ip);
    snprintf(c->peer, sizeof(c->peer), "%s:0", ip);
    setup(net, c);
    return c;
}

struct nt_conn *nt_conn_accept(struct nt_net *net, uv_stream_t *server, struct nt_tls_ctx *tls_ctx)
{
    struct nt_conn *c = nt_xcalloc(1, sizeof(*c));
    int rc = nt_tcp_init(&c->tcp, net->loop, net->read_buf, sizeof(net->read_buf));
    if (rc != 0) {
        NT_WARN("accept failed: %s", uv_strerror(rc));
        free(c);
        return NULL;
    }
    rc = uv_accept(server, (uv_stream_t *)&c->tcp.handle);
    if (rc != 0) {
        NT_WARN("accept failed: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&c->tcp.handle, on_close_unaccepted);
        return NULL;
    }
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp.handle, (struct sockaddr *)&ss, &len) == 0) {
        nt_net_format_addr(&ss, c->peer, sizeof(c->peer));
        if (ss.ss_family == AF_INET6)
            uv_ip6_name((const struct sockaddr_in6 *)(const void *)&ss, c->ip, sizeof(c->ip));
        else
            uv_ip4_name((const struct sockaddr_in *)(const void *)&ss, c->ip, sizeof(c->ip));
    } else {
        snprintf(c->peer, sizeof(c->peer), "?");
        snprintf(c->ip, sizeof(c->ip), "?");
    }
    /* Batching comes from the per-iteration flush; Nagle would only add delay. */
    uv_tcp_nodelay(&c->tcp.handle, 1);
    if (net->limits.sndbuf > 0) {
        int size = (int)net->limits.sndbuf;
        uv_send_buffer_size((uv_handle_t *)&c->tcp.handle, &size);
    }
    if (tls_ctx != NULL)
        c->tls = nt_tls_new(tls_ctx, &c->tcp.base);
    setup(net, c);
    net->stats.accepted++;
    return c;
}

void nt_conn_set_handler(struct nt_conn *c, const struct nt_conn_handler *h, void *ctx)
{
    c->h = h;
    c->ctx = ctx;
}

bool nt_conn_is_tls(const struct nt_conn *c)
{
    return c->tls != NULL;
}

uint64_t nt_conn_now_ms(const struct nt_conn *c)
{
    return uv_now(c->net->loop);
}

void nt_conn_set_deadline(struct nt_conn *c, enum nt_timeout_kind kind)
{
    if (kind == NT_TIMEOUT_KINDS)
        nt_timeouts_clear(&c->timeout);
    else
        nt_timeouts_set(&c->net->timeouts, &c->timeout, kind);
}

void nt_conn_touch(struct nt_conn *c)
{
    nt_timeouts_touch(&c->net->timeouts, &c->timeout);
}

/* Frees the paused input, if any. */
static void drop_backlog(struct nt_conn *c)
{
    free(c->backlog);
    c->backlog = NULL;
    c->backlog_len = c->backlog_off = 0;
    nt_timeouts_clear(&c->throttle);
}

/*
 * Offers input to the door. What it does not take (flood control) is kept in the backlog while
 * reading stops, until the THROTTLE deadline (§7.9): the peer is paced by TCP back-pressure and
 * loses nothing.
 */
static void offer(struct nt_conn *c, const char *in, size_t in_len, bool from_backlog)
{
    size_t used = c->h->on_data(c, in, in_len);
    if (c->state != NT_CONN_OPEN || used >= in_len) {
        drop_backlog(c);
        return;
    }
    if (!from_backlog) {
        c->backlog = nt_xmalloc(in_len - used);
        memcpy(c->backlog, in + used, in_len - used);
        c->backlog_len = in_len - used;
        c->backlog_off = 0;
        c->t->ops->read_stop(c->t);
        c->is_reading = false;
        c->net->stats.flood_pauses++;
    } else {
        c->backlog_off += used;
    }
    nt_timeouts_set(&c->net->timeouts, &c->throttle, NT_TIMEOUT_THROTTLE);
}

void nt_conn_read(struct nt_conn *c, const char *data, size_t n)
{
    if (n > 0)
        c->tcp.base.up->on_read(&c->tcp.base, (ssize_t)n, data);
}

void nt_conn_input(struct nt_conn *c, const char *in, size_t in_len)
{
    NT_ASSERT(in != NULL || in_len == 0);
    if (c->state == NT_CONN_OPEN && c->backlog == NULL && in_len > 0)
        offer(c, in, in_len, false);
}

static void on_read(struct nt_transport *t, ssize_t nread, const char *data)
{
    struct nt_conn *c = conn_of(t);
    if (nread == UV_EOF && c->ws != NULL && nt_ws_error(c->ws) != NULL)
        NT_INFO("conn=%llu peer=%s websocket: closed with %s", (unsigned long long)c->id, c->peer,
                nt_ws_error(c->ws));
    if (nread == UV_EOF && c->state == NT_CONN_OPEN) {
        c->got_eof = true;
        c->h->on_eof(c);
        return;
    }
    if (nread < 0) {
        if (nread == UV_EPROTO && c->tls != NULL) {
            c->net->stats.tls_failures++;
            NT_WARN("conn=%llu peer=%s tls: %s: %s", (unsigned long long)c->id, c->peer,
                    nt_tls_is_established(c->tls) ? "error" : "handshake failed",
                    nt_tls_error(c->tls));
        }
        nt_conn_close(c, nread == UV_EOF ? c->reason : "error");
        return;
    }
    /* A lingering conn's input is read only to notice the peer's close (§4.6). */
    if (c->state != NT_CONN_OPEN)
        return;
    nt_conn_input(c, data, (size_t)nread);
}

/*
 * Whether the peer has closed or reset the connection. A paced conn is not read, so its EOF would
 * wait behind everything still unread; the kernel's TCP state knows at once (CLOSE_WAIT: FIN
 * received; CLOSE: reset).
 */
static bool peer_is_gone(const struct nt_conn *c)
{
    uv_os_fd_t fd;
    if (uv_fileno((const uv_handle_t *)&c->tcp.handle, &fd) != 0)
        return false;
    struct tcp_info info;
    socklen_t len = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        return false;
    return info.tcpi_state == TCP_CLOSE_WAIT || info.tcpi_state == TCP_CLOSE;
}

static void start_reading(struct nt_conn *c)
{
    c->is_reading = true;
    int rc = c->t->ops->read_start(c->t);
    if (rc != 0)
        nt_conn_close(c, "error");
}

/* The THROTTLE deadline: the paused input gets its next chance. */
static void unthrottle(struct nt_conn *c)
{
    if (c->state != NT_CONN_OPEN || c->backlog == NULL)
        return;
    if (peer_is_gone(c)) {
        /* Nobody is left to pace: what was not yet taken from it is dropped, and it leaves now
         * instead of holding its slot for as long as its backlog would take (§7.9). */
        nt_conn_goodbye(c, NULL, "closed");
        return;
    }
    offer(c, c->backlog + c->backlog_off, c->backlog_len - c->backlog_off, true);
    if (c->backlog == NULL && c->state == NT_CONN_OPEN)
        start_reading(c);
}

void nt_conn_resume(struct nt_conn *c)
{
    if (c->state != NT_CONN_OPEN)
        return;
    if (c->backlog != NULL)
        unthrottle(c);
    else
        c->h->on_data(c, "", 0);
}

void nt_conn_start(struct nt_conn *c)
{
    start_reading(c);
}

size_t nt_conn_pending(const struct nt_conn *c)
{
    return c->q_bytes + c->t->ops->pending(c->t);
}

/* --- the send ring ------------------------------------------------------------------------ */

/* Counts msg as queued once more: its bytes count against --max-output-total once. */
static void count_in(struct nt_net *net, struct nt_msg *msg)
{
    if (msg->queued++ == 0)
        net->queued_bytes += msg->len;
}

static void count_out(struct nt_net *net, struct nt_msg *msg)
{
    NT_ASSERT(msg->queued > 0);
    if (--msg->queued == 0)
        net->queued_bytes -= msg->len;
}

/* Drops one queue reference to msg. */
static void release(struct nt_net *net, struct nt_msg *msg)
{
    count_out(net, msg);
    nt_msg_unref(msg);
}

static void free_ring(struct nt_conn *c)
{
    c->net->queued_bytes -= (uint64_t)c->q_cap * sizeof(struct nt_msg *);
    free(c->q);
    c->q = NULL;
    c->q_cap = 0;
    c->q_head = 0;
}

/* Appends a reference to msg to c's ring, with no cap check. */
static void push(struct nt_conn *c, struct nt_msg *msg)
{
    if (c->q_len == c->q_cap) {
        uint32_t cap = c->q_cap ? c->q_cap * 2 : RING_MIN;
        struct nt_msg **q = nt_xmalloc(cap * sizeof(struct nt_msg *));
        for (uint32_t i = 0; i < c->q_len; i++)
            q[i] = c->q[(c->q_head + i) & (c->q_cap - 1)];
        free_ring(c);
        c->q = q;
        c->q_cap = cap;
        c->net->queued_bytes += (uint64_t)cap * sizeof(struct nt_msg *);
    }
    c->q[(c->q_head + c->q_len) & (c->q_cap - 1)] = nt_msg_ref(msg);
    count_in(c->net, msg);
    c->q_len++;
    c->q_bytes += msg->len;
    mark_dirty(c->net, c);
}

static struct nt_msg *pop(struct nt_conn *c)
{
    struct nt_msg *msg = c->q[c->q_head];
    c->q_head = (c->q_head + 1) & (c->q_cap - 1);
    c->q_len--;
    c->q_bytes -= msg->len - c->q_off;
    c->q_off = 0;
    return msg;
}

static void drop_queue(struct nt_conn *c)
{
    while (c->q_len > 0)
        release(c->net, pop(c));
    free_ring(c);
}

struct nt_msg *nt_conn_take_queued(struct nt_conn *c)
{
    if (c->q_len == 0)
        return NULL;
    struct nt_msg *msg = pop(c);
    count_out(c->net, msg);
    return msg;
}

int nt_conn_send(struct nt_conn *c, struct nt_msg *msg)
{
    if (c->state != NT_CONN_OPEN || c->is_over)
        return UV_ECANCELED;
    if (nt_conn_pending(c) + msg->len > c->net->limits.max_output) {
        /* A slow consumer: what it has not taken yet is dropped so the goodbye can go (§4.3);
         * the caller has it dropped at its safe point. */
        drop_queue(c);
        c->is_over = true;
        return UV_ENOBUFS;
    }
    push(c, msg);
    return 0;
}

int nt_conn_send_text(struct nt_conn *c, struct nt_msg *msg)
{
    if (c->ws == NULL)
        return nt_conn_send(c, msg);
    struct nt_msg *frames = nt_ws_frame(c->ws, msg->data, msg->len);
    int rc = nt_conn_send(c, frames);
    nt_msg_unref(frames);
    return rc;
}

int nt_conn_send_bytes(struct nt_conn *c, const char *data, size_t n)
{
    struct nt_msg *msg = c->ws != NULL ? nt_ws_frame(c->ws, data, n) : nt_msg_concat(&data, &n, 1);
    int rc = nt_conn_send(c, msg);
    nt_msg_unref(msg);
    return rc;
}

static void on_reply(struct nt_transport *t, const char *data, size_t n, bool past_cap)
{
    struct nt_conn *c = conn_of(t);
    if (c->state != NT_CONN_OPEN || c->is_over)
        return;
    struct nt_msg *msg = nt_msg_concat(&data, &n, 1);
    if (past_cap)
        push(c, msg);
    else if (nt_conn_send(c, msg) == UV_ENOBUFS)
        nt_conn_goodbye(c, NULL, "slow"); /* a client that pings and never reads (§4.3) */
    nt_msg_unref(msg);
}

void nt_conn_upgrade_ws(struct nt_conn *c, int opcode)
{
    NT_ASSERT(c->ws == NULL && (opcode == NT_WS_TEXT || opcode == NT_WS_BINARY));
    c->ws = nt_ws_new(c->t, (enum nt_ws_opcode)opcode);
    c->t = c->ws;
    c->t->up = &conn_up;
    c->t->up_ctx = c;
}

int nt_conn_framing(const struct nt_conn *c)
{
    return c->ws != NULL ? (int)nt_ws_opcode(c->ws) : 0;
}

/* Tells the door, once, that c stops. */
static void end(struct nt_conn *c, const char *reason)
{
    if (c->has_ended)
        return;
    c->has_ended = true;
    c->reason = reason;
    if (strcmp(reason, "slow") == 0)
        c->net->stats.cut_slow++;
    c->h->on_end(c, reason);
}

void nt_conn_goodbye(struct nt_conn *c, const char *goodbye, const char *reason)
{
    if (c->state != NT_CONN_OPEN)
        return;
    end(c, reason);
    if (c->state != NT_CONN_OPEN)
        return; /* the door closed it */
    if (c->tls != NULL && !nt_tls_is_established(c->tls)) {
        /* No goodbye can go out before the handshake is done: lingering would only hold the
         * connection (PROTOCOL.md §1). */
        nt_conn_close(c, reason);
        return;
    }
    c->state = NT_CONN_LINGER;
    if (c->backlog != NULL) {
        /* Paced input is dropped; read again to notice the peer's close (§4.6). */
        drop_backlog(c);
        if (!c->got_eof && !c->is_reading)
            start_reading(c);
    }
    struct nt_msg *msg = NULL;
    if (c->h->goodbye != NULL) {
        char out[NT_CONN_GOODBYE_MAX];
        size_t n = c->h->goodbye(c, goodbye, reason, out, sizeof(out));
        if (n > 0) {
            msg = nt_msg_new(n);
            memcpy(msg->data, out, n);
        }
    } else if (goodbye != NULL) {
        const char *parts[] = {goodbye, "\n"};
        const size_t lens[] = {strlen(goodbye), 1};
        msg = nt_msg_concat(parts, lens, 2);
    }
    if (c->ws != NULL) { /* its frames and a Close */
        struct nt_msg *frames =
            nt_ws_goodbye(c->ws, msg ? msg->data : "", msg ? msg->len : 0, reason);
        if (msg != NULL)
            nt_msg_unref(msg);
        msg = frames;
    }
    if (msg != NULL) {
        push(c, msg); /* past the output cap: a goodbye is small and the last thing sent */
        nt_msg_unref(msg);
    }
    c->fin_after_flush = true;
    /* The flush is bounded by the linger time, except at shutdown, where the server's own flush
     * deadline (5 s) bounds every conn at once (§4.5, §4.6). */
    if (strcmp(reason, "shutdown") != 0)
        nt_timeouts_set(&c->net->timeouts, &c->timeout, NT_TIMEOUT_LINGER);
    else
        nt_timeouts_clear(&c->timeout);
    mark_dirty(c->net, c);
}

static void on_close(uv_handle_t *handle)
{
    struct nt_conn *c = NT_CONTAINER_OF(handle, struct nt_conn, tcp.handle);
    struct nt_net *net = c->net;
    /* Every write and shutdown callback ran (UV_ECANCELED) before this one. */
    NT_ASSERT(c->wreq == NULL);
    c->h->on_closed(c);
    nt_ws_free(c->ws); /* above tls */
    if (c->tls != NULL)
        nt_tls_free(c->tls);
    free(c->backlog);
    free_ring(c);
    nt_list_remove(&c->all_link);
    net->n_conns--;
    if (net->on_conn_closed != NULL)
        net->on_conn_closed(net, c);
    free(c);
}

void nt_conn_close(struct nt_conn *c, const char *reason)
{
    if (c->state == NT_CONN_CLOSING)
        return;
    end(c, reason);
    if (c->state == NT_CONN_CLOSING)
        return; /* the door closed it from on_end */
    c->state = NT_CONN_CLOSING;
    drop_queue(c);
    drop_backlog(c);
    nt_timeouts_clear(&c->timeout);
    nt_timeouts_clear(&c->stall);
    nt_list_remove(&c->dirty_link);
    if (!uv_is_closing((uv_handle_t *)&c->tcp.handle))
        uv_close((uv_handle_t *)&c->tcp.handle, on_close);
}

static void on_shutdown(struct nt_transport *t, int status)
{
    struct nt_conn *c = conn_of(t);
    c->is_shutting = false;
    /* Both directions are done when the peer had already half-closed. */
    if ((status < 0 || c->got_eof) && c->state != NT_CONN_CLOSING)
        nt_conn_close(c, c->reason);
}

static void start_fin(struct nt_conn *c)
{
    c->fin_after_flush = false;
    /* Everything was written: give the peer the linger time to read it and close. */
    nt_timeouts_set(&c->net->timeouts, &c->timeout, NT_TIMEOUT_LINGER);
    c->is_shutting = true;
    int rc = c->t->ops->shutdown(c->t);
    if (rc != 0) {
        c->is_shutting = false;
        nt_conn_close(c, c->reason);
    }
}

static void on_writable(struct nt_transport *t)
{
    struct nt_conn *c = conn_of(t);
    if (c->state != NT_CONN_CLOSING && (c->q_len > 0 || c->fin_after_flush))
        mark_dirty(c->net, c);
}

static void free_inflight(struct nt_conn *c)
{
    for (uint32_t i = 0; i < c->n_inflight; i++)
        release(c->net, c->inflight[i]);
    free(c->inflight);
    c->inflight = NULL;
    c->n_inflight = 0;
    free(c->wreq);
    c->wreq = NULL;
}

static void on_write(uv_write_t *req, int status)
{
    struct nt_conn *c = req->data;
    free_inflight(c);
    if (status < 0) {
        if (c->state != NT_CONN_CLOSING)
            nt_conn_close(c, "error");
        return;
    }
    if (c->q_len > 0 || c->fin_after_flush)
        mark_dirty(c->net, c);
}

/* Fills bufs from the ring, the first one past the bytes already written. Returns the count. */
static unsigned fill_bufs(const struct nt_conn *c, uv_buf_t *bufs)
{
    unsigned n = c->q_len < IOV_BATCH ? c->q_len : IOV_BATCH;
    for (unsigned i = 0; i < n; i++) {
        struct nt_msg *msg = c->q[(c->q_head + i) & (c->q_cap - 1)];
        size_t off = i == 0 ? c->q_off : 0;
        bufs[i] = uv_buf_init(msg->data + off, (unsigned)(msg->len - off));
    }
    return n;
}

/*
 * A ring that grew for a burst (a join storm queues thousands of notices) goes back to its first
 * size once empty, so that an idle client costs its few hundred bytes, not its busiest moment.
 */
static void shrink_if_empty(struct nt_conn *c)
{
    if (c->q_len == 0 && c->q_cap > RING_MIN)
        free_ring(c);
}

/* Drops the first `written` bytes of the ring. */
static void consume(struct nt_conn *c, size_t written)
{
    c->taken += written;
    c->net->stats.bytes_written += written;
    while (written > 0) {
        struct nt_msg *head = c->q[c->q_head];
        size_t left = head->len - c->q_off;
        if (written < left) {
            c->q_off += (uint32_t)written;
            c->q_bytes -= written;
            return;
        }
        written -= left;
        release(c->net, pop(c));
    }
}

/* Tries to write what is queued without blocking; returns false when c was closed. */
static bool write_now(struct nt_conn *c, uv_buf_t *bufs)
{
    if (c->q_len > 1 && c->q_bytes <= sizeof(c->net->flat)) {
        /* Several short messages: one copy into a flat buffer and a plain write() costs less
         * than handing the kernel an iovec of references (docs/PERFORMANCE.md: 7-20% less CPU
         * per delivery). Whatever the transport does not take goes the iovec way below. */
        unsigned n = fill_bufs(c, bufs);
        size_t flat_len = 0;
        for (unsigned i = 0; i < n; i++) {
            memcpy(c->net->flat + flat_len, bufs[i].base, bufs[i].len);
            flat_len += bufs[i].len;
        }
        uv_buf_t flat = uv_buf_init(c->net->flat, (unsigned)flat_len);
        int rc = c->t->ops->try_write(c->t, &flat, 1);
        if (rc < 0 && rc != UV_EAGAIN) {
            nt_conn_close(c, "error");
            return false;
        }
        if (rc > 0)
            consume(c, (size_t)rc);
    }
    while (c->q_len > 0) {
        unsigned n = fill_bufs(c, bufs);
        int rc = c->t->ops->try_write(c->t, bufs, n);
        if (rc == UV_EAGAIN)
            break;
        if (rc < 0) {
            nt_conn_close(c, "error");
            return false;
        }
        size_t offered = 0;
        for (unsigned i = 0; i < n; i++)
            offered += bufs[i].len;
        consume(c, (size_t)rc);
        if ((size_t)rc < offered)
            break; /* the transport is full */
    }
    return true;
}

/* Hands the rest of the ring to one zero-copy write, which owns the refs until on_write. */
static void write_later(struct nt_conn *c, uv_buf_t *bufs)
{
    unsigned n = fill_bufs(c, bufs);
    size_t bytes = 0;
    c->inflight = nt_xmalloc(n * sizeof(struct nt_msg *));
    for (unsigned i = 0; i < n; i++) {
        bytes += bufs[i].len;
        c->q_bytes -= c->q[c->q_head]->len - c->q_off;
        c->inflight[i] = c->q[c->q_head];
        c->q_head = (c->q_head + 1) & (c->q_cap - 1);
        c->q_len--;
        c->q_off = 0;
    }
    c->n_inflight = n;
    shrink_if_empty(c);
    c->wreq = nt_xmalloc(sizeof(*c->wreq));
    c->wreq->data = c;
    int rc = c->t->ops->write(c->t, c->wreq, bufs, n, on_write);
    if (rc != 0) {
        free_inflight(c);
        nt_conn_close(c, "error");
        return;
    }
    c->taken += bytes; /* libuv's write queue counts what of it is still unsent */
    c->net->stats.bytes_written += bytes;
}

/*
 * Watches for a stalled reader: while output waits, the STALL deadline runs; it restarts
 * whenever the transport took something since the last look (nt_conn_expired checks again).
 */
static void watch_stall(struct nt_conn *c)
{
    bool waiting = c->q_len > 0 || c->wreq != NULL || c->t->ops->pending(c->t) > 0;
    if (!waiting) {
        nt_timeouts_clear(&c->stall);
        return;
    }
    if (!nt_list_is_linked(&c->stall.link)) {
        c->stall_taken = c->taken;
        c->stall_pending = c->t->ops->pending(c->t);
        nt_timeouts_set(&c->net->timeouts, &c->stall, NT_TIMEOUT_STALL);
    }
}

void nt_conn_flush(struct nt_conn *c)
{
    if (c->state == NT_CONN_CLOSING)
        return;
    if (c->wreq == NULL) {
        uv_buf_t bufs[IOV_BATCH];
        if (!write_now(c, bufs))
            return;
        shrink_if_empty(c);
        /* libuv 1.44 completes one write request per wake-up, so there is one at most. A
         * transport that copies (TLS) has no zero-copy write: it calls on_writable instead. */
        if (c->q_len > 0 && c->t->ops->write != NULL) {
            write_later(c, bufs);
            if (c->state == NT_CONN_CLOSING)
                return;
        }
        if (c->q_len == 0 && c->wreq == NULL && c->fin_after_flush && !c->is_shutting)
            start_fin(c);
    }
    if (c->state != NT_CONN_CLOSING)
        watch_stall(c);
}

/* The STALL deadline: cut c unless its transport took something since the last look. */
static void check_stall(struct nt_conn *c)
{
    if (c->state == NT_CONN_CLOSING)
        return;
    size_t pending = c->t->ops->pending(c->t);
    if (c->taken != c->stall_taken || pending != c->stall_pending) {
        c->stall_taken = c->taken;
        c->stall_pending = pending;
        if (c->q_len > 0 || c->wreq != NULL || pending > 0)
            nt_timeouts_set(&c->net->timeouts, &c->stall, NT_TIMEOUT_STALL);
        return;
    }
    c->net->stats.cut_stalled++;
    NT_WARN("conn=%llu peer=%s cut off: stalled (took nothing for %llu ms with %zu bytes waiting)",
            (unsigned long long)c->id, c->peer,
            (unsigned long long)c->net->timeouts.duration_ms[NT_TIMEOUT_STALL], nt_conn_pending(c));
    if (c->state == NT_CONN_LINGER) {
        nt_conn_close(c, c->reason);
        return;
    }
    drop_queue(c);
    c->is_over = true;
    nt_conn_goodbye(c, "Disconnected: too slow to receive messages.", "stalled");
}

void nt_conn_cut_largest(struct nt_net *net)
{
    struct nt_conn *largest = NULL;
    size_t most = 0;
    for (struct nt_list *node = net->conns.next; node != &net->conns; node = node->next) {
        struct nt_conn *c = NT_CONTAINER_OF(node, struct nt_conn, all_link);
        size_t pending = c->state == NT_CONN_OPEN ? c->q_bytes : 0;
        if (pending > most) {
            most = pending;
            largest = c;
        }
    }
    if (largest == NULL)
        return;
    net->stats.cut_memory++;
    NT_WARN("conn=%llu peer=%s cut off: the largest backlog (%zu bytes) with %llu bytes queued in "
            "all, over --max-output-total",
            (unsigned long long)largest->id, largest->peer, most,
            (unsigned long long)net->queued_bytes);
    drop_queue(largest);
    largest->is_over = true;
    nt_conn_goodbye(largest, "Disconnected: too slow to receive messages.", "memory");
}

void nt_conn_expired(struct nt_timeouts *t, struct nt_timeout_node *node)
{
    (void)t;
    switch (node->kind) {
    case NT_TIMEOUT_THROTTLE:
        unthrottle(NT_CONTAINER_OF(node, struct nt_conn, throttle));
        break;
    case NT_TIMEOUT_STALL:
        check_stall(NT_CONTAINER_OF(node, struct nt_conn, stall));
        break;
    case NT_TIMEOUT_LINGER: {
        struct nt_conn *c = NT_CONTAINER_OF(node, struct nt_conn, timeout);
        nt_conn_close(c, c->reason);
        break;
    }
    default: {
        struct nt_conn *c = NT_CONTAINER_OF(node, struct nt_conn, timeout);
        c->h->on_timeout(c, node->kind);
        break;
    }
    }
}

/* --- what every conn shares: the per-iteration flush, the output budget, the deadlines -------- */

static void on_check(uv_check_t *check)
{
    struct nt_net *net = NT_CONTAINER_OF(check, struct nt_net, flush_check);
    /* Memory first: past --max-output-total the largest backlogs go, before anything is
     * written (a paste to a big room never cuts the readers that keep up). */
    while (net->queued_bytes > net->limits.max_output_total) {
        uint64_t before = net->queued_bytes;
        nt_conn_cut_largest(net);
        if (net->queued_bytes >= before)
            break; /* nothing left to cut */
    }
    /* A flush can close a conn, whose door tells others: take from the head until empty. */
    while (!nt_list_is_empty(&net->dirty)) {
        struct nt_list *node = net->dirty.next;
        nt_list_remove(node);
        nt_conn_flush(NT_CONTAINER_OF(node, struct nt_conn, dirty_link));
    }
    uv_idle_stop(&net->flush_idle);
}

int nt_conn_net_init(struct nt_net *net, uv_loop_t *loop, const struct nt_net_limits *limits,
                     const uint64_t *durations_ms)
{
    net->loop = loop;
    net->limits = *limits;
    nt_list_init(&net->conns);
    nt_list_init(&net->dirty);
    int rc = nt_timeouts_init(&net->timeouts, loop, durations_ms, nt_conn_expired);
    if (rc == 0)
        rc = uv_check_init(loop, &net->flush_check);
    if (rc == 0)
        rc = uv_check_start(&net->flush_check, on_check);
    if (rc == 0)
        rc = uv_idle_init(loop, &net->flush_idle);
    return rc;
}

void nt_conn_net_reload(struct nt_net *net, const struct nt_net_limits *limits,
                        const uint64_t *durations_ms)
{
    net->limits = *limits;
    for (int k = 0; k < NT_TIMEOUT_KINDS; k++)
        nt_timeouts_set_duration(&net->timeouts, (enum nt_timeout_kind)k, durations_ms[k]);
}

static void close_net_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void nt_conn_net_close(struct nt_net *net)
{
    close_net_handle((uv_handle_t *)&net->flush_check);
    close_net_handle((uv_handle_t *)&net->flush_idle);
    nt_timeouts_close(&net->timeouts);
}
