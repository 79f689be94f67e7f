/* SPDX-License-Identifier: MIT */
/* test_chat_seats.c - the door verbs of the chat core (nt_chat_register, _enter, _part, _say,
 * _tell, _rename, _topic, _away, _kick, _wall, _quit) with members in many rooms or none:
 * seats, SEES_OWN and ECHO, one event per sharer, and the safe point. Fake members read events
 * as line or IRC bytes; no sockets, no loop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "door/irc.h"
#include "door/line.h"
#include "lib/config.h"
#include "lib/log.h"

/* A member whose door keeps the bytes of what it gets, in the line format or the IRC one (no
 * tags), counts events by kind, and fails deliveries on demand. */
struct fake {
    struct nt_member m;
    unsigned fmt; /* the event slot it reads */
    char out[65536];
    size_t len;
    unsigned got[NT_EV_KINDS]; /* events delivered, by kind */
    unsigned fail_kinds;       /* deliveries of these kinds (1u << kind) fail */
    uint64_t last_tick;        /* when it last got an event */
    unsigned goodbyes;
    uint64_t goodbye_tick;
    char goodbye[512];
    const char *reason;
    int why_kind; /* the kind of the event goodbye was given, or -1 */
};

#define FAIL_ALL (~0u)

static unsigned line_fmt, irc_fmt;
static uint64_t ticks; /* orders deliveries and goodbyes across members */

static struct nt_msg *irc_plain(const struct nt_event *ev)
{
    return nt_irc_encode(ev, 0);
}

static int fake_deliver(struct nt_member *m, struct nt_event *ev)
{
    struct fake *f = NT_CONTAINER_OF(m, struct fake, m);
    assert_int_equal(m->state, NT_MEMBER_IN); /* the core never delivers to anyone else */
    if (f->fail_kinds & (1u << ev->kind))
        return -1;
    f->got[ev->kind]++;
    f->last_tick = ++ticks;
    const struct nt_msg *msg = nt_event_bytes(ev, f->fmt);
    assert_true(f->len + msg->len < sizeof(f->out));
    memcpy(f->out + f->len, msg->data, msg->len);
    f->len += msg->len;
    f->out[f->len] = '\0';
    return 0;
}

static void fake_goodbye(struct nt_member *m, const char *text, const char *reason,
                         const struct nt_event *why)
{
    struct fake *f = NT_CONTAINER_OF(m, struct fake, m);
    f->why_kind = why ? (int)why->kind : -1;
    f->goodbyes++;
    f->goodbye_tick = ++ticks;
    snprintf(f->goodbye, sizeof(f->goodbye), "%s", text ? text : "");
    f->reason = reason;
}

static const struct nt_member_ops fake_ops = {.deliver = fake_deliver, .goodbye = fake_goodbye};

struct world {
    struct nt_config cfg;
    struct nt_chat chat;
    struct fake *fakes[64];
    size_t n;
};

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    nt_log_threshold = NT_LOG_ERROR;
    nt_config_defaults(&w->cfg);
    w->cfg.history = 3;
    memcpy(w->cfg.oper_password, "pw", 3);
    nt_chat_init(&w->chat, &w->cfg);
    line_fmt = nt_event_format_register(nt_line_encode);
    irc_fmt = nt_event_format_register(irc_plain);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    nt_chat_shutdown(&w->chat);
    for (size_t i = 0; i < w->n; i++) {
        nt_chat_leave(&w->chat, &w->fakes[i]->m, "quit");
        nt_member_fini(&w->fakes[i]->m);
        free(w->fakes[i]);
    }
    assert_int_equal(w->chat.hub.n_rooms, 0);
    assert_int_equal(w->chat.hub.n_members, 0);
    nt_chat_fini(&w->chat);
    free(w);
    return 0;
}

static struct fake *new_fake(struct world *w, unsigned fmt)
{
    assert_true(w->n < sizeof(w->fakes) / sizeof(w->fakes[0]));
    struct fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    nt_member_init(&f->m, &fake_ops, w->n + 1, "10.0.0.1:1", "10.0.0.1");
    f->fmt = fmt;
    w->fakes[w->n++] = f;
    return f;
}

static void clear(struct fake *f)
{
    f->len = 0;
    f->out[0] = '\0';
    memset(f->got, 0, sizeof(f->got));
}

/* A line user, in the lobby (its welcome cleared). */
static struct fake *line_user(struct world *w, const char *name)
{
    struct fake *f = new_fake(w, line_fmt);
    enum nt_name_check check;
    assert_int_equal(nt_chat_join(&w->chat, &f->m, name, strlen(name), &check), NT_CHAT_JOINED);
    clear(f);
    return f;
}

/* An IRC-like user with flags, registered, in no room. */
static struct fake *irc_user(struct world *w, const char *name, unsigned flags)
{
    struct fake *f = new_fake(w, irc_fmt);
    f->m.door = "IRC";
    f->m.flags = flags;
    enum nt_name_check check;
    assert_int_equal(nt_chat_register(&w->chat, &f->m, name, strlen(name), &check), NT_CHAT_JOINED);
    return f;
}

static enum nt_chat_result enter(struct world *w, struct fake *f, const char *room)
{
    enum nt_name_check check;
    struct nt_room *r;
    return nt_chat_enter(&w->chat, &f->m, room, strlen(room), &check, &r);
}

/* f enters each room of a NULL-terminated list (all new to it). */
static void enter_all(struct world *w, struct fake *f, const char *const *rooms)
{
    for (size_t i = 0; rooms[i] != NULL; i++)
        assert_int_equal(enter(w, f, rooms[i]), NT_CHAT_OK);
}

static enum nt_chat_result part(struct world *w, struct fake *f, const char *room,
                                const char *words)
{
    return nt_chat_part(&w->chat, &f->m, room, strlen(room), words, strlen(words));
}

static enum nt_chat_result say(struct world *w, struct fake *f, const char *room,
                               enum nt_event_kind kind, const char *text, const char *tags)
{
    return nt_chat_say(&w->chat, &f->m, room, strlen(room), kind, text, strlen(text), tags,
                       strlen(tags));
}

static void line(struct world *w, struct fake *f, const char *text)
{
    nt_chat_line(&w->chat, &f->m, text, strlen(text));
}

/* f got exactly want since it was last cleared; clears it. A macro, so that a failure names
 * the test's line. */
#define expect_out(f, want)                                                                        \
    do {                                                                                           \
        assert_string_equal((f)->out, (want));                                                     \
        clear(f);                                                                                  \
    } while (0)

static void clear_all(struct world *w)
{
    for (size_t i = 0; i < w->n; i++)
        clear(w->fakes[i]);
}

static struct nt_room *room_named(struct world *w, const char *name)
{
    return nt_hub_find(&w->chat.hub, name, strlen(name));
}

/* --- register and enter ------------------------------------------------------------------ */

/* IRC registration: a name, no room, nobody told (PROTOCOL.md §8.1). */
static void test_register_puts_in_no_room(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *ivy = irc_user(w, "Ivy", NT_MEMBER_SEES_OWN);
    assert_int_equal(ivy->m.state, NT_MEMBER_IN);
    assert_null(ivy->m.room);
    assert_int_equal(ivy->m.n_seats, 0);
    assert_int_equal(ivy->len, 0);
    assert_int_equal(alice->len, 0); /* no JOIN for anyone */
    assert_int_equal(nt_chat_people(&w->chat), 2);
    assert_ptr_equal(nt_chat_find(&w->chat, "IVY", 3), &ivy->m);
    assert_int_equal(room_named(w, "lobby")->count, 1);

    /* Names are one set for every door, compared case-insensitively (§8.1). */
    struct fake *dup = new_fake(w, irc_fmt);
    enum nt_name_check check;
    assert_int_equal(nt_chat_register(&w->chat, &dup->m, "aLiCe", 5, &check), NT_CHAT_NAME_TAKEN);
    assert_int_equal(nt_chat_register(&w->chat, &dup->m, "a b", 3, &check), NT_CHAT_NAME_INVALID);
    assert_int_equal(check, NT_NAME_SPACE);
    assert_int_equal(dup->m.state, NT_MEMBER_OUT);

    /* A member in no room hears no room. */
    line(w, alice, "hello lobby");
    assert_int_equal(ivy->len, 0);
}

/* JOIN in the lobby, ENTER elsewhere; the joiner's own only with SEES_OWN (§8.4, §8.6). */
static void test_enter_rooms(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *ivy = irc_user(w, "Ivy", NT_MEMBER_SEES_OWN);
    struct fake *jay = irc_user(w, "Jay", 0);
    enum nt_name_check check;
    struct nt_room *r;

    assert_int_equal(nt_chat_enter(&w->chat, &ivy->m, "lobby", 5, &check, &r), NT_CHAT_OK);
    assert_ptr_equal(r, room_named(w, "lobby"));
    assert_ptr_equal(ivy->m.room, r);
    assert_int_equal(alice->got[NT_EV_JOIN], 1);
    expect_out(alice, "*** Ivy has joined the chat ***\n");
    assert_int_equal(ivy->got[NT_EV_JOIN], 1);
    expect_out(ivy, ":Ivy!ivy@natter JOIN #lobby\r\n");

    assert_int_equal(enter(w, jay, "LOBBY"), NT_CHAT_OK);
    expect_out(alice, "*** Jay has joined the chat ***\n");
    expect_out(ivy, ":Jay!jay@natter JOIN #lobby\r\n");
    assert_int_equal(jay->len, 0); /* no SEES_OWN: no echo */

    assert_int_equal(nt_chat_enter(&w->chat, &ivy->m, "den", 3, &check, &r), NT_CHAT_OK);
    assert_ptr_equal(r, room_named(w, "den"));
    assert_int_equal(ivy->got[NT_EV_ENTER], 1);
    expect_out(ivy, ":Ivy!ivy@natter JOIN #den\r\n");
    assert_int_equal(alice->len, 0);
    assert_int_equal(jay->len, 0);

    assert_int_equal(enter(w, jay, "DEN"), NT_CHAT_OK);
    assert_int_equal(ivy->got[NT_EV_ENTER], 1);
    expect_out(ivy, ":Jay!jay@natter JOIN #den\r\n"); /* the creator's spelling */
    assert_int_equal(jay->len, 0);

    /* Already in it: SAME, with the room, and nothing said. */
    r = NULL;
    assert_int_equal(nt_chat_enter(&w->chat, &ivy->m, "Den", 3, &check, &r), NT_CHAT_SAME);
    assert_ptr_equal(r, room_named(w, "den"));
    assert_int_equal(ivy->len + jay->len + alice->len, 0);

    assert_int_equal(ivy->m.n_seats, 2);
    assert_ptr_equal(ivy->m.room, room_named(w, "lobby")); /* the first seat's */
    assert_int_equal(room_named(w, "den")->count, 2);
    assert_int_equal(room_named(w, "lobby")->count, 3);
    assert_int_equal(w->chat.hub.n_members, 5);

    /* A line user's /join, as IRC users in both rooms see it (§8.6). */
    line(w, alice, "/join den");
    expect_out(ivy, ":Alice!alice@natter PART #lobby :left for den\r\n"
                    ":Alice!alice@natter JOIN #den\r\n");
    expect_out(alice, "*** You are now in den: 2 other people are here ***\n");
    /* A line user sees an IRC user come into its room (§8.6). */
    struct fake *kim = irc_user(w, "Kim", NT_MEMBER_SEES_OWN);
    assert_int_equal(enter(w, kim, "den"), NT_CHAT_OK);
    expect_out(alice, "*** Kim has joined den ***\n");
    expect_out(kim, ":Kim!kim@natter JOIN #den\r\n");
}

/* CHANLIMIT=#:50, and room names follow the name rules (§8.1, §8.4). */
static void test_enter_too_many_and_invalid(void **state)
{
    struct world *w = *state;
    struct fake *ivy = irc_user(w, "Ivy", NT_MEMBER_SEES_OWN);
    char name[16];
    for (int i = 0; i < NT_CHAT_MAX_ROOMS; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        assert_int_equal(enter(w, ivy, name), NT_CHAT_OK);
    }
    assert_int_equal(ivy->m.n_seats, NT_CHAT_MAX_ROOMS);
    assert_int_equal(ivy->got[NT_EV_ENTER], NT_CHAT_MAX_ROOMS);
    clear(ivy);
    assert_int_equal(enter(w, ivy, "one-too-many"), NT_CHAT_TOO_MANY);
    assert_null(room_named(w, "one-too-many"));
    assert_int_equal(w->chat.hub.n_rooms, NT_CHAT_MAX_ROOMS);
    assert_int_equal(enter(w, ivy, "r7"), NT_CHAT_SAME); /* in it: not refused */
    assert_int_equal(ivy->len, 0);
    /* After a PART there is room for one more. */
    assert_int_equal(part(w, ivy, "r0", ""), NT_CHAT_OK);
    assert_int_equal(enter(w, ivy, "one-more"), NT_CHAT_OK);
    assert_int_equal(enter(w, ivy, "r0"), NT_CHAT_TOO_MANY);

    static const struct {
        const char *name;
        enum nt_name_check why;
    } bad[] = {
        {"", NT_NAME_EMPTY},
        {"a b", NT_NAME_SPACE},
        {"#den", NT_NAME_BAD_START},
        {"a.b", NT_NAME_BAD_CHAR},
        {"a,b", NT_NAME_BAD_CHAR},
        {"\x01x", NT_NAME_CONTROL},
        {"123456789012345678901234567890123", NT_NAME_TOO_LONG},
    };
    struct fake *jay = irc_user(w, "Jay", NT_MEMBER_SEES_OWN);
    size_t rooms = w->chat.hub.n_rooms;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum nt_name_check check = NT_NAME_OK;
        struct nt_room *r = room_named(w, "r7"); /* set to NULL on failure */
        assert_int_equal(
            nt_chat_enter(&w->chat, &jay->m, bad[i].name, strlen(bad[i].name), &check, &r),
            NT_CHAT_INVALID);
        assert_int_equal(check, bad[i].why);
        assert_null(r);
    }
    assert_int_equal(w->chat.hub.n_rooms, rooms);
    assert_int_equal(jay->m.n_seats, 0);
    assert_int_equal(jay->len, 0);
}

/* --- part -------------------------------------------------------------------------------- */

static void test_part(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *ivy = irc_user(w, "Ivy", NT_MEMBER_SEES_OWN);
    struct fake *jay = irc_user(w, "Jay", 0);
    static const char *const both[] = {"lobby", "den", NULL};
    enter_all(w, ivy, both);
    enter_all(w, jay, both);
    assert_int_equal(enter(w, ivy, "solo"), NT_CHAT_OK);
    clear_all(w);

    assert_int_equal(part(w, jay, "nowhere", ""), NT_CHAT_NO_ROOM);
    assert_int_equal(part(w, jay, "solo", ""), NT_CHAT_NOT_IN_ROOM);
    assert_int_equal(ivy->len + jay->len + alice->len, 0);

    /* With words: to the room, the parter too with SEES_OWN (§8.4). */
    assert_int_equal(part(w, ivy, "LOBBY", "bye"), NT_CHAT_OK);
    expect_out(alice, "*** Ivy has left lobby (bye) ***\n");
    expect_out(jay, ":Ivy!ivy@natter PART #lobby :bye\r\n");
    expect_out(ivy, ":Ivy!ivy@natter PART #lobby :bye\r\n");
    assert_null(nt_hub_seat(&ivy->m, room_named(w, "lobby")));
    assert_ptr_equal(ivy->m.room, room_named(w, "den")); /* the next seat is the first now */
    assert_int_equal(part(w, ivy, "lobby", ""), NT_CHAT_NOT_IN_ROOM);

    /* Without words; no SEES_OWN, no echo. */
    assert_int_equal(part(w, jay, "den", ""), NT_CHAT_OK);
    expect_out(ivy, ":Jay!jay@natter PART #den\r\n");
    assert_int_equal(jay->len, 0);
    assert_int_equal(alice->len, 0);
    assert_ptr_equal(jay->m.room, room_named(w, "lobby"));

    /* The last one out: the room goes, with its topic and history (§7.6). */
    assert_int_equal(nt_chat_topic(&w->chat, &ivy->m, "den", 3, "old", 3), NT_CHAT_OK);
    assert_int_equal(say(w, ivy, "den", NT_EV_SAY, "old line", ""), NT_CHAT_OK);
    size_t rooms = w->chat.hub.n_rooms;
    assert_int_equal(part(w, ivy, "den", ""), NT_CHAT_OK);
    assert_null(room_named(w, "den"));
    assert_int_equal(w->chat.hub.n_rooms, rooms - 1);
    assert_int_equal(part(w, ivy, "solo", ""), NT_CHAT_OK);
    assert_null(room_named(w, "solo"));
    assert_null(ivy->m.room);
    assert_int_equal(ivy->m.n_seats, 0);
    assert_int_equal(part(w, ivy, "den", ""), NT_CHAT_NO_ROOM);

    clear_all(w);
    assert_int_equal(enter(w, ivy, "den"), NT_CHAT_OK);
    assert_null(room_named(w, "den")->topic);
    assert_int_equal(room_named(w, "den")->hist_len, 0);
    nt_chat_replay(&w->chat, &ivy->m, room_named(w, "den"));
    expect_out(ivy, ":Ivy!ivy@natter JOIN #den\r\n");
}

/* --- say and tell ------------------------------------------------------------------------ */

static void test_say_to_room(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *ivy = irc_user(w, "Ivy", NT_MEMBER_SEES_OWN | NT_MEMBER_ECHO);
    struct fake *jay = irc_user(w, "Jay", NT_MEMBER_SEES_OWN);
    assert_int_equal(enter(w, ivy, "lobby"), NT_CHAT_OK);
    assert_int_equal(enter(w, jay, "lobby"), NT_CHAT_OK);
    assert_int_equal(enter(w, ivy, "solo"), NT_CHAT_OK);
    clear_all(w);

    /* ECHO: the sender gets its own line back, once, as the others get it (§8.3). */
    assert_int_equal(say(w, ivy, "lobby", NT_EV_SAY, "hi", ""), NT_CHAT_OK);
    expect_out(alice, "Ivy: hi\n");
    expect_out(jay, ":Ivy!ivy@natter PRIVMSG #lobby :hi\r\n");
    expect_out(ivy, ":Ivy!ivy@natter PRIVMSG #lobby :hi\r\n");
    /* Without ECHO, nothing back. */
    assert_int_equal(say(w, jay, "Lobby", NT_EV_ACTION, "waves", ""), NT_CHAT_OK);
    expect_out(alice, "* Jay waves\n");
    expect_out(ivy, ":Jay!jay@natter PRIVMSG #lobby :\001ACTION waves\001\r\n");
    assert_int_equal(jay->len, 0);
    assert_int_equal(say(w, jay, "lobby", NT_EV_NOTE, "note", ""), NT_CHAT_OK);
    expect_out(alice, "-Jay- note\n");
    expect_out(ivy, ":Jay!jay@natter NOTICE #lobby :note\r\n");

    /* +n: only members send to a room (§8.4). */
    assert_int_equal(say(w, jay, "solo", NT_EV_SAY, "let me in", ""), NT_CHAT_NOT_IN_ROOM);
    assert_int_equal(say(w, jay, "nowhere", NT_EV_SAY, "anyone?", ""), NT_CHAT_NO_ROOM);
    assert_int_equal(ivy->len + jay->len + alice->len, 0);

    /* History keeps SAY and ACTION only: not NOTE, not TAGMSG (§7.8). */
    static const char *const den[] = {"den", NULL};
    enter_all(w, ivy, den);
    uint64_t lines = w->chat.lines_received;
    assert_int_equal(say(w, ivy, "den", NT_EV_SAY, "one", ""), NT_CHAT_OK);
    assert_int_equal(say(w, ivy, "den", NT_EV_NOTE, "two", ""), NT_CHAT_OK);
    assert_int_equal(say(w, ivy, "den", NT_EV_ACTION, "three", ""), NT_CHAT_OK);
    assert_int_equal(say(w, ivy, "den", NT_EV_TAGMSG, "", "+typing=active"), NT_CHAT_OK);
    assert_int_equal(w->chat.lines_received - lines, 2);
    assert_int_equal(room_named(w, "den")->hist_len, 2);
    assert_int_equal(ivy->got[NT_EV_TAGMSG], 1); /* the echo of a TAGMSG too */
    clear_all(w);
    struct fake *kim = irc_user(w, "Kim", 0);
    enter_all(w, kim, den);
    assert_int_equal(kim->len, 0);
    nt_chat_replay(&w->chat, &kim->m, room_named(w, "den"));
    expect_out(kim, ":Ivy!ivy@natter PRIVMSG #den :one\r\n"
                    ":Ivy!ivy@natter PRIVMSG #den :\001ACTION three\001\r\n");
    line(w, alice, "/join den");
    expect_out(alice, "*** You are now in den: 2 other people are here ***\n"
                      "Ivy: one\n* Ivy three\n");
}

static void test_tell(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *ivy = irc_user(w, "Ivy", NT_MEMBER_SEES_OWN | NT_MEMBER_ECHO);
    struct fake *jay = irc_user(w, "Jay", NT_MEMBER_SEES_OWN);
    struct fake *kim = irc_user(w, "Kim", NT_MEMBER_SEES_OWN); /* in no room */
    const struct nt_member *to = NULL;

    assert_int_equal(
        nt_chat_tell(&w->chat, &ivy->m, "KIM", 3, NT_EV_PRIVATE, "psst", 4, "", 0, &to),
        NT_CHAT_OK);
    assert_ptr_equal(to, &kim->m);
    expect_out(kim, ":Ivy!ivy@natter PRIVMSG Kim :psst\r\n"); /* the nick as stored */
    expect_out(ivy, ":Ivy!ivy@natter PRIVMSG Kim :psst\r\n"); /* echo-message */
    assert_int_equal(jay->len + alice->len, 0);

    assert_int_equal(
        nt_chat_tell(&w->chat, &jay->m, "alice", 5, NT_EV_PRIVATE_ACTION, "waves", 5, "", 0, &to),
        NT_CHAT_OK);
    expect_out(alice, "[private] * Jay waves\n");
    assert_int_equal(jay->len, 0); /* no ECHO */
    assert_int_equal(
        nt_chat_tell(&w->chat, &jay->m, "Ivy", 3, NT_EV_PRIVATE_NOTE, "fyi", 3, "", 0, &to),
        NT_CHAT_OK);
    expect_out(ivy, ":Jay!jay@natter NOTICE Ivy :fyi\r\n");
    assert_int_equal(
        nt_chat_tell(&w->chat, &alice->m, "Ivy", 3, NT_EV_PRIVATE, "hi", 2, "", 0, &to),
        NT_CHAT_OK);
    expect_out(ivy, ":Alice!alice@natter PRIVMSG Ivy :hi\r\n");
    assert_int_equal(alice->len, 0);

    /* To oneself with ECHO: once, not twice. */
    assert_int_equal(nt_chat_tell(&w->chat, &ivy->m, "ivy", 3, NT_EV_PRIVATE, "me", 2, "", 0, &to),
                     NT_CHAT_OK);
    assert_int_equal(ivy->got[NT_EV_PRIVATE], 1);
    expect_out(ivy, ":Ivy!ivy@natter PRIVMSG Ivy :me\r\n");

    to = &alice->m;
    assert_int_equal(
        nt_chat_tell(&w->chat, &ivy->m, "nobody", 6, NT_EV_PRIVATE, "x", 1, "", 0, &to),
        NT_CHAT_NO_USER);
    assert_null(to);
    for (size_t i = 0; i < w->n; i++)
        assert_int_equal(w->fakes[i]->len, 0);
}

/* --- rename, leave, wall: everyone who shares a room, once ----------------------------------- */

static void test_rename_reaches_each_sharer_once(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *ivy = irc_user(w, "Ivy", NT_MEMBER_SEES_OWN);
    struct fake *jay = irc_user(w, "Jay", NT_MEMBER_SEES_OWN);
    struct fake *kim = irc_user(w, "Kim", NT_MEMBER_SEES_OWN);
    struct fake *lee = irc_user(w, "Lee", NT_MEMBER_SEES_OWN); /* in no room */
    struct fake *max = irc_user(w, "Max", NT_MEMBER_SEES_OWN); /* shares nothing */
    static const char *const three[] = {"lobby", "den", "pub", NULL};
    static const char *const den[] = {"den", NULL};
    static const char *const other[] = {"other", NULL};
    enter_all(w, ivy, three);
    enter_all(w, jay, three);
    enter_all(w, kim, den);
    enter_all(w, max, other);
    clear_all(w);

    enum nt_name_check check;
    assert_int_equal(nt_chat_rename(&w->chat, &ivy->m, "Ivan", 4, &check), NT_CHAT_OK);
    assert_int_equal(jay->got[NT_EV_RENAME], 1);
    expect_out(jay, ":Ivy!ivy@natter NICK :Ivan\r\n");
    expect_out(kim, ":Ivy!ivy@natter NICK :Ivan\r\n");
    expect_out(ivy, ":Ivy!ivy@natter NICK :Ivan\r\n");
    expect_out(alice, "*** Ivy is now known as Ivan ***\n");
    assert_int_equal(lee->len + max->len, 0);
    assert_string_equal(ivy->m.name, "Ivan");
    assert_null(nt_chat_find(&w->chat, "Ivy", 3));
    assert_ptr_equal(nt_chat_find(&w->chat, "IVAN", 4), &ivy->m);

    /* The old name is free at once (§7.4). */
    struct fake *ivy2 = irc_user(w, "ivy", 0);
    assert_int_equal(ivy2->m.state, NT_MEMBER_IN);

    /* A member in no room sees its own rename, and nobody else does. */
    assert_int_equal(nt_chat_rename(&w->chat, &lee->m, "Leo", 3, &check), NT_CHAT_OK);
    expect_out(lee, ":Lee!lee@natter NICK :Leo\r\n");
    for (size_t i = 0; i < w->n; i++)
        assert_int_equal(w->fakes[i]->len, 0);

    /* Refusals say nothing to anyone. */
    assert_int_equal(nt_chat_rename(&w->chat, &ivy->m, "JAY", 3, &check), NT_CHAT_TAKEN);
    assert_int_equal(nt_chat_rename(&w->chat, &ivy->m, "Ivan", 4, &check), NT_CHAT_SAME);
    assert_int_equal(nt_chat_rename(&w->chat, &ivy->m, "I:van", 5, &check), NT_CHAT_INVALID);
    assert_int_equal(check, NT_NAME_BAD_CHAR);
    for (size_t i = 0; i < w->n; i++)
        assert_int_equal(w->fakes[i]->len, 0);

    /* A change of case of one's own name is a rename. */
    assert_int_equal(nt_chat_rename(&w->chat, &ivy->m, "IVAN", 4, &check), NT_CHAT_OK);
    expect_out(jay, ":Ivan!ivan@natter NICK :IVAN\r\n");
    expect_out(ivy, ":Ivan!ivan@natter NICK :IVAN\r\n");
}

/* Someone who leaves is seen leaving once by each user, however many rooms they shared (§8.6). */
static void test_leave_seen_once(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *ivy = irc_user(w, "Ivy", NT_MEMBER_SEES_OWN);
    struct fake *jay = irc_user(w, "Jay", NT_MEMBER_SEES_OWN);
    struct fake *kim = irc_user(w, "Kim", NT_MEMBER_SEES_OWN);
    struct fake *lee = irc_user(w, "Lee", NT_MEMBER_SEES_OWN);
    static const char *const three[] = {"lobby", "den", "pub", NULL};
    static const char *const den_pub[] = {"den", "pub", NULL};
    enter_all(w, ivy, three);
    enter_all(w, jay, three);
    enter_all(w, kim, den_pub);
    assert_int_equal(enter(w, ivy, "solo"), NT_CHAT_OK);
    clear_all(w);

    size_t rooms = w->chat.hub.n_rooms;
    nt_chat_leave(&w->chat, &ivy->m, "ping");
    assert_int_equal(jay->got[NT_EV_LEAVE], 1);
    expect_out(jay, ":Ivy!ivy@natter QUIT :Ping timeout\r\n");
    expect_out(kim, ":Ivy!ivy@natter QUIT :Ping timeout\r\n");
    expect_out(alice, "*** Ivy has left the chat ***\n");
    assert_int_equal(lee->len, 0);
    assert_int_equal(ivy->len, 0);
    assert_int_equal(ivy->goodbyes, 0); /* nt_chat_leave never says goodbye */
    assert_int_equal(ivy->m.state, NT_MEMBER_LEFT);
    assert_int_equal(ivy->m.n_seats, 0);
    assert_null(room_named(w, "solo"));
    assert_int_equal(w->chat.hub.n_rooms, rooms - 1);
    assert_null(nt_chat_find(&w->chat, "Ivy", 3));
    nt_chat_leave(&w->chat, &ivy->m, "ping"); /* idempotent */
    assert_int_equal(jay->len + kim->len + alice->len, 0);

    /* QUIT with words, from three rooms: one QUIT, then the goodbye, at the safe point. */
    nt_chat_quit(&w->chat, &jay->m, "bye", 3);
    assert_int_equal(jay->m.state, NT_MEMBER_LEFT);
    assert_int_equal(jay->goodbyes, 1);
    assert_string_equal(jay->reason, "quit");
    expect_out(kim, ":Jay!jay@natter QUIT :Quit: bye\r\n");
    expect_out(alice, "*** Jay has left the chat (bye) ***\n");
    assert_true(kim->last_tick < jay->goodbye_tick);
    nt_chat_quit(&w->chat, &kim->m, "", 0);
    assert_int_equal(kim->goodbyes, 1);
    assert_int_equal(alice->len, 0); /* shared nothing with Kim */
    assert_int_equal(w->chat.hub.n_rooms, 1);
}

/* /wall and WALLOPS reach every member, in rooms or none, once (§7.10). */
static void test_wall_reaches_members_in_no_room(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *op = irc_user(w, "Op", NT_MEMBER_SEES_OWN);
    struct fake *jay = irc_user(w, "Jay", NT_MEMBER_SEES_OWN);
    struct fake *kim = irc_user(w, "Kim", NT_MEMBER_SEES_OWN); /* in no room */
    static const char *const three[] = {"lobby", "den", "pub", NULL};
    enter_all(w, op, three);
    enter_all(w, jay, three);
    clear_all(w);

    assert_int_equal(nt_chat_wall(&w->chat, &jay->m, "hi all", 6), NT_CHAT_DENIED);
    assert_int_equal(nt_chat_oper(&w->chat, &op->m, "wrong", 5), NT_CHAT_DENIED);
    assert_int_equal(nt_chat_wall(&w->chat, &op->m, "hi all", 6), NT_CHAT_DENIED);
    for (size_t i = 0; i < w->n; i++)
        assert_int_equal(w->fakes[i]->len, 0);
    assert_int_equal(nt_chat_oper(&w->chat, &op->m, "pw", 2), NT_CHAT_OK);
    assert_int_equal(nt_chat_oper(&w->chat, &op->m, "pw", 2), NT_CHAT_SAME);

    assert_int_equal(nt_chat_wall(&w->chat, &op->m, "maintenance at 5", 16), NT_CHAT_OK);
    expect_out(alice, "*** Notice from Op: maintenance at 5 ***\n");
    expect_out(kim, ":Op!op@natter WALLOPS :maintenance at 5\r\n");
    assert_int_equal(jay->got[NT_EV_WALL], 1);
    expect_out(jay, ":Op!op@natter WALLOPS :maintenance at 5\r\n");
    expect_out(op, ":Op!op@natter WALLOPS :maintenance at 5\r\n");
}

/* --- topic ------------------------------------------------------------------------------- */

static void test_topic(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *ivy = irc_user(w, "Ivy", NT_MEMBER_SEES_OWN);
    struct fake *jay = irc_user(w, "Jay", NT_MEMBER_SEES_OWN);
    static const char *const lobby_den[] = {"lobby", "den", NULL};
    enter_all(w, ivy, lobby_den);
    clear_all(w);

    char text[NT_TOPIC_MAX + 2];
    memset(text, 't', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    assert_int_equal(nt_chat_topic(&w->chat, &ivy->m, "lobby", 5, text, NT_TOPIC_MAX + 1),
                     NT_CHAT_TOO_LONG);
    assert_int_equal(nt_chat_topic(&w->chat, &jay->m, "lobby", 5, "x", 1), NT_CHAT_NOT_IN_ROOM);
    assert_int_equal(nt_chat_topic(&w->chat, &ivy->m, "nowhere", 7, "x", 1), NT_CHAT_NO_ROOM);
    assert_null(room_named(w, "lobby")->topic);
    assert_int_equal(ivy->len + jay->len + alice->len, 0);

    /* At most 300 bytes: to the room, the setter included (§8.4). */
    assert_int_equal(nt_chat_topic(&w->chat, &ivy->m, "LOBBY", 5, text, NT_TOPIC_MAX), NT_CHAT_OK);
    char want[1024];
    snprintf(want, sizeof(want), "*** Ivy set the topic: %.*s ***\n", NT_TOPIC_MAX, text);
    expect_out(alice, want);
    snprintf(want, sizeof(want), ":Ivy!ivy@natter TOPIC #lobby :%.*s\r\n", NT_TOPIC_MAX, text);
    expect_out(ivy, want);
    assert_string_equal(room_named(w, "lobby")->topic_setter, "Ivy");

    /* A line user's /topic (§7.6.1). */
    line(w, alice, "/topic");
    snprintf(want, sizeof(want), "*** Topic of lobby: %.*s ***\n", NT_TOPIC_MAX, text);
    expect_out(alice, want);
    line(w, alice, "/topic Rust or C?");
    expect_out(alice, "*** Alice set the topic: Rust or C? ***\n");
    expect_out(ivy, ":Alice!alice@natter TOPIC #lobby :Rust or C?\r\n");
    assert_string_equal(room_named(w, "lobby")->topic_setter, "Alice");

    /* Arriving in a room with a topic: right after the welcome or "You are now in" line. */
    struct fake *bob = new_fake(w, line_fmt);
    enum nt_name_check check;
    assert_int_equal(nt_chat_join(&w->chat, &bob->m, "Bob", 3, &check), NT_CHAT_JOINED);
    expect_out(bob, "*** Welcome to lobby, Bob: 2 other people are here. Type /help for the "
                    "commands. ***\n*** Topic: Rust or C? ***\n");
    expect_out(ivy, ":Bob!bob@natter JOIN #lobby\r\n");
    assert_int_equal(nt_chat_topic(&w->chat, &ivy->m, "den", 3, "den talk", 8), NT_CHAT_OK);
    expect_out(ivy, ":Ivy!ivy@natter TOPIC #den :den talk\r\n");
    line(w, bob, "/join den");
    expect_out(bob, "*** You are now in den: 1 other person is here ***\n"
                    "*** Topic: den talk ***\n");

    clear_all(w);
    line(w, alice, "/topic -");
    expect_out(alice, "*** Alice cleared the topic ***\n");
    expect_out(ivy, ":Alice!alice@natter TOPIC #lobby :\r\n");
    assert_null(room_named(w, "lobby")->topic);
    line(w, alice, "/topic");
    expect_out(alice, "*** No topic is set for lobby ***\n");

    char cmd[NT_TOPIC_MAX + 16];
    snprintf(cmd, sizeof(cmd), "/topic %s", text); /* 301 bytes */
    line(w, alice, cmd);
    expect_out(alice, "*** Topic too long (at most 300 bytes) ***\n");
    assert_int_equal(ivy->len, 0);
    assert_null(room_named(w, "lobby")->topic);

    /* An IRC user clears it with an empty topic. */
    assert_int_equal(nt_chat_topic(&w->chat, &ivy->m, "den", 3, "", 0), NT_CHAT_OK);
    expect_out(bob, "*** Ivy cleared the topic ***\n");
    expect_out(ivy, ":Ivy!ivy@natter TOPIC #den :\r\n");

    /* A room forgets its topic when its last member leaves (§7.6.1). */
    line(w, bob, "/topic back soon");
    assert_int_equal(part(w, ivy, "den", ""), NT_CHAT_OK);
    line(w, bob, "/join lobby");
    assert_null(room_named(w, "den"));
    line(w, bob, "/join den");
    clear(bob);
    line(w, bob, "/topic");
    expect_out(bob, "*** No topic is set for den ***\n");
}

/* --- away -------------------------------------------------------------------------------- */

/* away-notify: only those who share a room with the user, once each (§8.3). */
static void test_away_to_sharers_only(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *ivy = irc_user(w, "Ivy", NT_MEMBER_SEES_OWN);
    struct fake *jay = irc_user(w, "Jay", NT_MEMBER_SEES_OWN);
    struct fake *kim = irc_user(w, "Kim", NT_MEMBER_SEES_OWN);
    struct fake *lee = irc_user(w, "Lee", NT_MEMBER_SEES_OWN); /* in no room */
    struct fake *max = irc_user(w, "Max", NT_MEMBER_SEES_OWN); /* shares nothing */
    static const char *const lobby_den[] = {"lobby", "den", NULL};
    static const char *const den[] = {"den", NULL};
    static const char *const other[] = {"other", NULL};
    enter_all(w, ivy, lobby_den);
    enter_all(w, jay, lobby_den);
    enter_all(w, kim, den);
    enter_all(w, max, other);
    clear_all(w);

    nt_chat_away(&w->chat, &ivy->m, "lunch", 5);
    assert_string_equal(ivy->m.away, "lunch");
    assert_int_equal(jay->got[NT_EV_AWAY], 1);
    expect_out(jay, ":Ivy!ivy@natter AWAY :lunch\r\n");
    expect_out(kim, ":Ivy!ivy@natter AWAY :lunch\r\n");
    assert_int_equal(alice->got[NT_EV_AWAY], 1); /* the line door drops it (§8.6) */
    expect_out(alice, "");
    assert_int_equal(ivy->len + lee->len + max->len, 0);

    nt_chat_away(&w->chat, &ivy->m, "", 0);
    assert_null(ivy->m.away);
    expect_out(jay, ":Ivy!ivy@natter AWAY\r\n");
    expect_out(kim, ":Ivy!ivy@natter AWAY\r\n");
    clear(alice);
    nt_chat_away(&w->chat, &ivy->m, "", 0); /* not away: nothing to say */
    for (size_t i = 0; i < w->n; i++)
        assert_int_equal(w->fakes[i]->len, 0);

    /* At most NT_AWAY_MAX bytes, never half a character. */
    char text[250];
    text[0] = 'x';
    for (size_t i = 1; i < 249; i += 2)
        memcpy(text + i, "é", 2); /* byte 200 is the second of an é */
    text[249] = '\0';
    nt_chat_away(&w->chat, &ivy->m, text, 249);
    assert_int_equal(strlen(ivy->m.away), NT_AWAY_MAX - 1);
    assert_memory_equal(ivy->m.away, text, NT_AWAY_MAX - 1);
    char want[512];
    snprintf(want, sizeof(want), ":Ivy!ivy@natter AWAY :%.*s\r\n", NT_AWAY_MAX - 1, text);
    expect_out(jay, want); /* the event says what is kept */

    /* A member in no room tells nobody. */
    clear_all(w);
    nt_chat_away(&w->chat, &lee->m, "gone", 4);
    assert_string_equal(lee->m.away, "gone");
    for (size_t i = 0; i < w->n; i++)
        assert_int_equal(w->fakes[i]->len, 0);
}

/* --- kick -------------------------------------------------------------------------------- */

static void test_kick(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *op = irc_user(w, "Op", NT_MEMBER_SEES_OWN);
    struct fake *jay = irc_user(w, "Jay", NT_MEMBER_SEES_OWN);
    struct fake *tom = irc_user(w, "Tom", NT_MEMBER_SEES_OWN);
    struct fake *kim = irc_user(w, "Kim", NT_MEMBER_SEES_OWN);
    static const char *const three[] = {"lobby", "den", "pub", NULL};
    static const char *const other[] = {"other", NULL};
    enter_all(w, tom, three);
    enter_all(w, kim, three);
    enter_all(w, op, other);
    assert_int_equal(nt_chat_oper(&w->chat, &op->m, "pw", 2), NT_CHAT_OK);
    clear_all(w);

    assert_int_equal(nt_chat_kick(&w->chat, &jay->m, "Tom", 3, "no", 2), NT_CHAT_DENIED);
    assert_int_equal(tom->m.state, NT_MEMBER_IN);
    assert_int_equal(nt_chat_kick(&w->chat, &op->m, "nobody", 6, "", 0), NT_CHAT_NO_USER);
    for (size_t i = 0; i < w->n; i++)
        assert_int_equal(w->fakes[i]->len, 0);

    size_t rooms = w->chat.hub.n_rooms;
    assert_int_equal(nt_chat_kick(&w->chat, &op->m, "tom", 3, "spam", 4), NT_CHAT_OK);
    /* Dropped at the safe point, the end of the call: its QUIT once, then its goodbye. */
    assert_int_equal(tom->m.state, NT_MEMBER_LEFT);
    assert_int_equal(tom->goodbyes, 1);
    assert_string_equal(tom->goodbye, "*** You were kicked by Op (spam) ***");
    assert_string_equal(tom->reason, "kicked");
    assert_int_equal(tom->why_kind, NT_EV_KICK);
    assert_int_equal(kim->got[NT_EV_KICK], 1);
    expect_out(kim, ":Tom!tom@natter QUIT :Kicked by Op (spam)\r\n");
    expect_out(alice, "*** Tom was kicked by Op (spam) ***\n");
    assert_true(kim->last_tick < tom->goodbye_tick);
    /* The operator elsewhere is told (§7.10). */
    expect_out(op, ":natter NOTICE Op :Tom was kicked by Op (spam)\r\n");
    assert_int_equal(jay->len, 0);
    assert_int_equal(tom->len, 0);
    assert_int_equal(w->chat.hub.n_rooms, rooms); /* Kim keeps them */
    assert_int_equal(room_named(w, "den")->count, 1);
    assert_null(nt_chat_find(&w->chat, "Tom", 3));
    assert_int_equal(nt_chat_kick(&w->chat, &op->m, "Tom", 3, "", 0), NT_CHAT_NO_USER);

    /* A member in no room is kicked too; nobody but the operator hears of it. */
    clear_all(w);
    assert_int_equal(nt_chat_kick(&w->chat, &op->m, "Jay", 3, "", 0), NT_CHAT_OK);
    assert_int_equal(jay->m.state, NT_MEMBER_LEFT);
    assert_string_equal(jay->goodbye, "*** You were kicked by Op ***");
    expect_out(op, ":natter NOTICE Op :Jay was kicked by Op\r\n");
    assert_int_equal(kim->len + alice->len, 0);

    /* A line user kicked by an IRC operator, as IRC users see it. */
    clear_all(w);
    assert_int_equal(nt_chat_kick(&w->chat, &op->m, "Alice", 5, "", 0), NT_CHAT_OK);
    assert_string_equal(alice->goodbye, "*** You were kicked by Op ***");
    expect_out(kim, ":Alice!alice@natter QUIT :Kicked by Op\r\n");
}

/*
 * An operator who shares a room with the target sees the kick once: as the target's QUIT in
 * that room, not also as a server notice (§7.10: the room gets the line; an operator in
 * another room gets it too). Here the shared room is not the target's first.
 */
static void test_kick_seen_once_by_operator_sharing_a_room(void **state)
{
    struct world *w = *state;
    struct fake *op = irc_user(w, "Op", NT_MEMBER_SEES_OWN);
    struct fake *tom = irc_user(w, "Tom", NT_MEMBER_SEES_OWN);
    static const char *const a_b[] = {"a", "b", NULL};
    static const char *const b[] = {"b", NULL};
    enter_all(w, tom, a_b);
    enter_all(w, op, b);
    assert_int_equal(nt_chat_oper(&w->chat, &op->m, "pw", 2), NT_CHAT_OK);
    clear_all(w);
    assert_int_equal(nt_chat_kick(&w->chat, &op->m, "Tom", 3, "why", 3), NT_CHAT_OK);
    assert_int_equal(tom->m.state, NT_MEMBER_LEFT);
    assert_int_equal(op->got[NT_EV_KICK], 1);
    expect_out(op, ":Tom!tom@natter QUIT :Kicked by Op (why)\r\n");
}

/* The same with a line operator: its /kick of an IRC user whose first room is not the lobby
 * shows it the same line twice. */
static void test_line_kick_seen_once_by_operator_sharing_a_room(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *tom = irc_user(w, "Tom", NT_MEMBER_SEES_OWN);
    static const char *const a_lobby[] = {"a", "lobby", NULL};
    enter_all(w, tom, a_lobby);
    line(w, alice, "/oper pw");
    clear_all(w);
    line(w, alice, "/kick Tom");
    assert_int_equal(tom->m.state, NT_MEMBER_LEFT);
    expect_out(alice, "*** Tom was kicked by Alice ***\n");
}

/* --- the safe point ---------------------------------------------------------------------- */

/* A member in several rooms whose delivery fails is dropped once, after the call (§4.3). */
static void test_failing_member_in_many_rooms(void **state)
{
    struct world *w = *state;
    struct fake *alice = line_user(w, "Alice");
    struct fake *ivy = irc_user(w, "Ivy", NT_MEMBER_SEES_OWN | NT_MEMBER_ECHO);
    struct fake *fay = irc_user(w, "Fay", NT_MEMBER_SEES_OWN);
    static const char *const three[] = {"lobby", "den", "pub", NULL};
    enter_all(w, ivy, three);
    enter_all(w, fay, three);
    assert_int_equal(enter(w, fay, "solo"), NT_CHAT_OK);
    clear_all(w);

    fay->fail_kinds = FAIL_ALL;
    size_t rooms = w->chat.hub.n_rooms;
    assert_int_equal(say(w, ivy, "lobby", NT_EV_SAY, "hi", ""), NT_CHAT_OK);
    assert_int_equal(fay->m.state, NT_MEMBER_LEFT);
    assert_int_equal(fay->goodbyes, 1);
    assert_string_equal(fay->reason, "slow");
    assert_string_equal(fay->goodbye, "Disconnected: too slow to receive messages.");
    assert_int_equal(ivy->got[NT_EV_LEAVE], 1);
    expect_out(ivy, ":Ivy!ivy@natter PRIVMSG #lobby :hi\r\n"
                    ":Fay!fay@natter QUIT :SendQ exceeded\r\n");
    expect_out(alice, "Ivy: hi\n*** Fay has left the chat ***\n");
    assert_int_equal(w->chat.drops_slow, 1);
    assert_null(room_named(w, "solo"));
    assert_int_equal(w->chat.hub.n_rooms, rooms - 1);
    assert_int_equal(w->chat.hub.n_members, 1 + 3);

    /* Failing in the first room of a many-room broadcast: marked once, skipped after. */
    struct fake *gus = irc_user(w, "Gus", NT_MEMBER_SEES_OWN);
    enter_all(w, gus, three);
    clear_all(w);
    gus->fail_kinds = FAIL_ALL;
    enum nt_name_check check;
    assert_int_equal(nt_chat_rename(&w->chat, &ivy->m, "Ivan", 4, &check), NT_CHAT_OK);
    assert_int_equal(gus->goodbyes, 1);
    assert_int_equal(gus->m.state, NT_MEMBER_LEFT);
    assert_int_equal(w->chat.drops_slow, 2);
    expect_out(ivy, ":Ivy!ivy@natter NICK :Ivan\r\n:Gus!gus@natter QUIT :SendQ exceeded\r\n");

    /* A drop whose leave takes another over: both go in the same safe point, once each. */
    struct fake *hal = irc_user(w, "Hal", NT_MEMBER_SEES_OWN);
    struct fake *ida = irc_user(w, "Ida", NT_MEMBER_SEES_OWN);
    enter_all(w, hal, three);
    enter_all(w, ida, three);
    clear_all(w);
    hal->fail_kinds = 1u << NT_EV_SAY;
    ida->fail_kinds = 1u << NT_EV_LEAVE;
    assert_int_equal(say(w, ivy, "den", NT_EV_SAY, "x", ""), NT_CHAT_OK);
    assert_int_equal(hal->goodbyes, 1);
    assert_int_equal(ida->goodbyes, 1);
    assert_int_equal(hal->m.state, NT_MEMBER_LEFT);
    assert_int_equal(ida->m.state, NT_MEMBER_LEFT);
    assert_int_equal(w->chat.drops_slow, 4);
    assert_int_equal(ivy->got[NT_EV_LEAVE], 2);
    expect_out(ivy, ":Ivan!ivan@natter PRIVMSG #den :x\r\n"
                    ":Hal!hal@natter QUIT :SendQ exceeded\r\n"
                    ":Ida!ida@natter QUIT :SendQ exceeded\r\n");
    assert_int_equal(alice->got[NT_EV_LEAVE], 2);

    /* Failing on one's own JOIN into a new room: dropped, and the room goes with it. */
    struct fake *jo = irc_user(w, "Jo", NT_MEMBER_SEES_OWN);
    jo->fail_kinds = FAIL_ALL;
    struct nt_room *r;
    assert_int_equal(nt_chat_enter(&w->chat, &jo->m, "lonely", 6, &check, &r), NT_CHAT_OK);
    assert_int_equal(jo->m.state, NT_MEMBER_LEFT); /* the door must look before using r */
    assert_int_equal(jo->goodbyes, 1);
    assert_null(room_named(w, "lonely"));
    /* Door verbs on a member that is gone do nothing. */
    assert_int_equal(say(w, ivy, "lonely", NT_EV_SAY, "x", ""), NT_CHAT_NO_ROOM);
    nt_chat_away(&w->chat, &jo->m, "x", 1);
    nt_chat_quit(&w->chat, &jo->m, "", 0);
    assert_int_equal(jo->goodbyes, 1);

    /* The echo to oneself failing drops the sender. */
    clear_all(w);
    ivy->fail_kinds = 1u << NT_EV_NOTE;
    assert_int_equal(say(w, ivy, "pub", NT_EV_NOTE, "n", ""), NT_CHAT_OK);
    assert_int_equal(ivy->goodbyes, 1);
    assert_int_equal(ivy->m.state, NT_MEMBER_LEFT);
    expect_out(alice, "*** Ivan has left the chat ***\n");
    assert_int_equal(w->chat.hub.n_rooms, 1); /* only Alice's lobby is left */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_puts_in_no_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enter_rooms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enter_too_many_and_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_say_to_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_reaches_each_sharer_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leave_seen_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wall_reaches_members_in_no_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_away_to_sharers_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kick_seen_once_by_operator_sharing_a_room, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_line_kick_seen_once_by_operator_sharing_a_room, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failing_member_in_many_rooms, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
