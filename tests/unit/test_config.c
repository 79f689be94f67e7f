/* SPDX-License-Identifier: MIT */
/* test_config.c - unit tests for config.c: defaults, flags, ranges, every error reported. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"

/* The result of one nt_config_parse() call; freed by teardown() even when an assertion fails. */
struct run {
    struct nt_config c;
    int rc;
    char *err; /* owned: everything written to err, NUL-terminated */
    size_t err_len;
    size_t lines; /* lines in err */
};

static struct run *cur;

static int teardown(void **state)
{
    (void)state;
    if (cur != NULL) {
        free(cur->err);
        free(cur);
        cur = NULL;
    }
    return 0;
}

/* Parses "natter" followed by args (NULL-terminated); the result stays in cur. */
static struct run *parse_args(const char *const *args)
{
    teardown(NULL);
    cur = calloc(1, sizeof(*cur));
    assert_non_null(cur);
    int argc = 1;
    while (args[argc - 1] != NULL)
        argc++;
    /* argv strings are mutable copies, as the real argv */
    char **argv = calloc((size_t)argc + 1, sizeof(*argv));
    assert_non_null(argv);
    argv[0] = strdup("natter");
    for (int i = 1; i < argc; i++)
        argv[i] = strdup(args[i - 1]);
    FILE *err = open_memstream(&cur->err, &cur->err_len);
    assert_non_null(err);
    nt_config_defaults(&cur->c);
    cur->rc = nt_config_parse(&cur->c, argc, argv, err);
    fclose(err);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    for (size_t i = 0; i < cur->err_len; i++)
        if (cur->err[i] == '\n')
            cur->lines++;
    return cur;
}

#define PARSE(...) parse_args((const char *const[]){__VA_ARGS__, NULL})

static struct run *parse_ok_args(const char *const *args)
{
    struct run *r = parse_args(args);
    if (r->rc != 0 || r->err_len != 0)
        print_error("parse failed (%d): %s\n", r->rc, r->err);
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->err_len, 0);
    return r;
}

#define PARSE_OK(...) parse_ok_args((const char *const[]){__VA_ARGS__, NULL})

/* Expects exactly one error line, starting with "natter: " and containing each of the words. */
static void expect_error_args(const char *const *args, const char *const *words)
{
    struct run *r = parse_args(args);
    if (r->rc != -1 || r->lines != 1) {
        print_error("for:");
        for (size_t i = 0; args[i] != NULL; i++)
            print_error(" '%s'", args[i]);
        print_error("\n  rc %d, %zu error lines:\n%s\n", r->rc, r->lines, r->err ? r->err : "");
    }
    assert_int_equal(r->rc, -1);
    assert_int_equal(r->lines, 1);
    assert_int_equal(strncmp(r->err, "natter: ", 8), 0);
    assert_int_equal(r->err[r->err_len - 1], '\n');
    for (size_t i = 0; words[i] != NULL; i++) {
        if (strstr(r->err, words[i]) == NULL)
            print_error("error line \"%s\" does not mention \"%s\"\n", r->err, words[i]);
        assert_non_null(strstr(r->err, words[i]));
    }
}

/* EXPECT_ERROR((args...), (words...)): the parenthesised lists are NULL-terminated for you. */
#define UNPAREN(...) __VA_ARGS__
#define EXPECT_ERROR(args, words)                                                                  \
    expect_error_args((const char *const[]){UNPAREN args, NULL},                                   \
                      (const char *const[]){UNPAREN words, NULL})

/* ---- defaults ---- */

static void test_defaults_after_empty_parse(void **state)
{
    (void)state;
    /* the default address applies when no --listen is given (OPERATIONS.md) */
    struct run *r = parse_args((const char *const[]){NULL});
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->err_len, 0);
    const struct nt_config c = r->c;
    assert_int_equal(c.n_listen, 2); /* the line chat and the IRC door beside it */
    assert_string_equal(c.listen[0].host, "127.0.0.1");
    assert_int_equal(c.listen[0].port, 8888);
    assert_int_equal(c.listen[0].scheme, NT_SCHEME_TCP);
    assert_false(c.listen[0].is_ipv6);
    assert_string_equal(c.listen[1].host, "127.0.0.1");
    assert_int_equal(c.listen[1].port, 6667);
    assert_int_equal(c.listen[1].scheme, NT_SCHEME_IRC);
    assert_false(c.echo);
    assert_int_equal(c.idle_timeout_ms, 300000);
    assert_int_equal(c.name_timeout_ms, 60000);
    assert_int_equal(c.max_clients, 0);
    assert_int_equal(c.max_line, 4096);
    assert_int_equal(c.max_output, 8388608);
    assert_int_equal(c.max_output_total, 268435456);
    assert_int_equal(c.stall_timeout_ms, 5000);
    assert_int_equal(c.sndbuf, 0);
    assert_int_equal(c.log_level, NT_LOG_INFO);
    assert_false(c.log_messages);
    assert_false(c.show_help);
    assert_false(c.show_version);
}

static void test_default_listen_in_echo_mode_is_the_line_port_alone(void **state)
{
    (void)state;
    struct run *r = parse_args((const char *const[]){"--echo", NULL});
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->c.n_listen, 1);
    assert_int_equal(r->c.listen[0].port, 8888);
    assert_int_equal(r->c.listen[0].scheme, NT_SCHEME_TCP);
}

static void test_irc_schemes(void **state)
{
    (void)state;
    struct run *r = parse_args((const char *const[]){"--listen", "irc://127.0.0.1:6667", NULL});
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->c.n_listen, 1);
    assert_int_equal(r->c.listen[0].scheme, NT_SCHEME_IRC);
    struct nt_listen_addr la;
    const char *why = NULL;
    assert_int_equal(nt_config_parse_listen("ircs://[::1]:6697", &la, &why), 0);
    assert_int_equal(la.scheme, NT_SCHEME_IRCS);
    assert_true(la.is_ipv6);
    assert_int_equal(la.port, 6697);
    assert_int_equal(nt_config_parse_listen("irc6://127.0.0.1:1", &la, &why), -1);
    assert_string_equal(why, "unknown scheme (tcp://, tls://, irc:// or ircs://)");
    assert_string_equal(nt_config_scheme_name(NT_SCHEME_IRC), "irc");
    assert_string_equal(nt_config_scheme_name(NT_SCHEME_IRCS), "ircs");
}

static void test_defaults_fields(void **state)
{
    (void)state;
    struct nt_config c;
    memset(&c, 0xa5, sizeof(c)); /* defaults set every field, whatever was there */
    nt_config_defaults(&c);
    assert_false(c.echo);
    assert_int_equal(c.idle_timeout_ms, 300000);
    assert_int_equal(c.name_timeout_ms, 60000);
    assert_int_equal(c.max_clients, 0);
    assert_int_equal(c.max_line, 4096);
    assert_int_equal(c.max_output, 8388608);
    assert_int_equal(c.sndbuf, 0);
    assert_int_equal(c.log_level, NT_LOG_INFO);
    assert_false(c.log_messages);
    assert_false(c.show_help);
    assert_false(c.show_version);
    assert_true(c.n_listen <= 1);
    if (c.n_listen == 1) {
        assert_string_equal(c.listen[0].host, "127.0.0.1");
        assert_int_equal(c.listen[0].port, 8888);
    }
}

/* ---- each flag ---- */

static void test_listen_long_and_short(void **state)
{
    (void)state;
    struct run *r = PARSE_OK("--listen", "0.0.0.0:9000");
    assert_int_equal(r->c.n_listen, 1); /* replaces the default */
    assert_string_equal(r->c.listen[0].host, "0.0.0.0");
    assert_int_equal(r->c.listen[0].port, 9000);
    assert_false(r->c.listen[0].is_ipv6);

    r = PARSE_OK("-l", "127.0.0.1:0");
    assert_int_equal(r->c.n_listen, 1);
    assert_string_equal(r->c.listen[0].host, "127.0.0.1");
    assert_int_equal(r->c.listen[0].port, 0);
}

static void test_listen_ipv6(void **state)
{
    (void)state;
    struct run *r = PARSE_OK("--listen", "[::1]:0");
    assert_int_equal(r->c.n_listen, 1);
    assert_string_equal(r->c.listen[0].host, "::1");
    assert_int_equal(r->c.listen[0].port, 0);
    assert_true(r->c.listen[0].is_ipv6);
}

static void test_listen_repeated(void **state)
{
    (void)state;
    struct run *r =
        PARSE_OK("--listen", "127.0.0.1:1000", "-l", "[::1]:2000", "--listen", "10.0.0.1:3000");
    assert_int_equal(r->c.n_listen, 3);
    assert_string_equal(r->c.listen[0].host, "127.0.0.1");
    assert_int_equal(r->c.listen[0].port, 1000);
    assert_string_equal(r->c.listen[1].host, "::1");
    assert_int_equal(r->c.listen[1].port, 2000);
    assert_true(r->c.listen[1].is_ipv6);
    assert_string_equal(r->c.listen[2].host, "10.0.0.1");
    assert_int_equal(r->c.listen[2].port, 3000);
}

static void test_listen_at_most_16(void **state)
{
    (void)state;
    const char *args[2 * 17 + 1];
    char addrs[17][32];
    for (int i = 0; i < 17; i++) {
        snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.%d:%d", i + 1, 1000 + i);
        args[2 * i] = "--listen";
        args[2 * i + 1] = addrs[i];
    }
    args[2 * 16] = NULL;
    struct run *r = parse_args(args);
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->c.n_listen, 16);
    assert_string_equal(r->c.listen[15].host, "127.0.0.16");
    assert_int_equal(r->c.listen[15].port, 1015);
    args[2 * 17 - 2] = "--listen"; /* a 17th */
    args[2 * 17] = NULL;
    r = parse_args(args);
    assert_int_equal(r->rc, -1);
    assert_int_equal(r->lines, 1);
    assert_non_null(strstr(r->err, "--listen"));
    assert_non_null(strstr(r->err, "16"));
}

static void test_echo(void **state)
{
    (void)state;
    assert_true(PARSE_OK("--echo")->c.echo);
}

static void test_log_messages(void **state)
{
    (void)state;
    assert_true(PARSE_OK("--log-messages")->c.log_messages);
}

static void test_help_and_version(void **state)
{
    (void)state;
    assert_true(PARSE_OK("--help")->c.show_help);
    assert_true(PARSE_OK("-h")->c.show_help);
    assert_false(PARSE_OK("-h")->c.show_version);
    assert_true(PARSE_OK("--version")->c.show_version);
    assert_false(PARSE_OK("--version")->c.show_help);
}

static void test_help_markdown_hidden(void **state)
{
    (void)state;
    assert_true(PARSE_OK("--help-markdown")->c.show_help_markdown);
    assert_false(PARSE_OK("--help")->c.show_help_markdown);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    nt_config_usage(f);
    fclose(f);
    int listed = strstr(buf, "help-markdown") != NULL;
    free(buf);
    assert_false(listed); /* hidden from --help */
}

static void test_idle_and_name_timeout(void **state)
{
    (void)state;
    struct run *r = PARSE_OK("--idle-timeout", "10", "--name-timeout", "5");
    assert_int_equal(r->c.idle_timeout_ms, 10000);
    assert_int_equal(r->c.name_timeout_ms, 5000);
    r = PARSE_OK("--idle-timeout", "0", "--name-timeout", "0"); /* 0 = off */
    assert_int_equal(r->c.idle_timeout_ms, 0);
    assert_int_equal(r->c.name_timeout_ms, 0);
}

static void test_fractional_durations(void **state)
{
    (void)state;
    assert_int_equal(PARSE_OK("--idle-timeout", "0.25")->c.idle_timeout_ms, 250);
    assert_int_equal(PARSE_OK("--idle-timeout", "1.5")->c.idle_timeout_ms, 1500);
    assert_int_equal(PARSE_OK("--idle-timeout", "0.001")->c.idle_timeout_ms, 1);
    assert_int_equal(PARSE_OK("--idle-timeout", "2.050")->c.idle_timeout_ms, 2050);
    assert_int_equal(PARSE_OK("--name-timeout", "0.5")->c.name_timeout_ms, 500);
    assert_int_equal(PARSE_OK("--name-timeout", "0.0")->c.name_timeout_ms, 0);
    assert_int_equal(PARSE_OK("--idle-timeout", "300")->c.idle_timeout_ms, 300000);
    assert_int_equal(PARSE_OK("--idle-timeout", "86400")->c.idle_timeout_ms, 86400000);
}

static void test_sizes(void **state)
{
    (void)state;
    struct run *r = PARSE_OK("--max-line", "1", "--max-output", "2048", "--max-clients", "10",
                             "--sndbuf", "4096");
    assert_int_equal(r->c.max_line, 1);
    assert_int_equal(r->c.max_output, 2048);
    assert_int_equal(r->c.max_clients, 10);
    assert_int_equal(r->c.sndbuf, 4096);
    r = PARSE_OK("--max-line", "1048576", "--sndbuf", "0");
    assert_int_equal(r->c.max_line, 1048576); /* the upper bound of the header's example */
    assert_int_equal(r->c.sndbuf, 0);
    assert_int_equal(PARSE_OK("--max-line", "4097")->c.max_line, 4097);
}

static void test_log_level(void **state)
{
    (void)state;
    assert_int_equal(PARSE_OK("--log-level", "error")->c.log_level, NT_LOG_ERROR);
    assert_int_equal(PARSE_OK("--log-level", "warn")->c.log_level, NT_LOG_WARN);
    assert_int_equal(PARSE_OK("--log-level", "info")->c.log_level, NT_LOG_INFO);
    assert_int_equal(PARSE_OK("--log-level", "debug")->c.log_level, NT_LOG_DEBUG);
}

static void test_equals_form(void **state)
{
    (void)state;
    /* --flag=value as well as --flag value */
    struct run *r = PARSE_OK("--listen=[::1]:7000", "--max-line=100", "--idle-timeout=0.75",
                             "--log-level=debug");
    assert_int_equal(r->c.n_listen, 1);
    assert_string_equal(r->c.listen[0].host, "::1");
    assert_int_equal(r->c.listen[0].port, 7000);
    assert_int_equal(r->c.max_line, 100);
    assert_int_equal(r->c.idle_timeout_ms, 750);
    assert_int_equal(r->c.log_level, NT_LOG_DEBUG);
}

static void test_all_flags_together(void **state)
{
    (void)state;
    struct run *r = PARSE_OK("--echo", "-l", "127.0.0.1:1", "--idle-timeout", "1", "--name-timeout",
                             "2", "--max-clients", "3", "--max-line", "4", "--max-output", "5000",
                             "--sndbuf", "6", "--log-level", "warn", "--log-messages");
    assert_true(r->c.echo);
    assert_int_equal(r->c.n_listen, 1);
    assert_int_equal(r->c.listen[0].port, 1);
    assert_int_equal(r->c.idle_timeout_ms, 1000);
    assert_int_equal(r->c.name_timeout_ms, 2000);
    assert_int_equal(r->c.max_clients, 3);
    assert_int_equal(r->c.max_line, 4);
    assert_int_equal(r->c.max_output, 5000);
    assert_int_equal(r->c.sndbuf, 6);
    assert_int_equal(r->c.log_level, NT_LOG_WARN);
    assert_true(r->c.log_messages);
}

static void test_later_value_wins(void **state)
{
    (void)state;
    assert_int_equal(PARSE_OK("--max-line", "10", "--max-line", "20")->c.max_line, 20);
}

/* ---- errors, one line each, naming the flag and the value ---- */

static void test_error_line_format(void **state)
{
    (void)state;
    /* the header's example: "natter: --max-line: must be between 1 and 1048576, got 0" */
    EXPECT_ERROR(("--max-line", "0"), ("natter: --max-line: ", "1048576", "0"));
    assert_non_null(strstr(cur->err, " 1 "));
}

static void test_errors_out_of_range(void **state)
{
    (void)state;
    EXPECT_ERROR(("--max-line", "0"), ("--max-line", "0"));
    EXPECT_ERROR(("--max-line", "1048577"), ("--max-line", "1048577"));
    EXPECT_ERROR(("--max-output", "1023"), ("--max-output", "1023"));
    EXPECT_ERROR(("--idle-timeout", "31536001"), ("--idle-timeout", "31536001"));
    EXPECT_ERROR(("--name-timeout", "99999999999"), ("--name-timeout", "99999999999"));
    EXPECT_ERROR(("--max-line", "99999999999999999999999"), ("--max-line"));
}

static void test_errors_negative(void **state)
{
    (void)state;
    EXPECT_ERROR(("--idle-timeout", "-1"), ("--idle-timeout", "-1"));
    EXPECT_ERROR(("--name-timeout", "-0.5"), ("--name-timeout", "-0.5"));
    EXPECT_ERROR(("--max-line", "-1"), ("--max-line", "-1"));
    EXPECT_ERROR(("--max-clients", "-5"), ("--max-clients", "-5"));
    EXPECT_ERROR(("--sndbuf", "-1"), ("--sndbuf", "-1"));
}

static void test_errors_trailing_garbage(void **state)
{
    (void)state;
    EXPECT_ERROR(("--max-output", "1k"), ("--max-output", "1k"));
    EXPECT_ERROR(("--max-line", "12abc"), ("--max-line", "12abc"));
    EXPECT_ERROR(("--max-line", "100 "), ("--max-line"));
    EXPECT_ERROR(("--max-line", " 100"), ("--max-line"));
    EXPECT_ERROR(("--max-line", "0x10"), ("--max-line", "0x10"));
    EXPECT_ERROR(("--max-line", "1.5"), ("--max-line", "1.5"));
    EXPECT_ERROR(("--max-line", ""), ("--max-line"));
    EXPECT_ERROR(("--idle-timeout", "10s"), ("--idle-timeout", "10s"));
    EXPECT_ERROR(("--idle-timeout", "1e3"), ("--idle-timeout", "1e3"));
    EXPECT_ERROR(("--idle-timeout", "abc"), ("--idle-timeout", "abc"));
    EXPECT_ERROR(("--idle-timeout", ""), ("--idle-timeout"));
    EXPECT_ERROR(("--idle-timeout", "1.2.3"), ("--idle-timeout", "1.2.3"));
    EXPECT_ERROR(("--max-clients", "many"), ("--max-clients", "many"));
    EXPECT_ERROR(("--sndbuf", "64k"), ("--sndbuf", "64k"));
}

static void test_errors_bad_log_level(void **state)
{
    (void)state;
    EXPECT_ERROR(("--log-level", "loud"), ("--log-level", "loud"));
    EXPECT_ERROR(("--log-level", "warning"), ("--log-level", "warning"));
    EXPECT_ERROR(("--log-level", ""), ("--log-level"));
    EXPECT_ERROR(("--log-level", "DEBUG"), ("--log-level", "DEBUG")); /* log.h: exactly these */
}

static void test_errors_missing_value(void **state)
{
    (void)state;
    EXPECT_ERROR(("--max-line"), ("--max-line"));
    EXPECT_ERROR(("--listen"), ("--listen"));
    EXPECT_ERROR(("-l"), ("--listen"));
    EXPECT_ERROR(("--echo", "--idle-timeout"), ("--idle-timeout"));
    EXPECT_ERROR(("--log-level"), ("--log-level"));
}

static void test_errors_unknown(void **state)
{
    (void)state;
    EXPECT_ERROR(("--bogus"), ("--bogus"));
    EXPECT_ERROR(("--bogus=1"), ("--bogus"));
    EXPECT_ERROR(("-x"), ("-x"));
    EXPECT_ERROR(("--max-lines=5"), ("--max-lines"));
}

static void test_errors_flag_with_value(void **state)
{
    (void)state;
    EXPECT_ERROR(("--echo=yes"), ("--echo"));
    EXPECT_ERROR(("--help=1"), ("--help"));
}

static void test_errors_stray_argument(void **state)
{
    (void)state;
    EXPECT_ERROR(("8888"), ("8888"));
    EXPECT_ERROR(("--echo", "chat"), ("chat"));
}

static void test_errors_bad_listen(void **state)
{
    (void)state;
    EXPECT_ERROR(("--listen", "1.2.3.4"), ("--listen", "1.2.3.4"));
    EXPECT_ERROR(("--listen", "[::1]"), ("--listen", "[::1]"));
    EXPECT_ERROR(("--listen", "1.2.3.4:99999"), ("--listen", "1.2.3.4:99999"));
    EXPECT_ERROR(("--listen", "host:99999"), ("--listen", "host:99999"));
    EXPECT_ERROR(("--listen", "localhost:80"), ("--listen", "localhost:80"));
    EXPECT_ERROR(("--listen", "::1:80"), ("--listen", "::1:80"));
    EXPECT_ERROR(("--listen", ":80"), ("--listen", ":80"));
    EXPECT_ERROR(("--listen", "1.2.3.4:"), ("--listen", "1.2.3.4:"));
    EXPECT_ERROR(("--listen", "1.2.3.4:-1"), ("--listen", "1.2.3.4:-1"));
    EXPECT_ERROR(("--listen", "1.2.3.4:80x"), ("--listen", "1.2.3.4:80x"));
    EXPECT_ERROR(("--listen", ""), ("--listen"));
    EXPECT_ERROR(("-l", "300.1.1.1:80"), ("--listen", "300.1.1.1:80"));
}

static void test_every_error_reported(void **state)
{
    (void)state;
    /* validation reports every error, not just the first (STYLE.md, config.h) */
    struct run *r =
        PARSE("--max-line", "0", "--idle-timeout", "-1", "--echo", "--max-output", "1k", "--bogus",
              "--listen", "1.2.3.4", "-l", "127.0.0.1:1", "--log-level", "loud", "--name-timeout",
              "x", "--sndbuf", "-2", "--max-clients", "none", "--echo=1", "--max-line");
    static const char *const named[] = {
        "--max-line",  "--idle-timeout", "--max-output", "--bogus",       "--listen",
        "--log-level", "--name-timeout", "--sndbuf",     "--max-clients", "--echo"};
    if (r->lines != 11)
        print_error("%zu error lines, expected 11:\n%s", r->lines, r->err);
    assert_int_equal(r->rc, -1);
    assert_int_equal(r->lines, 11);
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        if (strstr(r->err, named[i]) == NULL)
            print_error("no error names %s:\n%s", named[i], r->err);
        assert_non_null(strstr(r->err, named[i]));
    }
    /* each on its own line, in argument order, each starting "natter: " */
    const char *p = r->err;
    static const char *const order[] = {
        "--max-line",     "--idle-timeout", "--max-output",  "--bogus", "--listen",  "--log-level",
        "--name-timeout", "--sndbuf",       "--max-clients", "--echo",  "--max-line"};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        assert_int_equal(strncmp(p, "natter: ", 8), 0);
        const char *eol = strchr(p, '\n');
        assert_non_null(eol);
        char *line = strndup(p, (size_t)(eol - p));
        if (strstr(line, order[i]) == NULL)
            print_error("line %zu \"%s\" does not name %s\n", i, line, order[i]);
        int found = strstr(line, order[i]) != NULL;
        free(line);
        assert_true(found);
        p = eol + 1;
    }
    assert_int_equal(*p, '\0');
}

static void test_no_output_on_success(void **state)
{
    (void)state;
    struct run *r = PARSE_OK("--echo", "--listen", "[::]:0", "--idle-timeout", "0.1");
    assert_int_equal(r->err_len, 0);
}

/* ---- nt_config_parse_listen ---- */

static void listen_ok(const char *s, const char *host, int port, bool v6)
{
    struct nt_listen_addr a;
    const char *why = NULL;
    int rc = nt_config_parse_listen(s, &a, &why);
    if (rc != 0)
        print_error("parse_listen(\"%s\") failed: %s\n", s, why ? why : "(no reason)");
    assert_int_equal(rc, 0);
    assert_string_equal(a.host, host);
    assert_int_equal(a.port, port);
    assert_int_equal(a.is_ipv6, v6);
}

static void listen_bad(const char *s)
{
    struct nt_listen_addr a;
    const char *why = NULL;
    int rc = nt_config_parse_listen(s, &a, &why);
    if (rc != -1)
        print_error("parse_listen(\"%s\") accepted: host '%s' port %d\n", s, a.host, a.port);
    assert_int_equal(rc, -1);
    assert_non_null(why);
    assert_true(strlen(why) > 0);
}

static void test_parse_listen_ok(void **state)
{
    (void)state;
    listen_ok("127.0.0.1:8888", "127.0.0.1", 8888, false);
    listen_ok("0.0.0.0:0", "0.0.0.0", 0, false);
    listen_ok("255.255.255.255:65535", "255.255.255.255", 65535, false);
    listen_ok("10.1.2.3:1", "10.1.2.3", 1, false);
    listen_ok("[::1]:0", "::1", 0, true);
    listen_ok("[::]:8888", "::", 8888, true);
    listen_ok("[2001:db8::42]:443", "2001:db8::42", 443, true);
    listen_ok("[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80, true);
    listen_ok("[fe80:0000:0000:0000:0202:b3ff:fe1e:8329]:1",
              "fe80:0000:0000:0000:0202:b3ff:fe1e:8329", 1, true);
}

static void test_parse_listen_bad(void **state)
{
    (void)state;
    listen_bad("");
    listen_bad("1.2.3.4");  /* no port */
    listen_bad("1.2.3.4:"); /* empty port */
    listen_bad(":80");      /* no host */
    listen_bad("[::1]");    /* no port */
    listen_bad("[::1]:");
    listen_bad("[::1]80");
    listen_bad("[::1:80"); /* no ] */
    listen_bad("[]:80");
    listen_bad("::1:80");       /* IPv6 without brackets */
    listen_bad("[1.2.3.4]:80"); /* brackets hold IPv6 */
    listen_bad("1.2.3.4:65536");
    listen_bad("1.2.3.4:99999");
    listen_bad("1.2.3.4:4294967296");
    listen_bad("1.2.3.4:18446744073709551617");
    listen_bad("host:99999");
    listen_bad("localhost:80"); /* hosts are numeric */
    listen_bad("example.com:80");
    listen_bad("1.2.3.4:-1");
    listen_bad("1.2.3.4:+80");
    listen_bad("1.2.3.4: 80");
    listen_bad("1.2.3.4:80 ");
    listen_bad("1.2.3.4:80x");
    listen_bad("1.2.3.4:0x50");
    listen_bad("256.1.1.1:80");
    listen_bad("1.2.3:80");
    listen_bad("[::g]:80");
    listen_bad("[::1]:80:90");
    /* a host too long for the 64-byte field */
    listen_bad("[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:1");
}

/* ---- schemes and TLS (issue #8) ---- */

static void test_listen_schemes(void **state)
{
    (void)state;
    struct run *r = PARSE_OK("--listen", "tcp://127.0.0.1:1", "--listen", "127.0.0.1:2", "--listen",
                             "tls://[::1]:3", "--tls-cert", "c.pem", "--tls-key", "k.pem");
    assert_int_equal(r->c.n_listen, 3);
    assert_int_equal(r->c.listen[0].scheme, NT_SCHEME_TCP);
    assert_int_equal(r->c.listen[0].port, 1);
    assert_int_equal(r->c.listen[1].scheme, NT_SCHEME_TCP);
    assert_int_equal(r->c.listen[2].scheme, NT_SCHEME_TLS);
    assert_true(r->c.listen[2].is_ipv6);
    assert_string_equal(r->c.listen[2].host, "::1");
    assert_true(nt_config_has_tls(&r->c));
    assert_non_null(r->c.tls_cert_file); /* borrowed from argv, which the helper freed */
    assert_non_null(r->c.tls_key_file);
    assert_string_equal(nt_config_scheme_name(NT_SCHEME_TLS), "tls");
}

static void test_tls_needs_cert_and_key(void **state)
{
    (void)state;
    EXPECT_ERROR(("--listen", "tls://127.0.0.1:1"), ("--tls-cert", "--tls-key"));
    EXPECT_ERROR(("--listen", "tls://127.0.0.1:1", "--tls-cert", "c.pem"), ("--tls-key"));
    EXPECT_ERROR(("--listen", "ftp://127.0.0.1:1"), ("--listen", "scheme", "ftp://"));
    EXPECT_ERROR(("--listen", "tls:/127.0.0.1:1"), ("--listen"));
    /* certificates without a TLS listener are accepted (a reload may add one later) */
    PARSE_OK("--tls-cert", "c.pem", "--tls-key", "k.pem");
    EXPECT_ERROR(("--stall-timeout", "-1"), ("--stall-timeout"));
    EXPECT_ERROR(("--max-output-total", "1000"), ("--max-output-total", "65536"));
}

/* ---- --help and the docs table ---- */

static char *capture(void (*fn)(FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(f);
    fclose(f);
    return buf;
}

static const char *const all_flags[] = {
    "--listen",           "--echo",          "--idle-timeout", "--name-timeout",
    "--max-clients",      "--max-line",      "--max-output",   "--sndbuf",
    "--log-level",        "--log-messages",  "--version",      "--help",
    "--max-output-total", "--stall-timeout", "--tls-cert",     "--tls-key"};

static void test_usage_lists_every_flag(void **state)
{
    (void)state;
    char *u = capture(nt_config_usage);
    for (size_t i = 0; i < sizeof(all_flags) / sizeof(all_flags[0]); i++) {
        if (strstr(u, all_flags[i]) == NULL)
            print_error("--help does not mention %s\n", all_flags[i]);
        assert_non_null(strstr(u, all_flags[i]));
    }
    assert_non_null(strstr(u, "-l, --listen"));
    assert_non_null(strstr(u, "-h, --help"));
    /* defaults shown are the real ones */
    assert_non_null(strstr(u, "127.0.0.1:8888"));
    assert_non_null(strstr(u, "4096"));
    assert_non_null(strstr(u, "8388608"));
    free(u);
}

static void test_markdown_table(void **state)
{
    (void)state;
    char *m = capture(nt_config_markdown);
    assert_int_equal(strncmp(m, "| ", 2), 0);
    for (size_t i = 0; i < sizeof(all_flags) / sizeof(all_flags[0]); i++) {
        if (strstr(m, all_flags[i]) == NULL)
            print_error("markdown table does not mention %s\n", all_flags[i]);
        assert_non_null(strstr(m, all_flags[i]));
    }
    /* every line is a table row */
    for (const char *p = m; *p != '\0';) {
        const char *eol = strchr(p, '\n');
        assert_non_null(eol);
        assert_int_equal(p[0], '|');
        assert_int_equal(eol[-1], '|');
        p = eol + 1;
    }
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defaults_after_empty_parse, teardown),
        cmocka_unit_test_teardown(test_defaults_fields, teardown),
        cmocka_unit_test_teardown(test_default_listen_in_echo_mode_is_the_line_port_alone,
                                  teardown),
        cmocka_unit_test_teardown(test_irc_schemes, teardown),
        cmocka_unit_test_teardown(test_listen_long_and_short, teardown),
        cmocka_unit_test_teardown(test_listen_ipv6, teardown),
        cmocka_unit_test_teardown(test_listen_repeated, teardown),
        cmocka_unit_test_teardown(test_listen_at_most_16, teardown),
        cmocka_unit_test_teardown(test_echo, teardown),
        cmocka_unit_test_teardown(test_log_messages, teardown),
        cmocka_unit_test_teardown(test_help_and_version, teardown),
        cmocka_unit_test_teardown(test_help_markdown_hidden, teardown),
        cmocka_unit_test_teardown(test_idle_and_name_timeout, teardown),
        cmocka_unit_test_teardown(test_fractional_durations, teardown),
        cmocka_unit_test_teardown(test_sizes, teardown),
        cmocka_unit_test_teardown(test_log_level, teardown),
        cmocka_unit_test_teardown(test_equals_form, teardown),
        cmocka_unit_test_teardown(test_all_flags_together, teardown),
        cmocka_unit_test_teardown(test_later_value_wins, teardown),
        cmocka_unit_test_teardown(test_error_line_format, teardown),
        cmocka_unit_test_teardown(test_errors_out_of_range, teardown),
        cmocka_unit_test_teardown(test_errors_negative, teardown),
        cmocka_unit_test_teardown(test_errors_trailing_garbage, teardown),
        cmocka_unit_test_teardown(test_errors_bad_log_level, teardown),
        cmocka_unit_test_teardown(test_errors_missing_value, teardown),
        cmocka_unit_test_teardown(test_errors_unknown, teardown),
        cmocka_unit_test_teardown(test_errors_flag_with_value, teardown),
        cmocka_unit_test_teardown(test_errors_stray_argument, teardown),
        cmocka_unit_test_teardown(test_errors_bad_listen, teardown),
        cmocka_unit_test_teardown(test_every_error_reported, teardown),
        cmocka_unit_test_teardown(test_no_output_on_success, teardown),
        cmocka_unit_test_teardown(test_parse_listen_ok, teardown),
        cmocka_unit_test_teardown(test_parse_listen_bad, teardown),
        cmocka_unit_test_teardown(test_listen_schemes, teardown),
        cmocka_unit_test_teardown(test_tls_needs_cert_and_key, teardown),
        cmocka_unit_test_teardown(test_usage_lists_every_flag, teardown),
        cmocka_unit_test_teardown(test_markdown_table, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
