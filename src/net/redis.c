/* SPDX-License-Identifier: MIT */
/* redis.c - a Redis client on the loop: our socket and timer, hiredis's parser and formatter. */
#include "net/redis.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "lib/util.h"

/* Drained write buffers and reply rings bigger than this are freed, so a burst's memory goes. */
#define KEEP_BYTES   ((size_t)64 * 1024)
#define KEEP_WAITING 1024

enum state {
    IDLE,       /* new: never connected */
    CONNECTING, /* a connect is under way (and maybe its timeout) */
    CONNECTED,  /* on_connect(0) came */
    DOWN,       /* failed, went down or closing: only nt_redis_close() is left */
};

/* What a command's replies look like (RESP2 pub/sub, docs in redis.h). */
enum kind {
    CMD_PLAIN,       /* one reply */
    CMD_SUBSCRIBE,   /* one confirmation per channel */
    CMD_UNSUBSCRIBE, /* one per channel, or per channel held when none is named */
    CMD_PSUBSCRIBE,
    CMD_PUNSUBSCRIBE,
    CMD_RESET, /* +RESET: no subscription is left */
};

/* The first word of each kind's confirmations. */
static const char *const confirmation_word[] = {
    [CMD_SUBSCRIBE] = "subscribe",
    [CMD_UNSUBSCRIBE] = "unsubscribe",
    [CMD_PSUBSCRIBE] = "psubscribe",
    [CMD_PUNSUBSCRIBE] = "punsubscribe",
};

/* A command waiting for its reply (or its confirmations). */
struct waiting {
    nt_redis_reply_fn fn; /* may be NULL */
    void *arg;            /* the caller's */
    /* Confirmations still to come. 0 for an (P)UNSUBSCRIBE naming nothing: it gets one per
     * channel (pattern) held when its first arrives, or one if none is. */
    long long remaining;
    enum kind kind;
};

/* A growable byte buffer. */
struct buf {
    char *data; /* owned */
    size_t len;
    size_t cap;
};

struct nt_redis {
    uv_loop_t *loop;                     /* borrowed */
    const struct nt_redis_callbacks *cb; /* borrowed */
    void *ctx;                           /* the owner's */
    size_t max_queue;                    /* cap of nt_redis_pending() */
    size_t max_reply;                    /* cap of one reply's unparsed bytes */
    enum state state;
    bool is_closing;  /* nt_redis_close() was called */
    bool has_sock;    /* sock is initialised and not closing */
    bool is_writing;  /* write_req is in flight (it holds wbuf) */
    bool in_multi;    /* a MULTI was sent, its EXEC or DISCARD not yet */
    unsigned handles; /* open handles: the timer, the flusher, and sock until closed */
    int down_status;  /* what on_down_timer reports */
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } sock; /* embedded; initialised by the connect */
    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_timer_t timer;     /* embedded: the connect timeout, then a deferred on_disconnect */
    uv_prepare_t flusher; /* embedded: writes out, once per loop iteration, before the poll */
    /* Commands not handed to libuv yet: gathered while the loop runs callbacks, written before
     * it polls again (one write for a burst of PUBLISHes) or when the write in flight is done;
     * the order on the wire is the order of nt_redis_command(). */
    struct buf out;
    struct buf wbuf;      /* the bytes of write_req, owned until its callback */
    redisReader *reader;  /* owned: hiredis's RESP2 parser */
    struct waiting *ring; /* owned: commands waiting for replies, oldest at ring_head */
    size_t ring_cap, ring_head, ring_len;
    long long channels; /* subscribed to, as the replies read so far say */
    long long patterns;
    char error[160]; /* why it went down with UV_EPROTO or UV_EMSGSIZE */
};

/* One read buffer for every connection: reads are handled synchronously, and the parser copies
 * what it is fed before any callback runs. */
static char read_buf[64 * 1024];

/* --- buffers and the ring ------------------------------------------------------------------- */

static void buf_append(struct buf *b, const char *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        b->data = nt_xrealloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

/* Empties b; a big one is freed. */
static void buf_clear(struct buf *b)
{
    b->len = 0;
    if (b->cap > KEEP_BYTES) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

static void ring_push(struct nt_redis *r, const struct waiting *w)
{
    if (r->ring_len == r->ring_cap) {
        size_t cap = r->ring_cap ? r->ring_cap * 2 : 16;
        struct waiting *ring = nt_xmalloc(cap * sizeof(*ring));
        for (size_t i = 0; i < r->ring_len; i++)
            ring[i] = r->ring[(r->ring_head + i) % r->ring_cap];
        free(r->ring);
        r->ring = ring;
        r->ring_cap = cap;
        r->ring_head = 0;
    }
    r->ring[(r->ring_head + r->ring_len) % r->ring_cap] = *w;
    r->ring_len++;
}

static struct waiting ring_pop(struct nt_redis *r)
{
    struct waiting w = r->ring[r->ring_head];
    r->ring_head = (r->ring_head + 1) % r->ring_cap;
    if (--r->ring_len == 0 && r->ring_cap > KEEP_WAITING) {
        free(r->ring);
        r->ring = NULL;
        r->ring_cap = r->ring_head = 0;
    }
    return w;
}

/* Every waiting command's callback gets NULL, oldest first. A callback may close r. */
static void drain(struct nt_redis *r)
{
    while (r->ring_len > 0) {
        struct waiting w = ring_pop(r);
        if (w.fn != NULL)
            w.fn(r, NULL, w.arg);
    }
}

/* --- closing and going down ----------------------------------------------------------------- */

static void finish(struct nt_redis *r)
{
    drain(r); /* nt_redis_command() refuses from here on: r is DOWN */
    redisReaderFree(r->reader);
    free(r->out.data);
    free(r->wbuf.data);
    free(r->ring);
    free(r);
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct nt_redis *r = handle->data;
    /* The timer and the flusher are only closed by nt_redis_close(), so the last handle means r
     * is closing. */
    if (--r->handles == 0)
        finish(r);
}

/* Closes the socket (once): reading stops, an unfinished connect and write are cancelled, and
 * what was queued will never be written. */
static void close_sock(struct nt_redis *r)
{
    if (!r->has_sock)
        return;
    r->has_sock = false;
    uv_close(&r->sock.handle, on_handle_closed);
    free(r->out.data);
    r->out.data = NULL;
    r->out.len = r->out.cap = 0;
}

static void report_down(struct nt_redis *r, int status)
{
    drain(r);
    if (!r->is_closing && r->cb->on_disconnect != NULL)
        r->cb->on_disconnect(r, status);
}

static void on_down_timer(uv_timer_t *timer)
{
    struct nt_redis *r = NT_CONTAINER_OF(timer, struct nt_redis, timer);
    report_down(r, r->down_status);
}

/*
 * The connection went down with status. Now: the callbacks (waiting commands get NULL, then
 * on_disconnect); later, from the loop, when called from inside nt_redis_command(), whose caller
 * must not see callbacks run.
 */
static void go_down(struct nt_redis *r, int status, bool later)
{
    if (r->state != CONNECTED)
        return;
    r->state = DOWN;
    close_sock(r);
    if (later) {
        r->down_status = status;
        uv_timer_start(&r->timer, on_down_timer, 0, 0);
    } else {
        report_down(r, status);
    }
}

/* Sets why r goes down with UV_EPROTO, and returns that. */
static int protocol_error(struct nt_redis *r, const char *why)
{
    snprintf(r->error, sizeof(r->error), "%s", why);
    return UV_EPROTO;
}

/* --- connecting ----------------------------------------------------------------------------- */

static void connect_failed(struct nt_redis *r, int status)
{
    r->state = DOWN;
    uv_timer_stop(&r->timer);
    close_sock(r);
    if (!r->is_closing && r->cb->on_connect != NULL)
        r->cb->on_connect(r, status);
}

static void on_connect_timeout(uv_timer_t *timer)
{
    struct nt_redis *r = NT_CONTAINER_OF(timer, struct nt_redis, timer);
    /* Closing the socket cancels the connect: its callback then comes with UV_ECANCELED. */
    if (r->state == CONNECTING)
        connect_failed(r, UV_ETIMEDOUT);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    (void)suggested;
    buf->base = read_buf;
    buf->len = sizeof(read_buf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void on_connected(uv_connect_t *req, int status)
{
    struct nt_redis *r = NT_CONTAINER_OF(req, struct nt_redis, connect_req);
    if (r->state != CONNECTING)
        return; /* timed out or closed: already told, or not to be told */
    if (status == 0)
        status = uv_read_start(&r->sock.stream, on_alloc, on_read);
    if (status < 0) {
        connect_failed(r, status);
        return;
    }
    uv_timer_stop(&r->timer);
    if (r->sock.handle.type == UV_TCP)
        (void)uv_tcp_nodelay(&r->sock.tcp, 1); /* replies wait for no delayed ACK */
    r->state = CONNECTED;
    if (r->cb->on_connect != NULL)
        r->cb->on_connect(r, 0);
}

/* The socket was initialised: it is r's to close from now on. */
static void open_sock(struct nt_redis *r)
{
    r->sock.handle.data = r;
    r->has_sock = true;
    r->handles++;
}

/* After the connect call: rc its result. */
static int connect_started(struct nt_redis *r, int rc, uint64_t timeout_ms)
{
    if (rc < 0) {
        r->state = DOWN;
        close_sock(r);
        return rc;
    }
    r->state = CONNECTING;
    if (timeout_ms > 0) {
        /* Timers count from the loop's cached time, which is stale when the caller blocked
         * (or the loop slept) since the iteration began: the timeout would come early. */
        uv_update_time(r->loop);
        uv_timer_start(&r->timer, on_connect_timeout, timeout_ms, 0);
    }
    return 0;
}

int nt_redis_connect_tcp(struct nt_redis *r, const struct sockaddr *addr, uint64_t timeout_ms)
{
    if (r->state != IDLE || r->is_closing)
        return UV_EALREADY;
    if (addr == NULL || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
        return UV_EINVAL;
    int rc = uv_tcp_init(r->loop, &r->sock.tcp);
    if (rc < 0) {
        r->state = DOWN;
        return rc;
    }
    open_sock(r);
    rc = uv_tcp_connect(&r->connect_req, &r->sock.tcp, addr, on_connected);
    return connect_started(r, rc, timeout_ms);
}

int nt_redis_connect_unix(struct nt_redis *r, const char *path, uint64_t timeout_ms)
{
    if (r->state != IDLE || r->is_closing)
        return UV_EALREADY;
    size_t len = strlen(path);
    if (len == 0)
        return UV_EINVAL;
    if (len >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
        return UV_ENAMETOOLONG;
    int rc = uv_pipe_init(r->loop, &r->sock.pipe, 0);
    if (rc < 0) {
        r->state = DOWN;
        return rc;
    }
    open_sock(r);
    /* libuv 1.44 reports every error of a pipe connect through its callback. */
    uv_pipe_connect(&r->connect_req, &r->sock.pipe, path, on_connected);
    return connect_started(r, 0, timeout_ms);
}

/* --- writing -------------------------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status);
static void on_flush(uv_prepare_t *p);

/* Hands what is queued, from byte skip on, to one uv_write. No write may be in flight. */
static int start_write(struct nt_redis *r, size_t skip)
{
    struct buf b = r->wbuf; /* the drained one: new commands append to it meanwhile */
    r->wbuf = r->out;
    r->out = b;
    r->out.len = 0;
    uv_buf_t ub = uv_buf_init(r->wbuf.data + skip, (unsigned)(r->wbuf.len - skip));
    int rc = uv_write(&r->write_req, &r->sock.stream, &ub, 1, on_write);
    if (rc < 0)
        return rc;
    r->is_writing = true;
    return 0;
}

/* Queues data (len bytes): written before the loop polls again (or after the write in flight). */
static int send_bytes(struct nt_redis *r, char *data, size_t len)
{
    buf_append(&r->out, data, len);
    if (!r->is_writing)
        uv_prepare_start(&r->flusher, on_flush);
    return 0;
}

/* Writes out what is queued (no write in flight): to the socket as far as it takes it, and one
 * write request for the rest. */
static void write_out(struct nt_redis *r)
{
    if (r->state != CONNECTED || r->out.len == 0)
        return;
    /* libuv 1.44 completes one write request per poll wake-up: try the socket first, and keep
     * one request in flight for the rest. */
    uv_buf_t ub = uv_buf_init(r->out.data, (unsigned)r->out.len);
    int n = uv_try_write(&r->sock.stream, &ub, 1);
    if (n < 0 && n != UV_EAGAIN) {
        go_down(r, n, false);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    if (done == r->out.len) {
        buf_clear(&r->out);
        return;
    }
    int rc = start_write(r, done);
    if (rc < 0)
        go_down(r, rc, false);
}

static void on_flush(uv_prepare_t *p)
{
    struct nt_redis *r = p->data;
    uv_prepare_stop(p);
    if (!r->is_writing)
        write_out(r);
}

static void on_write(uv_write_t *req, int status)
{
    struct nt_redis *r = NT_CONTAINER_OF(req, struct nt_redis, write_req);
    r->is_writing = false;
    buf_clear(&r->wbuf);
    if (status < 0) {
        go_down(r, status, false); /* nothing when closing (UV_ECANCELED) */
        return;
    }
    write_out(r);
}

/* --- commands ------------------------------------------------------------------------------- */

/* Whether s[0..len) is word (lower case), ignoring ASCII case. */
static bool word_is(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    if (len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return false;
    }
    return true;
}

static enum kind kind_of(const char *name, size_t len)
{
    if (word_is(name, len, "subscribe"))
        return CMD_SUBSCRIBE;
    if (word_is(name, len, "unsubscribe"))
        return CMD_UNSUBSCRIBE;
    if (word_is(name, len, "psubscribe"))
        return CMD_PSUBSCRIBE;
    if (word_is(name, len, "punsubscribe"))
        return CMD_PUNSUBSCRIBE;
    if (word_is(name, len, "reset"))
        return CMD_RESET;
    return CMD_PLAIN;
}

/* Commands whose replies would not come one per command in RESP2 (sharded pub/sub pushes
 * "smessage", MONITOR and replication stream, CLIENT REPLY OFF/SKIP answers nothing) or not in
 * RESP2 at all (HELLO 3). */
static bool is_refused(int argc, const char **argv, const size_t *lens)
{
    const char *name = argv[0];
    size_t len = lens[0];
    if (word_is(name, len, "ssubscribe") || word_is(name, len, "sunsubscribe") ||
        word_is(name, len, "monitor") || word_is(name, len, "sync") || word_is(name, len, "psync"))
        return true;
    if (argc >= 2 && word_is(name, len, "client") && word_is(argv[1], lens[1], "reply"))
        return true;
    if (argc >= 2 && word_is(name, len, "hello") && !(lens[1] == 1 && argv[1][0] == '2'))
        return true;
    return false;
}

static size_t digits(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* The bytes of the RESP2 array redisFormatCommandArgv() makes of the command ("*ARGC\r\n", then
 * "$LEN\r\nARG\r\n" each) into *size; -1 when they would pass limit. hiredis 0.14 counts them in
 * an int, so limit must be at most INT_MAX. */
static int command_size(int argc, const size_t *lens, size_t limit, size_t *size)
{
    size_t total = 1 + digits((size_t)argc) + 2;
    for (int i = 0; i < argc; i++) {
        if (lens[i] > limit)
            return -1;
        total += 1 + digits(lens[i]) + 2 + lens[i] + 2; /* no overflow: both are <= limit */
        if (total > limit)
            return -1;
    }
    *size = total;
    return 0;
}

int nt_redis_command(struct nt_redis *r, int argc, const char **argv, const size_t *lens,
                     nt_redis_reply_fn fn, void *arg)
{
    if (argc < 1 || argv == NULL || lens == NULL)
        return UV_EINVAL;
    struct waiting w = {.fn = fn, .arg = arg, .remaining = 1, .kind = kind_of(argv[0], lens[0])};
    if ((w.kind == CMD_SUBSCRIBE || w.kind == CMD_PSUBSCRIBE) && argc < 2)
        return UV_EINVAL;
    if (r->state != CONNECTED || r->is_closing)
        return UV_ENOTCONN;
    /* RESET is not queued by a MULTI: it runs at once and ends the transaction too. */
    bool subscribing = w.kind != CMD_PLAIN && w.kind != CMD_RESET;
    if ((subscribing && r->in_multi) || is_refused(argc, argv, lens))
        return UV_ENOTSUP;
    if (subscribing)
        w.remaining = argc - 1; /* 0 for an UNSUBSCRIBE of everything: counted later */

    size_t pending = nt_redis_pending(r);
    size_t room = pending < r->max_queue ? r->max_queue - pending : 0;
    size_t size;
    if (command_size(argc, lens, room < INT_MAX ? room : INT_MAX, &size) != 0)
        return UV_ENOBUFS;
    char *cmd;
    int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    NT_ASSERT(n >= 0 && (size_t)n == size); /* -1 is out of memory */

    ring_push(r, &w);
    int rc = send_bytes(r, cmd, size);
    redisFreeCommand(cmd);
    if (rc < 0)
        go_down(r, rc, true); /* the callbacks come from the loop, fn's with NULL first */
    if (word_is(argv[0], lens[0], "multi"))
        r->in_multi = true;
    else if (w.kind == CMD_RESET || word_is(argv[0], lens[0], "exec") ||
             word_is(argv[0], lens[0], "discard"))
        r->in_multi = false;
    return 0;
}

/* --- replies -------------------------------------------------------------------------------- */

static bool is_string(const redisReply *e)
{
    return e->type == REDIS_REPLY_STRING;
}

static bool string_is(const redisReply *e, const char *word)
{
    size_t n = strlen(word);
    return e->type == REDIS_REPLY_STRING && e->len == n && memcmp(e->str, word, n) == 0;
}

/* While subscribed: 1 if reply was a pub/sub push (given to on_message), 0 if it is a reply,
 * UV_EPROTO if it is a malformed push. */
static int deliver_push(struct nt_redis *r, const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0)
        return 0;
    const redisReply *channel, *payload;
    if (string_is(reply->element[0], "message")) {
        if (reply->elements != 3 || !is_string(reply->element[1]) || !is_string(reply->element[2]))
            return protocol_error(r, "a malformed pub/sub message");
        channel = reply->element[1];
        payload = reply->element[2];
    } else if (string_is(reply->element[0], "pmessage")) {
        if (reply->elements != 4 || !is_string(reply->element[1]) ||
            !is_string(reply->element[2]) || !is_string(reply->element[3]))
            return protocol_error(r, "a malformed pub/sub pmessage");
        channel = reply->element[2];
        payload = reply->element[3];
    } else {
        return 0;
    }
    if (r->cb->on_message != NULL)
        r->cb->on_message(r, channel->str, channel->len, payload->str, payload->len);
    return 1;
}

/* A (P)(UN)SUBSCRIBE's confirmation, [KIND, NAME or nil, COUNT], COUNT being the channels and
 * patterns the connection holds after it: r's counts follow. Returns 0 or UV_EPROTO. */
static int confirm(struct nt_redis *r, struct waiting *w, const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        !string_is(reply->element[0], confirmation_word[w->kind]) ||
        (reply->element[1]->type != REDIS_REPLY_STRING &&
         reply->element[1]->type != REDIS_REPLY_NIL) ||
        reply->element[2]->type != REDIS_REPLY_INTEGER)
        return protocol_error(r, "a malformed (un)subscribe confirmation");
    bool is_channel = w->kind == CMD_SUBSCRIBE || w->kind == CMD_UNSUBSCRIBE;
    long long *mine = is_channel ? &r->channels : &r->patterns;
    long long other = is_channel ? r->patterns : r->channels;
    if (w->remaining == 0) /* everything: one per name held now, or one saying "none" */
        w->remaining = *mine > 0 ? *mine : 1;
    long long count = reply->element[2]->integer;
    if (count < other)
        return protocol_error(r, "a subscription count below what the connection holds");
    *mine = count - other;
    w->remaining--;
    return 0;
}

/* Gives reply (borrowed) to its command's callback, or to on_message. Returns 0 or UV_EPROTO. */
static int dispatch(struct nt_redis *r, const redisReply *reply)
{
    /* Pushes come only while subscribed, and only then is ["message", ...] not a reply (LRANGE
     * may return one). */
    if (r->channels + r->patterns > 0) {
        int rc = deliver_push(r, reply);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    if (r->ring_len == 0) {
        /* Redis says why it drops a client this way (at maxclients, right after the accept). */
        if (reply->type == REDIS_REPLY_ERROR) {
            snprintf(r->error, sizeof(r->error), "a reply to no command: %.*s",
                     (int)(reply->len < 120 ? reply->len : 120), reply->str);
            return UV_EPROTO;
        }
        return protocol_error(r, "a reply to no command");
    }
    struct waiting *w = &r->ring[r->ring_head];
    bool is_last = true;
    if (w->kind != CMD_PLAIN && w->kind != CMD_RESET && reply->type != REDIS_REPLY_ERROR) {
        int rc = confirm(r, w, reply);
        if (rc < 0)
            return rc;
        is_last = w->remaining == 0;
    } else if (w->kind == CMD_RESET && reply->type == REDIS_REPLY_STATUS) {
        r->channels = r->patterns = 0;
    }
    /* Copied out, then popped: the callback may queue commands (the ring moves) or close r. */
    nt_redis_reply_fn fn = w->fn;
    void *arg = w->arg;
    if (is_last)
        (void)ring_pop(r);
    if (fn != NULL)
        fn(r, reply, arg);
    return 0;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct nt_redis *r = NT_CONTAINER_OF(stream, struct nt_redis, sock.stream);
    if (nread == 0)
        return; /* EAGAIN, not EOF */
    if (nread < 0) {
        go_down(r, (int)nread, false);
        return;
    }
    if (r->state != CONNECTED)
        return;
    int fed = redisReaderFeed(r->reader, buf->base, (size_t)nread);
    NT_ASSERT(fed == REDIS_OK); /* 0.14's fails only when it is out of memory */
    for (;;) {
        void *reply;
        if (redisReaderGetReply(r->reader, &reply) != REDIS_OK) {
            go_down(r, protocol_error(r, r->reader->errstr), false);
            return;
        }
        if (reply == NULL)
            break;
        int rc = dispatch(r, reply);
        freeReplyObject(reply);
        if (rc < 0) {
            go_down(r, rc, false);
            return;
        }
        if (r->state != CONNECTED)
            return; /* closed, or gone down, from a callback */
    }
    if (r->reader->len - r->reader->pos > r->max_reply) {
        snprintf(r->error, sizeof(r->error), "a reply of more than %zu bytes", r->max_reply);
        go_down(r, UV_EMSGSIZE, false);
    }
}

/* --- the rest ------------------------------------------------------------------------------- */

struct nt_redis *nt_redis_new(uv_loop_t *loop, const struct nt_redis_callbacks *cb, void *ctx,
                              size_t max_queue)
{
    struct nt_redis *r = nt_xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->cb = cb;
    r->ctx = ctx;
    r->max_queue = max_queue;
    r->max_reply = NT_REDIS_MAX_REPLY;
    r->state = IDLE;
    r->reader = redisReaderCreate();
    NT_ASSERT(r->reader != NULL); /* NULL is out of memory */
    int rc = uv_timer_init(loop, &r->timer);
    NT_ASSERT(rc == 0); /* it cannot fail on a live loop */
    r->timer.data = r;
    rc = uv_prepare_init(loop, &r->flusher);
    NT_ASSERT(rc == 0);
    r->flusher.data = r;
    r->handles = 2;
    return r;
}

void *nt_redis_ctx(const struct nt_redis *r)
{
    return r->ctx;
}

size_t nt_redis_pending(const struct nt_redis *r)
{
    size_t n = r->out.len;
    if (r->is_writing)
        n += uv_stream_get_write_queue_size(&r->sock.stream);
    return n;
}

bool nt_redis_is_connected(const struct nt_redis *r)
{
    return r->state == CONNECTED && !r->is_closing;
}

bool nt_redis_is_subscribed(const struct nt_redis *r)
{
    return r->channels + r->patterns > 0;
}

const char *nt_redis_error(const struct nt_redis *r)
{
    return r->error;
}

void nt_redis_set_max_reply(struct nt_redis *r, size_t bytes)
{
    r->max_reply = bytes > 0 ? bytes : 1;
}

void nt_redis_close(struct nt_redis *r)
{
    if (r->is_closing)
        return;
    r->is_closing = true;
    r->state = DOWN;
    close_sock(r);
    uv_close((uv_handle_t *)&r->timer, on_handle_closed);
    uv_close((uv_handle_t *)&r->flusher, on_handle_closed);
}
