/* SPDX-License-Identifier: MIT */
/* link.c - the link to the other nodes: two Redis connections, a heartbeat, reconnects, gaps. */
#include "net/link.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "net/redis.h"

/* A node we hear from: the number its next message should have. */
struct peer {
    char node[NT_WIRE_MAX_NODE];
    size_t len;
    uint64_t next;
};

struct nt_link {
    uv_loop_t *loop; /* borrowed */
    const struct nt_link_callbacks *cb;
    void *ctx;
    struct nt_redis_url url;
    char node[NT_WIRE_MAX_NODE + 1];
    size_t node_len;
    char channel[48]; /* natter:DB:events */
    size_t channel_len;
    size_t max_queue;
    struct nt_redis *sub, *cmd; /* owned (closed by nt_redis_close), NULL between attempts */
    bool is_sub_ready, is_cmd_ready;
    bool is_up;        /* our heartbeat came back, and nothing failed since */
    bool is_down_told; /* on_down came for the outage in progress */
    uint64_t down_since;
    uint64_t seq;        /* the number of our last message */
    uint64_t own_seen;   /* loop ms: our last heartbeat back */
    uint64_t attempt_at; /* loop ms: the attempt in progress began */
    uint64_t backoff_ms;
    uint64_t rng;
    uv_timer_t beat, retry;
    uv_getaddrinfo_t gai;
    bool is_resolving;
    struct peer peers[NT_LINK_MAX_PEERS];
    size_t n_peers;
    struct nt_link_stats stats;
    bool is_closing;
    int handles; /* open handles and requests: freed when the last one is done */
};

static void attempt(struct nt_link *l);

/* --- failure and retry -------------------------------------------------------------------- */

static void on_retry(uv_timer_t *t)
{
    attempt(t->data);
}

/* The link failed (why, for the log): both connections go, the user hears once per outage, and
 * the next attempt comes after a backoff that doubles, with a quarter of jitter either way (so
 * nodes cut off together do not all come back at the same moment). */
static void fail(struct nt_link *l, const char *why)
{
    if (l->is_closing || uv_is_active((uv_handle_t *)&l->retry))
        return; /* already failed: the second connection's end says the same */
    if (l->sub != NULL)
        nt_redis_close(l->sub);
    if (l->cmd != NULL)
        nt_redis_close(l->cmd);
    l->sub = l->cmd = NULL;
    l->is_sub_ready = l->is_cmd_ready = false;
    l->n_peers = 0; /* what others sent meanwhile is the outage's gap, told by on_up's user */
    if (l->is_up || !l->is_down_told) {
        l->is_up = false;
        l->is_down_told = true;
        l->down_since = nt_wall_ms();
        l->stats.downs++;
        NT_WARN("cluster: the link to Redis is down: %s", why);
        l->cb->on_down(l, l->down_since);
    } else {
        NT_DEBUG("cluster: reconnect failed: %s", why);
    }
    l->backoff_ms = l->backoff_ms == 0 ? NT_LINK_BACKOFF_MIN_MS : l->backoff_ms * 2;
    if (l->backoff_ms > NT_LINK_BACKOFF_MAX_MS)
        l->backoff_ms = NT_LINK_BACKOFF_MAX_MS;
    l->rng ^= l->rng << 13;
    l->rng ^= l->rng >> 7;
    l->rng ^= l->rng << 17;
    uint64_t delay = l->backoff_ms * 3 / 4 + l->rng % (l->backoff_ms / 2 + 1);
    uv_timer_start(&l->retry, on_retry, delay, 0);
}

/* --- messages ----------------------------------------------------------------------------- */

static void on_published(struct nt_redis *r, const struct redisReply *reply, void *arg)
{
    (void)r;
    (void)reply; /* the number of subscribers: nothing to do with it */
    (void)arg;
}

/* Encodes and PUBLISHes m, numbered. Returns 0, UV_ENOTCONN or UV_ENOBUFS. */
static int send_msg(struct nt_link *l, struct nt_wire_msg *m)
{
    m->node = (struct nt_wire_str){l->node, l->node_len};
    m->seq = ++l->seq;
    if (!l->is_cmd_ready) {
        l->stats.dropped++;
        return UV_ENOTCONN;
    }
    struct nt_msg *payload = nt_wire_encode(m);
    const char *argv[] = {"PUBLISH", l->channel, payload->data};
    const size_t lens[] = {7, l->channel_len, payload->len};
    int rc = nt_redis_command(l->cmd, 3, argv, lens, on_published, NULL);
    nt_msg_unref(payload);
    if (rc != 0) {
        l->stats.dropped++;
        return rc == UV_ENOBUFS ? UV_ENOBUFS : UV_ENOTCONN;
    }
    l->stats.published++;
    return 0;
}

int nt_link_publish(struct nt_link *l, struct nt_wire_msg *m)
{
    if (!l->is_up) {
        m->node = (struct nt_wire_str){l->node, l->node_len};
        m->seq = ++l->seq;
        l->stats.dropped++;
        return UV_ENOTCONN;
    }
    return send_msg(l, m);
}

/* A command in flight: the user's callback, for the link. */
struct command {
    struct nt_link *l;
    nt_link_reply_fn fn;
    void *arg;
};

static void on_command_reply(struct nt_redis *r, const struct redisReply *reply, void *arg)
{
    (void)r;
    struct command *cmd = arg;
    struct nt_link *l = cmd->l;
    cmd->fn(l, l->is_closing ? NULL : reply, cmd->arg);
    free(cmd);
    if (--l->handles == 0)
        free(l); /* the link closed while the command was in flight */
}

int nt_link_command(struct nt_link *l, int argc, const char **argv, const size_t *lens,
                    nt_link_reply_fn fn, void *arg)
{
    if (!l->is_cmd_ready || l->is_closing)
        return UV_ENOTCONN;
    struct command *cmd = nt_xmalloc(sizeof(*cmd));
    *cmd = (struct command){l, fn, arg};
    int rc = nt_redis_command(l->cmd, argc, argv, lens, on_command_reply, cmd);
    if (rc != 0) {
        free(cmd);
        return rc == UV_ENOBUFS ? UV_ENOBUFS : UV_ENOTCONN;
    }
    l->handles++; /* the link lives until the answer came */
    return 0;
}

static void heartbeat(struct nt_link *l)
{
    struct nt_wire_msg m = {.type = NT_WIRE_HEARTBEAT, .time_ms = nt_wall_ms()};
    send_msg(l, &m);
}

/* Follows the numbers of m's node: a jump is a gap; a smaller number, a node that started again. */
static void track(struct nt_link *l, const struct nt_wire_msg *m)
{
    struct peer *p = NULL;
    for (size_t i = 0; i < l->n_peers && p == NULL; i++) {
        if (l->peers[i].len == m->node.len && memcmp(l->peers[i].node, m->node.p, m->node.len) == 0)
            p = &l->peers[i];
    }
    if (m->type == NT_WIRE_BYE) {
        if (p != NULL)
            *p = l->peers[--l->n_peers]; /* it starts again from 1 when it comes back */
        return;
    }
    if (p == NULL) {
        if (l->n_peers == NT_LINK_MAX_PEERS)
            return;
        p = &l->peers[l->n_peers++];
        memcpy(p->node, m->node.p, m->node.len);
        p->len = m->node.len;
    } else if (m->seq > p->next) {
        uint64_t missing = m->seq - p->next;
        l->stats.missing += missing;
        l->cb->on_gap(l, m, missing);
    }
    p->next = m->seq + 1;
}

static void on_message(struct nt_redis *r, const char *channel, size_t channel_len,
                       const char *payload, size_t payload_len)
{
    struct nt_link *l = nt_redis_ctx(r);
    if (channel_len != l->channel_len || memcmp(channel, l->channel, channel_len) != 0)
        return;
    struct nt_wire_msg m;
    enum nt_wire_result res = nt_wire_decode(payload, payload_len, &m);
    if (res != NT_WIRE_OK) {
        l->stats.refused++;
        NT_DEBUG("cluster: a message refused: %s", nt_wire_result_name(res));
        return;
    }
    if (m.node.len == l->node_len && memcmp(m.node.p, l->node, l->node_len) == 0) {
        if (m.type != NT_WIRE_HEARTBEAT)
            return; /* our own, back */
        l->own_seen = uv_now(l->loop);
        if (!l->is_up) {
            l->is_up = true;
            l->backoff_ms = 0;
            uint64_t since = l->is_down_told ? l->down_since : 0;
            l->is_down_told = false;
            NT_INFO("cluster: linked through Redis as %s", l->node);
            l->cb->on_up(l, since);
        }
        return;
    }
    track(l, &m);
    l->stats.received++;
    l->cb->on_message(l, &m);
}

/* --- connecting --------------------------------------------------------------------------- */

static void on_subscribed(struct nt_redis *r, const struct redisReply *reply, void *arg)
{
    (void)arg;
    struct nt_link *l = nt_redis_ctx(r);
    if (reply == NULL || r != l->sub)
        return;
    l->is_sub_ready = true;
    if (l->is_cmd_ready)
        heartbeat(l); /* the link is up as soon as it comes back */
}

static void on_connect(struct nt_redis *r, int status)
{
    struct nt_link *l = nt_redis_ctx(r);
    if (status != 0) {
        char why[96];
        snprintf(why, sizeof(why), "connect: %s", uv_strerror(status));
        fail(l, why);
        return;
    }
    if (r == l->sub) {
        const char *argv[] = {"SUBSCRIBE", l->channel};
        const size_t lens[] = {9, l->channel_len};
        if (nt_redis_command(r, 2, argv, lens, on_subscribed, NULL) != 0)
            fail(l, "SUBSCRIBE refused");
    } else {
        l->is_cmd_ready = true;
        if (l->is_sub_ready)
            heartbeat(l);
    }
}

static void on_disconnect(struct nt_redis *r, int status)
{
    struct nt_link *l = nt_redis_ctx(r);
    char why[160];
    snprintf(why, sizeof(why), "connection closed: %s%s%s", uv_strerror(status),
             nt_redis_error(r)[0] ? ": " : "", nt_redis_error(r));
    fail(l, why);
}

static const struct nt_redis_callbacks redis_cb = {
    .on_connect = on_connect,
    .on_disconnect = on_disconnect,
    .on_message = on_message,
};

static void connect_both(struct nt_link *l, const struct sockaddr *addr)
{
    /* Subscribed, a RESP2 connection can only (un)subscribe: commands need a second one. */
    l->sub = nt_redis_new(l->loop, &redis_cb, l, (size_t)64 * 1024);
    l->cmd = nt_redis_new(l->loop, &redis_cb, l, l->max_queue);
    struct nt_redis *both[] = {l->sub, l->cmd};
    for (int i = 0; i < 2 && !uv_is_active((uv_handle_t *)&l->retry); i++) {
        int rc = addr != NULL ? nt_redis_connect_tcp(both[i], addr, NT_LINK_CONNECT_MS)
                              : nt_redis_connect_unix(both[i], l->url.path, NT_LINK_CONNECT_MS);
        if (rc != 0) {
            char why[96];
            snprintf(why, sizeof(why), "connect: %s", uv_strerror(rc));
            fail(l, why);
        }
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct nt_link *l = req->data;
    l->is_resolving = false;
    l->handles--;
    if (l->is_closing) {
        uv_freeaddrinfo(res);
        if (l->handles == 0)
            free(l);
        return;
    }
    if (status != 0 || res == NULL) {
        char why[NT_REDIS_URL_MAX_HOST + 128];
        snprintf(why, sizeof(why), "cannot resolve %s: %s", l->url.host, uv_strerror(status));
        uv_freeaddrinfo(res);
        fail(l, why);
        return;
    }
    /* sin_port and sin6_port are at the same place. */
    ((struct sockaddr_in *)(void *)res->ai_addr)->sin_port = htons(l->url.port);
    connect_both(l, res->ai_addr);
    uv_freeaddrinfo(res);
}

static void attempt(struct nt_link *l)
{
    l->attempt_at = uv_now(l->loop);
    if (l->url.kind == NT_REDIS_URL_UNIX) {
        connect_both(l, NULL);
        return;
    }
    if (l->url.is_numeric) {
        struct sockaddr_storage ss;
        int rc = l->url.is_ipv6 ? uv_ip6_addr(l->url.host, l->url.port, (void *)&ss)
                                : uv_ip4_addr(l->url.host, l->url.port, (void *)&ss);
        NT_ASSERT(rc == 0); /* checked by the URL's parser */
        connect_both(l, (const struct sockaddr *)&ss);
        return;
    }
    /* redisAsyncConnect would resolve with a blocking getaddrinfo: the thread pool does it. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    l->gai.data = l;
    if (uv_getaddrinfo(l->loop, &l->gai, on_resolved, l->url.host, NULL, &hints) == 0) {
        l->is_resolving = true;
        l->handles++;
    } else {
        fail(l, "cannot resolve the host");
    }
}

/* Every second: a heartbeat, and whether the last one came back in time. */
static void on_beat(uv_timer_t *t)
{
    struct nt_link *l = t->data;
    uint64_t now = uv_now(l->loop);
    if (l->sub == NULL && l->cmd == NULL)
        return; /* between attempts */
    if (l->is_up && now - l->own_seen > NT_LINK_DEAD_MS) {
        fail(l, "no heartbeat back from Redis");
        return;
    }
    if (!l->is_up && now - l->attempt_at > NT_LINK_CONNECT_MS + NT_LINK_DEAD_MS) {
        fail(l, "no answer from Redis");
        return;
    }
    if (l->is_cmd_ready)
        heartbeat(l);
}

/* --- life ---------------------------------------------------------------------------------- */

struct nt_link *nt_link_new(uv_loop_t *loop, const struct nt_redis_url *url, const char *node,
                            size_t max_queue, const struct nt_link_callbacks *cb, void *ctx)
{
    struct nt_link *l = nt_xcalloc(1, sizeof(*l));
    l->loop = loop;
    l->cb = cb;
    l->ctx = ctx;
    l->url = *url;
    l->node_len = strlen(node);
    NT_ASSERT(l->node_len >= 1 && l->node_len <= NT_WIRE_MAX_NODE);
    memcpy(l->node, node, l->node_len);
    l->channel_len = (size_t)snprintf(l->channel, sizeof(l->channel), "natter:%u:events", url->db);
    l->max_queue = max_queue;
    l->rng = uv_hrtime() | 1;
    NT_ASSERT(uv_timer_init(loop, &l->beat) == 0 && uv_timer_init(loop, &l->retry) == 0);
    l->beat.data = l->retry.data = l;
    l->handles = 2;
    uv_timer_start(&l->beat, on_beat, NT_LINK_HEARTBEAT_MS, NT_LINK_HEARTBEAT_MS);
    attempt(l);
    return l;
}

void *nt_link_ctx(const struct nt_link *l)
{
    return l->ctx;
}

bool nt_link_is_up(const struct nt_link *l)
{
    return l->is_up;
}

const struct nt_link_stats *nt_link_stats(const struct nt_link *l)
{
    return &l->stats;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct nt_link *l = h->data;
    if (--l->handles == 0)
        free(l);
}

void nt_link_close(struct nt_link *l)
{
    if (l->is_closing)
        return;
    l->is_closing = true;
    if (l->sub != NULL)
        nt_redis_close(l->sub);
    if (l->cmd != NULL)
        nt_redis_close(l->cmd);
    l->sub = l->cmd = NULL;
    if (l->is_resolving)
        uv_cancel((uv_req_t *)&l->gai); /* its callback comes, with UV_EAI_CANCELED */
    uv_close((uv_handle_t *)&l->beat, on_timer_closed);
    uv_close((uv_handle_t *)&l->retry, on_timer_closed);
}
