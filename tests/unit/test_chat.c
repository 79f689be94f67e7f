/* SPDX-License-Identifier: MIT */
/* test_chat.c - the chat core driven by fake members: events, their line bytes, sharing one
 * encoding, history, and the safe point. No sockets, no loop. */
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

/* A member whose door writes what it gets into a buffer, and refuses past `cap` deliveries. */
struct fake {
    struct nt_member m;
    char out[16384];
    size_t len;
    unsigned delivered;
    unsigned cap; /* 0 = no cap */
    const struct nt_msg *last;
    bool had_goodbye;
    char goodbye[256];
    const char *reason;
    int why_kind;    /* the kind of the event goodbye was given, or -1 for none */
    char why_by[64]; /* its actor */
    char why_text[64];
};

static unsigned fmt;

static int fake_deliver(struct nt_member *m, struct nt_event *ev)
{
    struct fake *f = NT_CONTAINER_OF(m, struct fake, m);
    if (f->cap != 0 && f->delivered >= f->cap)
        return -1;
    f->delivered++;
    const struct nt_msg *msg = nt_event_bytes(ev, fmt);
    assert_true(f->len + msg->len < sizeof(f->out));
    memcpy(f->out + f->len, msg->data, msg->len);
    f->len += msg->len;
    f->out[f->len] = '\0';
    f->last = msg;
    return 0;
}

static void fake_goodbye(struct nt_member *m, const char *text, const char *reason,
                         const struct nt_event *why)
{
    struct fake *f = NT_CONTAINER_OF(m, struct fake, m);
    assert_false(f->had_goodbye); /* once */
    f->had_goodbye = true;
    snprintf(f->goodbye, sizeof(f->goodbye), "%s", text ? text : "");
    f->reason = reason;
    f->why_kind = why ? (int)why->kind : -1;
    snprintf(f->why_by, sizeof(f->why_by), "%s", why ? why->actor : "");
    snprintf(f->why_text, sizeof(f->why_text), "%s", why ? why->text : "");
}

static const struct nt_member_ops fake_ops = {.deliver = fake_deliver, .goodbye = fake_goodbye};

struct world {
    struct nt_config cfg;
    struct nt_chat chat;
    struct fake *fakes[128];
    size_t n;
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
    nt_chat_fini(&w->chat);
    free(w);
    return 0;
}

static struct fake *join(struct world *w, const char *name)
{
    struct fake *f = calloc(1, sizeof(*f));
    nt_member_init(&f->m, &fake_ops, w->n + 1, "10.0.0.1:1", "10.0.0.1");
    w->fakes[w->n++] = f;
    enum nt_name_check check;
    assert_int_equal(nt_chat_join(&w->chat, &f->m, name, strlen(name), &check), NT_CHAT_JOINED);
    return f;
}

static void say(struct world *w, struct fake *f, const char *line)
{
    nt_chat_line(&w->chat, &f->m, line, strlen(line));
}

static void clear(struct fake *f)
{
    f->len = 0;
    f->out[0] = '\0';
}

static void test_join_welcome_and_notice(void **state)
{
    struct world *w = *state;
    struct fake *alice = join(w, "Alice");
    assert_string_equal(alice->out,
                        "*** Welcome to lobby, Alice: nobody else is here. Type /help for the "
                        "commands. ***\n");
    struct fake *bob = join(w, "Bob");
    assert_non_null(strstr(alice->out, "commands. ***\n*** Bob has joined the chat ***\n"));
    assert_string_equal(bob->out, "*** Welcome to lobby, Bob: 1 other person is here. Type /help "
                                  "for the commands. ***\n");
}

static void test_name_taken_and_invalid(void **state)
{
    struct world *w = *state;
    join(w, "Alice");
    struct fake *f = calloc(1, sizeof(*f));
    nt_member_init(&f->m, &fake_ops, 99, "p", "ip");
    w->fakes[w->n++] = f;
    enum nt_name_check check;
    assert_int_equal(nt_chat_join(&w->chat, &f->m, "aLICE", 5, &check), NT_CHAT_NAME_TAKEN);
    assert_int_equal(nt_chat_join(&w->chat, &f->m, "", 0, &check), NT_CHAT_NAME_INVALID);
    assert_int_equal(check, NT_NAME_EMPTY);
    assert_int_equal(f->m.state, NT_MEMBER_OUT);
    assert_int_equal(f->len, 0);
}

/* Every kind of event, byte for byte as the line door sends it (PROTOCOL.md). */
static void test_every_kind_in_line_bytes(void **state)
{
    struct world *w = *state;
    struct fake *alice = join(w, "Alice");
    struct fake *bob = join(w, "Bob");
    struct fake *carol = join(w, "Carol");
    say(w, alice, "/oper pw");
    clear(alice);
    clear(bob);
    clear(carol);

    say(w, bob, "Hi Alice!");
    assert_string_equal(alice->out, "Bob: Hi Alice!\n");
    assert_int_equal(bob->len, 0); /* not to the sender */
    clear(alice);
    say(w, bob, "/me waves");
    assert_string_equal(alice->out, "* Bob waves\n");
    clear(alice);
    clear(carol);
    say(w, bob, "/msg Alice psst");
    assert_string_equal(alice->out, "[private] Bob: psst\n");
    assert_int_equal(carol->len, 0);
    clear(alice);
    say(w, bob, "/nick Robert");
    assert_string_equal(alice->out, "*** Bob is now known as Robert ***\n");
    assert_string_equal(bob->out, "*** Bob is now known as Robert ***\n");
    clear(alice);
    clear(bob);
    clear(carol);
    say(w, bob, "/join den");
    assert_string_equal(alice->out, "*** Robert left for den ***\n");
    assert_string_equal(bob->out, "*** You are now in den: nobody else is here ***\n");
    clear(alice);
    clear(bob);
    clear(carol);
    say(w, carol, "/join den");
    assert_string_equal(bob->out, "*** Carol has joined den ***\n");
    assert_string_equal(carol->out, "*** You are now in den: 1 other person is here ***\n");
    assert_string_equal(alice->out, "*** Carol left for den ***\n");
    clear(alice);
    clear(bob);
    clear(carol);
    say(w, alice, "/wall maintenance at 5");
    assert_string_equal(bob->out, "*** Notice from Alice: maintenance at 5 ***\n");
    assert_string_equal(alice->out, "*** Notice from Alice: maintenance at 5 ***\n");
    clear(alice);
    clear(bob);
    clear(carol);
    say(w, alice, "/kick Carol spam");
    assert_string_equal(bob->out, "*** Carol was kicked by Alice (spam) ***\n");
    assert_string_equal(alice->out, "*** Carol was kicked by Alice (spam) ***\n"); /* elsewhere */
    assert_true(carol->had_goodbye);
    assert_string_equal(carol->goodbye, "*** You were kicked by Alice (spam) ***");
    assert_string_equal(carol->reason, "kicked");
    /* The door is also given the kick itself, to word its own goodbye (IRC's ERROR). */
    assert_int_equal(carol->why_kind, NT_EV_KICK);
    assert_string_equal(carol->why_by, "Alice");
    assert_string_equal(carol->why_text, "spam");
    assert_int_equal(carol->m.state, NT_MEMBER_LEFT);
    clear(alice);
    clear(bob);
    say(w, bob, "/quit gone fishing");
    assert_true(bob->had_goodbye);
    assert_string_equal(bob->reason, "quit");
    assert_int_equal(alice->len, 0); /* Bob was alone in den */
    say(w, alice, "/join den");
    clear(alice);
    struct fake *dave = join(w, "Dave");
    say(w, dave, "/join den");
    clear(alice);
    nt_chat_leave(&w->chat, &dave->m, "quit");
    assert_string_equal(alice->out, "*** Dave has left the chat ***\n");
}

/* One event to many recipients: one encoding, the same bytes shared by every one of them. */
static void test_one_encoding_shared(void **state)
{
    struct world *w = *state;
    struct fake *speaker = join(w, "Speaker");
    struct fake *listeners[100];
    for (int i = 0; i < 100; i++) {
        char name[32];
        snprintf(name, sizeof(name), "L%d", i);
        listeners[i] = join(w, name);
    }
    uint64_t before = nt_event_encodings();
    say(w, speaker, "one line for a hundred");
    assert_int_equal(nt_event_encodings() - before, 1);
    for (int i = 1; i < 100; i++)
        assert_ptr_equal(listeners[i]->last, listeners[0]->last);
    assert_memory_equal(listeners[0]->last->data, "Speaker: one line for a hundred\n", 32);
}

/* History keeps events: a newcomer gets the last N, oldest first, after its welcome line. */
static void test_history_replay(void **state)
{
    struct world *w = *state;
    struct fake *alice = join(w, "Alice");
    for (int i = 1; i <= 5; i++) {
        char line[32];
        snprintf(line, sizeof(line), "line %d", i);
        say(w, alice, line);
    }
    say(w, alice, "/me yawns");
    struct fake *bob = join(w, "Bob");
    assert_string_equal(bob->out, "*** Welcome to lobby, Bob: 1 other person is here. Type /help "
                                  "for the commands. ***\n"
                                  "Alice: line 4\nAlice: line 5\n* Alice yawns\n");
}

/* A reload changes --history: each room keeps the newest lines that fit, and goes on from there;
 * a longer history keeps everything and grows; 0 keeps nothing. */
static void test_history_resized_by_a_reload(void **state)
{
    struct world *w = *state;
    struct fake *alice = join(w, "Alice");
    for (int i = 1; i <= 3; i++) {
        char line[32];
        snprintf(line, sizeof(line), "line %d", i);
        say(w, alice, line);
    }
    w->cfg.history = 2;
    nt_chat_reload(&w->chat);
    struct fake *bob = join(w, "Bob");
    assert_non_null(strstr(bob->out, "commands. ***\nAlice: line 2\nAlice: line 3\n"));
    w->cfg.history = 4;
    nt_chat_reload(&w->chat);
    say(w, alice, "line 4");
    say(w, alice, "line 5");
    struct fake *carol = join(w, "Carol");
    assert_non_null(strstr(carol->out,
                           "commands. ***\nAlice: line 2\nAlice: line 3\nAlice: line 4\n"
                           "Alice: line 5\n"));
    w->cfg.history = 0;
    nt_chat_reload(&w->chat);
    say(w, alice, "line 6");
    struct fake *dave = join(w, "Dave");
    assert_non_null(strstr(dave->out, "Type /help for the commands. ***\n"));
    assert_null(strstr(dave->out, "Alice:"));
    w->cfg.history = 1;
    nt_chat_reload(&w->chat);
    say(w, alice, "line 7");
    struct fake *eve = join(w, "Eve");
    assert_non_null(strstr(eve->out, "commands. ***\nAlice: line 7\n"));
}

/* The crash of issue #8: a reply that takes the asker over its cap while /rooms walks the rooms.
 * The asker is only marked, and dropped after the command: its leave, then its goodbye. */
static void test_reply_over_cap_drops_at_safe_point(void **state)
{
    struct world *w = *state;
    struct fake *other = join(w, "Other");
    struct fake *t = join(w, "T");
    say(w, t, "/join solo");
    clear(other);
    t->cap = t->delivered + 2; /* "2 rooms:", "lobby: 1", then full */
    say(w, t, "/rooms");
    assert_true(t->had_goodbye);
    assert_string_equal(t->reason, "slow");
    assert_string_equal(t->goodbye, "Disconnected: too slow to receive messages.");
    assert_int_equal(t->m.state, NT_MEMBER_LEFT);
    assert_int_equal(w->chat.hub.n_rooms, 1); /* solo is gone, lobby stays */
    assert_int_equal(other->len, 0);          /* T was alone in solo */
    say(w, other, "/who *");
    assert_string_equal(other->out, "*** 1 person in 1 room: ***\n*** lobby (1): Other ***\n");
}

/* A broadcast that finds a recipient full: it still reaches everybody else, and the full one's
 * leave reaches the room after it. */
static void test_broadcast_over_cap(void **state)
{
    struct world *w = *state;
    struct fake *a = join(w, "A");
    struct fake *b = join(w, "B");
    struct fake *c = join(w, "C");
    clear(a);
    clear(c);
    b->cap = b->delivered;
    say(w, a, "hello");
    assert_string_equal(c->out, "A: hello\n*** B has left the chat ***\n");
    assert_string_equal(a->out, "*** B has left the chat ***\n");
    assert_true(b->had_goodbye);
    assert_int_equal(w->chat.drops_slow, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_welcome_and_notice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_taken_and_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_kind_in_line_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_encoding_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_resized_by_a_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_over_cap_drops_at_safe_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broadcast_over_cap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
