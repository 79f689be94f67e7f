/* SPDX-License-Identifier: MIT */
/* conn.c - one client: read -> framer -> chat; its send queue; the close state machine. */
/* struct tcp_info and the TCP_* states are glibc extensions. */
#define _DEFAULT_SOURCE /* NOLINT(bugprone-reserved-identifier): a glibc feature macro */
#include "conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "log.h"
#include "server.h"

/* writev() takes at most IOV_MAX (1024) buffers; libuv splits larger writes itself, but a batch
 * of this size already amortises the system call. */
#define IOV_BATCH 1024
/* Slots of a new send ring (a power of two); rings grow by doubling. */
#define RING_MIN 8

void nt_conn_format_addr(const struct sockaddr_storage *ss, char *out, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
        uv_ip6_name(a, ip, sizeof(ip));
        snprintf(out, size, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;
        uv_ip4_name(a, ip, sizeof(ip));
        snprintf(out, size, "%s:%u", ip, ntohs(a->sin_port));
    }
}

static void on_close_unaccepted(uv_handle_t *handle)
{
    free(NT_CONTAINER_OF(handle, struct nt_conn, tcp));
}

/* Everything a conn needs but its socket; it joins srv's conn list. */
static void setup(struct nt_server *srv, struct nt_conn *c)
{
    c->srv = srv;
    c->id = ++srv->next_conn_id;
    c->state = srv->cfg->echo ? NT_CONN_ECHO : NT_CONN_NAMING;
    /* Chat mode strips telnet commands; echo mode returns the bytes untouched (§5.2). */
    nt_framer_init(&c->framer, srv->cfg->max_line, !srv->cfg->echo);
    nt_timeouts_node_init(&c->timeout);
    nt_timeouts_node_init(&c->throttle);
    c->tokens = srv->cfg->burst * 1000;
    c->refilled_ms = uv_now(srv->loop);
    nt_list_append(&srv->conns, &c->all_link);
    srv->n_conns++;
}

struct nt_conn *nt_conn_new_detached(struct nt_server *srv, const char *ip)
{
    struct nt_conn *c = nt_xcalloc(1, sizeof(*c));
    NT_ASSERT(uv_tcp_init(srv->loop, &c->tcp) == 0);
    snprintf(c->ip, sizeof(c->ip), "%s", ip);
    snprintf(c->peer, sizeof(c->peer), "%s:0", ip);
    setup(srv, c);
    return c;
}

struct nt_conn *nt_conn_accept(struct nt_server *srv, uv_stream_t *server)
{
    struct nt_conn *c = nt_xcalloc(1, sizeof(*c));
    int rc = uv_tcp_init(srv->loop, &c->tcp);
    if (rc != 0) {
        NT_WARN("accept failed: %s", uv_strerror(rc));
        free(c);
        return NULL;
    }
    rc = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (rc != 0) {
        NT_WARN("accept failed: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&c->tcp, on_close_unaccepted);
        return NULL;
    }
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        nt_conn_format_addr(&ss, c->peer, sizeof(c->peer));
        if (ss.ss_family == AF_INET6)
            uv_ip6_name((const struct sockaddr_in6 *)(const void *)&ss, c->ip, sizeof(c->ip));
        else
            uv_ip4_name((const struct sockaddr_in *)(const void *)&ss, c->ip, sizeof(c->ip));
    } else {
        snprintf(c->peer, sizeof(c->peer), "?");
        snprintf(c->ip, sizeof(c->ip), "?");
    }
    /* Batching comes from the per-iteration flush; Nagle would only add delay. */
    uv_tcp_nodelay(&c->tcp, 1);
    if (srv->cfg->sndbuf > 0) {
        int size = (int)srv->cfg->sndbuf;
        uv_send_buffer_size((uv_handle_t *)&c->tcp, &size);
    }
    setup(srv, c);
    return c;
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct nt_conn *c = NT_CONTAINER_OF(handle, struct nt_conn, tcp);
    (void)suggested;
    buf->base = c->srv->read_buf;
    buf->len = sizeof(c->srv->read_buf);
}

static bool is_paced(const struct nt_conn *c)
{
    const struct nt_config *cfg = c->srv->cfg;
    return cfg->rate > 0 && cfg->burst > 0 && c->state != NT_CONN_ECHO;
}

/* Adds the tokens earned since the last refill, up to the burst. */
static void refill(struct nt_conn *c)
{
    const struct nt_config *cfg = c->srv->cfg;
    uint64_t now = uv_now(c->srv->loop);
    uint64_t cap = cfg->burst * 1000;
    c->tokens += (now - c->refilled_ms) * cfg->rate; /* ms x lines/s = thousandths of a line */
    if (c->tokens > cap)
        c->tokens = cap;
    c->refilled_ms = now;
}

/*
 * Frames and handles in[0..in_len). With flood control, a line costs one token; when the bucket is
 * empty, the rest of the input is kept in the backlog and reading stops until a token is due
 * (§7.9): the peer is paced by TCP back-pressure and loses nothing.
 */
void nt_conn_input(struct nt_conn *c, const char *in, size_t in_len)
{
    NT_ASSERT(in != NULL || in_len == 0);
    bool paced = is_paced(c);
    while (in_len > 0 && c->state < NT_CONN_LINGER) {
        if (paced) {
            /* Refilled at every line: a bucket left full while idle must not bank the time. */
            refill(c);
            if (c->tokens < 1000) {
                if (c->backlog == NULL) {
                    c->backlog = nt_xmalloc(in_len);
                    memcpy(c->backlog, in, in_len);
                    c->backlog_len = in_len;
                    c->backlog_off = 0;
                } else {
                    c->backlog_off = c->backlog_len - in_len;
                }
                uv_read_stop((uv_stream_t *)&c->tcp);
                nt_timeouts_set(&c->srv->timeouts, &c->throttle, NT_TIMEOUT_THROTTLE);
                return;
            }
        }
        const char *line;
        size_t line_len;
        enum nt_frame_result res = nt_framer_next(&c->framer, &in, &in_len, &line, &line_len);
        if (res == NT_FRAME_MORE)
            break;
        if (paced)
            c->tokens -= 1000;
        if (res == NT_FRAME_LINE)
            nt_chat_line(c, line, line_len);
        else
            nt_chat_line_too_long(c);
    }
    if (c->backlog != NULL) {
        free(c->backlog);
        c->backlog = NULL;
        c->backlog_len = c->backlog_off = 0;
    }
}

/*
 * The peer half-closed. Like the HOWTO's readline(), a last line without LF still counts (§5.1);
 * then what is queued for the peer is still sent (it may be reading), and the conn closes once
 * our FIN is out.
 */
void nt_conn_end_of_input(struct nt_conn *c)
{
    const char *line;
    size_t line_len;
    c->got_eof = true;
    if (nt_framer_end(&c->framer, &line, &line_len) == NT_FRAME_LINE)
        nt_chat_line(c, line, line_len);
    nt_conn_goodbye(c, NULL, "quit");
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct nt_conn *c = NT_CONTAINER_OF(stream, struct nt_conn, tcp);
    if (nread == UV_EOF && c->state < NT_CONN_LINGER) {
        nt_conn_end_of_input(c);
        return;
    }
    if (nread < 0) {
        nt_conn_close(c, nread == UV_EOF ? c->reason : "error");
        return;
    }
    /* A lingering conn's input is read only to notice the peer's close (§4.6). */
    if (c->state >= NT_CONN_LINGER)
        return;
    nt_conn_input(c, buf->base, (size_t)nread);
}

/*
 * Whether the peer has closed or reset the connection. A paced conn is not read, so its EOF would
 * wait behind everything still unread; the kernel's TCP state knows at once (CLOSE_WAIT: FIN
 * received; CLOSE: reset).
 */
static bool peer_is_gone(const struct nt_conn *c)
{
    uv_os_fd_t fd;
    if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0)
        return false;
    struct tcp_info info;
    socklen_t len = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        return false;
    return info.tcpi_state == TCP_CLOSE_WAIT || info.tcpi_state == TCP_CLOSE;
}

void nt_conn_unthrottle(struct nt_conn *c)
{
    if (c->state >= NT_CONN_LINGER || c->backlog == NULL)
        return;
    if (peer_is_gone(c)) {
        /* Nobody is left to pace: what was not yet taken from it is dropped, and it leaves now
         * instead of holding its slot for as long as its backlog would take (§7.9). */
        nt_conn_goodbye(c, NULL, "quit");
        return;
    }
    /* nt_conn_input() keeps the backlog while it runs dry again, or frees it when done. */
    nt_conn_input(c, c->backlog + c->backlog_off, c->backlog_len - c->backlog_off);
    if (c->backlog == NULL && c->state < NT_CONN_LINGER)
        nt_conn_start(c);
}

void nt_conn_start(struct nt_conn *c)
{
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc != 0)
        nt_conn_close(c, "error");
}

size_t nt_conn_pending(const struct nt_conn *c)
{
    return c->q_bytes + uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

/* Appends a reference to msg to c's ring, with no cap check. */
static void push(struct nt_conn *c, struct nt_msg *msg)
{
    if (c->q_len == c->q_cap) {
        uint32_t cap = c->q_cap ? c->q_cap * 2 : RING_MIN;
        struct nt_msg **q = nt_xmalloc(cap * sizeof(struct nt_msg *));
        for (uint32_t i = 0; i < c->q_len; i++)
            q[i] = c->q[(c->q_head + i) & (c->q_cap - 1)];
        free(c->q);
        c->q = q;
        c->q_cap = cap;
        c->q_head = 0;
    }
    c->q[(c->q_head + c->q_len) & (c->q_cap - 1)] = nt_msg_ref(msg);
    c->q_len++;
    c->q_bytes += msg->len;
    nt_server_mark_dirty(c->srv, c);
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
        nt_msg_unref(pop(c));
    free(c->q);
    c->q = NULL;
    c->q_cap = 0;
    c->q_head = 0;
}

int nt_conn_send(struct nt_conn *c, struct nt_msg *msg)
{
    if (c->state >= NT_CONN_LINGER)
        return UV_ECANCELED;
    if (nt_conn_pending(c) + msg->len > c->srv->cfg->max_output) {
        /* A slow consumer: what it has not taken yet is dropped so the goodbye can go (§4.3). */
        drop_queue(c);
        nt_conn_goodbye(c, "Disconnected: too slow to receive messages.", "slow");
        return UV_ENOBUFS;
    }
    push(c, msg);
    return 0;
}

int nt_conn_send_str(struct nt_conn *c, const char *str)
{
    struct nt_msg *msg = nt_msg_from_str(str);
    int rc = nt_conn_send(c, msg);
    nt_msg_unref(msg);
    return rc;
}

/* Takes c out of the chat once, whatever ends it. */
static void leave(struct nt_conn *c, const char *reason)
{
    if (c->has_left)
        return;
    c->has_left = true;
    c->reason = reason;
    nt_chat_leave(c, reason);
}

void nt_conn_goodbye(struct nt_conn *c, const char *goodbye, const char *reason)
{
    if (c->state >= NT_CONN_LINGER)
        return;
    leave(c, reason);
    c->state = NT_CONN_LINGER;
    if (c->backlog != NULL) {
        /* Paced input is dropped; read again to notice the peer's close (§4.6). */
        nt_timeouts_clear(&c->throttle);
        free(c->backlog);
        c->backlog = NULL;
        if (!c->got_eof)
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    if (goodbye != NULL) {
        size_t len = strlen(goodbye);
        const char *parts[] = {goodbye, "\n"};
        const size_t lens[] = {len, 1};
        struct nt_msg *msg = nt_msg_concat(parts, lens, 2);
        push(c, msg); /* past the output cap: a goodbye is small and the last thing sent */
        nt_msg_unref(msg);
    }
    c->fin_after_flush = true;
    /* The flush is bounded by the linger time, except at shutdown, where the server's own flush
     * deadline (5 s) bounds every conn at once (§4.5, §4.6). */
    if (strcmp(reason, "shutdown") != 0)
        nt_timeouts_set(&c->srv->timeouts, &c->timeout, NT_TIMEOUT_LINGER);
    nt_server_mark_dirty(c->srv, c);
}

static void on_close(uv_handle_t *handle)
{
    struct nt_conn *c = NT_CONTAINER_OF(handle, struct nt_conn, tcp);
    struct nt_server *srv = c->srv;
    /* Every write and shutdown callback ran (UV_ECANCELED) before this one. */
    NT_ASSERT(c->wreq == NULL && c->sreq == NULL);
    nt_framer_fini(&c->framer);
    free(c->name);
    free(c->leave_notice);
    free(c->backlog);
    free(c->q);
    nt_list_remove(&c->all_link);
    srv->n_conns--;
    if (c->is_counted)
        srv->n_clients--;
    if (c->is_ip_counted)
        nt_server_ip_release(srv, c->ip);
    free(c);
    nt_server_conn_closed(srv);
}

void nt_conn_close(struct nt_conn *c, const char *reason)
{
    if (c->state == NT_CONN_CLOSING)
        return;
    leave(c, reason);
    c->state = NT_CONN_CLOSING;
    drop_queue(c);
    nt_timeouts_clear(&c->timeout);
    nt_timeouts_clear(&c->throttle);
    nt_list_remove(&c->dirty_link);
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct nt_conn *c = NT_CONTAINER_OF(req->handle, struct nt_conn, tcp);
    free(req);
    c->sreq = NULL;
    /* Both directions are done when the peer had already half-closed. */
    if ((status < 0 || c->got_eof) && c->state != NT_CONN_CLOSING)
        nt_conn_close(c, c->reason);
}

static void start_fin(struct nt_conn *c)
{
    c->fin_after_flush = false;
    /* Everything was written: give the peer the linger time to read it and close. */
    nt_timeouts_set(&c->srv->timeouts, &c->timeout, NT_TIMEOUT_LINGER);
    c->sreq = nt_xmalloc(sizeof(*c->sreq));
    int rc = uv_shutdown(c->sreq, (uv_stream_t *)&c->tcp, on_shutdown);
    if (rc != 0) {
        free(c->sreq);
        c->sreq = NULL;
        nt_conn_close(c, c->reason);
    }
}

static void on_write(uv_write_t *req, int status)
{
    struct nt_conn *c = NT_CONTAINER_OF(req->handle, struct nt_conn, tcp);
    for (uint32_t i = 0; i < c->n_inflight; i++)
        nt_msg_unref(c->inflight[i]);
    free(c->inflight);
    c->inflight = NULL;
    c->n_inflight = 0;
    free(req);
    c->wreq = NULL;
    if (status < 0) {
        if (c->state != NT_CONN_CLOSING)
            nt_conn_close(c, "error");
        return;
    }
    if (c->q_len > 0 || c->fin_after_flush)
        nt_server_mark_dirty(c->srv, c);
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
    if (c->q_len == 0 && c->q_cap > RING_MIN) {
        free(c->q);
        c->q = NULL;
        c->q_cap = 0;
        c->q_head = 0;
    }
}

/* Drops the first `written` bytes of the ring. */
static void consume(struct nt_conn *c, size_t written)
{
    while (written > 0) {
        struct nt_msg *head = c->q[c->q_head];
        size_t left = head->len - c->q_off;
        if (written < left) {
            c->q_off += (uint32_t)written;
            c->q_bytes -= written;
            return;
        }
        written -= left;
        nt_msg_unref(pop(c));
    }
}

void nt_conn_flush(struct nt_conn *c)
{
    if (c->state == NT_CONN_CLOSING || c->wreq != NULL)
        return; /* on_write marks c dirty again when the write in flight is done */
    uv_buf_t bufs[IOV_BATCH];
    if (c->q_len > 1 && c->q_bytes <= sizeof(c->srv->flat)) {
        /* Several short messages: one copy into a flat buffer and a plain write() costs less
         * than handing the kernel an iovec of references (docs/PERFORMANCE.md: 7-20% less CPU
         * per delivery). Whatever the kernel does not take goes the iovec way below. */
        unsigned n = fill_bufs(c, bufs);
        size_t flat_len = 0;
        for (unsigned i = 0; i < n; i++) {
            memcpy(c->srv->flat + flat_len, bufs[i].base, bufs[i].len);
            flat_len += bufs[i].len;
        }
        uv_buf_t flat = uv_buf_init(c->srv->flat, (unsigned)flat_len);
        int rc = uv_try_write((uv_stream_t *)&c->tcp, &flat, 1);
        if (rc < 0 && rc != UV_EAGAIN) {
            nt_conn_close(c, "error");
            return;
        }
        if (rc > 0)
            consume(c, (size_t)rc);
    }
    while (c->q_len > 0) {
        /* First try to write synchronously: no request, no refs held past this call. */
        unsigned n = fill_bufs(c, bufs);
        int rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
        if (rc == UV_EAGAIN)
            break;
        if (rc < 0) {
            nt_conn_close(c, "error");
            return;
        }
        size_t offered = 0;
        for (unsigned i = 0; i < n; i++)
            offered += bufs[i].len;
        consume(c, (size_t)rc);
        if ((size_t)rc < offered)
            break; /* the socket is full */
    }
    shrink_if_empty(c);
    if (c->q_len > 0) {
        /* One uv_write for the rest: libuv 1.44 completes one request per wake-up, so one it is.
         * The request owns the refs it writes until on_write. */
        unsigned n = fill_bufs(c, bufs);
        c->inflight = nt_xmalloc(n * sizeof(struct nt_msg *));
        for (unsigned i = 0; i < n; i++) {
            size_t off = c->q_off;
            c->q_bytes -= c->q[c->q_head]->len - off;
            c->inflight[i] = c->q[c->q_head];
            c->q_head = (c->q_head + 1) & (c->q_cap - 1);
            c->q_len--;
            c->q_off = 0;
        }
        c->n_inflight = n;
        shrink_if_empty(c);
        c->wreq = nt_xmalloc(sizeof(*c->wreq));
        int rc = uv_write(c->wreq, (uv_stream_t *)&c->tcp, bufs, n, on_write);
        if (rc != 0) {
            for (unsigned i = 0; i < n; i++)
                nt_msg_unref(c->inflight[i]);
            free(c->inflight);
            c->inflight = NULL;
            c->n_inflight = 0;
            free(c->wreq);
            c->wreq = NULL;
            nt_conn_close(c, "error");
        }
        return;
    }
    if (c->fin_after_flush && c->sreq == NULL)
        start_fin(c);
}
