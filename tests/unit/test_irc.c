/* SPDX-License-Identifier: MIT */
/* test_irc.c - unit tests for irc.c: messages, tags, limits, lists, CTCP, formatting (§8). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/irc.h"

/*
 * Every input is an exactly sized heap copy, so ASan sees any read past its end. A control byte
 * right before a letter or digit is written in octal ("\001ACTION", "\00312,05"): a \x escape
 * would take the hex digits after it too.
 */
static char *copy_of(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    if (len)
        memcpy(p, s, len);
    return p;
}

/* A line of n bytes: prefix, then fill up to n - strlen(suffix), then suffix. Free with free(). */
static char *make_line(const char *prefix, char fill, const char *suffix, size_t n)
{
    size_t a = strlen(prefix), b = strlen(suffix);
    assert_true(a + b <= n);
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, prefix, a);
    memset(p + a, fill, n - a - b);
    memcpy(p + n - b, suffix, b);
    return p;
}

/* Asserts that span equals want[0..want_len) and lies inside [base, base + base_len]. */
static void span_is_n(struct nt_irc_span span, const char *want, size_t want_len, const char *base,
                      size_t base_len)
{
    if (span.len != want_len || (want_len > 0 && memcmp(span.p, want, want_len) != 0))
        print_error("got \"%.*s\" (%zu bytes), expected \"%.*s\" (%zu bytes)\n", (int)span.len,
                    span.p ? span.p : "", span.len, (int)want_len, want, want_len);
    assert_int_equal(span.len, want_len);
    if (want_len > 0)
        assert_memory_equal(span.p, want, want_len);
    if (span.len > 0 || span.p != NULL) {
        assert_true(span.p >= base);
        assert_true(span.p + span.len <= base + base_len);
    }
}

static void span_is(struct nt_irc_span span, const char *want, const char *base, size_t base_len)
{
    span_is_n(span, want, strlen(want), base, base_len);
}

static void assert_zeroed(const struct nt_irc_msg *m)
{
    struct nt_irc_msg zero;
    memset(&zero, 0, sizeof(zero));
    assert_null(m->tags.p);
    assert_null(m->source.p);
    assert_null(m->command.p);
    assert_int_equal(m->n_params, 0);
    assert_false(m->has_trailing);
    assert_memory_equal(m, &zero, sizeof(zero));
}

/* Parses an exact copy of line[0..len): the result must be res, and *msg zeroed if not OK. */
static void parse_res_n(const char *line, size_t len, enum nt_irc_parse res)
{
    char *buf = copy_of(line, len);
    struct nt_irc_msg m;
    memset(&m, 0xa5, sizeof(m));
    enum nt_irc_parse got = nt_irc_parse(buf, len, &m);
    if (got != res)
        print_error("nt_irc_parse(\"%.*s\"): %d, expected %d\n", (int)(len > 80 ? 80 : len), line,
                    (int)got, (int)res);
    assert_int_equal(got, res);
    if (res != NT_IRC_OK)
        assert_zeroed(&m);
    free(buf);
}

#define PARSE_RES(line, res) parse_res_n((line), sizeof(line) - 1, (res))

/*
 * Parses line[0..len) and checks every field. tags and source NULL: none expected (length 0);
 * params: the n expected parameters, as C strings.
 */
static void parse_ok_n(const char *line, size_t len, const char *tags, const char *source,
                       const char *command, bool trailing, const char *const *params, size_t n)
{
    char *buf = copy_of(line, len);
    struct nt_irc_msg m;
    memset(&m, 0xa5, sizeof(m));
    enum nt_irc_parse got = nt_irc_parse(buf, len, &m);
    if (got != NT_IRC_OK)
        print_error("nt_irc_parse(\"%.*s\"): %d, expected OK\n", (int)len, line, (int)got);
    assert_int_equal(got, NT_IRC_OK);
    span_is(m.tags, tags ? tags : "", buf, len);
    if (tags == NULL)
        assert_null(m.tags.p);
    span_is(m.source, source ? source : "", buf, len);
    span_is(m.command, command, buf, len);
    if (m.n_params != n)
        print_error("\"%.*s\": %zu params, expected %zu\n", (int)len, line, m.n_params, n);
    assert_int_equal(m.n_params, n);
    for (size_t i = 0; i < n; i++)
        span_is(m.params[i], params[i], buf, len);
    assert_int_equal(m.has_trailing, trailing);
    free(buf);
}

/* The expected parameters as a compound literal array, and their number. */
#define PARAMS_(...)                                                                               \
    (const char *const[]){__VA_ARGS__},                                                            \
        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)
#define PARSE_OK(line, tags, source, command, trailing, ...)                                       \
    parse_ok_n((line), sizeof(line) - 1, (tags), (source), (command), (trailing),                  \
               PARAMS_(__VA_ARGS__))
#define PARSE_OK0(line, tags, source, command)                                                     \
    parse_ok_n((line), sizeof(line) - 1, (tags), (source), (command), false, NULL, 0)

/* ---- nt_irc_parse: shape ---- */

static void test_parse_simple(void **state)
{
    (void)state;
    PARSE_OK("PRIVMSG #lobby :hello there", NULL, NULL, "PRIVMSG", true, "#lobby", "hello there");
    PARSE_OK("NICK alice", NULL, NULL, "NICK", false, "alice");
    PARSE_OK("USER alice 0 * :Alice Liddell", NULL, NULL, "USER", true, "alice", "0", "*",
             "Alice Liddell");
    PARSE_OK("JOIN #a,#b", NULL, NULL, "JOIN", false, "#a,#b");
    PARSE_OK0("QUIT", NULL, NULL, "QUIT");
    PARSE_OK0("CAP", NULL, NULL, "CAP");
}

static void test_parse_realistic_client_lines(void **state)
{
    (void)state;
    /* irssi */
    PARSE_OK("CAP LS 302", NULL, NULL, "CAP", false, "LS", "302");
    PARSE_OK("USER alice alice 127.0.0.1 :Alice", NULL, NULL, "USER", true, "alice", "alice",
             "127.0.0.1", "Alice");
    PARSE_OK("MODE alice +i", NULL, NULL, "MODE", false, "alice", "+i");
    PARSE_OK("PING 1712345678 natter", NULL, NULL, "PING", false, "1712345678", "natter");
    /* weechat */
    PARSE_OK("CAP REQ :away-notify message-tags server-time", NULL, NULL, "CAP", true, "REQ",
             "away-notify message-tags server-time");
    PARSE_OK("USER weechat 0 * :WeeChat 3.8", NULL, NULL, "USER", true, "weechat", "0", "*",
             "WeeChat 3.8");
    PARSE_OK("CAP END", NULL, NULL, "CAP", false, "END");
    PARSE_OK("PONG :natter", NULL, NULL, "PONG", true, "natter");
    PARSE_OK("PRIVMSG #lobby :\001ACTION waves\x01", NULL, NULL, "PRIVMSG", true, "#lobby",
             "\001ACTION waves\x01");
    PARSE_OK("@+draft/reply=abc;+typing=active TAGMSG #lobby", "+draft/reply=abc;+typing=active",
             NULL, "TAGMSG", false, "#lobby");
    PARSE_OK("QUIT :Leaving", NULL, NULL, "QUIT", true, "Leaving");
}

static void test_parse_leading_and_trailing_spaces(void **state)
{
    (void)state;
    PARSE_OK("   PING x", NULL, NULL, "PING", false, "x");
    PARSE_OK0("LIST   ", NULL, NULL, "LIST");
    PARSE_OK("PING x   ", NULL, NULL, "PING", false, "x");
    PARSE_OK("  NICK   bob   ", NULL, NULL, "NICK", false, "bob");
}

static void test_parse_multiple_spaces(void **state)
{
    (void)state;
    PARSE_OK("PRIVMSG   #a    b   :c  d  ", NULL, NULL, "PRIVMSG", true, "#a", "b", "c  d  ");
    PARSE_OK("USER  u  0  *  :real  name", NULL, NULL, "USER", true, "u", "0", "*", "real  name");
}

static void test_parse_source(void **state)
{
    (void)state;
    PARSE_OK(":alice!alice@natter PRIVMSG #a :hi", NULL, "alice!alice@natter", "PRIVMSG", true,
             "#a", "hi");
    PARSE_OK0(":irc.example.org   PING", NULL, "irc.example.org", "PING");
    /* ":" alone is a source of length 0 */
    PARSE_OK(": PRIVMSG x :y", NULL, NULL, "PRIVMSG", true, "x", "y");
    /* a source and nothing else */
    PARSE_RES(":alice", NT_IRC_NO_COMMAND);
    PARSE_RES(":alice   ", NT_IRC_NO_COMMAND);
    PARSE_RES(":", NT_IRC_NO_COMMAND);
    /* a second source is no command */
    PARSE_RES(":a :b PRIVMSG x", NT_IRC_NO_COMMAND);
}

static void test_parse_tags(void **state)
{
    (void)state;
    PARSE_OK("@+draft/reply=123;label=x PRIVMSG #a :hi", "+draft/reply=123;label=x", NULL,
             "PRIVMSG", true, "#a", "hi");
    PARSE_OK("@a=b;c :src CMD p", "a=b;c", "src", "CMD", false, "p");
    PARSE_OK("@a=b     CMD p", "a=b", NULL, "CMD", false, "p");
    PARSE_OK0("  @a CMD", "a", NULL, "CMD");
    /* an empty tag section */
    PARSE_OK0("@ CMD", "", NULL, "CMD");
    /* a value with escapes is kept as sent */
    PARSE_OK0("@+x=a\\sb\\:c\\\\ CMD", "+x=a\\sb\\:c\\\\", NULL, "CMD");
    /* '@' that is not first is no tag section; a command with '@' is none */
    PARSE_RES("CMD@x y", NT_IRC_NO_COMMAND);
    PARSE_OK("CMD @x y", NULL, NULL, "CMD", false, "@x", "y");
    /* tags and a source only */
    PARSE_RES("@a :src", NT_IRC_NO_COMMAND);
    PARSE_RES("@a=1 :src  ", NT_IRC_NO_COMMAND);
    /* two tag sections */
    PARSE_RES("@a @b CMD", NT_IRC_NO_COMMAND);
}

static void test_parse_numeric_commands(void **state)
{
    (void)state;
    PARSE_OK("001 alice :Welcome", NULL, NULL, "001", true, "alice", "Welcome");
    PARSE_OK0(":natter 421", NULL, "natter", "421");
    PARSE_OK0("999", NULL, NULL, "999");
    PARSE_RES("01 x", NT_IRC_NO_COMMAND);
    PARSE_RES("0001 x", NT_IRC_NO_COMMAND);
    PARSE_RES("1", NT_IRC_NO_COMMAND);
    PARSE_RES("1A1", NT_IRC_NO_COMMAND);
    PARSE_RES("A11", NT_IRC_NO_COMMAND);
    PARSE_RES("12A", NT_IRC_NO_COMMAND);
}

static void test_parse_bad_commands(void **state)
{
    (void)state;
    PARSE_RES("PRIV_MSG x", NT_IRC_NO_COMMAND);
    PARSE_RES("PRIVMSG: x", NT_IRC_NO_COMMAND);
    PARSE_RES("PRIV-MSG", NT_IRC_NO_COMMAND);
    PARSE_RES("/join #a", NT_IRC_NO_COMMAND);
    PARSE_RES("\xc3\xa9t\xc3\xa9", NT_IRC_NO_COMMAND);
    PARSE_RES("NICK\x01", NT_IRC_NO_COMMAND);
    PARSE_RES("NICK\r", NT_IRC_NO_COMMAND);
    PARSE_RES("NICK\0", NT_IRC_NO_COMMAND);
    PARSE_RES("\0NICK", NT_IRC_NO_COMMAND);
    /* a tab is no separator */
    PARSE_RES("NICK\tbob", NT_IRC_NO_COMMAND);
    PARSE_RES("\tNICK bob", NT_IRC_NO_COMMAND);
    /* ':' right after the command is part of the word */
    PARSE_RES("NICK:bob", NT_IRC_NO_COMMAND);
    /* a word of letters and digits */
    PARSE_RES("A1 x", NT_IRC_NO_COMMAND);
    PARSE_RES("ABC1 x", NT_IRC_NO_COMMAND);
}

static void test_parse_lower_case_command_kept_as_sent(void **state)
{
    (void)state;
    PARSE_OK("privmsg #a :x", NULL, NULL, "privmsg", true, "#a", "x");
    PARSE_OK("PrivMsg #a :x", NULL, NULL, "PrivMsg", true, "#a", "x");
}

static void test_parse_trailing(void **state)
{
    (void)state;
    /* empty trailing: TOPIC #a : clears the topic */
    PARSE_OK("TOPIC #a :", NULL, NULL, "TOPIC", true, "#a", "");
    PARSE_OK("TOPIC #a", NULL, NULL, "TOPIC", false, "#a");
    PARSE_OK("AWAY :", NULL, NULL, "AWAY", true, "");
    PARSE_OK("AWAY   :", NULL, NULL, "AWAY", true, "");
    /* trailing spaces and leading spaces in the trailing are kept */
    PARSE_OK("PRIVMSG #a :  x  y  ", NULL, NULL, "PRIVMSG", true, "#a", "  x  y  ");
    PARSE_OK("PRIVMSG #a :   ", NULL, NULL, "PRIVMSG", true, "#a", "   ");
    /* a ':' inside the trailing, or doubled */
    PARSE_OK("PRIVMSG #a ::-) x:y", NULL, NULL, "PRIVMSG", true, "#a", ":-) x:y");
    /* ':' inside a middle parameter starts nothing */
    PARSE_OK("PRIVMSG a:b c:d", NULL, NULL, "PRIVMSG", false, "a:b", "c:d");
}

static void test_parse_empty_trailing_points_inside(void **state)
{
    (void)state;
    static const char line[] = "TOPIC #a :";
    char *buf = copy_of(line, sizeof(line) - 1);
    struct nt_irc_msg m;
    assert_int_equal(nt_irc_parse(buf, sizeof(line) - 1, &m), NT_IRC_OK);
    assert_int_equal(m.n_params, 2);
    /* one past the ':', which is the end of the line: a valid empty span */
    assert_ptr_equal(m.params[1].p, buf + sizeof(line) - 1);
    assert_int_equal(m.params[1].len, 0);
    free(buf);
}

static void test_parse_fifteen_params(void **state)
{
    (void)state;
    /* 14 middle and a trailing */
    PARSE_OK("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 :a b", NULL, NULL, "CMD", true, "1", "2", "3",
             "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "a b");
    /* exactly 15 middle */
    PARSE_OK("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", NULL, NULL, "CMD", false, "1", "2", "3",
             "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15");
    /* past 14, the rest of the line is the 15th, spaces and ':' included (RFC 2812) */
    PARSE_OK("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", NULL, NULL, "CMD", false, "1", "2",
             "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15 16 17");
    PARSE_OK("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14   x  :y  ", NULL, NULL, "CMD", false, "1", "2",
             "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "x  :y  ");
    PARSE_OK("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 :z", NULL, NULL, "CMD", false, "1", "2", "3",
             "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15 :z");
    /* 13 middle and a trailing */
    PARSE_OK("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 :x y", NULL, NULL, "CMD", true, "1", "2", "3", "4",
             "5", "6", "7", "8", "9", "10", "11", "12", "13", "x y");
    /* 14 middle and spaces: no 15th */
    PARSE_OK("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14   ", NULL, NULL, "CMD", false, "1", "2", "3",
             "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14");
    /* an empty trailing as the 15th */
    PARSE_OK("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 :", NULL, NULL, "CMD", true, "1", "2", "3", "4",
             "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "");
}

static void test_parse_empty(void **state)
{
    (void)state;
    PARSE_RES("", NT_IRC_EMPTY);
    PARSE_RES(" ", NT_IRC_EMPTY);
    PARSE_RES("       ", NT_IRC_EMPTY);
    /* tags alone */
    PARSE_RES("@a=b", NT_IRC_EMPTY);
    PARSE_RES("@+a=b   ", NT_IRC_EMPTY);
    PARSE_RES("  @", NT_IRC_EMPTY);
    PARSE_RES("@ ", NT_IRC_EMPTY);
    /* NULL with length 0 */
    struct nt_irc_msg m;
    memset(&m, 0xa5, sizeof(m));
    assert_int_equal(nt_irc_parse(NULL, 0, &m), NT_IRC_EMPTY);
    assert_zeroed(&m);
}

static void test_parse_cr_nul_are_ordinary_bytes(void **state)
{
    (void)state;
    /* PARSE_OK's strings stop at a NUL: check these by hand */
    static const char line[] = "PRIVMSG a\rb :x\r\0y\nz";
    size_t len = sizeof(line) - 1;
    char *buf = copy_of(line, len);
    struct nt_irc_msg m;
    assert_int_equal(nt_irc_parse(buf, len, &m), NT_IRC_OK);
    assert_int_equal(m.n_params, 2);
    span_is_n(m.params[0], "a\rb", 3, buf, len);
    span_is_n(m.params[1], "x\r\0y\nz", 6, buf, len);
    assert_true(m.has_trailing);
    free(buf);
}

static void test_parse_failure_zeroes_msg(void **state)
{
    (void)state;
    /* parse_res_n fills *msg with 0xa5 and checks every failure zeroes it */
    PARSE_RES("@a=1 :src 12", NT_IRC_NO_COMMAND);
    PARSE_RES("@a=1", NT_IRC_EMPTY);
    char *big = make_line("PRIVMSG #a :", 'x', "", NT_IRC_MAX_BODY + 1);
    parse_res_n(big, NT_IRC_MAX_BODY + 1, NT_IRC_BODY_TOO_LONG);
    free(big);
}

static void test_parse_every_prefix_stays_in_bounds(void **state)
{
    (void)state;
    /* each prefix in its own exact-size buffer: ASan catches a read past the end */
    static const char line[] =
        "  @+a=1;b=\\s;+c :src!u@h   PRIVMSG  #a,#b  x :\001ACTION \x02hi\x02\x01  ";
    for (size_t n = 0; n <= sizeof(line) - 1; n++) {
        char *buf = copy_of(line, n);
        struct nt_irc_msg m;
        enum nt_irc_parse r = nt_irc_parse(buf, n, &m);
        if (r == NT_IRC_OK) {
            assert_true(m.command.len > 0);
            assert_true(m.n_params <= NT_IRC_MAX_PARAMS);
            for (size_t i = 0; i < m.n_params; i++)
                assert_true(m.params[i].p >= buf && m.params[i].p + m.params[i].len <= buf + n);
        }
        free(buf);
    }
}

/* ---- nt_irc_parse: limits (PROTOCOL.md §8.3, §8.9) ---- */

static void test_parse_body_limit(void **state)
{
    (void)state;
    char *line = make_line("PRIVMSG #a :", 'x', "", NT_IRC_MAX_BODY);
    parse_res_n(line, NT_IRC_MAX_BODY, NT_IRC_OK);
    free(line);
    line = make_line("PRIVMSG #a :", 'x', "", NT_IRC_MAX_BODY + 1);
    parse_res_n(line, NT_IRC_MAX_BODY + 1, NT_IRC_BODY_TOO_LONG);
    free(line);
    /* trailing spaces are part of the body */
    line = make_line("PRIVMSG #a :", 'x', "  ", NT_IRC_MAX_BODY + 1);
    parse_res_n(line, NT_IRC_MAX_BODY + 1, NT_IRC_BODY_TOO_LONG);
    free(line);
    line = make_line("PING", ' ', "", NT_IRC_MAX_BODY + 1);
    parse_res_n(line, NT_IRC_MAX_BODY + 1, NT_IRC_BODY_TOO_LONG);
    free(line);
    /* leading spaces are not */
    line = make_line("   PRIVMSG #a :", 'x', "", NT_IRC_MAX_BODY + 3);
    parse_res_n(line, NT_IRC_MAX_BODY + 3, NT_IRC_OK);
    free(line);
    line = make_line("   PRIVMSG #a :", 'x', "", NT_IRC_MAX_BODY + 4);
    parse_res_n(line, NT_IRC_MAX_BODY + 4, NT_IRC_BODY_TOO_LONG);
    free(line);
    /* nor are the tags and the spaces after them */
    line = make_line("@a=b    PRIVMSG #a :", 'x', "", 8 + NT_IRC_MAX_BODY);
    parse_res_n(line, 8 + NT_IRC_MAX_BODY, NT_IRC_OK);
    free(line);
    line = make_line("@a=b    PRIVMSG #a :", 'x', "", 8 + NT_IRC_MAX_BODY + 1);
    parse_res_n(line, 8 + NT_IRC_MAX_BODY + 1, NT_IRC_BODY_TOO_LONG);
    free(line);
    /* the source is */
    line = make_line(":src PRIVMSG #a :", 'x', "", NT_IRC_MAX_BODY + 1);
    parse_res_n(line, NT_IRC_MAX_BODY + 1, NT_IRC_BODY_TOO_LONG);
    free(line);
}

/* "@" + tags of tags_len bytes ("a=xxx...") + " " + body: a line of its own length in *len. */
static char *tagged_line(const char *tag_prefix, size_t tags_len, const char *body, size_t *len)
{
    size_t b = strlen(body);
    *len = 1 + tags_len + (b ? 1 + b : 0);
    char *p = malloc(*len);
    assert_non_null(p);
    p[0] = '@';
    size_t a = strlen(tag_prefix);
    assert_true(a <= tags_len);
    memcpy(p + 1, tag_prefix, a);
    memset(p + 1 + a, 'x', tags_len - a);
    if (b) {
        p[1 + tags_len] = ' ';
        memcpy(p + 2 + tags_len, body, b);
    }
    return p;
}

static void test_parse_tags_limit(void **state)
{
    (void)state;
    size_t len;
    /* 8191 with the '@' and the space: 8189 bytes of tags */
    char *line = tagged_line("a=", NT_IRC_MAX_TAGS - 2, "PING x", &len);
    assert_int_equal(len, NT_IRC_MAX_TAGS + 6);
    parse_res_n(line, len, NT_IRC_OK);
    free(line);
    line = tagged_line("a=", NT_IRC_MAX_TAGS - 1, "PING x", &len);
    parse_res_n(line, len, NT_IRC_TAGS_TOO_LONG);
    free(line);
    /* tags alone: the space is counted though it is missing, and it comes before EMPTY */
    line = tagged_line("a=", NT_IRC_MAX_TAGS - 2, "", &len);
    parse_res_n(line, len, NT_IRC_EMPTY);
    free(line);
    line = tagged_line("a=", NT_IRC_MAX_TAGS - 1, "", &len);
    parse_res_n(line, len, NT_IRC_TAGS_TOO_LONG);
    free(line);
    /* the tag limit is checked before the body limit */
    char body[NT_IRC_MAX_BODY + 2];
    memset(body, 'x', sizeof(body) - 1);
    memcpy(body, "PRIVMSG #a :", 12);
    body[sizeof(body) - 1] = '\0';
    line = tagged_line("a=", NT_IRC_MAX_TAGS - 1, body, &len);
    parse_res_n(line, len, NT_IRC_TAGS_TOO_LONG);
    free(line);
    line = tagged_line("a=", NT_IRC_MAX_TAGS - 2, body, &len);
    parse_res_n(line, len, NT_IRC_BODY_TOO_LONG);
    free(line);
    /* the whole line at its longest is within the framer's cap */
    body[NT_IRC_MAX_BODY] = '\0';
    line = tagged_line("a=", NT_IRC_MAX_TAGS - 2, body, &len);
    assert_true(len <= NT_IRC_MAX_LINE);
    parse_res_n(line, len, NT_IRC_OK);
    free(line);
}

static void test_parse_client_tags_limit(void **state)
{
    (void)state;
    size_t len;
    /* 4096 with the '@' and the space: 4094 bytes of client tags */
    char *line = tagged_line("+a=", NT_IRC_MAX_CLIENT_TAGS - 2, "TAGMSG #a", &len);
    parse_res_n(line, len, NT_IRC_OK);
    free(line);
    line = tagged_line("+a=", NT_IRC_MAX_CLIENT_TAGS - 1, "TAGMSG #a", &len);
    parse_res_n(line, len, NT_IRC_CLIENT_TAGS_TOO_LONG);
    free(line);
    /* server tags in front do not count against it, but the ';' between client tags does */
    char tags[NT_IRC_MAX_TAGS];
    size_t n = 0;
    n += (size_t)snprintf(tags + n, sizeof(tags) - n, "time=");
    memset(tags + n, 't', 3000);
    n += 3000;
    tags[n++] = ';';
    size_t first = n;
    tags[n++] = '+';
    tags[n++] = 'a';
    tags[n++] = '=';
    memset(tags + n, 'x', 2000);
    n += 2000;
    tags[n++] = ';';
    tags[n++] = 'b';
    tags[n++] = ';';
    tags[n++] = '+';
    tags[n++] = 'c';
    tags[n++] = '=';
    /* the client tags so far are everything from "+a" but "b;": fill them to exactly 4094 */
    size_t so_far = (n - first) - 2;
    size_t fill = (NT_IRC_MAX_CLIENT_TAGS - 2) - so_far;
    memset(tags + n, 'y', fill);
    n += fill;
    char *buf = malloc(1 + n + 10);
    assert_non_null(buf);
    buf[0] = '@';
    memcpy(buf + 1, tags, n);
    memcpy(buf + 1 + n, " TAGMSG #a", 10);
    parse_res_n(buf, 1 + n + 10, NT_IRC_OK);
    /* the client tags fit NT_IRC_MAX_CLIENT_TAGS - 2 */
    char *out = malloc(NT_IRC_MAX_CLIENT_TAGS - 2);
    assert_non_null(out);
    assert_int_equal(nt_irc_client_tags(buf + 1, n, out, NT_IRC_MAX_CLIENT_TAGS - 2),
                     NT_IRC_MAX_CLIENT_TAGS - 2);
    free(out);
    free(buf);
    /* one more byte in the last client tag */
    tags[n++] = 'y';
    buf = malloc(1 + n + 10);
    assert_non_null(buf);
    buf[0] = '@';
    memcpy(buf + 1, tags, n);
    memcpy(buf + 1 + n, " TAGMSG #a", 10);
    parse_res_n(buf, 1 + n + 10, NT_IRC_CLIENT_TAGS_TOO_LONG);
    free(buf);
    /* tags the relay drops (control bytes) still count as sent */
    line = tagged_line("+a=\x01", NT_IRC_MAX_CLIENT_TAGS - 1, "TAGMSG #a", &len);
    parse_res_n(line, len, NT_IRC_CLIENT_TAGS_TOO_LONG);
    free(line);
    /* and the client limit comes before the body limit */
    char body[NT_IRC_MAX_BODY + 2];
    memset(body, 'x', sizeof(body) - 1);
    memcpy(body, "PRIVMSG #a :", 12);
    body[sizeof(body) - 1] = '\0';
    line = tagged_line("+a=", NT_IRC_MAX_CLIENT_TAGS - 1, body, &len);
    parse_res_n(line, len, NT_IRC_CLIENT_TAGS_TOO_LONG);
    free(line);
}

/* ---- nt_irc_command_is ---- */

static bool command_is(const char *cmd, const char *name)
{
    size_t len = strlen(cmd);
    char *buf = copy_of(cmd, len);
    struct nt_irc_span span = {buf, len};
    bool r = nt_irc_command_is(span, name);
    free(buf);
    return r;
}

static void test_command_is(void **state)
{
    (void)state;
    assert_true(command_is("PRIVMSG", "PRIVMSG"));
    assert_true(command_is("privmsg", "PRIVMSG"));
    assert_true(command_is("PrIvMsG", "PRIVMSG"));
    assert_true(command_is("001", "001"));
    assert_false(command_is("PRIVMSGX", "PRIVMSG"));
    assert_false(command_is("PRIVMS", "PRIVMSG"));
    assert_false(command_is("NOTICE", "PRIVMSG"));
    assert_false(command_is("", "PRIVMSG"));
    assert_false(command_is("002", "001"));
    /* only ASCII letters fold: '[' is not '{', 0xE9 is not 0xC9 */
    assert_false(command_is("{", "["));
    assert_false(command_is("\xe9", "\xc9"));
    /* a span of length 0 may be NULL */
    struct nt_irc_span none = {NULL, 0};
    assert_false(nt_irc_command_is(none, "PING"));
    assert_true(nt_irc_command_is(none, ""));
}

static void test_command_is_on_parsed(void **state)
{
    (void)state;
    static const char line[] = ":x cap ls 302";
    char *buf = copy_of(line, sizeof(line) - 1);
    struct nt_irc_msg m;
    assert_int_equal(nt_irc_parse(buf, sizeof(line) - 1, &m), NT_IRC_OK);
    assert_true(nt_irc_command_is(m.command, "CAP"));
    assert_false(nt_irc_command_is(m.command, "CAPS"));
    free(buf);
}

/* ---- nt_irc_client_tags ---- */

/* client_tags(tags) with an exact-size output of cap bytes; checks the result against want. */
static void client_tags_is(const char *tags, size_t cap, const char *want)
{
    size_t len = strlen(tags);
    char *in = copy_of(tags, len);
    char *out = malloc(cap ? cap : 1);
    assert_non_null(out);
    memset(out, '#', cap);
    size_t got = nt_irc_client_tags(in, len, cap ? out : NULL, cap);
    if (want == NULL) {
        assert_int_equal(got, (size_t)-1);
        /* nothing was written */
        for (size_t i = 0; i < cap; i++)
            assert_int_equal(out[i], '#');
    } else {
        if (got != strlen(want) || memcmp(out, want, strlen(want)) != 0)
            print_error("client tags of \"%s\": \"%.*s\" (%zu), expected \"%s\"\n", tags,
                        (int)(got == (size_t)-1 ? 0 : got), out, got, want);
        assert_int_equal(got, strlen(want));
        assert_memory_equal(out, want, got);
        for (size_t i = got; i < cap; i++)
            assert_int_equal(out[i], '#');
    }
    free(out);
    free(in);
}

static void test_client_tags(void **state)
{
    (void)state;
    client_tags_is("+a=1;b=2;+c", 64, "+a=1;+c");
    client_tags_is("+draft/reply=abc;+typing=active", 64, "+draft/reply=abc;+typing=active");
    client_tags_is("time=2026-01-01T00:00:00.000Z;+example.com/x=y", 64, "+example.com/x=y");
    /* values stay escaped, as sent */
    client_tags_is("+x=a\\sb\\:c\\\\d", 64, "+x=a\\sb\\:c\\\\d");
    /* empty values and empty elements */
    client_tags_is("+a=;;+b;;", 64, "+a=;+b");
    client_tags_is(";;;", 64, "");
    /* UTF-8 in values is kept */
    client_tags_is("+emoji=\xf0\x9f\x99\x82", 64, "+emoji=\xf0\x9f\x99\x82");
}

static void test_client_tags_none(void **state)
{
    (void)state;
    client_tags_is("time=x;msgid=y;a", 64, "");
    client_tags_is("", 64, "");
    client_tags_is("", 0, "");
    client_tags_is("a=+b;x+=1", 0, "");
    assert_int_equal(nt_irc_client_tags(NULL, 0, NULL, 0), 0);
}

static void test_client_tags_cap(void **state)
{
    (void)state;
    client_tags_is("+a=1;+b=2", 9, "+a=1;+b=2");
    client_tags_is("+a=1;+b=2", 10, "+a=1;+b=2");
    client_tags_is("+a=1;+b=2", 8, NULL);
    client_tags_is("+a=1;+b=2", 4, NULL);
    client_tags_is("+a", 0, NULL);
    client_tags_is("+a", 2, "+a");
    client_tags_is("+a", 1, NULL);
    /* dropped tags take no room */
    client_tags_is("+a=1;+b=\x01;c=3", 4, "+a=1");
}

static void test_client_tags_control_bytes_dropped(void **state)
{
    (void)state;
    client_tags_is("+a=x\x01y;+b=ok", 64, "+b=ok");
    client_tags_is("+a\x7f=1;+b", 64, "+b");
    client_tags_is("+a\x1f;+b", 64, "+b");
    client_tags_is("+b;+a=\r", 64, "+b");
    client_tags_is("+b;+a=\n;+c", 64, "+b;+c");
    client_tags_is("+b;+a=\x1b[2J;+c", 64, "+b;+c");
    client_tags_is("+a=\t", 64, "");
    client_tags_is("+a=\x7f", 64, "");
    /* the escapes for CR and LF are control bytes too, once unescaped */
    client_tags_is("+a=x\\r;+b", 64, "+b");
    client_tags_is("+a=x\\ny;+b", 64, "+b");
    /* but an escaped backslash before r is not, nor are the other escapes, nor a lone '\' */
    client_tags_is("+a=x\\\\r;+b", 64, "+a=x\\\\r;+b");
    client_tags_is("+a=\\s\\:\\\\\\t;+b", 64, "+a=\\s\\:\\\\\\t;+b");
    client_tags_is("+a=x\\", 64, "+a=x\\");
    /* a key is not unescaped */
    client_tags_is("+a\\r=1", 64, "+a\\r=1");
    /* 0x80 and above are not control bytes here (the sanitizer of §5.3 is another matter) */
    client_tags_is("+a=\x80\xff", 64, "+a=\x80\xff");
}

/* The client tags of tags[0..len) (NUL bytes allowed) must be want. */
static void client_tags_is_n(const char *tags, size_t len, const char *want)
{
    char *in = copy_of(tags, len);
    char out[64];
    size_t got = nt_irc_client_tags(in, len, out, sizeof(out));
    assert_int_equal(got, strlen(want));
    assert_memory_equal(out, want, got);
    free(in);
}

static void test_client_tags_nul_dropped(void **state)
{
    (void)state;
    static const char nul[] = "+a=x\0y;+b";
    client_tags_is_n(nul, sizeof(nul) - 1, "+b");
}

static void test_client_tags_control_byte_after_backslash_dropped(void **state)
{
    (void)state;
    /* regression (fuzz_irc): the byte after a '\' in a value was skipped as escaped, unchecked */
    static const char nul[] = "+k;+b=x\\\0,+co=+k;;";
    client_tags_is_n(nul, sizeof(nul) - 1, "+k");
    client_tags_is("+a=\\\001;+b", 64, "+b");
    client_tags_is("+a=\\\177;+b", 64, "+b");
    client_tags_is("+a=\\\033[2J;+b", 64, "+b");
    client_tags_is("+a=\\t;+b=\\\037", 64, "+a=\\t");
}

/* ---- nt_irc_next_item ---- */

/* Splits list and checks the items against want (n strings); then the list is used up. */
static void items_are(const char *list, size_t n, const char *const *want)
{
    size_t len = strlen(list);
    char *buf = copy_of(list, len);
    struct nt_irc_span l = {buf, len};
    struct nt_irc_span item;
    for (size_t i = 0; i < n; i++) {
        assert_true(nt_irc_next_item(&l, &item));
        span_is(item, want[i], buf, len);
        assert_true(l.p >= buf && l.p + l.len == buf + len);
    }
    assert_false(nt_irc_next_item(&l, &item));
    assert_int_equal(l.len, 0);
    assert_null(item.p);
    assert_int_equal(item.len, 0);
    /* and stays used up */
    assert_false(nt_irc_next_item(&l, &item));
    free(buf);
}

#define ITEMS(list, ...)                                                                           \
    do {                                                                                           \
        static const char *const want_[] = {__VA_ARGS__};                                          \
        items_are((list), sizeof(want_) / sizeof(want_[0]), want_);                                \
    } while (0)

static void test_next_item(void **state)
{
    (void)state;
    ITEMS("#a,#b", "#a", "#b");
    ITEMS("#a", "#a");
    ITEMS("alice,bob,#lobby,carol", "alice", "bob", "#lobby", "carol");
    ITEMS(",,#a,,,#b,,", "#a", "#b");
    ITEMS("#a,", "#a");
    ITEMS(",#a", "#a");
    /* spaces are not separators */
    ITEMS("a b,c", "a b", "c");
    items_are("", 0, NULL);
    items_are(",", 0, NULL);
    items_are(",,,", 0, NULL);
    struct nt_irc_span none = {NULL, 0}, item;
    assert_false(nt_irc_next_item(&none, &item));
    assert_null(none.p);
}

/* ---- nt_irc_ctcp ---- */

/* CTCP of text[0..len): want_cmd NULL when it is not CTCP. */
static void ctcp_is_n(const char *text, size_t len, const char *want_cmd, const char *want_args)
{
    char *buf = copy_of(text, len);
    struct nt_irc_span cmd = {"untouched", 9}, args = {"untouched", 9};
    bool r = nt_irc_ctcp(buf, len, &cmd, &args);
    if (want_cmd == NULL) {
        assert_false(r);
        assert_int_equal(cmd.len, 9);
        assert_int_equal(args.len, 9);
    } else {
        assert_true(r);
        span_is(cmd, want_cmd, buf, len);
        span_is(args, want_args, buf, len);
    }
    free(buf);
}

#define CTCP(text, cmd, args) ctcp_is_n((text), sizeof(text) - 1, (cmd), (args))

static void test_ctcp(void **state)
{
    (void)state;
    CTCP("\001ACTION waves\x01", "ACTION", "waves");
    CTCP("\001ACTION waves at you\x01", "ACTION", "waves at you");
    /* the closing \x01 is optional */
    CTCP("\001ACTION waves", "ACTION", "waves");
    CTCP("\001ACTION\x01", "ACTION", "");
    CTCP("\001ACTION", "ACTION", "");
    CTCP("\001ACTION \x01", "ACTION", "");
    CTCP("\001ACTION ", "ACTION", "");
    /* one space separates; more are part of the arguments */
    CTCP("\001ACTION  two\x01", "ACTION", " two");
    CTCP("\001VERSION\x01", "VERSION", "");
    CTCP("\001PING 1712345678\x01", "PING", "1712345678");
    CTCP("\001action waves\x01", "action", "waves");
    /* the message ends at the next \x01 */
    CTCP("\001ACTION a\001b", "ACTION", "a");
    CTCP("\001ACTION\001 b", "ACTION", "");
    CTCP("\001ACTION a\x01\x01", "ACTION", "a");
}

static void test_ctcp_not(void **state)
{
    (void)state;
    CTCP("", NULL, NULL);
    CTCP("hello", NULL, NULL);
    CTCP("x\001ACTION waves\x01", NULL, NULL);
    CTCP(" \001ACTION waves\x01", NULL, NULL);
    /* an empty command */
    CTCP("\x01", NULL, NULL);
    CTCP("\x01\x01", NULL, NULL);
    CTCP("\x01 waves\x01", NULL, NULL);
    CTCP("\x01 ", NULL, NULL);
    struct nt_irc_span cmd, args;
    assert_false(nt_irc_ctcp(NULL, 0, &cmd, &args));
}

/* ---- nt_irc_strip_formatting (PROTOCOL.md §8.5) ---- */

/* Strips text[0..len) into an exact-size buffer and in place; both must give want. */
static void strip_is_n(const char *text, size_t len, const char *want)
{
    char *in = copy_of(text, len);
    char *out = malloc(len ? len : 1);
    assert_non_null(out);
    size_t n = nt_irc_strip_formatting(in, len, out);
    if (n != strlen(want) || memcmp(out, want, n) != 0)
        print_error("strip(%zu bytes): \"%.*s\" (%zu), expected \"%s\"\n", len, (int)n, out, n,
                    want);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    /* in place */
    n = nt_irc_strip_formatting(in, len, in);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(in, want, n);
    free(out);
    free(in);
}

#define STRIP(text, want) strip_is_n((text), sizeof(text) - 1, (want))

static void test_strip_plain(void **state)
{
    (void)state;
    STRIP("", "");
    STRIP("hello, world 12,34", "hello, world 12,34");
    /* other control bytes are the sanitizer's (§5.3), not this function's */
    STRIP("\001ACTION\x01\x07\x1b[1m\t", "\001ACTION\x01\x07\x1b[1m\t");
    STRIP("caf\xc3\xa9", "caf\xc3\xa9");
}

static void test_strip_toggles(void **state)
{
    (void)state;
    STRIP("\002bold\x02", "bold");
    STRIP("\035italic\x1d", "italic");
    STRIP("\037under\x1f", "under");
    STRIP("\036strike\x1e", "strike");
    STRIP("\021mono\x11", "mono");
    STRIP("\026rev\x16", "rev");
    STRIP("a\017b", "ab");
    STRIP("\x02\x1d\x1f\x1e\x11\x16\x0f", "");
    /* the digits after a toggle stay */
    STRIP("\00212", "12");
}

static void test_strip_colour(void **state)
{
    (void)state;
    STRIP("\0034red", "red");
    STRIP("\00304red", "red");
    STRIP("\00312,05x", "x");
    STRIP("\0031,2x", "x");
    STRIP("\0031,02x", "x");
    STRIP("\00399,99text", "text");
    /* at most two digits each */
    STRIP("\003123", "3");
    STRIP("\00312,345", "5");
    /* a comma without a digit after it stays */
    STRIP("\0031,x", ",x");
    STRIP("\00312,", ",");
    STRIP("\00312, 5", ", 5");
    /* no background without a foreground */
    STRIP("\003,5", ",5");
    STRIP("\003,05x", ",05x");
    /* \x03 alone resets the colours */
    STRIP("\x03", "");
    STRIP("a\003b", "ab");
    STRIP("\x03\00312x", "x");
    STRIP("\0031\0032x", "x");
    STRIP("\0034,\0035x", ",x");
    /* at the end of the text */
    STRIP("x\x03", "x");
    STRIP("x\0031", "x");
    STRIP("x\00312", "x");
    STRIP("x\0031,", "x,");
    STRIP("x\0031,2", "x");
    STRIP("x\00312,34", "x");
}

static void test_strip_hex_colour(void **state)
{
    (void)state;
    STRIP("\004FF00AAx", "x");
    STRIP("\004ff00aa,00FF00x", "x");
    STRIP("\004ff00aa,00FF00", "");
    /* exactly six each */
    STRIP("\004FF00AAB", "B");
    STRIP("\004FF00AA,00FF001", "1");
    /* fewer than six: \x04 alone */
    STRIP("\004FF00A", "FF00A");
    STRIP("\004FF00AG", "FF00AG");
    STRIP("\x04", "");
    STRIP("\004x", "x");
    /* a background of fewer than six stays, comma and all */
    STRIP("\004FF00AA,12345", ",12345");
    STRIP("\004FF00AA,", ",");
    STRIP("\004FF00AA,GGGGGG", ",GGGGGG");
    /* no background without a foreground */
    STRIP("\004,FF00AA", ",FF00AA");
    STRIP("a\004123456b\004c", "abc");
}

static void test_strip_mixed(void **state)
{
    (void)state;
    STRIP("\x02\00304,01Alert\x0f: \035see\x1d \00400FF00link\x04", "Alert: see link");
    STRIP("\00312\00234", "34");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_simple),
        cmocka_unit_test(test_parse_realistic_client_lines),
        cmocka_unit_test(test_parse_leading_and_trailing_spaces),
        cmocka_unit_test(test_parse_multiple_spaces),
        cmocka_unit_test(test_parse_source),
        cmocka_unit_test(test_parse_tags),
        cmocka_unit_test(test_parse_numeric_commands),
        cmocka_unit_test(test_parse_bad_commands),
        cmocka_unit_test(test_parse_lower_case_command_kept_as_sent),
        cmocka_unit_test(test_parse_trailing),
        cmocka_unit_test(test_parse_empty_trailing_points_inside),
        cmocka_unit_test(test_parse_fifteen_params),
        cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_parse_cr_nul_are_ordinary_bytes),
        cmocka_unit_test(test_parse_failure_zeroes_msg),
        cmocka_unit_test(test_parse_every_prefix_stays_in_bounds),
        cmocka_unit_test(test_parse_body_limit),
        cmocka_unit_test(test_parse_tags_limit),
        cmocka_unit_test(test_parse_client_tags_limit),
        cmocka_unit_test(test_command_is),
        cmocka_unit_test(test_command_is_on_parsed),
        cmocka_unit_test(test_client_tags),
        cmocka_unit_test(test_client_tags_none),
        cmocka_unit_test(test_client_tags_cap),
        cmocka_unit_test(test_client_tags_control_bytes_dropped),
        cmocka_unit_test(test_client_tags_nul_dropped),
        cmocka_unit_test(test_client_tags_control_byte_after_backslash_dropped),
        cmocka_unit_test(test_next_item),
        cmocka_unit_test(test_ctcp),
        cmocka_unit_test(test_ctcp_not),
        cmocka_unit_test(test_strip_plain),
        cmocka_unit_test(test_strip_toggles),
        cmocka_unit_test(test_strip_colour),
        cmocka_unit_test(test_strip_hex_colour),
        cmocka_unit_test(test_strip_mixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
