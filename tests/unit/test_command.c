/* SPDX-License-Identifier: MIT */
/* test_command.c - unit tests for command.c: parser, splitter, table (PROTOCOL.md §7). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/command.h"

/*
 * The token bucket (PROTOCOL.md §7.9) is not tested here: it lives in conn.c, on the libuv loop
 * and its clock, so it is tested black-box in tests/integration/test_flood.py.
 */

/* An exactly sized heap copy of s, so ASan sees any read past its end; free with free(). */
static char *copy_of(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    if (len)
        memcpy(p, s, len);
    return p;
}

/* Asserts that [p, p + len) equals the C string want and lies inside [base, base + base_len). */
static void span_is(const char *p, size_t len, const char *want, const char *base, size_t base_len)
{
    if (len != strlen(want) || (len > 0 && memcmp(p, want, len) != 0))
        print_error("got \"%.*s\" (%zu bytes), expected \"%s\"\n", (int)len, p ? p : "", len, want);
    assert_int_equal(len, strlen(want));
    if (len > 0)
        assert_memory_equal(p, want, len);
    if (len > 0 || p != NULL) {
        assert_true(p >= base);
        assert_true(p + len <= base + base_len);
    }
}

/* Parses line and checks the id, the command word (NULL: not checked) and the argument. */
static void parse_is(const char *line, enum nt_command_id id, const char *name, const char *arg)
{
    size_t len = strlen(line);
    char *buf = copy_of(line, len);
    struct nt_command cmd;
    memset(&cmd, 0xa5, sizeof(cmd));
    nt_command_parse(buf, len, &cmd);
    if (cmd.id != id)
        print_error("nt_command_parse(\"%s\"): id %d, expected %d\n", line, (int)cmd.id, (int)id);
    assert_int_equal(cmd.id, id);
    if (name != NULL)
        span_is(cmd.name, cmd.name_len, name, buf, len);
    span_is(cmd.arg, cmd.arg_len, arg, buf, len);
    free(buf);
}

/* -- chat text */

static void test_parse_plain_text(void **state)
{
    (void)state;
    parse_is("hello", NT_CMD_NONE, NULL, "hello");
    parse_is("hello /help", NT_CMD_NONE, NULL, "hello /help");
    parse_is("x/help", NT_CMD_NONE, NULL, "x/help");
    parse_is("*/help", NT_CMD_NONE, NULL, "*/help");
    parse_is("\\/help", NT_CMD_NONE, NULL, "\\/help");
    parse_is("a", NT_CMD_NONE, NULL, "a");
}

static void test_parse_empty_line(void **state)
{
    (void)state;
    struct nt_command cmd;
    char one = 'x';
    nt_command_parse(&one, 0, &cmd);
    assert_int_equal(cmd.id, NT_CMD_NONE);
    assert_int_equal(cmd.arg_len, 0);
}

static void test_parse_double_slash_escape(void **state)
{
    (void)state;
    /* PROTOCOL.md §3.2, §7: "//text" sends the chat line "/text". */
    parse_is("//text", NT_CMD_NONE, NULL, "/text");
    parse_is("//", NT_CMD_NONE, NULL, "/");
    parse_is("///", NT_CMD_NONE, NULL, "//");
    parse_is("//help", NT_CMD_NONE, NULL, "/help");
    parse_is("//quit now", NT_CMD_NONE, NULL, "/quit now");
    parse_is("// spaced", NT_CMD_NONE, NULL, "/ spaced");
    parse_is("//  two  spaces", NT_CMD_NONE, NULL, "/  two  spaces");
}

/* -- commands */

static void test_parse_every_command(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        enum nt_command_id id;
    } cases[] = {
        {"/help", NT_CMD_HELP},   {"/who", NT_CMD_WHO},   {"/nick", NT_CMD_NICK},
        {"/me", NT_CMD_ME},       {"/msg", NT_CMD_MSG},   {"/join", NT_CMD_JOIN},
        {"/rooms", NT_CMD_ROOMS}, {"/quit", NT_CMD_QUIT}, {"/oper", NT_CMD_OPER},
        {"/kick", NT_CMD_KICK},   {"/ban", NT_CMD_BAN},   {"/unban", NT_CMD_UNBAN},
        {"/bans", NT_CMD_BANS},   {"/wall", NT_CMD_WALL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        parse_is(cases[i].line, cases[i].id, cases[i].line + 1, "");
}

static void test_parse_is_case_insensitive(void **state)
{
    (void)state;
    /* The word is matched case-insensitively; name keeps the spelling as typed. */
    parse_is("/HELP", NT_CMD_HELP, "HELP", "");
    parse_is("/Help", NT_CMD_HELP, "Help", "");
    parse_is("/hElP", NT_CMD_HELP, "hElP", "");
    parse_is("/WHO *", NT_CMD_WHO, "WHO", "*");
    parse_is("/Nick Bob", NT_CMD_NICK, "Nick", "Bob");
    parse_is("/MSG Bob hi", NT_CMD_MSG, "MSG", "Bob hi");
    parse_is("/JoIn den", NT_CMD_JOIN, "JoIn", "den");
    parse_is("/ROOMS", NT_CMD_ROOMS, "ROOMS", "");
    parse_is("/QUIT bye", NT_CMD_QUIT, "QUIT", "bye");
    parse_is("/OPER pw", NT_CMD_OPER, "OPER", "pw");
    parse_is("/KICK Bob", NT_CMD_KICK, "KICK", "Bob");
    parse_is("/BAN Bob", NT_CMD_BAN, "BAN", "Bob");
    parse_is("/UNBAN 1.2.3.4", NT_CMD_UNBAN, "UNBAN", "1.2.3.4");
    parse_is("/BANS", NT_CMD_BANS, "BANS", "");
    parse_is("/WALL hi", NT_CMD_WALL, "WALL", "hi");
    parse_is("/ME waves", NT_CMD_ME, "ME", "waves");
}

static void test_parse_arguments(void **state)
{
    (void)state;
    parse_is("/msg Bob hi there", NT_CMD_MSG, "msg", "Bob hi there");
    parse_is("/who *", NT_CMD_WHO, "who", "*");
    parse_is("/me waves at you", NT_CMD_ME, "me", "waves at you");
    parse_is("/quit gotta go", NT_CMD_QUIT, "quit", "gotta go");
    parse_is("/kick Bob spamming the room", NT_CMD_KICK, "kick", "Bob spamming the room");
    parse_is("/wall a  b   c", NT_CMD_WALL, "wall", "a  b   c");
}

static void test_parse_trims_arguments(void **state)
{
    (void)state;
    /* Spaces between the word and the argument go; inner spaces stay. */
    parse_is("/msg    Bob   hi", NT_CMD_MSG, "msg", "Bob   hi");
    parse_is("/nick   Alicia", NT_CMD_NICK, "nick", "Alicia");
    parse_is("/me \t waves", NT_CMD_ME, "me", "waves");
    /* The line is trimmed by the caller; trailing blanks are still not part of the argument. */
    parse_is("/me waves   ", NT_CMD_ME, "me", "waves");
    parse_is("/quit   ", NT_CMD_QUIT, "quit", "");
    parse_is("/who    *   ", NT_CMD_WHO, "who", "*");
}

static void test_parse_unknown(void **state)
{
    (void)state;
    parse_is("/frobnicate", NT_CMD_UNKNOWN, "frobnicate", "");
    parse_is("/frobnicate with args", NT_CMD_UNKNOWN, "frobnicate", "with args");
    parse_is("/FROB", NT_CMD_UNKNOWN, "FROB", "");
    /* No prefix or extension matches. */
    parse_is("/hel", NT_CMD_UNKNOWN, "hel", "");
    parse_is("/helpme", NT_CMD_UNKNOWN, "helpme", "");
    parse_is("/whois Bob", NT_CMD_UNKNOWN, "whois", "Bob");
    parse_is("/ban2 Bob", NT_CMD_UNKNOWN, "ban2", "Bob");
    parse_is("/bansx", NT_CMD_UNKNOWN, "bansx", "");
    parse_is("/m", NT_CMD_UNKNOWN, "m", "");
    /* Non-ASCII words: only ASCII letters fold. */
    parse_is("/\xc3\xa9", NT_CMD_UNKNOWN, "\xc3\xa9", "");
    parse_is("/h\xc3\x89lp", NT_CMD_UNKNOWN, "h\xc3\x89lp", "");
}

static void test_parse_slash_alone_and_slash_space(void **state)
{
    (void)state;
    /* "/" alone and "/ text" have an empty command word: an unknown command (§7.1). */
    parse_is("/", NT_CMD_UNKNOWN, "", "");
    parse_is("/ text", NT_CMD_UNKNOWN, "", "text");
    parse_is("/   text  more", NT_CMD_UNKNOWN, "", "text  more");
    parse_is("/ help", NT_CMD_UNKNOWN, "", "help");
    parse_is("/  ", NT_CMD_UNKNOWN, "", "");
}

static void test_parse_word_ends_at_a_space_only(void **state)
{
    (void)state;
    /* The word is everything up to the first space. */
    parse_is("/help*", NT_CMD_UNKNOWN, "help*", "");
    parse_is("/who*", NT_CMD_UNKNOWN, "who*", "");
    parse_is("/me,waves", NT_CMD_UNKNOWN, "me,waves", "");
}

static void test_parse_exact_lengths(void **state)
{
    (void)state;
    /* The parser reads only line[0..len): a longer buffer's tail must not matter. */
    const char *buf = "/help me";
    struct nt_command cmd;
    nt_command_parse(buf, 5, &cmd);
    assert_int_equal(cmd.id, NT_CMD_HELP);
    assert_int_equal(cmd.arg_len, 0);
    nt_command_parse(buf, 3, &cmd);
    assert_int_equal(cmd.id, NT_CMD_UNKNOWN);
    assert_int_equal(cmd.name_len, 2);
    assert_memory_equal(cmd.name, "he", 2);
    nt_command_parse(buf, 1, &cmd);
    assert_int_equal(cmd.id, NT_CMD_UNKNOWN);
    assert_int_equal(cmd.name_len, 0);
    const char *esc = "//x";
    nt_command_parse(esc, 2, &cmd);
    assert_int_equal(cmd.id, NT_CMD_NONE);
    assert_int_equal(cmd.arg_len, 1);
    assert_memory_equal(cmd.arg, "/", 1);
}

static void test_parse_long_line(void **state)
{
    (void)state;
    size_t n = 10000;
    char *line = malloc(n);
    assert_non_null(line);
    memcpy(line, "/msg Bob ", 9);
    memset(line + 9, 'x', n - 9);
    struct nt_command cmd;
    nt_command_parse(line, n, &cmd);
    assert_int_equal(cmd.id, NT_CMD_MSG);
    assert_ptr_equal(cmd.arg, line + 5);
    assert_int_equal(cmd.arg_len, n - 5);
    free(line);
}

/* -- nt_command_split */

static void split_is(const char *s, bool ok, const char *word, const char *rest)
{
    size_t len = strlen(s);
    char *buf = copy_of(s, len);
    const char *w = NULL, *r = NULL;
    size_t wl = 12345, rl = 12345;
    bool got = nt_command_split(buf, len, &w, &wl, &r, &rl);
    if (got != ok)
        print_error("nt_command_split(\"%s\") = %d, expected %d\n", s, got, ok);
    assert_int_equal(got, ok);
    if (ok) {
        span_is(w, wl, word, buf, len);
        span_is(r, rl, rest, buf, len);
    }
    free(buf);
}

static void test_split(void **state)
{
    (void)state;
    split_is("Bob hi there", true, "Bob", "hi there");
    split_is("Bob", true, "Bob", "");
    split_is("Bob ", true, "Bob", "");
    split_is("  Bob   hi  ", true, "Bob", "hi");
    split_is("Bob   hi   there  ", true, "Bob", "hi   there");
    split_is("a b", true, "a", "b");
    split_is("\xce\xa3\xce\xbf\xcf\x86\xce\xaf\xce\xb1 \xce\xb3\xce\xb5\xce\xb9\xce\xb1", true,
             "\xce\xa3\xce\xbf\xcf\x86\xce\xaf\xce\xb1", "\xce\xb3\xce\xb5\xce\xb9\xce\xb1");
    split_is("127.0.0.1", true, "127.0.0.1", "");
}

static void test_split_empty(void **state)
{
    (void)state;
    split_is("", false, NULL, NULL);
    split_is(" ", false, NULL, NULL);
    split_is("    ", false, NULL, NULL);
    split_is(" \t ", false, NULL, NULL);
}

/* -- the table */

/* PROTOCOL.md §7.2, in /help order. */
static const struct {
    enum nt_command_id id;
    const char *name, *usage, *help;
    bool is_oper;
} spec[] = {
    {NT_CMD_HELP, "help", "/help", "list the commands", false},
    {NT_CMD_WHO, "who", "/who [*]", "who is in your room; with *, everyone, by room", false},
    {NT_CMD_NICK, "nick", "/nick NEW", "change your name", false},
    {NT_CMD_ME, "me", "/me ACTION", "tell your room what you do: * NAME ACTION", false},
    {NT_CMD_MSG, "msg", "/msg NAME TEXT", "a private message to NAME, in any room", false},
    {NT_CMD_JOIN, "join", "/join ROOM", "move to ROOM (created if new); everyone starts in lobby",
     false},
    {NT_CMD_ROOMS, "rooms", "/rooms", "every room and how many are in it", false},
    {NT_CMD_TOPIC, "topic", "/topic [TEXT]",
     "show your room's topic, or set it (anyone in the room may)", false},
    {NT_CMD_QUIT, "quit", "/quit [REASON]", "leave the chat", false},
    {NT_CMD_OPER, "oper", "/oper PASSWORD", "become an operator", false},
    {NT_CMD_KICK, "kick", "/kick NAME [REASON]", "disconnect NAME (operators)", true},
    {NT_CMD_BAN, "ban", "/ban NAME", "kick NAME and refuse their address until restart (operators)",
     true},
    {NT_CMD_UNBAN, "unban", "/unban ADDRESS", "lift a ban (operators)", true},
    {NT_CMD_BANS, "bans", "/bans", "list the banned addresses (operators)", true},
    {NT_CMD_WALL, "wall", "/wall TEXT", "a notice to everyone on the server (operators)", true},
};

static void test_table_matches_protocol(void **state)
{
    (void)state;
    size_t n = 0;
    const struct nt_command_info *t = nt_command_table(&n);
    assert_non_null(t);
    assert_int_equal(n, sizeof(spec) / sizeof(spec[0]));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(t[i].id, spec[i].id);
        assert_string_equal(t[i].name, spec[i].name);
        assert_string_equal(t[i].usage, spec[i].usage);
        assert_string_equal(t[i].help, spec[i].help);
        assert_int_equal(t[i].is_oper, spec[i].is_oper);
    }
}

static void test_table_usage_starts_with_the_name(void **state)
{
    (void)state;
    size_t n = 0;
    const struct nt_command_info *t = nt_command_table(&n);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(t[i].name);
        assert_int_equal(t[i].usage[0], '/');
        assert_memory_equal(t[i].usage + 1, t[i].name, nl);
        assert_true(t[i].usage[1 + nl] == '\0' || t[i].usage[1 + nl] == ' ');
        /* The parser finds each entry by its own name. */
        char line[32];
        snprintf(line, sizeof(line), "/%s", t[i].name);
        parse_is(line, t[i].id, t[i].name, "");
    }
}

static void test_info_finds_each_entry(void **state)
{
    (void)state;
    size_t n = 0;
    const struct nt_command_info *t = nt_command_table(&n);
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(nt_command_info(t[i].id), &t[i]);
    for (int id = NT_CMD_HELP; id <= NT_CMD_WALL; id++) {
        const struct nt_command_info *info = nt_command_info((enum nt_command_id)id);
        assert_non_null(info);
        assert_int_equal(info->id, id);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_plain_text),
        cmocka_unit_test(test_parse_empty_line),
        cmocka_unit_test(test_parse_double_slash_escape),
        cmocka_unit_test(test_parse_every_command),
        cmocka_unit_test(test_parse_is_case_insensitive),
        cmocka_unit_test(test_parse_arguments),
        cmocka_unit_test(test_parse_trims_arguments),
        cmocka_unit_test(test_parse_unknown),
        cmocka_unit_test(test_parse_slash_alone_and_slash_space),
        cmocka_unit_test(test_parse_word_ends_at_a_space_only),
        cmocka_unit_test(test_parse_exact_lengths),
        cmocka_unit_test(test_parse_long_line),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_split_empty),
        cmocka_unit_test(test_table_matches_protocol),
        cmocka_unit_test(test_table_usage_starts_with_the_name),
        cmocka_unit_test(test_info_finds_each_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
