/* SPDX-License-Identifier: MIT */
/* test_redis.c - unit tests for net/redis.c against a real redis-server of its own, and a fake. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"
#include "net/redis.h"

/*
 * Every test runs a loop of its own and ends with uv_loop_close() == 0. The tests that need Redis
 * start their own redis-server (fork/exec, on a free loopback port and a unix socket in a fresh
 * directory, no persistence) and kill it by its pid; a missing redis-server fails them with a
 * message (scripts/install-deps.sh test installs it), it never skips them. SIGALRM bounds every
 * test, in case a loop would wait forever.
 */

#define TEST_SECONDS 20

#include "redis_server.h"

/* --- a client that records what it is told -------------------------------------------------- */

static int seq; /* orders every callback of a test */

struct message {
    char channel[64];
    size_t channel_len;
    char payload[2048];
    size_t payload_len;
};

struct client {
    struct nt_redis *r;
    int connects, connect_status;
    int disconnects, disconnect_status, disconnect_seq;
    int messages;
    struct message msg[8];
    bool close_on_connect, close_on_disconnect, close_on_message;
};

static void on_connect(struct nt_redis *r, int status)
{
    struct client *c = nt_redis_ctx(r);
    c->connects++;
    c->connect_status = status;
    if (c->close_on_connect) {
        nt_redis_close(r);
        c->r = NULL;
    }
}

static void on_disconnect(struct nt_redis *r, int status)
{
    struct client *c = nt_redis_ctx(r);
    c->disconnects++;
    c->disconnect_status = status;
    c->disconnect_seq = ++seq;
    assert_false(nt_redis_is_connected(r));
    if (c->close_on_disconnect) {
        nt_redis_close(r);
        nt_redis_close(r); /* idempotent */
        c->r = NULL;
    }
}

static void on_message(struct nt_redis *r, const char *channel, size_t channel_len,
                       const char *payload, size_t payload_len)
{
    struct client *c = nt_redis_ctx(r);
    if (c->messages < (int)NT_ARRAY_LEN(c->msg)) {
        struct message *m = &c->msg[c->messages];
        assert_true(channel_len <= sizeof(m->channel) && payload_len <= sizeof(m->payload));
        memcpy(m->channel, channel, channel_len);
        m->channel_len = channel_len;
        memcpy(m->payload, payload, payload_len);
        m->payload_len = payload_len;
    }
    c->messages++;
    if (c->close_on_message) {
        nt_redis_close(r);
        c->r = NULL;
    }
}

static const struct nt_redis_callbacks callbacks = {
    .on_connect = on_connect,
    .on_disconnect = on_disconnect,
    .on_message = on_message,
};

/* What a command's callback got. */
struct result {
    int calls, nulls, seq;
    int type;
    long long integer;
    char str[4096];
    size_t len;
    size_t elements;
    char first[32];      /* an array's first element, if a string */
    long long counts[4]; /* a (p)(un)subscribe's confirmations: their counts */
    bool nil_name;       /* a confirmation named nil */
    /* Done by the callback: */
    bool close_r;
    struct result *then; /* issue a PING with this result */
};

static void on_reply(struct nt_redis *r, const redisReply *reply, void *arg)
{
    struct result *res = arg;
    res->seq = ++seq;
    if (reply == NULL) {
        res->nulls++;
        res->calls++;
        if (res->close_r)
            nt_redis_close(r);
        return;
    }
    if (res->calls < (int)NT_ARRAY_LEN(res->counts) && reply->type == REDIS_REPLY_ARRAY &&
        reply->elements == 3 && reply->element[2]->type == REDIS_REPLY_INTEGER) {
        res->counts[res->calls] = reply->element[2]->integer;
        res->nil_name = reply->element[1]->type == REDIS_REPLY_NIL;
    }
    res->calls++;
    res->type = reply->type;
    res->integer = reply->integer;
    res->len = 0;
    if (reply->str != NULL) {
        assert_true(reply->len <= sizeof(res->str));
        memcpy(res->str, reply->str, reply->len);
        res->len = reply->len;
    }
    res->elements = reply->elements;
    res->first[0] = '\0';
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
        reply->element[0]->type == REDIS_REPLY_STRING)
        snprintf(res->first, sizeof(res->first), "%s", reply->element[0]->str);
    if (res->then != NULL) {
        const char *argv[] = {"PING"};
        size_t lens[] = {4};
        assert_int_equal(nt_redis_command(r, 1, argv, lens, on_reply, res->then), 0);
    }
    if (res->close_r)
        nt_redis_close(r);
}

/* Sends the command of C strings args (NULL-terminated). Returns nt_redis_command()'s result. */
static int send_args(struct nt_redis *r, struct result *res, const char **args)
{
    size_t lens[16];
    int argc = 0;
    for (; args[argc] != NULL; argc++) {
        assert_true(argc < (int)NT_ARRAY_LEN(lens));
        lens[argc] = strlen(args[argc]);
    }
    return nt_redis_command(r, argc, args, lens, res ? on_reply : NULL, res);
}

#define send_cmd(r, res, ...) send_args((r), (res), (const char *[]){__VA_ARGS__, NULL})

/* A client connected to e's server over TCP. */
static void connect_client(struct env *e, struct client *c, size_t max_queue)
{
    c->r = nt_redis_new(&e->loop, &callbacks, c, max_queue);
    struct sockaddr_in a = loopback(e->srv.port);
    assert_int_equal(nt_redis_connect_tcp(c->r, (const struct sockaddr *)&a, 2000), 0);
    RUN_UNTIL(e, c->connects == 1, 3000);
    assert_int_equal(c->connect_status, 0);
    assert_true(nt_redis_is_connected(c->r));
}

/* --- the tests ------------------------------------------------------------------------------ */

static void test_set_get_binary(void **state)
{
    struct env *e = *state;
    server_start(&e->srv);
    struct client c = {0};
    c.r = nt_redis_new(&e->loop, &callbacks, &c, 1 << 20);
    assert_ptr_equal(nt_redis_ctx(c.r), &c);
    struct result early = {0};
    assert_int_equal(send_cmd(c.r, &early, "PING"), UV_ENOTCONN); /* not connected yet */
    struct sockaddr_in a = loopback(e->srv.port);
    assert_int_equal(nt_redis_connect_tcp(c.r, (const struct sockaddr *)&a, 2000), 0);
    assert_int_equal(nt_redis_connect_tcp(c.r, (const struct sockaddr *)&a, 2000), UV_EALREADY);
    assert_int_equal(c.connects, 0); /* from the loop, never from inside the call */
    assert_false(nt_redis_is_connected(c.r));
    RUN_UNTIL(e, c.connects == 1, 3000);
    assert_int_equal(c.connect_status, 0);

    char key[] = "k\0ey\r\n*1\r\n";
    char value[1024];
    for (size_t i = 0; i < sizeof(value); i++)
        value[i] = (char)(i * 7); /* every byte value, NUL and CR LF included */
    const char *set[] = {"SET", key, value};
    size_t set_lens[] = {3, sizeof(key) - 1, sizeof(value)};
    const char *get[] = {"GET", key};
    size_t get_lens[] = {3, sizeof(key) - 1};
    struct result rs = {0}, rg = {0}, rmiss = {0}, rerr = {0};
    assert_int_equal(nt_redis_command(c.r, 3, set, set_lens, on_reply, &rs), 0);
    assert_int_equal(nt_redis_command(c.r, 2, get, get_lens, on_reply, &rg), 0);
    assert_int_equal(send_cmd(c.r, &rmiss, "GET", "no such key"), 0);
    const char *incr[] = {"INCR", key};
    size_t incr_lens[] = {4, sizeof(key) - 1};
    assert_int_equal(nt_redis_command(c.r, 2, incr, incr_lens, on_reply, &rerr), 0);
    assert_int_equal(rs.calls + rg.calls, 0); /* from the loop, never from inside the call */
    RUN_UNTIL(e, rerr.calls == 1, 3000);

    assert_int_equal(rs.type, REDIS_REPLY_STATUS);
    assert_int_equal(rs.len, 2);
    assert_memory_equal(rs.str, "OK", 2);
    assert_int_equal(rg.type, REDIS_REPLY_STRING);
    assert_int_equal(rg.len, sizeof(value));
    assert_memory_equal(rg.str, value, sizeof(value));
    assert_int_equal(rmiss.type, REDIS_REPLY_NIL);
    assert_int_equal(rerr.type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(rerr.str, "not an integer"));
    assert_true(rs.seq < rg.seq && rg.seq < rmiss.seq && rmiss.seq < rerr.seq);
    assert_int_equal(rs.calls + rg.calls + rmiss.calls + rerr.calls, 4);
    assert_int_equal(nt_redis_pending(c.r), 0);
    assert_string_equal(nt_redis_error(c.r), "");

    nt_redis_close(c.r);
    finish_loop(e);
    assert_int_equal(c.disconnects, 0); /* closing is not going down */
}

static void test_unix_socket(void **state)
{
    struct env *e = *state;
    server_start(&e->srv);
    struct client c = {0}, missing = {0}, bad = {0};
    c.r = nt_redis_new(&e->loop, &callbacks, &c, 1 << 20);
    assert_int_equal(nt_redis_connect_unix(c.r, e->srv.sock, 2000), 0);
    missing.r = nt_redis_new(&e->loop, &callbacks, &missing, 1 << 20);
    char path[160];
    snprintf(path, sizeof(path), "%s/nobody.sock", e->srv.dir);
    assert_int_equal(nt_redis_connect_unix(missing.r, path, 2000), 0);
    RUN_UNTIL(e, c.connects == 1 && missing.connects == 1, 3000);
    assert_int_equal(c.connect_status, 0);
    assert_int_equal(nt_redis_connect_unix(c.r, e->srv.sock, 2000), UV_EALREADY);
    assert_int_equal(missing.connect_status, UV_ENOENT);
    assert_false(nt_redis_is_connected(missing.r));
    assert_int_equal(send_cmd(missing.r, NULL, "PING"), UV_ENOTCONN);

    /* A path libuv 1.44 would cut short (sun_path is 108 bytes) is refused, as is "". */
    bad.r = nt_redis_new(&e->loop, &callbacks, &bad, 1 << 20);
    char long_path[200];
    memset(long_path, 'p', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    assert_int_equal(nt_redis_connect_unix(bad.r, long_path, 2000), UV_ENAMETOOLONG);
    assert_int_equal(nt_redis_connect_unix(bad.r, "", 2000), UV_EINVAL);
    struct sockaddr_storage other = {.ss_family = AF_UNIX};
    assert_int_equal(nt_redis_connect_tcp(bad.r, (const struct sockaddr *)&other, 0), UV_EINVAL);

    struct result ping = {0}, echo = {0};
    assert_int_equal(send_cmd(c.r, &ping, "PING"), 0);
    assert_int_equal(send_cmd(c.r, &echo, "ECHO", "over a unix socket"), 0);
    RUN_UNTIL(e, echo.calls == 1, 3000);
    assert_int_equal(ping.type, REDIS_REPLY_STATUS);
    assert_memory_equal(ping.str, "PONG", 4);
    assert_int_equal(echo.len, strlen("over a unix socket"));

    nt_redis_close(c.r);
    nt_redis_close(missing.r);
    nt_redis_close(bad.r);
    finish_loop(e);
    assert_int_equal(c.disconnects + missing.disconnects + bad.disconnects, 0);
    assert_int_equal(bad.connects, 0);
}

#define PIPELINED 20000

static char pipeline_payload[3000];
static int pipeline_next;           /* the command whose reply comes next */
static int pipeline_ids[PIPELINED]; /* each command's arg: its index */

static size_t echo_len(int i)
{
    return (size_t)(i * 37) % sizeof(pipeline_payload);
}

/* Command i (arg) of the pipeline: INCRs and ECHOs in turn, answered in order. */
static void on_pipelined(struct nt_redis *r, const redisReply *reply, void *arg)
{
    int i = *(const int *)arg;
    (void)r;
    assert_non_null(reply);
    if (i != pipeline_next)
        fail_msg("the reply to command %d came when %d's was due", i, pipeline_next);
    pipeline_next++;
    if (i % 2 == 0) {
        assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
        assert_int_equal(reply->integer, i / 2 + 1);
    } else {
        assert_int_equal(reply->type, REDIS_REPLY_STRING);
        assert_int_equal(reply->len, echo_len(i));
        assert_memory_equal(reply->str, pipeline_payload, reply->len);
    }
}

static void test_pipeline_in_order(void **state)
{
    struct env *e = *state;
    server_start(&e->srv);
    struct client c = {0};
    connect_client(e, &c, (size_t)64 << 20);
    for (size_t i = 0; i < sizeof(pipeline_payload); i++)
        pipeline_payload[i] = (char)('a' + i % 26);
    pipeline_next = 0;
    for (int i = 0; i < PIPELINED; i++)
        pipeline_ids[i] = i;
    size_t most_pending = 0;
    for (int i = 0; i < PIPELINED; i++) {
        const char *incr[] = {"INCR", "counter"};
        size_t incr_lens[] = {4, 7};
        const char *echo[] = {"ECHO", pipeline_payload};
        size_t echo_lens[] = {4, echo_len(i)};
        int rc = i % 2 == 0
                     ? nt_redis_command(c.r, 2, incr, incr_lens, on_pipelined, &pipeline_ids[i])
                     : nt_redis_command(c.r, 2, echo, echo_lens, on_pipelined, &pipeline_ids[i]);
        assert_int_equal(rc, 0);
        if (nt_redis_pending(c.r) > most_pending)
            most_pending = nt_redis_pending(c.r);
    }
    RUN_UNTIL(e, pipeline_next == PIPELINED, 8000);
    assert_int_equal(nt_redis_pending(c.r), 0);
    print_message("      %d pipelined commands; at most %zu bytes waited to be written\n",
                  PIPELINED, most_pending);
    nt_redis_close(c.r);
    finish_loop(e);
}

static void test_pubsub_binary(void **state)
{
    struct env *e = *state;
    server_start(&e->srv);
    struct client sub = {0}, pub = {0};
    connect_client(e, &sub, 1 << 20);
    connect_client(e, &pub, 1 << 20);

    static const char chan1[] = "room\0one";
    char payload[1024];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (char)(255 - i % 256);
    const char *subscribe[] = {"subscribe", chan1, "two"}; /* any case */
    size_t subscribe_lens[] = {9, sizeof(chan1) - 1, 3};
    struct result rsub = {0}, rpsub = {0};
    assert_int_equal(nt_redis_command(sub.r, 3, subscribe, subscribe_lens, on_reply, &rsub), 0);
    assert_int_equal(send_cmd(sub.r, &rpsub, "PSUBSCRIBE", "pat*"), 0);
    RUN_UNTIL(e, rpsub.calls == 1, 3000);
    assert_int_equal(rsub.calls, 2); /* one confirmation per channel */
    assert_int_equal(rsub.counts[0], 1);
    assert_int_equal(rsub.counts[1], 2);
    assert_string_equal(rsub.first, "subscribe");
    assert_int_equal(rpsub.counts[0], 3); /* channels and patterns */
    assert_true(nt_redis_is_subscribed(sub.r));

    const char *publish[] = {"PUBLISH", chan1, payload};
    size_t publish_lens[] = {7, sizeof(chan1) - 1, sizeof(payload)};
    struct result rpub1 = {0}, rpub2 = {0};
    assert_int_equal(nt_redis_command(pub.r, 3, publish, publish_lens, on_reply, &rpub1), 0);
    assert_int_equal(send_cmd(pub.r, &rpub2, "PUBLISH", "pattern-x", "p"), 0);
    RUN_UNTIL(e, sub.messages == 2 && rpub2.calls == 1, 3000);
    assert_int_equal(rpub1.integer, 1);
    assert_int_equal(rpub2.integer, 1);
    assert_int_equal(sub.msg[0].channel_len, sizeof(chan1) - 1);
    assert_memory_equal(sub.msg[0].channel, chan1, sizeof(chan1) - 1);
    assert_int_equal(sub.msg[0].payload_len, sizeof(payload));
    assert_memory_equal(sub.msg[0].payload, payload, sizeof(payload));
    assert_int_equal(sub.msg[1].channel_len, 9); /* a pmessage: the channel, not the pattern */
    assert_memory_equal(sub.msg[1].channel, "pattern-x", 9);
    assert_memory_equal(sub.msg[1].payload, "p", 1);

    /* While subscribed, PING is answered ["pong", ARG] (to PING: hiredis 0.14 misroutes it), and
     * other commands get an error, in order. */
    struct result rping = {0}, rget = {0}, rping2 = {0};
    assert_int_equal(send_cmd(sub.r, &rping, "PING"), 0);
    assert_int_equal(send_cmd(sub.r, &rget, "GET", "k"), 0);
    assert_int_equal(send_cmd(sub.r, &rping2, "PING", "hi"), 0);
    RUN_UNTIL(e, rping2.calls == 1, 3000);
    assert_int_equal(rping.type, REDIS_REPLY_ARRAY);
    assert_int_equal(rping.elements, 2);
    assert_string_equal(rping.first, "pong");
    assert_int_equal(rget.type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(rget.str, "SUBSCRIBE"));
    assert_string_equal(rping2.first, "pong");
    assert_true(rping.seq < rget.seq && rget.seq < rping2.seq);

    /* UNSUBSCRIBE naming nothing: one confirmation per channel held; the pattern stays. */
    struct result runsub = {0}, rpunsub = {0}, rnone = {0};
    assert_int_equal(send_cmd(sub.r, &runsub, "UNSUBSCRIBE"), 0);
    RUN_UNTIL(e, runsub.calls == 2, 3000);
    assert_int_equal(runsub.counts[0] + runsub.counts[1], 2 + 1);
    assert_true(nt_redis_is_subscribed(sub.r));
    assert_int_equal(send_cmd(sub.r, &rpunsub, "PUNSUBSCRIBE"), 0);
    RUN_UNTIL(e, rpunsub.calls == 1, 3000);
    assert_int_equal(rpunsub.counts[0], 0);
    assert_false(nt_redis_is_subscribed(sub.r));
    /* And with nothing held, one confirmation that names nil. */
    assert_int_equal(send_cmd(sub.r, &rnone, "UNSUBSCRIBE"), 0);
    RUN_UNTIL(e, rnone.calls == 1, 3000);
    assert_true(rnone.nil_name);

    /* No longer subscribed: an array that starts with "message" is a reply, not a push. */
    struct result rpush = {0}, rrange = {0};
    assert_int_equal(send_cmd(sub.r, &rpush, "RPUSH", "list", "message", "a", "b"), 0);
    assert_int_equal(send_cmd(sub.r, &rrange, "LRANGE", "list", "0", "-1"), 0);
    RUN_UNTIL(e, rrange.calls == 1, 3000);
    assert_int_equal(rrange.type, REDIS_REPLY_ARRAY);
    assert_int_equal(rrange.elements, 3);
    assert_string_equal(rrange.first, "message");
    assert_int_equal(sub.messages, 2);

    /* RESET leaves subscribed mode too. */
    struct result rs2 = {0}, rreset = {0}, rping3 = {0};
    assert_int_equal(send_cmd(sub.r, &rs2, "SUBSCRIBE", "again"), 0);
    assert_int_equal(send_cmd(sub.r, &rreset, "RESET"), 0);
    assert_int_equal(send_cmd(sub.r, &rping3, "PING"), 0);
    RUN_UNTIL(e, rping3.calls == 1, 3000);
    assert_int_equal(rreset.type, REDIS_REPLY_STATUS);
    assert_int_equal(rping3.type, REDIS_REPLY_STATUS);
    assert_false(nt_redis_is_subscribed(sub.r));

    nt_redis_close(sub.r);
    nt_redis_close(pub.r);
    finish_loop(e);
    assert_int_equal(sub.disconnects + pub.disconnects, 0);
}

static void test_connect_refused(void **state)
{
    struct env *e = *state;
    /* A bound port that does not listen: nobody answers, the kernel refuses. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    struct client c = {0};
    c.r = nt_redis_new(&e->loop, &callbacks, &c, 1 << 20);
    assert_int_equal(nt_redis_connect_tcp(c.r, (const struct sockaddr *)&a, 2000), 0);
    RUN_UNTIL(e, c.connects == 1, 3000);
    assert_int_equal(c.connect_status, UV_ECONNREFUSED);
    assert_false(nt_redis_is_connected(c.r));
    assert_int_equal(send_cmd(c.r, NULL, "PING"), UV_ENOTCONN);
    run_for(e, 50);
    assert_int_equal(c.connects, 1);
    assert_int_equal(c.disconnects, 0);
    nt_redis_close(c.r);
    finish_loop(e);
    close(fd);
}

static void test_connect_timeout(void **state)
{
    struct env *e = *state;
    /* A listener with a backlog of 0 that never accepts, its queue filled first: the kernel drops
     * the next SYN, so the connect neither succeeds nor fails. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 0), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    int fill[2];
    for (int i = 0; i < 2; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_not_equal(fcntl(fill[i], F_SETFL, O_NONBLOCK), -1);
        (void)connect(fill[i], (struct sockaddr *)&a, sizeof(a)); /* EINPROGRESS */
        struct pollfd p = {.fd = fill[i], .events = POLLOUT};
        (void)poll(&p, 1, 100); /* the first gets in; the second waits, as ours will */
    }
    struct client c = {0};
    c.r = nt_redis_new(&e->loop, &callbacks, &c, 1 << 20);
    uint64_t start = now_ms();
    assert_int_equal(nt_redis_connect_tcp(c.r, (const struct sockaddr *)&a, 200), 0);
    RUN_UNTIL(e, c.connects == 1, 3000);
    uint64_t took = now_ms() - start;
    assert_int_equal(c.connect_status, UV_ETIMEDOUT);
    assert_true(took >= 190 && took < 1500);
    assert_false(nt_redis_is_connected(c.r));
    run_for(e, 50); /* the cancelled connect calls back nothing more */
    assert_int_equal(c.connects, 1);
    assert_int_equal(c.disconnects, 0);
    nt_redis_close(c.r);

    /* Closed while connecting: no on_connect at all. */
    struct client d = {0};
    d.r = nt_redis_new(&e->loop, &callbacks, &d, 1 << 20);
    assert_int_equal(nt_redis_connect_tcp(d.r, (const struct sockaddr *)&a, 200), 0);
    run_for(e, 20);
    nt_redis_close(d.r);
    run_for(e, 300);
    assert_int_equal(d.connects, 0);

    /* Never connected at all. */
    struct client n = {0};
    n.r = nt_redis_new(&e->loop, &callbacks, &n, 1 << 20);
    nt_redis_close(n.r);
    finish_loop(e);
    assert_int_equal(n.connects, 0);
    close(fill[0]);
    close(fill[1]);
    close(lfd);
}

static void test_server_killed(void **state)
{
    struct env *e = *state;
    server_start(&e->srv);
    struct client c = {0};
    c.close_on_disconnect = true;
    connect_client(e, &c, 1 << 20);
    struct result first = {0};
    assert_int_equal(send_cmd(c.r, &first, "SET", "a", "1"), 0);
    RUN_UNTIL(e, first.calls == 1, 3000);

    /* Stopped, the server reads nothing and answers nothing: these wait. Then it dies. */
    assert_int_equal(kill(e->srv.pid, SIGSTOP), 0);
    struct result waiting[5] = {{0}};
    for (int i = 0; i < 5; i++)
        assert_int_equal(send_cmd(c.r, &waiting[i], "GET", "a"), 0);
    run_for(e, 30);
    for (int i = 0; i < 5; i++)
        assert_int_equal(waiting[i].calls, 0);
    seq = 0;
    server_kill(&e->srv);
    RUN_UNTIL(e, c.disconnects == 1, 3000);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(waiting[i].calls, 1);
        assert_int_equal(waiting[i].nulls, 1);
        assert_int_equal(waiting[i].seq, i + 1); /* in order, before on_disconnect */
    }
    assert_int_equal(c.disconnect_seq, 6);
    assert_true(c.disconnect_status == UV_EOF || c.disconnect_status == UV_ECONNRESET);
    assert_null(c.r); /* closed from on_disconnect */
    finish_loop(e);
    assert_int_equal(c.disconnects, 1);
}

static void test_write_after_server_died(void **state)
{
    struct env *e = *state;
    server_start(&e->srv);
    struct client c = {0};
    connect_client(e, &c, 1 << 20);
    server_kill(&e->srv);
    /* The loop does not run: the end of the stream is not read yet, and commands are only
     * queued (they are written before the loop polls again). The write finds the dead server,
     * and the failure comes from the loop, never from inside nt_redis_command(). */
    struct result res[100] = {{0}};
    int accepted = 0, rc = 0;
    for (int i = 0; i < 100; i++) {
        rc = send_cmd(c.r, &res[i], "PING");
        if (rc != 0)
            break;
        accepted++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(accepted, 100);
    assert_int_equal(c.disconnects, 0);
    assert_int_equal(res[0].calls, 0);
    seq = 0;
    RUN_UNTIL(e, c.disconnects == 1, 3000);
    for (int i = 0; i < accepted; i++) {
        assert_int_equal(res[i].nulls, 1);
        assert_int_equal(res[i].seq, i + 1);
    }
    assert_int_equal(c.disconnect_seq, accepted + 1);
    /* The write fails, or the read sees the dead server's end of stream first. */
    assert_true(c.disconnect_status == UV_EPIPE || c.disconnect_status == UV_ECONNRESET ||
                c.disconnect_status == UV_EOF);
    print_message("      %d commands accepted after the kill; on_disconnect(%s)\n", accepted,
                  uv_err_name(c.disconnect_status));
    nt_redis_close(c.r);
    finish_loop(e);
    assert_int_equal(c.disconnects, 1);
}

struct count {
    int ok, nulls, other;
};

static void on_count(struct nt_redis *r, const redisReply *reply, void *arg)
{
    struct count *n = arg;
    (void)r;
    if (reply == NULL)
        n->nulls++;
    else if (reply->type == REDIS_REPLY_STATUS && reply->len == 2)
        n->ok++;
    else
        n->other++;
}

static void test_max_queue(void **state)
{
    struct env *e = *state;
    server_start(&e->srv);
    struct client c = {0};
    const size_t max_queue = (size_t)256 * 1024;
    connect_client(e, &c, max_queue);
    static char value[16 * 1024];
    memset(value, 'v', sizeof(value));
    const char *argv[] = {"SET", "big", value};
    size_t lens[] = {3, 3, sizeof(value)};
    const size_t size = 1 + 1 + 2 + (1 + 1 + 2 + 3 + 2) * 2 + (1 + 5 + 2 + sizeof(value) + 2);

    /* A stopped server reads nothing: the kernel's buffers fill, then our queue. */
    assert_int_equal(kill(e->srv.pid, SIGSTOP), 0);
    struct count n = {0}, refused = {0};
    int accepted = 0, rc = 0;
    for (int i = 0; i < 10000; i++) { /* at most 160 MB: far more than loopback buffers */
        rc = nt_redis_command(c.r, 3, argv, lens, on_count, &n);
        if (rc != 0)
            break;
        accepted++;
    }
    assert_int_equal(rc, UV_ENOBUFS);
    size_t pending = nt_redis_pending(c.r);
    assert_true(pending > 0 && pending <= max_queue);
    assert_true(pending + size > max_queue);
    /* Refused again while nothing moves, and never called back; an argument longer than the
     * cap is refused before it is read (or its length overflows a count). */
    assert_int_equal(nt_redis_command(c.r, 3, argv, lens, on_count, &refused), UV_ENOBUFS);
    size_t huge[] = {3, 3, SIZE_MAX - 4};
    assert_int_equal(nt_redis_command(c.r, 3, argv, huge, on_count, &refused), UV_ENOBUFS);
    print_message("      %d commands of %zu bytes accepted, %zu bytes waiting\n", accepted, size,
                  pending);

    assert_int_equal(kill(e->srv.pid, SIGCONT), 0);
    RUN_UNTIL(e, n.ok == accepted, 5000);
    assert_int_equal(n.nulls + n.other, 0);
    assert_int_equal(nt_redis_pending(c.r), 0);
    assert_int_equal(nt_redis_command(c.r, 3, argv, lens, on_count, &n), 0);
    RUN_UNTIL(e, n.ok == accepted + 1, 3000);
    assert_int_equal(refused.ok + refused.nulls + refused.other, 0);
    nt_redis_close(c.r);
    finish_loop(e);
}

static void test_close_in_callbacks(void **state)
{
    struct env *e = *state;
    server_start(&e->srv);

    /* From on_connect. */
    struct client a = {0};
    a.close_on_connect = true;
    a.r = nt_redis_new(&e->loop, &callbacks, &a, 1 << 20);
    struct sockaddr_in addr = loopback(e->srv.port);
    assert_int_equal(nt_redis_connect_tcp(a.r, (const struct sockaddr *)&addr, 2000), 0);
    RUN_UNTIL(e, a.connects == 1, 3000);
    assert_null(a.r);

    /* From a reply callback, with commands behind it: they get NULL later, in order, from the
     * close; a reply callback's own new command goes out and is answered. */
    struct client b = {0};
    connect_client(e, &b, 1 << 20);
    struct result chained = {0}, closer = {0}, after[3] = {{0}};
    struct result first = {.then = &chained};
    closer.close_r = true;
    assert_int_equal(send_cmd(b.r, &first, "PING"), 0);
    RUN_UNTIL(e, chained.calls == 1, 3000);
    assert_int_equal(chained.type, REDIS_REPLY_STATUS);
    seq = 0;
    assert_int_equal(send_cmd(b.r, &closer, "PING"), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(send_cmd(b.r, &after[i], "PING"), 0);
    RUN_UNTIL(e, after[2].calls == 1, 3000);
    assert_int_equal(closer.seq, 1);
    assert_int_equal(closer.type, REDIS_REPLY_STATUS);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(after[i].nulls, 1); /* even though their replies may have been read */
        assert_int_equal(after[i].seq, i + 2);
    }
    assert_int_equal(b.disconnects, 0);

    /* From on_message. */
    struct client sub = {0}, pub = {0};
    sub.close_on_message = true;
    connect_client(e, &sub, 1 << 20);
    connect_client(e, &pub, 1 << 20);
    struct result rsub = {0}, rpub = {0}, behind = {0};
    assert_int_equal(send_cmd(sub.r, &rsub, "SUBSCRIBE", "c"), 0);
    RUN_UNTIL(e, rsub.calls == 1, 3000);
    assert_int_equal(send_cmd(sub.r, &behind, "SUBSCRIBE", "d"), 0);
    assert_int_equal(send_cmd(pub.r, &rpub, "PUBLISH", "c", "bye"), 0);
    RUN_UNTIL(e, sub.messages == 1 && behind.calls == 1, 3000);
    assert_null(sub.r);
    assert_int_equal(sub.disconnects, 0);
    nt_redis_close(pub.r);
    finish_loop(e);
}

/* --- a fake server that sends what a test tells it ------------------------------------------ */

struct fake {
    uv_tcp_t listener;
    uv_tcp_t conn;
    uv_timer_t timer;
    bool has_conn;
    bool got_input;
    bool unsolicited;      /* send without waiting for the client's first bytes */
    const char *chunks[4]; /* sent one per 10 ms */
    size_t lens[4];
    size_t n_chunks, next;
    bool close_after; /* close the connection after the last chunk */
    uv_write_t wreq[4];
    char copies[4][256]; /* the chunks, for uv_write (which takes char *) */
    int port;
    int open;    /* handles not closed yet */
    bool paused; /* reads nothing until fake_resume() */
    bool record; /* keeps what it reads in got */
    char *got;   /* owned */
    size_t got_len, got_cap;
};

static void fake_closed(uv_handle_t *h)
{
    struct fake *f = h->data;
    f->open--;
}

static void fake_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char sink[64 * 1024];
    (void)h;
    (void)suggested;
    buf->base = sink;
    buf->len = sizeof(sink);
}

static void fake_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct fake *f = NT_CONTAINER_OF(s, struct fake, conn);
    if (nread <= 0)
        return;
    f->got_input = true;
    if (!f->record)
        return;
    if (f->got_len + (size_t)nread > f->got_cap) {
        f->got_cap = (f->got_len + (size_t)nread) * 2;
        f->got = nt_xrealloc(f->got, f->got_cap);
    }
    memcpy(f->got + f->got_len, buf->base, (size_t)nread);
    f->got_len += (size_t)nread;
}

static void fake_tick(uv_timer_t *t)
{
    struct fake *f = NT_CONTAINER_OF(t, struct fake, timer);
    if (!f->has_conn || (!f->unsolicited && !f->got_input))
        return;
    if (f->next < f->n_chunks) {
        assert_true(f->lens[f->next] <= sizeof(f->copies[0]));
        uv_buf_t b = uv_buf_init(f->copies[f->next], (unsigned)f->lens[f->next]);
        memcpy(f->copies[f->next], f->chunks[f->next], f->lens[f->next]);
        assert_int_equal(uv_write(&f->wreq[f->next], (uv_stream_t *)&f->conn, &b, 1, NULL), 0);
        f->next++;
    } else if (f->close_after && !uv_is_closing((uv_handle_t *)&f->conn)) {
        uv_close((uv_handle_t *)&f->conn, fake_closed);
    }
}

static void fake_connection(uv_stream_t *server, int status)
{
    struct fake *f = NT_CONTAINER_OF(server, struct fake, listener);
    assert_int_equal(status, 0);
    assert_false(f->has_conn);
    uv_tcp_init(server->loop, &f->conn);
    f->conn.data = f;
    f->open++;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&f->conn), 0);
    f->has_conn = true;
    if (!f->paused)
        uv_read_start((uv_stream_t *)&f->conn, fake_alloc, fake_read);
}

static void fake_start(struct env *e, struct fake *f)
{
    uv_tcp_init(&e->loop, &f->listener);
    struct sockaddr_in a = loopback(0);
    assert_int_equal(uv_tcp_bind(&f->listener, (const struct sockaddr *)&a, 0), 0);
    int len = sizeof(a);
    uv_tcp_getsockname(&f->listener, (struct sockaddr *)&a, &len);
    f->port = ntohs(a.sin_port);
    assert_int_equal(uv_listen((uv_stream_t *)&f->listener, 4, fake_connection), 0);
    uv_timer_init(&e->loop, &f->timer);
    uv_timer_start(&f->timer, fake_tick, 10, 10);
    f->listener.data = f->timer.data = f;
    f->open = 2;
}

/* Closes f's handles and waits until they are closed (f may then go out of scope). */
static void fake_stop(struct env *e, struct fake *f)
{
    uv_close((uv_handle_t *)&f->listener, fake_closed);
    uv_close((uv_handle_t *)&f->timer, fake_closed);
    if (f->has_conn && !uv_is_closing((uv_handle_t *)&f->conn))
        uv_close((uv_handle_t *)&f->conn, fake_closed);
    RUN_UNTIL(e, f->open == 0, 1000);
    free(f->got);
}

#define CHUNK(s) s, sizeof(s) - 1

static void test_protocol_errors(void **state)
{
    struct env *e = *state;
    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
        bool subscribe_first; /* the client SUBSCRIBEs instead of PINGing */
        bool unsolicited;     /* the fake sends before the client does */
        size_t max_reply;
        int status;
        const char *why;
        bool answered; /* the command got its reply before the connection went down */
    } cases[] = {
        {"garbage", CHUNK("hello\r\n"), false, false, 0, UV_EPROTO, "Protocol error", false},
        {"unsolicited", CHUNK("+OK\r\n"), false, true, 0, UV_EPROTO, "a reply to no command",
         false},
        {"at maxclients", CHUNK("-ERR max number of clients reached\r\n"), false, true, 0,
         UV_EPROTO, "a reply to no command: ERR max number of clients reached", false},
        {"one too many", CHUNK("+PONG\r\n+PONG\r\n"), false, false, 0, UV_EPROTO,
         "a reply to no command", true},
        {"too deep", CHUNK("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"), false,
         false, 0, UV_EPROTO, "nested multi bulk", false},
        {"over the cap", CHUNK("$100000\r\n0123456789012345678901234567890123456789"), false, false,
         32, UV_EMSGSIZE, "more than 32 bytes", false},
        {"not a confirmation", CHUNK("+OK\r\n"), true, false, 0, UV_EPROTO, "confirmation", false},
        {"a short message",
         CHUNK("*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n*2\r\n$7\r\nmessage\r\n$1\r\nx\r\n"),
         true, false, 0, UV_EPROTO, "malformed pub/sub message", true},
        {"a short pmessage",
         CHUNK("*3\r\n$10\r\npsubscribe\r\n$1\r\nx\r\n:1\r\n*3\r\n$8\r\npmessage\r\n$1\r\nx\r\n$"
               "1\r\ny\r\n"),
         true, false, 0, UV_EPROTO, "malformed pub/sub pmessage", true},
        {"count too low", CHUNK("*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:-1\r\n"), true, false, 0,
         UV_EPROTO, "count below", false},
        {"the end", CHUNK(""), false, false, 0, UV_EOF, NULL, false},
    };
    for (size_t i = 0; i < NT_ARRAY_LEN(cases); i++) {
        struct fake f = {0};
        f.chunks[0] = cases[i].bytes;
        f.lens[0] = cases[i].len;
        f.n_chunks = cases[i].len > 0 ? 1 : 0;
        f.close_after = cases[i].len == 0;
        f.unsolicited = cases[i].unsolicited;
        fake_start(e, &f);
        struct client c = {0};
        c.r = nt_redis_new(&e->loop, &callbacks, &c, 1 << 20);
        if (cases[i].max_reply > 0)
            nt_redis_set_max_reply(c.r, cases[i].max_reply);
        struct sockaddr_in a = loopback(f.port);
        assert_int_equal(nt_redis_connect_tcp(c.r, (const struct sockaddr *)&a, 2000), 0);
        RUN_UNTIL(e, c.connects == 1, 3000);
        struct result res = {0};
        if (cases[i].subscribe_first)
            assert_int_equal(send_cmd(c.r, &res,
                                      strstr(cases[i].bytes, "psub") ? "PSUBSCRIBE" : "SUBSCRIBE",
                                      "x"),
                             0);
        else if (!cases[i].unsolicited)
            assert_int_equal(send_cmd(c.r, &res, "PING"), 0);
        RUN_UNTIL(e, c.disconnects == 1, 3000);
        if (c.disconnect_status != cases[i].status)
            fail_msg("%s: on_disconnect(%s), error '%s'", cases[i].name,
                     uv_err_name(c.disconnect_status), nt_redis_error(c.r));
        if (cases[i].why != NULL && strstr(nt_redis_error(c.r), cases[i].why) == NULL)
            fail_msg("%s: error '%s'", cases[i].name, nt_redis_error(c.r));
        if (cases[i].answered) {
            assert_int_equal(res.calls, 1);
            assert_int_equal(res.nulls, 0);
        } else if (!cases[i].unsolicited) {
            assert_int_equal(res.calls, 1);
            assert_int_equal(res.nulls, 1); /* unanswered: NULL, before on_disconnect */
            assert_true(res.seq < c.disconnect_seq);
        }
        nt_redis_close(c.r);
        fake_stop(e, &f);
    }
    finish_loop(e);
}

/* A reply that arrives in pieces is put together; closing in a NULL callback during the drain
 * stops on_disconnect, and the other waiting commands still get their NULL. */
static void test_pieces_and_close_in_drain(void **state)
{
    struct env *e = *state;
    struct fake f = {0};
    f.chunks[0] = "$5\r\nhel";
    f.lens[0] = 7;
    f.chunks[1] = "lo\r\n*2\r\n$1\r\na";
    f.lens[1] = strlen(f.chunks[1]);
    f.chunks[2] = "\r\n:7\r\n-ERR bad";
    f.lens[2] = strlen(f.chunks[2]);
    f.chunks[3] = "\r\nnot RESP\r\n";
    f.lens[3] = strlen(f.chunks[3]);
    f.n_chunks = 4;
    fake_start(e, &f);
    struct client c = {0};
    c.r = nt_redis_new(&e->loop, &callbacks, &c, 1 << 20);
    struct sockaddr_in a = loopback(f.port);
    assert_int_equal(nt_redis_connect_tcp(c.r, (const struct sockaddr *)&a, 2000), 0);
    RUN_UNTIL(e, c.connects == 1, 3000);
    struct result r1 = {0}, r2 = {0}, r3 = {0}, r4 = {0}, r5 = {0};
    r4.close_r = true; /* closes r from its NULL callback */
    assert_int_equal(send_cmd(c.r, &r1, "GET", "x"), 0);
    assert_int_equal(send_cmd(c.r, &r2, "LRANGE", "x"), 0);
    assert_int_equal(send_cmd(c.r, &r3, "X"), 0);
    assert_int_equal(send_cmd(c.r, &r4, "PING"), 0);
    assert_int_equal(send_cmd(c.r, &r5, "PING"), 0);
    RUN_UNTIL(e, r5.calls == 1, 3000);
    assert_int_equal(r1.type, REDIS_REPLY_STRING);
    assert_memory_equal(r1.str, "hello", 5);
    assert_int_equal(r2.type, REDIS_REPLY_ARRAY);
    assert_int_equal(r2.elements, 2);
    assert_int_equal(r3.type, REDIS_REPLY_ERROR);
    assert_memory_equal(r3.str, "ERR bad", 7);
    assert_int_equal(r4.nulls, 1);
    assert_int_equal(r5.nulls, 1);
    assert_true(r4.seq < r5.seq);
    run_for(e, 20);
    assert_int_equal(c.disconnects, 0); /* closed before it was told */
    fake_stop(e, &f);
    finish_loop(e);
}

/* Writes the RESP2 bytes of ECHO payload (len bytes) at out (len + 64 bytes): what the fake must
 * read. Returns their length. */
static size_t echo_bytes(char *out, const char *payload, size_t len)
{
    int n = snprintf(out, 64, "*2\r\n$4\r\nECHO\r\n$%zu\r\n", len);
    memcpy(out + n, payload, len);
    out[(size_t)n + len] = '\r';
    out[(size_t)n + len + 1] = '\n';
    return (size_t)n + len + 2;
}

/* A peer that reads nothing for a while: the kernel's buffers fill, then our queue; the writes
 * that drain it (a try_write and one uv_write at a time) keep the bytes in order. Then the peer
 * closes with unread bytes (a reset) while a write is in flight: every waiting command gets
 * NULL, then on_disconnect, once. */
#define QUEUED_CMDS  256
#define QUEUED_BYTES (64 * 1024)

static void test_queue_drains_in_order(void **state)
{
    struct env *e = *state;
    struct fake f = {0};
    f.paused = true;
    f.record = true;
    fake_start(e, &f);
    struct client c = {0};
    c.r = nt_redis_new(&e->loop, &callbacks, &c, (size_t)64 << 20);
    struct sockaddr_in a = loopback(f.port);
    assert_int_equal(nt_redis_connect_tcp(c.r, (const struct sockaddr *)&a, 2000), 0);
    RUN_UNTIL(e, c.connects == 1 && f.has_conn, 3000);

    static char payload[QUEUED_BYTES];
    char *expected = nt_xmalloc((size_t)QUEUED_CMDS * (QUEUED_BYTES + 64));
    size_t expected_len = 0, most_pending = 0;
    struct count n = {0};
    for (int i = 0; i < QUEUED_CMDS; i++) {
        for (size_t j = 0; j < sizeof(payload); j++)
            payload[j] = (char)(i + j * 7);
        const char *argv[] = {"ECHO", payload};
        size_t lens[] = {4, sizeof(payload)};
        assert_int_equal(nt_redis_command(c.r, 2, argv, lens, on_count, &n), 0);
        expected_len += echo_bytes(expected + expected_len, payload, sizeof(payload));
        if (nt_redis_pending(c.r) > most_pending)
            most_pending = nt_redis_pending(c.r);
    }
    assert_true(most_pending > 0);
    uv_read_start((uv_stream_t *)&f.conn, fake_alloc, fake_read);
    RUN_UNTIL(e, f.got_len >= expected_len, 8000);
    assert_int_equal(f.got_len, expected_len);
    assert_memory_equal(f.got, expected, expected_len);
    assert_int_equal(nt_redis_pending(c.r), 0);
    print_message("      %zu bytes in order; at most %zu waited to be written\n", expected_len,
                  most_pending);

    /* Again, and the peer resets the connection while they wait. */
    uv_read_stop((uv_stream_t *)&f.conn);
    for (int i = 0; i < QUEUED_CMDS; i++) {
        const char *argv[] = {"ECHO", payload};
        size_t lens[] = {4, sizeof(payload)};
        assert_int_equal(nt_redis_command(c.r, 2, argv, lens, on_count, &n), 0);
    }
    assert_true(nt_redis_pending(c.r) > 0);
    uv_close((uv_handle_t *)&f.conn, fake_closed);
    RUN_UNTIL(e, c.disconnects == 1, 3000);
    /* The write in flight fails, or the read sees the end first. */
    assert_true(c.disconnect_status == UV_ECONNRESET || c.disconnect_status == UV_EPIPE ||
                c.disconnect_status == UV_EOF);
    assert_int_equal(n.nulls, 2 * QUEUED_CMDS); /* the fake answered none */
    assert_int_equal(n.ok + n.other, 0);
    assert_int_equal(nt_redis_pending(c.r), 0);
    nt_redis_close(c.r);
    fake_stop(e, &f);
    free(expected);
    finish_loop(e);
}

static void test_refused_commands(void **state)
{
    struct env *e = *state;
    server_start(&e->srv);
    struct client c = {0};
    connect_client(e, &c, 1 << 20);
    struct result res = {0};
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    assert_int_equal(nt_redis_command(c.r, 0, argv, lens, on_reply, &res), UV_EINVAL);
    assert_int_equal(nt_redis_command(c.r, 1, NULL, lens, on_reply, &res), UV_EINVAL);
    assert_int_equal(nt_redis_command(c.r, 1, argv, NULL, on_reply, &res), UV_EINVAL);
    assert_int_equal(send_cmd(c.r, &res, "SUBSCRIBE"), UV_EINVAL);
    assert_int_equal(send_cmd(c.r, &res, "psubscribe"), UV_EINVAL);
    assert_int_equal(send_cmd(c.r, &res, "SSUBSCRIBE", "s"), UV_ENOTSUP);
    assert_int_equal(send_cmd(c.r, &res, "sunsubscribe", "s"), UV_ENOTSUP);
    assert_int_equal(send_cmd(c.r, &res, "MONITOR"), UV_ENOTSUP);
    assert_int_equal(send_cmd(c.r, &res, "SYNC"), UV_ENOTSUP);
    assert_int_equal(send_cmd(c.r, &res, "PSYNC", "?", "-1"), UV_ENOTSUP);
    assert_int_equal(send_cmd(c.r, &res, "CLIENT", "reply", "off"), UV_ENOTSUP);
    assert_int_equal(send_cmd(c.r, &res, "HELLO", "3"), UV_ENOTSUP);
    assert_int_equal(res.calls, 0);

    /* HELLO 2 stays in RESP2; a MULTI holds (P)(UN)SUBSCRIBE back until its EXEC. */
    struct result hello = {0}, multi = {0}, queued = {0}, exec = {0}, sub = {0};
    assert_int_equal(send_cmd(c.r, &hello, "HELLO", "2"), 0);
    assert_int_equal(send_cmd(c.r, &multi, "MULTI"), 0);
    assert_int_equal(send_cmd(c.r, &res, "SUBSCRIBE", "x"), UV_ENOTSUP);
    assert_int_equal(send_cmd(c.r, &res, "UNSUBSCRIBE"), UV_ENOTSUP);
    assert_int_equal(send_cmd(c.r, &queued, "SET", "m", "1"), 0);
    assert_int_equal(send_cmd(c.r, &exec, "EXEC"), 0);
    assert_int_equal(send_cmd(c.r, &sub, "SUBSCRIBE", "x"), 0);
    RUN_UNTIL(e, sub.calls == 1, 3000);
    assert_int_equal(hello.type, REDIS_REPLY_ARRAY); /* RESP2 flattens HELLO's map */
    assert_string_equal(hello.first, "server");
    assert_memory_equal(queued.str, "QUEUED", 6);
    assert_int_equal(exec.type, REDIS_REPLY_ARRAY);
    assert_int_equal(exec.elements, 1);
    assert_true(nt_redis_is_subscribed(c.r));
    assert_int_equal(res.calls, 0);

    nt_redis_close(c.r);
    finish_loop(e);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* libuv writes with write(), as natter's main.c knows */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get_binary, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_unix_socket, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_in_order, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_pubsub_binary, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_connect_timeout, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_server_killed, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_write_after_server_died, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_max_queue, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_close_in_callbacks, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_protocol_errors, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_pieces_and_close_in_drain, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_queue_drains_in_order, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_refused_commands, env_setup, env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
