/* SPDX-License-Identifier: MIT */
/* test_link.c - unit tests for net/link.c: nodes linked through a real redis-server of the
 * test's own, which dies, stops and comes back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#define TEST_SECONDS 40
#include "redis_server.h"

#include "lib/redis_url.h"
#include "net/link.h"
#include "net/redis.h"

/* What one link was told. */
struct node {
    struct nt_link *link;
    int ups, downs;
    uint64_t last_down_since; /* on_up's */
    int messages;
    char last_text[64];
    char last_node[16];
    uint64_t last_seq;
    uint64_t missing;
};

static void on_up(struct nt_link *l, uint64_t down_since)
{
    struct node *n = nt_link_ctx(l);
    n->ups++;
    n->last_down_since = down_since;
}

static void on_down(struct nt_link *l, uint64_t since)
{
    struct node *n = nt_link_ctx(l);
    assert_true(since > 0);
    n->downs++;
}

static void on_message(struct nt_link *l, const struct nt_wire_msg *m)
{
    struct node *n = nt_link_ctx(l);
    if (m->type != NT_WIRE_EVENT)
        return;
    n->messages++;
    snprintf(n->last_text, sizeof(n->last_text), "%.*s", (int)m->text.len, m->text.p);
    snprintf(n->last_node, sizeof(n->last_node), "%.*s", (int)m->node.len, m->node.p);
    n->last_seq = m->seq;
}

static void on_gap(struct nt_link *l, const struct nt_wire_msg *m, uint64_t missing)
{
    (void)m;
    struct node *n = nt_link_ctx(l);
    n->missing += missing;
}

static const struct nt_link_callbacks cbs = {on_up, on_down, on_message, on_gap};

static struct nt_redis_url url_of(int port)
{
    char s[64];
    snprintf(s, sizeof(s), "redis://127.0.0.1:%d/3", port);
    struct nt_redis_url u;
    const char *why = NULL;
    assert_int_equal(nt_redis_url_parse(s, &u, &why), 0);
    return u;
}

static int say(struct node *n, const char *text)
{
    struct nt_wire_msg m = {.type = NT_WIRE_EVENT, .kind = 0, .actor_id = 7};
    m.room = (struct nt_wire_str){"lobby", 5};
    m.actor = (struct nt_wire_str){"Alice", 5};
    m.text = (struct nt_wire_str){text, strlen(text)};
    return nt_link_publish(n->link, &m);
}

/* Starts the test's redis-server and n's link to it as node, and waits until it is up. */
static void linked_node(struct env *e, struct node *n, const char *node)
{
    server_start(&e->srv);
    struct nt_redis_url u = url_of(e->srv.port);
    n->link = nt_link_new(&e->loop, &u, node, 1 << 20, &cbs, n);
    RUN_UNTIL(e, nt_link_is_up(n->link), 5000);
}

static void close_all(struct env *e, struct node *nodes, int n)
{
    for (int i = 0; i < n; i++)
        nt_link_close(nodes[i].link);
    finish_loop(e);
}

static void test_two_nodes_hear_each_other(void **state)
{
    struct env *e = *state;
    server_start(&e->srv);
    struct nt_redis_url u = url_of(e->srv.port);
    struct node a = {0}, b = {0};
    a.link = nt_link_new(&e->loop, &u, "north", 1 << 20, &cbs, &a);
    b.link = nt_link_new(&e->loop, &u, "south", 1 << 20, &cbs, &b);
    RUN_UNTIL(e, nt_link_is_up(a.link) && nt_link_is_up(b.link), 5000);
    assert_int_equal(a.ups, 1);
    assert_int_equal(a.last_down_since, 0); /* up the first time */
    assert_int_equal(a.downs, 0);
    assert_int_equal(say(&a, "hi from north"), 0);
    RUN_UNTIL(e, b.messages == 1, 2000);
    assert_string_equal(b.last_text, "hi from north");
    assert_string_equal(b.last_node, "north");
    run_for(e, 100);
    assert_int_equal(a.messages, 0); /* our own are not passed up */
    assert_int_equal(b.missing, 0);
    const struct nt_link_stats *st = nt_link_stats(b.link);
    assert_true(st->received >= 1 && st->refused == 0);
    close_all(e, (struct node[]){a, b}, 2);
}

static void test_redis_dies_and_comes_back(void **state)
{
    struct env *e = *state;
    struct node a = {0};
    linked_node(e, &a, "north");
    server_kill(&e->srv);
    uint64_t t0 = now_ms();
    RUN_UNTIL(e, a.downs == 1, 5000); /* the issue: told within 5 s */
    assert_true(now_ms() - t0 < 5000);
    assert_false(nt_link_is_up(a.link));
    assert_int_equal(say(&a, "lost"), UV_ENOTCONN);
    assert_int_equal(nt_link_stats(a.link)->dropped, 1);
    run_for(e, 1500); /* retries fail meanwhile: one outage, one on_down */
    assert_int_equal(a.downs, 1);
    server_start(&e->srv); /* on the same port */
    RUN_UNTIL(e, nt_link_is_up(a.link), 8000);
    assert_int_equal(a.ups, 2);
    assert_true(a.last_down_since > 0);
    close_all(e, &a, 1);
}

static void test_unreachable_at_start_then_up(void **state)
{
    struct env *e = *state;
    e->srv.port = free_port(); /* nobody listens there yet */
    struct nt_redis_url u = url_of(e->srv.port);
    struct node a = {0};
    a.link = nt_link_new(&e->loop, &u, "north", 1 << 20, &cbs, &a);
    RUN_UNTIL(e, a.downs == 1, 3000); /* never up: told once, all the same */
    run_for(e, 500);
    assert_int_equal(a.downs, 1);
    server_start(&e->srv);
    RUN_UNTIL(e, nt_link_is_up(a.link), 8000);
    assert_true(a.last_down_since > 0);
    close_all(e, &a, 1);
}

static void test_redis_stopped_is_a_down_link(void **state)
{
    struct env *e = *state;
    struct node a = {0};
    linked_node(e, &a, "north");
    kill(e->srv.pid, SIGSTOP);
    uint64_t t0 = now_ms();
    RUN_UNTIL(e, a.downs == 1, 6000); /* no heartbeat back for 3 s, seen within a beat */
    assert_true(now_ms() - t0 <= 5000);
    kill(e->srv.pid, SIGCONT);
    RUN_UNTIL(e, nt_link_is_up(a.link), 10000);
    close_all(e, &a, 1);
}

/* A raw publisher, for messages a node would not send. */
struct raw {
    struct nt_redis *r;
    bool is_up;
};

static void raw_connect(struct nt_redis *r, int status)
{
    assert_int_equal(status, 0);
    ((struct raw *)nt_redis_ctx(r))->is_up = true;
}

static void raw_disconnect(struct nt_redis *r, int status)
{
    (void)r;
    (void)status;
}

static void raw_message(struct nt_redis *r, const char *c, size_t cl, const char *p, size_t pl)
{
    (void)r, (void)c, (void)cl, (void)p, (void)pl;
}

static const struct nt_redis_callbacks raw_cbs = {raw_connect, raw_disconnect, raw_message};

static void raw_publish(struct raw *w, const char *payload, size_t len)
{
    const char *argv[] = {"PUBLISH", "natter:3:events", payload};
    const size_t lens[] = {7, 15, len};
    assert_int_equal(nt_redis_command(w->r, 3, argv, lens, NULL, NULL), 0);
}

static void raw_event(struct raw *w, const char *node, uint64_t seq)
{
    struct nt_wire_msg m = {.type = NT_WIRE_EVENT, .seq = seq};
    m.node = (struct nt_wire_str){node, strlen(node)};
    m.text = (struct nt_wire_str){"x", 1};
    struct nt_msg *enc = nt_wire_encode(&m);
    raw_publish(w, enc->data, enc->len);
    nt_msg_unref(enc);
}

static void test_gaps_and_garbage(void **state)
{
    struct env *e = *state;
    server_start(&e->srv);
    struct nt_redis_url u = url_of(e->srv.port);
    struct node b = {0};
    b.link = nt_link_new(&e->loop, &u, "south", 1 << 20, &cbs, &b);
    RUN_UNTIL(e, nt_link_is_up(b.link), 5000);
    struct raw w = {0};
    w.r = nt_redis_new(&e->loop, &raw_cbs, &w, 1 << 20);
    struct sockaddr_in a = loopback(e->srv.port);
    assert_int_equal(nt_redis_connect_tcp(w.r, (const struct sockaddr *)&a, 2000), 0);
    RUN_UNTIL(e, w.is_up, 2000);
    raw_event(&w, "east", 1);
    raw_event(&w, "east", 2);
    raw_event(&w, "east", 6); /* 3, 4 and 5 never came */
    raw_publish(&w, "not natter's", 12);
    raw_event(&w, "east", 1); /* east started again: numbering from 1, no gap */
    RUN_UNTIL(e, b.messages == 4, 2000);
    run_for(e, 100);
    assert_int_equal(b.missing, 3);
    assert_int_equal(nt_link_stats(b.link)->missing, 3);
    assert_int_equal(nt_link_stats(b.link)->refused, 1);
    nt_redis_close(w.r);
    close_all(e, &b, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_nodes_hear_each_other, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_redis_dies_and_comes_back, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_at_start_then_up, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_redis_stopped_is_a_down_link, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_gaps_and_garbage, env_setup, env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
