/* SPDX-License-Identifier: MIT */
/* test_irc_encode.c - nt_irc_encode: the IRC bytes of every event in its four tag variants
 * (PROTOCOL.md §8.3, §8.6), and the cutting of long texts to 512-byte lines. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/event.h"
#include "door/irc.h"
#include "lib/names.h"

#define V_TIME  NT_IRC_FMT_TIME
#define V_TAGS  NT_IRC_FMT_TAGS
#define V_BOTH  (NT_IRC_FMT_TIME | NT_IRC_FMT_TAGS)
#define IRC_MAX 512 /* bytes of one message with CR LF, tags not counted */

/* Every event here happened at this moment, so @time= is deterministic. */
#define T_MS   1767225599123ull /* 2025-12-31T23:59:59.123Z */
#define T_TIME "time=2025-12-31T23:59:59.123Z"
#define T_TAG  "@" T_TIME

/* The fields of a test event; NULL is "". */
struct ev_spec {
    const char *room, *actor, *target, *text, *tags, *reason;
};

static size_t len_of(const char *s)
{
    return s ? strlen(s) : 0;
}

static struct nt_event *make(enum nt_event_kind kind, struct ev_spec s)
{
    struct nt_event_fields f = {
        .room = s.room,
        .room_len = len_of(s.room),
        .actor = s.actor,
        .actor_len = len_of(s.actor),
        .target = s.target,
        .target_len = len_of(s.target),
        .text = s.text,
        .text_len = len_of(s.text),
        .tags = s.tags,
        .tags_len = len_of(s.tags),
        .actor_id = 7,
        .reason = s.reason,
    };
    struct nt_event *ev = nt_event_new(kind, 1, &f);
    ev->time_ms = T_MS;
    return ev;
}

/* The encoding of ev in fmt_bits, as a NUL-terminated heap string (free it). */
static char *encode(const struct nt_event *ev, unsigned fmt_bits, size_t *len)
{
    struct nt_msg *msg = nt_irc_encode(ev, fmt_bits);
    assert_non_null(msg);
    char *s = malloc(msg->len + 1);
    assert_non_null(s);
    memcpy(s, msg->data, msg->len);
    s[msg->len] = '\0';
    *len = msg->len;
    nt_msg_unref(msg);
    return s;
}

/* nt_irc_encode(ev, fmt_bits) is exactly want. */
static void expect(const struct nt_event *ev, unsigned fmt_bits, const char *want)
{
    size_t len;
    char *got = encode(ev, fmt_bits, &len);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want)); /* no NUL inside */
    free(got);
}

/*
 * A one-line event in all four variants: plain without tags, "@time=T " before it with TIME,
 * "@CLIENT-TAGS " with TAGS when the event has client tags (client_tags true), both joined
 * with ';' with TIME|TAGS.
 */
static void expect4(const struct nt_event *ev, const char *plain, bool client_tags)
{
    char want[4096];
    expect(ev, 0, plain);
    snprintf(want, sizeof(want), T_TAG " %s", plain);
    expect(ev, V_TIME, want);
    if (client_tags)
        snprintf(want, sizeof(want), "@%s %s", ev->tags, plain);
    else
        snprintf(want, sizeof(want), "%s", plain);
    expect(ev, V_TAGS, want);
    if (client_tags)
        snprintf(want, sizeof(want), T_TAG ";%s %s", ev->tags, plain);
    else
        snprintf(want, sizeof(want), T_TAG " %s", plain);
    expect(ev, V_BOTH, want);
}

/* --- every kind, byte for byte (PROTOCOL.md §8.6) ------------------------------------------ */

static void test_say(void **state)
{
    (void)state;
    struct nt_event *ev = make(
        NT_EV_SAY,
        (struct ev_spec){.room = "lobby", .actor = "Alice", .text = "hi", .tags = "+draft/x=1"});
    expect(ev, 0, ":Alice!alice@natter PRIVMSG #lobby :hi\r\n");
    expect(ev, V_TIME, "@time=2025-12-31T23:59:59.123Z :Alice!alice@natter PRIVMSG #lobby :hi\r\n");
    expect(ev, V_TAGS, "@+draft/x=1 :Alice!alice@natter PRIVMSG #lobby :hi\r\n");
    expect(ev, V_BOTH,
           "@time=2025-12-31T23:59:59.123Z;+draft/x=1 :Alice!alice@natter PRIVMSG #lobby :hi\r\n");
    nt_event_unref(ev);

    /* No client tags: V_TAGS adds nothing, not even an empty "@ ". */
    ev = make(NT_EV_SAY, (struct ev_spec){.room = "lobby", .actor = "Alice", .text = "hi"});
    expect4(ev, ":Alice!alice@natter PRIVMSG #lobby :hi\r\n", false);
    nt_event_unref(ev);
}

static void test_action(void **state)
{
    (void)state;
    struct nt_event *ev =
        make(NT_EV_ACTION, (struct ev_spec){.room = "lobby", .actor = "Alice", .text = "waves"});
    expect4(ev, ":Alice!alice@natter PRIVMSG #lobby :\001ACTION waves\001\r\n", false);
    nt_event_unref(ev);
    ev = make(NT_EV_ACTION,
              (struct ev_spec){.room = "den", .actor = "Alice", .text = "waves", .tags = "+a=b"});
    expect4(ev, ":Alice!alice@natter PRIVMSG #den :\001ACTION waves\001\r\n", true);
    nt_event_unref(ev);
}

static void test_private(void **state)
{
    (void)state;
    struct nt_event *ev =
        make(NT_EV_PRIVATE, (struct ev_spec){.actor = "Alice", .target = "Bob", .text = "hi"});
    expect4(ev, ":Alice!alice@natter PRIVMSG Bob :hi\r\n", false);
    nt_event_unref(ev);
    /* A room on a private event (the sender's first room) changes nothing. */
    ev = make(NT_EV_PRIVATE, (struct ev_spec){.room = "lobby",
                                              .actor = "Alice",
                                              .target = "Bob",
                                              .text = "hi",
                                              .tags = "+typing=done"});
    expect4(ev, ":Alice!alice@natter PRIVMSG Bob :hi\r\n", true);
    nt_event_unref(ev);
}

static void test_private_action(void **state)
{
    (void)state;
    struct nt_event *ev = make(
        NT_EV_PRIVATE_ACTION, (struct ev_spec){.actor = "Alice", .target = "Bob", .text = "waves"});
    expect4(ev, ":Alice!alice@natter PRIVMSG Bob :\001ACTION waves\001\r\n", false);
    nt_event_unref(ev);
}

static void test_note(void **state)
{
    (void)state;
    struct nt_event *ev = make(
        NT_EV_NOTE,
        (struct ev_spec){.room = "lobby", .actor = "Alice", .text = "TEXT", .tags = "+x=1;+y"});
    expect4(ev, ":Alice!alice@natter NOTICE #lobby :TEXT\r\n", true);
    nt_event_unref(ev);
}

static void test_private_note(void **state)
{
    (void)state;
    struct nt_event *ev = make(NT_EV_PRIVATE_NOTE,
                               (struct ev_spec){.actor = "Alice", .target = "Bob", .text = "hey"});
    expect4(ev, ":Alice!alice@natter NOTICE Bob :hey\r\n", false);
    nt_event_unref(ev);
    ev = make(NT_EV_PRIVATE_NOTE,
              (struct ev_spec){.actor = "Alice", .target = "Bob", .text = "hey", .tags = "+k=v"});
    expect4(ev, ":Alice!alice@natter NOTICE Bob :hey\r\n", true);
    nt_event_unref(ev);
}

static void test_join_and_enter(void **state)
{
    (void)state;
    struct nt_event *ev = make(NT_EV_JOIN, (struct ev_spec){.room = "lobby", .actor = "Alice"});
    expect4(ev, ":Alice!alice@natter JOIN #lobby\r\n", false);
    nt_event_unref(ev);
    ev = make(NT_EV_ENTER, (struct ev_spec){.room = "room", .actor = "Alice"});
    expect4(ev, ":Alice!alice@natter JOIN #room\r\n", false);
    nt_event_unref(ev);
}

static void test_part(void **state)
{
    (void)state;
    /* A line user's /join other: a PART "left for other" from the room it left. */
    struct nt_event *ev =
        make(NT_EV_PART, (struct ev_spec){.room = "room", .actor = "Alice", .target = "other"});
    expect4(ev, ":Alice!alice@natter PART #room :left for other\r\n", false);
    nt_event_unref(ev);
    ev = make(NT_EV_PART, (struct ev_spec){.room = "room", .actor = "Alice", .text = "REASON"});
    expect4(ev, ":Alice!alice@natter PART #room :REASON\r\n", false);
    nt_event_unref(ev);
    ev = make(NT_EV_PART, (struct ev_spec){.room = "room", .actor = "Alice"});
    expect4(ev, ":Alice!alice@natter PART #room\r\n", false);
    nt_event_unref(ev);
}

/* The QUIT text of every leave reason (PROTOCOL.md §8.6, below the table). */
static void test_leave_reasons(void **state)
{
    (void)state;
    static const struct {
        const char *reason, *words, *want;
    } cases[] = {
        {"quit", "gone fishing", ":Alice!alice@natter QUIT :Quit: gone fishing\r\n"},
        {"quit", NULL, ":Alice!alice@natter QUIT :Quit\r\n"},
        {"slow", NULL, ":Alice!alice@natter QUIT :SendQ exceeded\r\n"},
        {"stalled", NULL, ":Alice!alice@natter QUIT :SendQ exceeded\r\n"},
        {"memory", NULL, ":Alice!alice@natter QUIT :SendQ exceeded\r\n"},
        {"idle", NULL, ":Alice!alice@natter QUIT :Idle timeout\r\n"},
        {"ping", NULL, ":Alice!alice@natter QUIT :Ping timeout\r\n"},
        {"error", NULL, ":Alice!alice@natter QUIT :Connection closed\r\n"},
        {"closed", NULL, ":Alice!alice@natter QUIT :Connection closed\r\n"},
        {NULL, NULL, ":Alice!alice@natter QUIT :Connection closed\r\n"},
        {"eaten by a grue", NULL, ":Alice!alice@natter QUIT :eaten by a grue\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct nt_event *ev = make(NT_EV_LEAVE, (struct ev_spec){.room = "lobby",
                                                                 .actor = "Alice",
                                                                 .text = cases[i].words,
                                                                 .reason = cases[i].reason});
        expect4(ev, cases[i].want, false);
        nt_event_unref(ev);
    }
}

/* A kick or ban is the target's QUIT (PROTOCOL.md §8.6). */
static void test_kick_and_ban(void **state)
{
    (void)state;
    struct nt_event *ev = make(
        NT_EV_KICK,
        (struct ev_spec){
            .room = "lobby", .actor = "Op", .target = "Bob", .text = "WHY", .reason = "kicked"});
    expect4(ev, ":Bob!bob@natter QUIT :Kicked by Op (WHY)\r\n", false);
    nt_event_unref(ev);
    ev =
        make(NT_EV_KICK,
             (struct ev_spec){.room = "lobby", .actor = "Op", .target = "Bob", .reason = "kicked"});
    expect4(ev, ":Bob!bob@natter QUIT :Kicked by Op\r\n", false);
    nt_event_unref(ev);
    ev =
        make(NT_EV_BAN,
             (struct ev_spec){.room = "lobby", .actor = "Op", .target = "Bob", .reason = "banned"});
    expect4(ev, ":Bob!bob@natter QUIT :Banned by Op\r\n", false);
    nt_event_unref(ev);
}

static void test_rename(void **state)
{
    (void)state;
    struct nt_event *ev =
        make(NT_EV_RENAME, (struct ev_spec){.room = "lobby", .actor = "Alice", .target = "Al"});
    expect4(ev, ":Alice!alice@natter NICK :Al\r\n", false);
    nt_event_unref(ev);
}

static void test_topic(void **state)
{
    (void)state;
    struct nt_event *ev =
        make(NT_EV_TOPIC, (struct ev_spec){.room = "room", .actor = "Alice", .text = "TEXT"});
    expect4(ev, ":Alice!alice@natter TOPIC #room :TEXT\r\n", false);
    nt_event_unref(ev);
    /* Cleared: the empty trailing parameter, as TOPIC #room : clears it. */
    ev = make(NT_EV_TOPIC, (struct ev_spec){.room = "room", .actor = "Alice"});
    expect4(ev, ":Alice!alice@natter TOPIC #room :\r\n", false);
    nt_event_unref(ev);
}

static void test_away(void **state)
{
    (void)state;
    struct nt_event *ev = make(NT_EV_AWAY, (struct ev_spec){.actor = "Alice", .text = "lunch"});
    expect4(ev, ":Alice!alice@natter AWAY :lunch\r\n", false);
    nt_event_unref(ev);
    ev = make(NT_EV_AWAY, (struct ev_spec){.actor = "Alice"}); /* back */
    expect4(ev, ":Alice!alice@natter AWAY\r\n", false);
    nt_event_unref(ev);
}

static void test_wall(void **state)
{
    (void)state;
    struct nt_event *ev =
        make(NT_EV_WALL, (struct ev_spec){.actor = "Op", .text = "maintenance at 5"});
    expect4(ev, ":Op!op@natter WALLOPS :maintenance at 5\r\n", false);
    nt_event_unref(ev);
}

/* TAGMSG is nothing at all without message-tags (PROTOCOL.md §8.3). */
static void test_tagmsg(void **state)
{
    (void)state;
    struct nt_event *ev = make(NT_EV_TAGMSG, (struct ev_spec){
                                                 .room = "lobby",
                                                 .actor = "Alice",
                                                 .tags = "+typing=active",
                                             });
    expect(ev, 0, "");
    expect(ev, V_TIME, "");
    expect(ev, V_TAGS, "@+typing=active :Alice!alice@natter TAGMSG #lobby\r\n");
    expect(ev, V_BOTH, T_TAG ";+typing=active :Alice!alice@natter TAGMSG #lobby\r\n");
    nt_event_unref(ev);
    ev = make(NT_EV_TAGMSG, (struct ev_spec){
                                .room = "lobby",
                                .actor = "Alice",
                                .target = "Bob",
                                .tags = "+typing=paused",
                            });
    expect(ev, 0, "");
    expect(ev, V_TIME, "");
    expect(ev, V_TAGS, "@+typing=paused :Alice!alice@natter TAGMSG Bob\r\n");
    expect(ev, V_BOTH, T_TAG ";+typing=paused :Alice!alice@natter TAGMSG Bob\r\n");
    nt_event_unref(ev);
}

/* A server reply to one member: from the server, to the member's nick or '*'. */
static void test_notice(void **state)
{
    (void)state;
    struct nt_event *ev = make(NT_EV_NOTICE, (struct ev_spec){.target = "Bob", .text = "Topic: T"});
    expect4(ev, ":natter NOTICE Bob :Topic: T\r\n", false);
    nt_event_unref(ev);
    ev = make(NT_EV_NOTICE, (struct ev_spec){.text = "no nick yet"});
    expect4(ev, ":natter NOTICE * :no nick yet\r\n", false);
    nt_event_unref(ev);
}

/* --- tags ---------------------------------------------------------------------------------- */

/* @time= is UTC, with milliseconds always three digits. */
static void test_time_format(void **state)
{
    (void)state;
    static const struct {
        uint64_t ms;
        const char *want;
    } cases[] = {
        {0, "@time=1970-01-01T00:00:00.000Z :Alice!alice@natter AWAY\r\n"},
        {1767225600007ull, "@time=2026-01-01T00:00:00.007Z :Alice!alice@natter AWAY\r\n"},
        {951782400999ull, "@time=2000-02-29T00:00:00.999Z :Alice!alice@natter AWAY\r\n"},
        {4102444799999ull, "@time=2099-12-31T23:59:59.999Z :Alice!alice@natter AWAY\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct nt_event *ev = make(NT_EV_AWAY, (struct ev_spec){.actor = "Alice"});
        ev->time_ms = cases[i].ms;
        expect(ev, V_TIME, cases[i].want);
        nt_event_unref(ev);
    }
}

/* Several client tags stay one tag section; only V_TAGS relays them, after the time. */
static void test_client_tags_joined(void **state)
{
    (void)state;
    struct nt_event *ev = make(NT_EV_SAY, (struct ev_spec){.room = "lobby",
                                                           .actor = "Alice",
                                                           .text = "x",
                                                           .tags = "+a=1;+b;+example.com/c=d"});
    expect(ev, 0, ":Alice!alice@natter PRIVMSG #lobby :x\r\n");
    expect(ev, V_TIME, T_TAG " :Alice!alice@natter PRIVMSG #lobby :x\r\n");
    expect(ev, V_TAGS, "@+a=1;+b;+example.com/c=d :Alice!alice@natter PRIVMSG #lobby :x\r\n");
    expect(ev, V_BOTH, T_TAG ";+a=1;+b;+example.com/c=d :Alice!alice@natter PRIVMSG #lobby :x\r\n");
    nt_event_unref(ev);
}

/* The user part of a source is the nick in ASCII lower case; other bytes stay (§8). */
static void test_user_is_ascii_lowercase(void **state)
{
    (void)state;
    struct nt_event *ev = make(NT_EV_JOIN, (struct ev_spec){.room = "lobby", .actor = "ÄLICE_Zz9"});
    expect(ev, 0, ":ÄLICE_Zz9!Älice_zz9@natter JOIN #lobby\r\n");
    nt_event_unref(ev);
    ev = make(NT_EV_JOIN, (struct ev_spec){.room = "lobby", .actor = "ΣΟΦΙΑ[]"});
    expect(ev, 0, ":ΣΟΦΙΑ[]!ΣΟΦΙΑ[]@natter JOIN #lobby\r\n");
    nt_event_unref(ev);
}

/* --- long texts ---------------------------------------------------------------------------- */

/* The byte length of the UTF-8 character led by c, or 0 for a continuation byte. */
static size_t utf8_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c < 0xC0)
        return 0;
    if (c < 0xE0)
        return 2;
    if (c < 0xF0)
        return 3;
    return 4;
}

/* Whether s[0..n) is whole UTF-8 characters (the inputs here are valid UTF-8). */
static bool is_whole_utf8(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_len((unsigned char)s[i]);
        if (k == 0 || i + k > n)
            return false;
        for (size_t j = 1; j < k; j++) {
            if (((unsigned char)s[i + j] & 0xC0) != 0x80)
                return false;
        }
        i += k;
    }
    return true;
}

/* A string of n bytes repeating pattern (cut at a character boundary at the end: n is chosen
 * so that it fits). Free with free(). */
static char *repeat(const char *pattern, size_t n)
{
    size_t p = strlen(pattern);
    assert_true(n % p == 0);
    char *s = malloc(n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i += p)
        memcpy(s + i, pattern, p);
    s[n] = '\0';
    return s;
}

/*
 * Splits msg into its lines and checks each: it starts with tags (the tag section the variant
 * wants, or ""), then head, then open, a non-empty text of whole UTF-8 characters, close, CR LF;
 * without the tags at most 512 bytes, and, but for the last, no more than 3 bytes short of it
 * (a cut only backs off to a character boundary). Returns the number of lines; the texts,
 * concatenated, are in *out (free it).
 */
static size_t split_lines(const struct nt_msg *msg, const char *tags, const char *head,
                          const char *open, const char *close, char **out, size_t *out_len)
{
    size_t tl = strlen(tags), hl = strlen(head), ol = strlen(open), cl = strlen(close);
    char *text = malloc(msg->len + 1);
    assert_non_null(text);
    size_t text_len = 0, lines = 0;
    const char *p = msg->data, *end = msg->data + msg->len;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(lf);
        size_t len = (size_t)(lf + 1 - p); /* with CR LF */
        assert_true(len >= tl + hl + ol + cl + 2);
        assert_memory_equal(p, tags, tl);
        const char *msg_start = p + tl;
        size_t msg_len = len - tl;
        assert_true(msg_len <= IRC_MAX);
        if (lf + 1 < end)
            assert_true(msg_len >= IRC_MAX - 3);
        assert_memory_equal(msg_start, head, hl);
        assert_memory_equal(msg_start + hl, open, ol);
        assert_memory_equal(p + len - 2 - cl, close, cl);
        assert_memory_equal(p + len - 2, "\r\n", 2);
        const char *t = msg_start + hl + ol;
        size_t n = msg_len - hl - ol - cl - 2;
        assert_true(n > 0);
        assert_null(memchr(t, '\r', n));
        assert_null(memchr(t, '\n', n));
        assert_true(is_whole_utf8(t, n));
        memcpy(text + text_len, t, n);
        text_len += n;
        lines++;
        p = lf + 1;
    }
    text[text_len] = '\0';
    *out = text;
    *out_len = text_len;
    return lines;
}

/* Encodes ev in all four variants; each splits into lines that reassemble to ev's text. */
static void expect_split(const struct nt_event *ev, const char *head, bool is_action,
                         size_t min_lines)
{
    static const unsigned variants[] = {0, V_TIME, V_TAGS, V_BOTH};
    for (size_t v = 0; v < 4; v++) {
        char tags[256] = "";
        bool has_time = variants[v] & V_TIME;
        bool has_client = (variants[v] & V_TAGS) && ev->tags_len > 0;
        if (has_time || has_client)
            snprintf(tags, sizeof(tags), "@%s%s%s ", has_time ? T_TIME : "",
                     has_time && has_client ? ";" : "", has_client ? ev->tags : "");
        struct nt_msg *msg = nt_irc_encode(ev, variants[v]);
        char *text;
        size_t text_len;
        size_t lines = split_lines(msg, tags, head, is_action ? "\001ACTION " : "",
                                   is_action ? "\001" : "", &text, &text_len);
        assert_true(lines >= min_lines);
        assert_int_equal(text_len, ev->text_len);
        assert_memory_equal(text, ev->text, text_len);
        free(text);
        nt_msg_unref(msg);
    }
}

/* 1500 bytes of 1- to 4-byte characters: several PRIVMSGs, cut between characters (§8.6). */
static void test_split_say(void **state)
{
    (void)state;
    static const char *const patterns[] = {"aé€😀", "€", "😀", "é", "xé"};
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        size_t plen = strlen(patterns[i]);
        char *text = repeat(patterns[i], 1500 / plen * plen);
        struct nt_event *ev =
            make(NT_EV_SAY,
                 (struct ev_spec){
                     .room = "lobby", .actor = "Alice", .text = text, .tags = "+draft/reply=42"});
        expect_split(ev, ":Alice!alice@natter PRIVMSG #lobby :", false, 3);
        nt_event_unref(ev);
        free(text);
    }
}

static void test_split_action(void **state)
{
    (void)state;
    char *text = repeat("aé€😀", 1500);
    struct nt_event *ev =
        make(NT_EV_ACTION, (struct ev_spec){.room = "den", .actor = "Alice", .text = text});
    expect_split(ev, ":Alice!alice@natter PRIVMSG #den :", true, 3);
    nt_event_unref(ev);
    ev = make(NT_EV_PRIVATE_ACTION,
              (struct ev_spec){.actor = "Alice", .target = "Bob", .text = text});
    expect_split(ev, ":Alice!alice@natter PRIVMSG Bob :", true, 3);
    nt_event_unref(ev);
    ev = make(NT_EV_NOTE, (struct ev_spec){.room = "den", .actor = "Alice", .text = text});
    expect_split(ev, ":Alice!alice@natter NOTICE #den :", false, 3);
    nt_event_unref(ev);
    free(text);
}

/* A nick of NT_NAME_MAX_BYTES (128) bytes: 31 four-byte characters and "ABCD". */
static char *long_nick(const char *tail)
{
    assert_int_equal(strlen(tail), 4);
    char *nick = malloc(NT_NAME_MAX_BYTES + 1);
    assert_non_null(nick);
    for (size_t i = 0; i < 31; i++)
        memcpy(nick + 4 * i, "😀", 4);
    memcpy(nick + 124, tail, 4);
    nick[NT_NAME_MAX_BYTES] = '\0';
    return nick;
}

static void test_split_long_nick(void **state)
{
    (void)state;
    char *nick = long_nick("ABCD");
    char *to = long_nick("wxyz");
    char *text = repeat("aé€😀", 1500);
    char head[1024];
    /* The user part: the same bytes, "ABCD" in lower case. */
    char user[NT_NAME_MAX_BYTES + 1];
    memcpy(user, nick, NT_NAME_MAX_BYTES + 1);
    memcpy(user + 124, "abcd", 4);

    struct nt_event *ev =
        make(NT_EV_SAY, (struct ev_spec){.room = "lobby", .actor = nick, .text = text});
    snprintf(head, sizeof(head), ":%s!%s@natter PRIVMSG #lobby :", nick, user);
    expect_split(ev, head, false, 4);
    nt_event_unref(ev);

    ev = make(NT_EV_ACTION, (struct ev_spec){.room = "lobby", .actor = nick, .text = text});
    expect_split(ev, head, true, 4);
    nt_event_unref(ev);

    /* From a 128-byte nick to a 128-byte nick: 106 bytes of text per line. */
    ev = make(NT_EV_PRIVATE, (struct ev_spec){.actor = nick, .target = to, .text = text});
    snprintf(head, sizeof(head), ":%s!%s@natter PRIVMSG %s :", nick, user, to);
    expect_split(ev, head, false, 1500 / 106);
    nt_event_unref(ev);
    free(text);
    free(to);
    free(nick);
}

/* ev in fmt_bits is one line (tags, then head, then a prefix of want_text cut at a character
 * boundary, CR LF) of at most 512 bytes without its tags. */
static void expect_one_cut_line(const struct nt_event *ev, unsigned fmt_bits, const char *tags,
                                const char *head, const char *want_text, size_t want_len)
{
    size_t len;
    char *line = encode(ev, fmt_bits, &len);
    size_t tl = strlen(tags), hl = strlen(head);
    assert_true(len >= tl + hl + 2);
    assert_memory_equal(line, tags, tl);
    assert_true(len - tl <= IRC_MAX);
    assert_true(len - tl >= IRC_MAX - 3); /* cut only back to a character boundary */
    assert_memory_equal(line + tl, head, hl);
    assert_memory_equal(line + len - 2, "\r\n", 2);
    const char *t = line + tl + hl;
    size_t n = len - tl - hl - 2;
    assert_null(memchr(t, '\n', n));
    assert_null(memchr(t, '\r', n));
    assert_true(is_whole_utf8(t, n));
    assert_true(n < want_len);
    assert_memory_equal(t, want_text, n); /* a prefix of what it would have said */
    free(line);
}

/* A long nick's long QUIT reason is cut to fit 512 bytes (tags not counted). */
static void test_long_quit_is_cut(void **state)
{
    (void)state;
    char *nick = long_nick("ABCD");
    char user[NT_NAME_MAX_BYTES + 1];
    memcpy(user, nick, NT_NAME_MAX_BYTES + 1);
    memcpy(user + 124, "abcd", 4);
    char head[1024];
    snprintf(head, sizeof(head), ":%s!%s@natter QUIT :", nick, user);

    /* "x" first, so that the cut would fall inside an é and must back off one byte. */
    char *words = malloc(602);
    assert_non_null(words);
    words[0] = 'x';
    char *es = repeat("é", 600);
    memcpy(words + 1, es, 601);
    free(es);
    char *want = malloc(1024);
    assert_non_null(want);
    snprintf(want, 1024, "Quit: %s", words);

    struct nt_event *ev = make(NT_EV_LEAVE, (struct ev_spec){
                                                .room = "lobby",
                                                .actor = nick,
                                                .text = words,
                                                .reason = "quit",
                                            });
    expect_one_cut_line(ev, 0, "", head, want, strlen(want));
    expect_one_cut_line(ev, V_BOTH, T_TAG " ", head, want, strlen(want));
    nt_event_unref(ev);

    /* A kick of a long nick by a long nick, with a long why. */
    char *op = long_nick("OPER");
    snprintf(want, 1024, "Kicked by %s (%s)", op, words);
    ev = make(NT_EV_KICK, (struct ev_spec){
                              .room = "lobby",
                              .actor = op,
                              .target = nick,
                              .text = words,
                              .reason = "kicked",
                          });
    expect_one_cut_line(ev, 0, "", head, want, strlen(want));
    expect_one_cut_line(ev, V_TIME, T_TAG " ", head, want, strlen(want));
    nt_event_unref(ev);

    /* A PART with long words from a long nick in a long room. */
    char *room = long_nick("room");
    snprintf(head, sizeof(head), ":%s!%s@natter PART #%s :", nick, user, room);
    ev = make(NT_EV_PART, (struct ev_spec){.room = room, .actor = nick, .text = words});
    expect_one_cut_line(ev, 0, "", head, words, strlen(words));
    nt_event_unref(ev);

    /* A topic of NT_TOPIC_MAX bytes from a long nick in a long room. */
    snprintf(head, sizeof(head), ":%s!%s@natter TOPIC #%s :", nick, user, room);
    char *topic = repeat("é", 300);
    ev = make(NT_EV_TOPIC, (struct ev_spec){.room = room, .actor = nick, .text = topic});
    expect_one_cut_line(ev, 0, "", head, topic, strlen(topic));
    nt_event_unref(ev);
    free(topic);

    free(room);
    free(op);
    free(want);
    free(words);
    free(nick);
}

/*
 * A server reply is a message too: however long its text (the reply to a kick names two nicks
 * of up to 128 bytes and the why), no line of it goes past 512 bytes; what it says is the text,
 * or a prefix of it cut at a character boundary.
 */
/* What test_long_notice_fits holds, freed by its teardown even when an assertion fails. */
struct held {
    struct nt_event *ev;
    struct nt_msg *msg;
};

static int hold(void **state)
{
    *state = calloc(1, sizeof(struct held));
    return *state != NULL ? 0 : -1;
}

static int unhold(void **state)
{
    struct held *h = *state;
    if (h->msg != NULL)
        nt_msg_unref(h->msg);
    if (h->ev != NULL)
        nt_event_unref(h->ev);
    free(h);
    return 0;
}

static void test_long_notice_fits(void **state)
{
    struct held *h = *state;
    char nick[NT_NAME_MAX_BYTES + 1], text[701];
    for (size_t i = 0; i < 31; i++)
        memcpy(nick + 4 * i, "😀", 4);
    memcpy(nick + 124, "ABCD", 5);
    for (size_t i = 0; i < 700; i += 10)
        memcpy(text + i, "aé€😀", 10);
    text[700] = '\0';
    h->ev = make(NT_EV_NOTICE, (struct ev_spec){.target = nick, .text = text});
    char head[256];
    snprintf(head, sizeof(head), ":natter NOTICE %s :", nick);
    h->msg = nt_irc_encode(h->ev, 0);
    size_t hl = strlen(head), said = 0;
    const char *p = h->msg->data, *end = h->msg->data + h->msg->len;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(lf);
        size_t len = (size_t)(lf + 1 - p);
        assert_true(len <= IRC_MAX);
        assert_memory_equal(p, head, hl);
        assert_memory_equal(p + len - 2, "\r\n", 2);
        size_t n = len - hl - 2;
        assert_true(is_whole_utf8(p + hl, n));
        assert_memory_equal(p + hl, text + said, n);
        said += n;
        p = lf + 1;
    }
    assert_true(said > 0 && said <= strlen(text));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_say),
        cmocka_unit_test(test_action),
        cmocka_unit_test(test_private),
        cmocka_unit_test(test_private_action),
        cmocka_unit_test(test_note),
        cmocka_unit_test(test_private_note),
        cmocka_unit_test(test_join_and_enter),
        cmocka_unit_test(test_part),
        cmocka_unit_test(test_leave_reasons),
        cmocka_unit_test(test_kick_and_ban),
        cmocka_unit_test(test_rename),
        cmocka_unit_test(test_topic),
        cmocka_unit_test(test_away),
        cmocka_unit_test(test_wall),
        cmocka_unit_test(test_tagmsg),
        cmocka_unit_test(test_notice),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_client_tags_joined),
        cmocka_unit_test(test_user_is_ascii_lowercase),
        cmocka_unit_test(test_split_say),
        cmocka_unit_test(test_split_action),
        cmocka_unit_test(test_split_long_nick),
        cmocka_unit_test(test_long_quit_is_cut),
        cmocka_unit_test_setup_teardown(test_long_notice_fits, hold, unhold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
