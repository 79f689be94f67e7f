/* SPDX-License-Identifier: MIT */
/* test_chat_cluster.c - the chat core's side of the cluster (PROTOCOL.md §10), with fake members,
 * ghosts and fake cluster hooks: names asked of the other nodes, what is published, other nodes'
 * events applied, /who * with nodes. No sockets, no loop, no Redis. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "door/line.h"
#include "lib/config.h"
#include "lib/log.h"

struct fake {
    struct nt_member m;
    char out[8192];
    size_t len;
    unsigned resumes;
    bool had_goodbye;
    char goodbye[256];
    const char *reason;
};

static unsigned fmt;

static int fake_deliver(struct nt_member *m, struct nt_event *ev)
{
    struct fake *f = NT_CONTAINER_OF(m, struct fake, m);
    const struct nt_msg *msg = nt_event_bytes(ev, fmt);
    assert_true(f->len + msg->len < sizeof(f->out));
    memcpy(f->out + f->len, msg->data, msg->len);
    f->len += msg->len;
    f->out[f->len] = '\0';
    return 0;
}

static void fake_goodbye(struct nt_member *m, const char *text, const char *reason,
                         const struct nt_event *why)
{
    (void)why;
    struct fake *f = NT_CONTAINER_OF(m, struct fake, m);
    assert_false(f->had_goodbye);
    f->had_goodbye = true;
    snprintf(f->goodbye, sizeof(f->goodbye), "%s", text ? text : "");
    f->reason = reason;
}

static void fake_resume(struct nt_member *m)
{
    NT_CONTAINER_OF(m, struct fake, m)->resumes++;
}

static const struct nt_member_ops fake_ops = {
    .deliver = fake_deliver, .goodbye = fake_goodbye, .resume = fake_resume};

/* A ghost: delivers nothing, counts its goodbyes. */
static unsigned ghost_goodbyes;

static int ghost_deliver(struct nt_member *m, struct nt_event *ev)
{
    (void)m;
    (void)ev;
    return 0;
}

static void ghost_goodbye(struct nt_member *m, const char *text, const char *reason,
                          const struct nt_event *why)
{
    (void)m;
    (void)text;
    (void)reason;
    (void)why;
    ghost_goodbyes++;
}

static const struct nt_member_ops ghost_ops = {.deliver = ghost_deliver, .goodbye = ghost_goodbye};

/* The fake cluster: what the core asked, released and published. */
struct hooks {
    bool is_linked; /* claim asks (true) or not (false) */
    unsigned claims, releases, users, bans;
    char claimed[64], released[64];
    char published[4096]; /* "KIND:ACTOR>TARGET:TEXT;" per event, "USER:NAME;" per user */
    size_t published_len;
};

static bool hook_claim(void *ctx, const struct nt_member *m, const char *name, size_t len)
{
    (void)m;
    struct hooks *h = ctx;
    h->claims++;
    snprintf(h->claimed, sizeof(h->claimed), "%.*s", (int)len, name);
    return h->is_linked;
}

static void hook_release(void *ctx, const struct nt_member *m, const char *name, size_t len)
{
    (void)m;
    struct hooks *h = ctx;
    h->releases++;
    snprintf(h->released, sizeof(h->released), "%.*s", (int)len, name);
}

static void hook_publish(void *ctx, const struct nt_event *ev, const struct nt_member *m)
{
    struct hooks *h = ctx;
    assert_null(m->node); /* only what local members do */
    size_t room = sizeof(h->published) - h->published_len;
    int n = ev == NULL ? snprintf(h->published + h->published_len, room, "USER:%s;", m->name)
                       : snprintf(h->published + h->published_len, room, "%d:%s>%s:%s;",
                                  (int)ev->kind, ev->actor, ev->target, ev->text);
    if (ev == NULL)
        h->users++;
    h->published_len += (size_t)n;
}

static void hook_bans(void *ctx, const char *ip, bool is_banned)
{
    (void)ip;
    (void)is_banned;
    ((struct hooks *)ctx)->bans++;
}

struct world {
    struct nt_config cfg;
    struct nt_chat chat;
    struct hooks hooks;
    struct nt_chat_cluster cluster;
    struct fake *fakes[16];
    size_t n;
    struct nt_member *ghosts[16];
    size_t n_ghosts;
};

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    nt_log_threshold = NT_LOG_ERROR;
    nt_config_defaults(&w->cfg);
    w->cfg.history = 3;
    memcpy(w->cfg.oper_password, "pw", 3);
    nt_chat_init(&w->chat, &w->cfg);
    fmt = nt_event_format_register(nt_line_encode);
    w->hooks.is_linked = true;
    w->cluster = (struct nt_chat_cluster){.claim = hook_claim,
                                          .release = hook_release,
                                          .publish = hook_publish,
                                          .bans_changed = hook_bans,
                                          .node = "north",
                                          .ctx = &w->hooks};
    w->chat.cluster = &w->cluster;
    ghost_goodbyes = 0;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    for (size_t i = 0; i < w->n; i++) {
        nt_chat_leave(&w->chat, &w->fakes[i]->m, "quit");
        nt_member_fini(&w->fakes[i]->m);
        free(w->fakes[i]);
    }
    for (size_t i = 0; i < w->n_ghosts; i++) {
        nt_chat_ghost_leave(&w->chat, w->ghosts[i], "gone", false);
        nt_member_fini(w->ghosts[i]);
        free(w->ghosts[i]);
    }
    nt_chat_fini(&w->chat);
    free(w);
    return 0;
}

static struct fake *fake_new(struct world *w)
{
    struct fake *f = calloc(1, sizeof(*f));
    nt_member_init(&f->m, &fake_ops, w->n + 1, "10.0.0.1:1", "10.0.0.1");
    w->fakes[w->n++] = f;
    return f;
}

/* A local member who asks for name and is granted it. */
static struct fake *join(struct world *w, const char *name)
{
    struct fake *f = fake_new(w);
    enum nt_name_check check;
    size_t len = strlen(name);
    assert_int_equal(nt_chat_join(&w->chat, &f->m, name, len, &check), NT_CHAT_NAME_PENDING);
    assert_true(nt_chat_claimed(&w->chat, f->m.id, name, len, true));
    assert_int_equal(nt_chat_join(&w->chat, &f->m, name, len, &check), NT_CHAT_JOINED);
    return f;
}

static struct nt_member *ghost(struct world *w, const char *name, const char *node)
{
    struct nt_member *g = calloc(1, sizeof(*g));
    nt_member_init(g, &ghost_ops, 1000 + w->n_ghosts, node, "");
    g->node = node;
    w->ghosts[w->n_ghosts++] = g;
    assert_int_equal(nt_chat_ghost_add(&w->chat, g, name, strlen(name), 1), NT_CHAT_JOINED);
    return g;
}

static void apply(struct world *w, struct nt_member *g, enum nt_event_kind kind, const char *room,
                  const char *target, const char *text)
{
    struct nt_event_fields f = {.room = room,
                                .room_len = room ? strlen(room) : 0,
                                .target = target,
                                .target_len = target ? strlen(target) : 0,
                                .text = text,
                                .text_len = text ? strlen(text) : 0,
                                .reason = "quit"};
    nt_chat_apply(&w->chat, g, kind, &f, 0);
}

static void clear(struct fake *f)
{
    f->len = 0;
    f->out[0] = '\0';
}

/* --- names ------------------------------------------------------------------------------- */

static void test_a_name_waits_for_the_other_nodes(void **state)
{
    struct world *w = *state;
    struct fake *a = fake_new(w);
    enum nt_name_check check;
    assert_int_equal(nt_chat_join(&w->chat, &a->m, "Alice", 5, &check), NT_CHAT_NAME_PENDING);
    assert_int_equal(a->m.claim_state, NT_CLAIM_PENDING);
    assert_string_equal(w->hooks.claimed, "Alice");
    assert_int_equal(a->m.state, NT_MEMBER_OUT);
    /* Asked again before the answer: still waiting, not asked twice. */
    assert_int_equal(nt_chat_join(&w->chat, &a->m, "Alice", 5, &check), NT_CHAT_NAME_PENDING);
    assert_int_equal(w->hooks.claims, 1);
    /* An answer for another member or name wakes nobody. */
    assert_false(nt_chat_claimed(&w->chat, a->m.id + 1, "Alice", 5, true));
    assert_false(nt_chat_claimed(&w->chat, a->m.id, "Alicia", 6, true));
    assert_int_equal(a->resumes, 0);
    assert_true(nt_chat_claimed(&w->chat, a->m.id, "Alice", 5, true));
    assert_int_equal(a->resumes, 1);
    assert_int_equal(nt_chat_join(&w->chat, &a->m, "Alice", 5, &check), NT_CHAT_JOINED);
    assert_int_equal(a->m.claim_state, NT_CLAIM_NONE);
    assert_string_equal(w->hooks.published, "USER:Alice;3:Alice>:;");
    assert_non_null(strstr(a->out, "Welcome to lobby, Alice"));
}

static void test_a_name_held_on_another_node_is_taken(void **state)
{
    struct world *w = *state;
    struct fake *a = fake_new(w);
    enum nt_name_check check;
    assert_int_equal(nt_chat_join(&w->chat, &a->m, "Alice", 5, &check), NT_CHAT_NAME_PENDING);
    assert_true(nt_chat_claimed(&w->chat, a->m.id, "Alice", 5, false));
    assert_int_equal(nt_chat_join(&w->chat, &a->m, "Alice", 5, &check), NT_CHAT_NAME_TAKEN);
    assert_int_equal(a->m.state, NT_MEMBER_OUT);
    assert_int_equal(w->hooks.releases, 0); /* it was never ours */
    /* A ghost's name is taken here at once, without asking. */
    ghost(w, "Bob", "south");
    unsigned claims = w->hooks.claims;
    assert_int_equal(nt_chat_join(&w->chat, &a->m, "BOB", 3, &check), NT_CHAT_NAME_TAKEN);
    assert_int_equal(w->hooks.claims, claims);
}

static void test_alone_a_name_is_given_at_once(void **state)
{
    struct world *w = *state;
    w->hooks.is_linked = false;
    struct fake *a = fake_new(w);
    enum nt_name_check check;
    assert_int_equal(nt_chat_join(&w->chat, &a->m, "Alice", 5, &check), NT_CHAT_JOINED);
    assert_int_equal(a->m.claim_state, NT_CLAIM_NONE);
}

static void test_who_leaves_while_waiting_gives_the_name_back(void **state)
{
    struct world *w = *state;
    struct fake *a = fake_new(w);
    enum nt_name_check check;
    assert_int_equal(nt_chat_join(&w->chat, &a->m, "Alice", 5, &check), NT_CHAT_NAME_PENDING);
    nt_chat_leave(&w->chat, &a->m, "closed");
    assert_int_equal(w->hooks.releases, 1);
    assert_string_equal(w->hooks.released, "Alice");
    assert_false(nt_chat_claimed(&w->chat, a->m.id, "Alice", 5, true)); /* nobody waits */
}

static void test_renames_ask_and_give_back(void **state)
{
    struct world *w = *state;
    struct fake *a = join(w, "Alice");
    enum nt_name_check check;
    /* Another case of one's own name is no new name: nothing asked. */
    unsigned claims = w->hooks.claims;
    assert_int_equal(nt_chat_rename(&w->chat, &a->m, "ALICE", 5, &check), NT_CHAT_OK);
    assert_int_equal(w->hooks.claims, claims);
    assert_int_equal(nt_chat_rename(&w->chat, &a->m, "Ally", 4, &check), NT_CHAT_PENDING);
    assert_true(nt_chat_claimed(&w->chat, a->m.id, "Ally", 4, true));
    assert_int_equal(a->resumes, 2); /* its join's answer, and this one */
    assert_int_equal(nt_chat_rename(&w->chat, &a->m, "Ally", 4, &check), NT_CHAT_OK);
    assert_string_equal(a->m.name, "Ally");
    assert_string_equal(w->hooks.released, "ALICE"); /* the old name goes back */
    /* The line door's /nick: no reply while it waits, the door offers the line again. */
    clear(a);
    nt_chat_line(&w->chat, &a->m, "/nick Bo", 8);
    assert_int_equal(a->m.claim_state, NT_CLAIM_PENDING);
    assert_int_equal(a->len, 0);
    assert_true(nt_chat_claimed(&w->chat, a->m.id, "Bo", 2, false));
    nt_chat_line(&w->chat, &a->m, "/nick Bo", 8);
    assert_string_equal(a->out, "*** Name \"Bo\" is already taken. ***\n");
}

/* --- what goes out, what comes in ----------------------------------------------------------- */

static void test_local_events_are_published_ghosts_events_are_not(void **state)
{
    struct world *w = *state;
    struct fake *a = join(w, "Alice");
    struct nt_member *b = ghost(w, "Bob", "south");
    nt_chat_ghost_seat(&w->chat, b, "lobby", 5);
    w->hooks.published_len = 0;
    w->hooks.published[0] = '\0';
    nt_chat_line(&w->chat, &a->m, "hi", 2);
    nt_chat_line(&w->chat, &a->m, "/msg Bob psst", 13);
    nt_chat_line(&w->chat, &a->m, "/who", 4); /* a reply: nothing for the others */
    apply(w, b, NT_EV_SAY, "lobby", NULL, "hello");
    char want[256];
    snprintf(want, sizeof(want), "%d:Alice>:hi;%d:Alice>Bob:psst;", NT_EV_SAY, NT_EV_PRIVATE);
    assert_string_equal(w->hooks.published, want);
    assert_non_null(strstr(a->out, "*** 2 in lobby: Alice, Bob ***\nBob: hello\n"));
}

static void test_other_nodes_events_reach_local_members(void **state)
{
    struct world *w = *state;
    struct fake *a = join(w, "Alice");
    struct nt_member *b = ghost(w, "Bob", "south");
    clear(a);
    apply(w, b, NT_EV_JOIN, "lobby", NULL, NULL);
    apply(w, b, NT_EV_JOIN, "lobby", NULL, NULL); /* again (a snapshot came first): nothing */
    apply(w, b, NT_EV_SAY, "lobby", NULL, "hi");
    apply(w, b, NT_EV_ACTION, "lobby", NULL, "waves");
    apply(w, b, NT_EV_PRIVATE, NULL, "alice", "psst");
    apply(w, b, NT_EV_PRIVATE, NULL, "nobody", "lost");
    apply(w, b, NT_EV_RENAME, "lobby", NULL, NULL); /* no new name: ignored */
    apply(w, b, NT_EV_RENAME, "lobby", "Robert", NULL);
    apply(w, b, NT_EV_RENAME, "lobby", "Alice", NULL); /* a clash: the cluster settles it */
    apply(w, b, NT_EV_WALL, NULL, NULL, "maintenance");
    apply(w, b, NT_EV_SAY, "bad room!", NULL, "x"); /* no room may have that name */
    apply(w, b, NT_EV_NOTICE, NULL, "Alice", "a node's reply stays on its node");
    assert_string_equal(a->out, "*** Bob has joined the chat ***\n"
                                "Bob: hi\n"
                                "* Bob waves\n"
                                "[private] Bob: psst\n"
                                "*** Bob is now known as Robert ***\n"
                                "*** Notice from Robert: maintenance ***\n");
    /* History keeps the other node's lines. */
    struct fake *c = join(w, "Carol");
    assert_non_null(strstr(c->out, "Bob: hi\n* Bob waves\n"));
    clear(a);
    apply(w, b, NT_EV_LEAVE, "lobby", NULL, "bye");
    assert_string_equal(a->out, "*** Robert has left the chat (bye) ***\n");
    assert_int_equal(b->state, NT_MEMBER_LEFT);
    assert_null(nt_chat_find(&w->chat, "Robert", 6));
    assert_int_equal(nt_chat_people(&w->chat), 2);
    apply(w, b, NT_EV_SAY, "lobby", NULL, "after leaving"); /* nothing */
    assert_string_equal(a->out, "*** Robert has left the chat (bye) ***\n");
}

static void test_a_kick_from_another_node_drops_the_local_member(void **state)
{
    struct world *w = *state;
    struct fake *a = join(w, "Alice");
    struct fake *c = join(w, "Carol");
    struct nt_member *op = ghost(w, "Op", "south");
    nt_chat_ghost_seat(&w->chat, op, "lobby", 5);
    clear(c);
    apply(w, op, NT_EV_KICK, "lobby", "Alice", "spam");
    assert_true(a->had_goodbye);
    assert_string_equal(a->goodbye, "*** You were kicked by Op (spam) ***");
    assert_string_equal(a->reason, "kicked");
    assert_string_equal(c->out, "*** Alice was kicked by Op (spam) ***\n");
    /* The kick of another ghost takes it out (its goodbye: the cluster forgets it). */
    struct nt_member *d = ghost(w, "Dave", "east");
    nt_chat_ghost_seat(&w->chat, d, "lobby", 5);
    clear(c);
    apply(w, op, NT_EV_BAN, "lobby", "Dave", NULL);
    assert_int_equal(d->state, NT_MEMBER_LEFT);
    assert_int_equal(ghost_goodbyes, 1);
    assert_string_equal(c->out, "*** Dave was banned by Op ***\n");
    assert_int_equal(w->chat.n_bans, 0); /* its own node knows its address */
    assert_int_equal(w->hooks.bans, 0);
}

static void test_who_star_names_each_users_node(void **state)
{
    struct world *w = *state;
    struct fake *a = join(w, "Alice");
    struct nt_member *b = ghost(w, "Bob", "south");
    nt_chat_ghost_seat(&w->chat, b, "lobby", 5);
    ghost(w, "ircy", "east"); /* in no room */
    clear(a);
    nt_chat_line(&w->chat, &a->m, "/who *", 6);
    assert_string_equal(a->out, "*** 3 people in 1 room: ***\n"
                                "*** lobby (2): Alice (north), Bob (south) ***\n"
                                "*** in no room (1): ircy (east) ***\n");
}

static void test_a_silent_leave_and_a_forced_rename(void **state)
{
    struct world *w = *state;
    struct fake *a = join(w, "Alice");
    struct nt_member *b = ghost(w, "Bob", "south");
    nt_chat_ghost_seat(&w->chat, b, "lobby", 5);
    clear(a);
    nt_chat_ghost_leave(&w->chat, b, "unreachable", false);
    assert_int_equal(a->len, 0);
    assert_int_equal(b->state, NT_MEMBER_LEFT);
    nt_chat_force_rename(&w->chat, &a->m, "Alice-2", 7,
                         "Alice was taken on another node; you are now Alice-2");
    assert_string_equal(a->out, "*** Alice was taken on another node; you are now Alice-2 ***\n"
                                "*** Alice is now known as Alice-2 ***\n");
    nt_chat_notice_all(&w->chat, "The other nodes are back");
    assert_non_null(strstr(a->out, "*** The other nodes are back ***\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_name_waits_for_the_other_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_name_held_on_another_node_is_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alone_a_name_is_given_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_who_leaves_while_waiting_gives_the_name_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_renames_ask_and_give_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_events_are_published_ghosts_events_are_not,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_nodes_events_reach_local_members, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_kick_from_another_node_drops_the_local_member, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_who_star_names_each_users_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_silent_leave_and_a_forced_rename, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
