/* SPDX-License-Identifier: MIT */
/* test_config.c - unit tests for config.c: defaults, flags, ranges, every error reported, and
 * the config file (OPERATIONS.md "Config file"). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config.h"

/* The result of one nt_config_parse() call; freed by teardown() even when an assertion fails. */
struct run {
    struct nt_config c;
    int rc;
    char *err; /* owned: everything written to err, NUL-terminated */
    size_t err_len;
    size_t lines; /* lines in err */
    char **argv;  /* owned: the copies parsed, which c may borrow from; freed with the run */
    int argc;
};

static struct run *cur;

/* Config files (and directories) a test made with write_conf() or make_dir(); removed by
 * teardown(), even when an assertion fails. */
#define MAX_CONFS 4
static char conf_paths[MAX_CONFS][256];
static size_t n_confs;
static char dir_path[256];
static char long_dir[512];   /* dir_path/ddd...: a long name */
static char long_path[1024]; /* long_dir/eee...: a config file with a path of 400+ bytes */

static void free_run(void)
{
    if (cur != NULL) {
        /* what a config file gave is owned by the config: freed here, or LeakSanitizer (the
         * asan preset) reports it */
        nt_config_fini(&cur->c);
        for (int i = 0; i < cur->argc; i++)
            free(cur->argv[i]);
        free(cur->argv);
        free(cur->err);
        free(cur);
        cur = NULL;
    }
}

static int teardown(void **state)
{
    (void)state;
    free_run();
    for (size_t i = 0; i < n_confs; i++)
        unlink(conf_paths[i]);
    n_confs = 0;
    if (long_path[0] != '\0') {
        unlink(long_path);
        long_path[0] = '\0';
    }
    if (long_dir[0] != '\0') {
        rmdir(long_dir);
        long_dir[0] = '\0';
    }
    if (dir_path[0] != '\0') {
        rmdir(dir_path);
        dir_path[0] = '\0';
    }
    return 0;
}

/* Parses "natter" followed by args (NULL-terminated); the result stays in cur. */
static struct run *parse_args(const char *const *args)
{
    free_run();
    cur = calloc(1, sizeof(*cur));
    assert_non_null(cur);
    int argc = 1;
    while (args[argc - 1] != NULL)
        argc++;
    /* argv strings are mutable copies, as the real argv */
    char **argv = calloc((size_t)argc + 1, sizeof(*argv));
    assert_non_null(argv);
    cur->argv = argv;
    argv[0] = strdup("natter");
    for (int i = 1; i < argc; i++)
        argv[i] = strdup(args[i - 1]);
    cur->argc = argc;
    FILE *err = open_memstream(&cur->err, &cur->err_len);
    assert_non_null(err);
    nt_config_defaults(&cur->c);
    cur->rc = nt_config_parse(&cur->c, argc, argv, err);
    fclose(err);
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

/* nt_config_change_fn: "name from->to" a line, "!" after what needs a restart. */
static void record_change(void *ctx, const char *name, const char *from, const char *to,
                          bool needs_restart)
{
    char *log = ctx;
    size_t n = strlen(log);
    snprintf(log + n, 512 - n, "%s %s->%s%s\n", name, from, to, needs_restart ? "!" : "");
}

/* A reload's differences (OPERATIONS.md "Reloading"): named in the table's order with both
 * values as written; what needs a restart gets the running value back, and default listeners
 * (none given) follow the echo that runs, not the one asked for. */
static void test_diff_for_a_reload(void **state)
{
    (void)state;
    PARSE_OK("--max-line", "4096");
    struct nt_config running = cur->c; /* nothing owned: a plain copy */
    PARSE_OK("--echo", "--max-line", "100", "--idle-timeout", "0.5", "--log-level", "debug",
             "--max-clients", "50", "--oper-password-file", "/x");
    assert_int_equal(cur->c.n_listen, 1); /* echo's default: the line port alone */
    char log[512] = "";
    assert_int_equal(nt_config_diff(&cur->c, &running, record_change, log), 6);
    assert_string_equal(log, "echo no->yes!\n"
                             "idle-timeout 300->0.5\n"
                             "max-clients open-file limit - 32->50\n"
                             "max-line 4096->100\n"
                             "log-level info->debug\n"
                             "oper-password-file none->/x\n");
    assert_false(cur->c.echo);
    assert_int_equal(cur->c.n_listen, 3); /* the chat that runs: with its IRC and web doors */
    assert_int_equal(cur->c.listen[1].scheme, NT_SCHEME_IRC);
    assert_int_equal(cur->c.listen[2].scheme, NT_SCHEME_HTTP);
    log[0] = '\0';
    assert_int_equal(nt_config_diff(&cur->c, &running, record_change, log), 5);
    assert_null(strchr(log, '!'));
    assert_int_equal(nt_config_diff(&running, &running, record_change, log), 0);
}

static void test_defaults_after_empty_parse(void **state)
{
    (void)state;
    /* the default address applies when no --listen is given (OPERATIONS.md) */
    struct run *r = parse_args((const char *const[]){NULL});
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->err_len, 0);
    const struct nt_config c = r->c;
    assert_int_equal(c.n_listen, 3); /* the line chat, the IRC and web doors beside it */
    assert_string_equal(c.listen[0].host, "127.0.0.1");
    assert_int_equal(c.listen[0].port, 8888);
    assert_int_equal(c.listen[0].scheme, NT_SCHEME_TCP);
    assert_false(c.listen[0].is_ipv6);
    assert_string_equal(c.listen[1].host, "127.0.0.1");
    assert_int_equal(c.listen[1].port, 6667);
    assert_int_equal(c.listen[1].scheme, NT_SCHEME_IRC);
    assert_string_equal(c.listen[2].host, "127.0.0.1");
    assert_int_equal(c.listen[2].port, 8080);
    assert_int_equal(c.listen[2].scheme, NT_SCHEME_HTTP);
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
    assert_string_equal(why,
                        "unknown scheme (tcp://, tls://, irc://, ircs://, http:// or https://)");
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
    assert_string_equal(r->c.tls_cert_file, "c.pem"); /* borrowed from argv */
    assert_string_equal(r->c.tls_key_file, "k.pem");
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

/* ---- the config file (OPERATIONS.md "Config file") ---- */

static const char *tmp_dir(void)
{
    const char *d = getenv("TMPDIR");
    return d != NULL && *d != '\0' && strlen(d) < 128 ? d : "/tmp";
}

/* Writes len bytes of text to a new file in the temp dir (mkstemp); returns its path, which
 * teardown() unlinks. */
static const char *write_conf_bytes(const char *text, size_t len)
{
    assert_true(n_confs < MAX_CONFS);
    char *path = conf_paths[n_confs];
    snprintf(path, sizeof(conf_paths[0]), "%s/natter-test-conf-XXXXXX", tmp_dir());
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    n_confs++;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w <= 0)
            close(fd);
        assert_true(w > 0);
        done += (size_t)w;
    }
    assert_int_equal(close(fd), 0);
    return path;
}

static const char *write_conf(const char *text)
{
    return write_conf_bytes(text, strlen(text));
}

/* Makes an empty directory in the temp dir (mkdtemp); teardown() removes it. */
static const char *make_dir(void)
{
    snprintf(dir_path, sizeof(dir_path), "%s/natter-test-dir-XXXXXX", tmp_dir());
    assert_non_null(mkdtemp(dir_path));
    return dir_path;
}

/* want with each '@' replaced by the path of the first config file written. */
static char expanded[32768];

static const char *expand(const char *want)
{
    size_t n = 0;
    for (const char *p = want; *p != '\0'; p++) {
        const char *piece = *p == '@' ? conf_paths[0] : p;
        size_t len = *p == '@' ? strlen(conf_paths[0]) : 1;
        assert_true(n + len < sizeof(expanded));
        memcpy(expanded + n, piece, len);
        n += len;
    }
    expanded[n] = '\0';
    return expanded;
}

/* Asserts that r failed with exactly want on err ('@' = the config file's path): every line,
 * in order, and nothing else. */
static void expect_err(const struct run *r, const char *want)
{
    assert_string_equal(r->err, expand(want));
    assert_int_equal(r->rc, -1);
}

/* Parses "natter --config FILE" for a new file holding text. */
static struct run *parse_conf(const char *text)
{
    const char *path = write_conf(text);
    return PARSE("--config", path);
}

static struct run *parse_conf_ok(const char *text)
{
    const char *path = write_conf(text);
    return PARSE_OK("--config", path);
}

static void test_conf_example_from_the_docs(void **state)
{
    (void)state;
    /* the example file of OPERATIONS.md "Config file", byte for byte */
    struct run *r =
        parse_conf_ok("# /etc/natter/natter.conf\n"
                      "listen = 127.0.0.1:8888\n"
                      "listen = \"irc://127.0.0.1:6667\"     # repeatable options are repeated\n"
                      "idle-timeout = 600\n"
                      "log-messages = no                   # booleans: yes or no\n"
                      "oper-password-file = /etc/natter/oper-password\n");
    assert_int_equal(r->c.n_listen, 2);
    assert_int_equal(r->c.listen[0].scheme, NT_SCHEME_TCP);
    assert_string_equal(r->c.listen[0].host, "127.0.0.1");
    assert_int_equal(r->c.listen[0].port, 8888);
    assert_int_equal(r->c.listen[1].scheme, NT_SCHEME_IRC);
    assert_string_equal(r->c.listen[1].host, "127.0.0.1");
    assert_int_equal(r->c.listen[1].port, 6667);
    assert_int_equal(r->c.idle_timeout_ms, 600000);
    assert_false(r->c.log_messages);
    assert_string_equal(r->c.oper_password_file, "/etc/natter/oper-password");
    assert_string_equal(r->c.config_file, conf_paths[0]);
    assert_false(r->c.check_config);
}

static void test_conf_empty_file_keeps_the_defaults(void **state)
{
    (void)state;
    struct run *r = parse_conf_ok("");
    assert_int_equal(r->c.n_listen, 3);
    assert_int_equal(r->c.listen[0].port, 8888);
    assert_int_equal(r->c.listen[1].port, 6667);
    assert_int_equal(r->c.listen[2].port, 8080);
    assert_int_equal(r->c.max_line, 4096);
    r = parse_conf_ok("\n\n   \n\t\n# only comments\n");
    assert_int_equal(r->c.n_listen, 3);
    assert_int_equal(r->c.max_line, 4096);
}

static void test_conf_spaces_around_equals_are_optional(void **state)
{
    (void)state;
    struct run *r = parse_conf_ok("max-line=100\n"
                                  "idle-timeout = 12\n"
                                  "name-timeout   =   7\n"
                                  "\thistory\t=\t5\t\n"
                                  "rate =3\n"
                                  "\n"
                                  "   \n"
                                  "burst= 4   \n"
                                  "\t\n"
                                  "max-per-ip=9"); /* the last line without its LF */
    assert_int_equal(r->c.max_line, 100);
    assert_int_equal(r->c.idle_timeout_ms, 12000);
    assert_int_equal(r->c.name_timeout_ms, 7000);
    assert_int_equal(r->c.history, 5);
    assert_int_equal(r->c.rate, 3);
    assert_int_equal(r->c.burst, 4);
    assert_int_equal(r->c.max_per_ip, 9);
}

static void test_conf_comments(void **state)
{
    (void)state;
    struct run *r = parse_conf_ok("# a comment on its own line\n"
                                  "   # an indented one\n"
                                  "\t# after a tab\n"
                                  "#max-line = 0\n" /* commented out: not an error */
                                  "max-line = 100 # after a value, a space before it\n"
                                  "history = 5\t# a tab before it\n"
                                  "rate = 7  \t  #\n"
                                  "tls-cert = a#b\n"
                                  "tls-key = x#y # a#b is a value, this is a comment\n"
                                  "oper-password-file = p#\n");
    assert_int_equal(r->c.max_line, 100);
    assert_int_equal(r->c.history, 5);
    assert_int_equal(r->c.rate, 7);
    assert_string_equal(r->c.tls_cert_file, "a#b");
    assert_string_equal(r->c.tls_key_file, "x#y");
    assert_string_equal(r->c.oper_password_file, "p#");
}

static void test_conf_hash_inside_a_value_is_checked_as_the_value(void **state)
{
    (void)state;
    struct run *r = parse_conf("max-line = 10#5\n"
                               "log-level = debug#x # a comment\n"
                               "echo = yes#\n");
    expect_err(r, "natter: @:1: --max-line: must be a whole number from 1 to 1048576, got '10#5'\n"
                  "natter: @:2: --log-level: must be error, warn, info or debug, got 'debug#x'\n"
                  "natter: @:3: --echo: must be yes or no, got 'yes#'\n");
}

static void test_conf_hash_right_after_equals_is_a_value(void **state)
{
    (void)state;
    /* "#" starts a comment "after a value when whitespace comes before it": right after '=' it
     * is the value's first byte, as in a#b */
    struct run *r = parse_conf_ok("tls-cert=#c.pem\n");
    assert_non_null(r->c.tls_cert_file);
    assert_string_equal(r->c.tls_cert_file, "#c.pem");
}

static void test_conf_hash_right_after_a_closing_quote_is_not_a_comment(void **state)
{
    (void)state;
    /* no whitespace before '#': text after the quoted value, not a comment */
    struct run *r = parse_conf("tls-key = \"k.pem\"#x\n");
    expect_err(r, "natter: @:1: --tls-key: unexpected '#x' after the quoted value\n");
}

static void test_conf_quoted_values(void **state)
{
    (void)state;
    struct run *r = parse_conf_ok("tls-cert = \"/srv/my certs/# not a comment.pem\"\n"
                                  "tls-key = \"a\\\"b\\\\c\"   # a comment after the quotes\n"
                                  "oper-password-file=\"end\\\\\"\n"
                                  "listen = \"irc://127.0.0.1:6667\"\n"
                                  "max-line = \"123\"\n"
                                  "log-messages = \"yes\"\n");
    assert_string_equal(r->c.tls_cert_file, "/srv/my certs/# not a comment.pem");
    assert_string_equal(r->c.tls_key_file, "a\"b\\c");
    assert_string_equal(r->c.oper_password_file, "end\\");
    assert_int_equal(r->c.n_listen, 1);
    assert_int_equal(r->c.listen[0].scheme, NT_SCHEME_IRC);
    assert_int_equal(r->c.listen[0].port, 6667);
    assert_int_equal(r->c.max_line, 123);
    assert_true(r->c.log_messages);
    /* spaces inside the quotes are kept, at both ends too */
    r = parse_conf_ok("tls-cert = \"  two  spaces  \"\n");
    assert_string_equal(r->c.tls_cert_file, "  two  spaces  ");
}

static void test_conf_repeated_listen(void **state)
{
    (void)state;
    struct run *r = parse_conf_ok("listen = 127.0.0.1:0\n"
                                  "listen = \"irc://127.0.0.1:0\"\n"
                                  "listen = tls://[::1]:0\n"
                                  "listen = ircs://127.0.0.1:6697\n"
                                  "tls-cert = c.pem\n"
                                  "tls-key = k.pem\n");
    assert_int_equal(r->c.n_listen, 4);
    assert_int_equal(r->c.listen[0].scheme, NT_SCHEME_TCP);
    assert_string_equal(r->c.listen[0].host, "127.0.0.1");
    assert_int_equal(r->c.listen[0].port, 0);
    assert_int_equal(r->c.listen[1].scheme, NT_SCHEME_IRC);
    assert_int_equal(r->c.listen[2].scheme, NT_SCHEME_TLS);
    assert_true(r->c.listen[2].is_ipv6);
    assert_string_equal(r->c.listen[2].host, "::1");
    assert_int_equal(r->c.listen[3].scheme, NT_SCHEME_IRCS);
    assert_int_equal(r->c.listen[3].port, 6697);
}

static char big_text[120000];

/* Fills big_text with "listen = 127.0.0.N:0" lines, n of them. */
static const char *listen_lines(int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(big_text + len, sizeof(big_text) - len, "listen = 127.0.0.%d:0\n",
                                i + 1);
    return big_text;
}

static void test_conf_listen_at_most_16(void **state)
{
    (void)state;
    struct run *r = parse_conf_ok(listen_lines(16));
    assert_int_equal(r->c.n_listen, 16);
    assert_string_equal(r->c.listen[15].host, "127.0.0.16");
    teardown(NULL);
    r = parse_conf(listen_lines(17));
    expect_err(r, "natter: @:17: --listen: at most 16 addresses\n");
}

static void test_conf_booleans_yes_and_no(void **state)
{
    (void)state;
    struct run *r = parse_conf_ok("echo = yes\nlog-messages = yes\nno-loopback-exempt = yes\n");
    assert_true(r->c.echo);
    assert_true(r->c.log_messages);
    assert_true(r->c.no_loopback_exempt);
    assert_int_equal(r->c.n_listen, 1); /* the echo mode's default: the line port alone */
    teardown(NULL);
    /* "no" sets the flag off: the later line wins */
    r = parse_conf_ok("echo = yes\necho = no\nlog-messages=yes\nlog-messages=no\n"
                      "no-loopback-exempt = yes\nno-loopback-exempt = no\n");
    assert_false(r->c.echo);
    assert_false(r->c.log_messages);
    assert_false(r->c.no_loopback_exempt);
    assert_int_equal(r->c.n_listen, 3);
}

static void test_conf_booleans_other_words_refused(void **state)
{
    (void)state;
    struct run *r = parse_conf("echo = true\n"
                               "log-messages = on\n"
                               "no-loopback-exempt = 1\n"
                               "echo = YES\n"
                               "echo = Yes\n"
                               "log-messages = off\n"
                               "no-loopback-exempt = false\n"
                               "echo =\n"
                               "echo = yes please\n");
    expect_err(r, "natter: @:1: --echo: must be yes or no, got 'true'\n"
                  "natter: @:2: --log-messages: must be yes or no, got 'on'\n"
                  "natter: @:3: --no-loopback-exempt: must be yes or no, got '1'\n"
                  "natter: @:4: --echo: must be yes or no, got 'YES'\n"
                  "natter: @:5: --echo: must be yes or no, got 'Yes'\n"
                  "natter: @:6: --log-messages: must be yes or no, got 'off'\n"
                  "natter: @:7: --no-loopback-exempt: must be yes or no, got 'false'\n"
                  "natter: @:8: --echo: must be yes or no, got ''\n"
                  "natter: @:9: --echo: must be yes or no, got 'yes please'\n");
}

static void test_conf_every_error_reported_with_file_line_and_option(void **state)
{
    (void)state;
    struct run *r = parse_conf("max-line = 0\n"
                               "# fine\n"
                               "rate = ten\n"
                               "bogus = 1\n"
                               "oops\n"
                               "idle-timeout = soon\n"
                               "name-timeout = 99999999999\n"
                               "log-level = loud\n"
                               "listen = nonsense\n"
                               "tls-cert = \"\"\n"
                               "echo = maybe\n"
                               "history = 5\n"
                               "max-output-total = 1000\n"
                               "tls-key =\n");
    expect_err(r, "natter: @:1: --max-line: must be a whole number from 1 to 1048576, got '0'\n"
                  "natter: @:3: --rate: must be a whole number from 0 to 1000000, got 'ten'\n"
                  "natter: @:4: unknown option 'bogus' (see --help)\n"
                  "natter: @:5: expected NAME = VALUE, got 'oops'\n"
                  "natter: @:6: --idle-timeout: must be a number of seconds such as 30 or 0.5, "
                  "got 'soon'\n"
                  "natter: @:7: --name-timeout: must be 0 (off) or from 0.001 to 31536000 "
                  "seconds, got '99999999999'\n"
                  "natter: @:8: --log-level: must be error, warn, info or debug, got 'loud'\n"
                  "natter: @:9: --listen: expected HOST:PORT, got 'nonsense'\n"
                  "natter: @:10: --tls-cert: must not be empty\n"
                  "natter: @:11: --echo: must be yes or no, got 'maybe'\n"
                  "natter: @:13: --max-output-total: must be a whole number from 65536 to "
                  "68719476736, got '1000'\n"
                  "natter: @:14: --tls-key: must not be empty\n");
    assert_int_equal(r->lines, 12); /* each error counted, one line each */
}

/* A value the command line refuses is refused in the file with the same words after
 * "FILE:LINE: " ("with the same name and the same checks"). */
static void test_conf_same_checks_as_the_command_line(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"max-line", "0"},
        {"max-line", "1048577"},
        {"rate", "ten"},
        {"burst", "-1"},
        {"history", "10001"},
        {"max-clients", "0"},
        {"max-output", "1k"},
        {"max-output-total", "1000"},
        {"sndbuf", "64k"},
        {"max-per-ip", "many"},
        {"idle-timeout", "soon"},
        {"idle-timeout", "31536001"},
        {"name-timeout", "1.2.3"},
        {"stall-timeout", "-1"},
        {"log-level", "DEBUG"},
        {"listen", "nonsense"},
        {"listen", "ftp://127.0.0.1:1"},
        {"listen", "[::1]"},
        {"listen", "localhost:80"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", cases[i][0]);
        struct run *r = PARSE(flag, cases[i][1]);
        assert_int_equal(r->rc, -1);
        assert_int_equal(r->lines, 1);
        assert_int_equal(strncmp(r->err, "natter: ", 8), 0);
        char want[1024];
        snprintf(want, sizeof(want), "natter: @:2: %s", r->err + 8);
        char text[256];
        snprintf(text, sizeof(text), "# line 1\n%s = %s\n", cases[i][0], cases[i][1]);
        teardown(NULL);
        r = parse_conf(text);
        expect_err(r, want);
        teardown(NULL);
    }
}

static void test_conf_unknown_option(void **state)
{
    (void)state;
    struct run *r = parse_conf("bogus = 1\n"
                               "--max-line = 5\n"  /* the name is written without "--" */
                               "l = 127.0.0.1:0\n" /* long names only */
                               "max-lines = 5\n");
    expect_err(r, "natter: @:1: unknown option 'bogus' (see --help)\n"
                  "natter: @:2: unknown option '--max-line' (see --help)\n"
                  "natter: @:3: unknown option 'l' (see --help)\n"
                  "natter: @:4: unknown option 'max-lines' (see --help)\n");
}

static void test_conf_missing_equals(void **state)
{
    (void)state;
    struct run *r = parse_conf("oops\n"
                               "max-line 100\n"
                               "= 5\n"
                               "echo\n");
    expect_err(r, "natter: @:1: expected NAME = VALUE, got 'oops'\n"
                  "natter: @:2: expected NAME = VALUE, got 'max-line 100'\n"
                  "natter: @:3: expected NAME = VALUE, got '= 5'\n"
                  "natter: @:4: expected NAME = VALUE, got 'echo'\n");
}

static void test_conf_missing_closing_quote(void **state)
{
    (void)state;
    struct run *r = parse_conf("tls-cert = \"abc\n"
                               "tls-key = \"abc\\\"\n" /* the quote is escaped: still open */
                               "listen = \"127.0.0.1:0\n"
                               "max-line = 5\n");
    expect_err(r, "natter: @:1: --tls-cert: the value's closing quote is missing\n"
                  "natter: @:2: --tls-key: the value's closing quote is missing\n"
                  "natter: @:3: --listen: the value's closing quote is missing\n");
}

static void test_conf_text_after_a_quoted_value(void **state)
{
    (void)state;
    struct run *r = parse_conf("tls-cert = \"a\" b\n"
                               "tls-key = \"a\"\"b\"\n"
                               "max-line = \"5\" 6 # a comment\n");
    expect_err(r, "natter: @:1: --tls-cert: unexpected 'b' after the quoted value\n"
                  "natter: @:2: --tls-key: unexpected '\"b\"' after the quoted value\n"
                  "natter: @:3: --max-line: unexpected '6 # a comment' after the quoted value\n");
}

/* Appends "prefix" and then ch up to a line of len bytes, then "\n" unless at_eof. */
static size_t put_line(size_t at, const char *prefix, char ch, size_t len, bool at_eof)
{
    size_t n = strlen(prefix);
    assert_true(at + len + 2 < sizeof(big_text) && n <= len);
    memcpy(big_text + at, prefix, n);
    memset(big_text + at + n, ch, len - n);
    at += len;
    if (!at_eof)
        big_text[at++] = '\n';
    big_text[at] = '\0';
    return at;
}

static void test_conf_lines_are_at_most_4094_bytes(void **state)
{
    (void)state;
    size_t at = put_line(0, "tls-cert = ", 'a', 4094, false); /* the longest line there is */
    struct run *r = parse_conf_ok(big_text);
    assert_int_equal(strlen(r->c.tls_cert_file), 4094 - strlen("tls-cert = "));
    assert_int_equal(r->c.tls_cert_file[0], 'a');
    teardown(NULL);

    at = put_line(0, "max-line = 5", ' ', 4094, false); /* trailing blanks count too */
    at = put_line(at, "tls-key = ", 'b', 4095, false);
    at = put_line(at, "# ", 'c', 5000, false); /* a comment is a line too */
    at = put_line(at, "max-line = 0", ' ', 12, false);
    at = put_line(at, "tls-cert = ", 'd', 100000, true); /* the last line, without LF */
    r = parse_conf(big_text);
    expect_err(r, "natter: @:2: line too long (at most 4094 bytes)\n"
                  "natter: @:3: line too long (at most 4094 bytes)\n"
                  "natter: @:4: --max-line: must be a whole number from 1 to 1048576, got '0'\n"
                  "natter: @:5: line too long (at most 4094 bytes)\n");
    teardown(NULL);

    /* an over-long line alone is an error too: the parse fails */
    put_line(0, "max-line = 5", ' ', 4095, false);
    r = parse_conf(big_text);
    expect_err(r, "natter: @:1: line too long (at most 4094 bytes)\n");
}

static void test_conf_nul_byte(void **state)
{
    (void)state;
    static const char text[] = "max-line = 1\0"
                               "00\n"
                               "history = 3\n"
                               "rate = 1\0\n"
                               "\0\n"
                               "# a comment \0 with a NUL\n"
                               "max-line = 0\n";
    write_conf_bytes(text, sizeof(text) - 1);
    struct run *r = PARSE("--config", conf_paths[0]);
    expect_err(r, "natter: @:1: a NUL byte in the line\n"
                  "natter: @:3: a NUL byte in the line\n"
                  "natter: @:4: a NUL byte in the line\n"
                  "natter: @:5: a NUL byte in the line\n"
                  "natter: @:6: --max-line: must be a whole number from 1 to 1048576, got '0'\n");
    teardown(NULL);

    /* a NUL byte alone is an error too: the parse fails */
    static const char only[] = "max-line = 100\n"
                               "history = 3\0\n";
    write_conf_bytes(only, sizeof(only) - 1);
    r = PARSE("--config", conf_paths[0]);
    expect_err(r, "natter: @:2: a NUL byte in the line\n");
}

static void test_conf_refuses_config_check_config_help_version(void **state)
{
    (void)state;
    struct run *r = parse_conf("config = /nonexistent/other.conf\n"
                               "check-config = yes\n"
                               "help = yes\n"
                               "version = yes\n"
                               "max-line = 100\n");
    expect_err(r, "natter: @:1: --config: cannot be set in a config file\n"
                  "natter: @:2: --check-config: cannot be set in a config file\n"
                  "natter: @:3: --help: cannot be set in a config file\n"
                  "natter: @:4: --version: cannot be set in a config file\n");
    assert_false(r->c.check_config);
    assert_false(r->c.show_help);
    assert_false(r->c.show_version);
}

static void test_conf_every_other_option_can_be_set(void **state)
{
    (void)state;
    struct run *r = parse_conf_ok("listen = 127.0.0.1:1\n"
                                  "echo = yes\n"
                                  "idle-timeout = 1.5\n"
                                  "name-timeout = 2\n"
                                  "max-clients = 3\n"
                                  "max-line = 4\n"
                                  "max-output = 5000\n"
                                  "max-output-total = 70000\n"
                                  "stall-timeout = 0.25\n"
                                  "sndbuf = 6\n"
                                  "log-level = warn\n"
                                  "log-messages = yes\n"
                                  "history = 7\n"
                                  "rate = 8\n"
                                  "burst = 9\n"
                                  "max-per-ip = 10\n"
                                  "no-loopback-exempt = yes\n"
                                  "oper-password-file = /x/pw\n"
                                  "tls-cert = /x/c.pem\n"
                                  "tls-key = /x/k.pem\n");
    const struct nt_config *c = &r->c;
    assert_int_equal(c->n_listen, 1);
    assert_int_equal(c->listen[0].port, 1);
    assert_true(c->echo);
    assert_int_equal(c->idle_timeout_ms, 1500);
    assert_int_equal(c->name_timeout_ms, 2000);
    assert_int_equal(c->max_clients, 3);
    assert_int_equal(c->max_line, 4);
    assert_int_equal(c->max_output, 5000);
    assert_int_equal(c->max_output_total, 70000);
    assert_int_equal(c->stall_timeout_ms, 250);
    assert_int_equal(c->sndbuf, 6);
    assert_int_equal(c->log_level, NT_LOG_WARN);
    assert_true(c->log_messages);
    assert_int_equal(c->history, 7);
    assert_int_equal(c->rate, 8);
    assert_int_equal(c->burst, 9);
    assert_int_equal(c->max_per_ip, 10);
    assert_true(c->no_loopback_exempt);
    assert_string_equal(c->oper_password_file, "/x/pw");
    assert_string_equal(c->tls_cert_file, "/x/c.pem");
    assert_string_equal(c->tls_key_file, "/x/k.pem");
}

static void test_conf_command_line_overrides_the_file(void **state)
{
    (void)state;
    const char *path = write_conf("max-line = 100\n"
                                  "history = 5\n"
                                  "listen = 127.0.0.1:1\n"
                                  "listen = irc://127.0.0.1:2\n"
                                  "echo = no\n"
                                  "tls-cert = file.pem\n");
    struct run *r = PARSE_OK("--config", path, "--max-line", "200", "--tls-cert", "cmd.pem");
    assert_int_equal(r->c.max_line, 200);
    assert_string_equal(r->c.tls_cert_file, "cmd.pem");
    assert_int_equal(r->c.history, 5);
    assert_int_equal(r->c.n_listen, 2); /* the file's listen lines are kept */
    assert_int_equal(r->c.listen[0].port, 1);
    assert_int_equal(r->c.listen[1].scheme, NT_SCHEME_IRC);
    assert_int_equal(r->c.listen[1].port, 2);
    /* wherever --config stands on the command line */
    r = PARSE_OK("--max-line", "200", "--config", path);
    assert_int_equal(r->c.max_line, 200);
    assert_int_equal(r->c.history, 5);
    /* --listen replaces every listen of the file */
    r = PARSE_OK("--config", path, "--listen", "127.0.0.1:3");
    assert_int_equal(r->c.n_listen, 1);
    assert_int_equal(r->c.listen[0].port, 3);
    assert_int_equal(r->c.listen[0].scheme, NT_SCHEME_TCP);
    r = PARSE_OK("-l", "127.0.0.1:3", "--config", path, "--listen", "irc://127.0.0.1:4");
    assert_int_equal(r->c.n_listen, 2);
    assert_int_equal(r->c.listen[0].port, 3);
    assert_int_equal(r->c.listen[1].port, 4);
    assert_int_equal(r->c.listen[1].scheme, NT_SCHEME_IRC);
    /* a flag given on the command line wins over "no" in the file */
    r = PARSE_OK("--config", path, "--echo");
    assert_true(r->c.echo);
}

static void test_conf_command_line_listen_replaces_16_of_the_file(void **state)
{
    (void)state;
    const char *path = write_conf(listen_lines(16));
    struct run *r = PARSE_OK("--config", path, "--listen", "127.0.0.1:5");
    assert_int_equal(r->c.n_listen, 1);
    assert_string_equal(r->c.listen[0].host, "127.0.0.1");
    assert_int_equal(r->c.listen[0].port, 5);
}

static void test_conf_paths_are_owned_and_freed(void **state)
{
    (void)state;
    const char *path = write_conf("tls-cert = /etc/natter/first.pem\n"
                                  "tls-key = \"/etc/natter/my key.pem\"\n"
                                  "oper-password-file = pw # a comment\n"
                                  "tls-cert = /etc/natter/cert.pem\n"
                                  "max-line = 100\n");
    struct run *r = PARSE_OK("--config", path);
    unlink(conf_paths[0]); /* nothing may point into the file or a line buffer */
    assert_string_equal(r->c.tls_cert_file, "/etc/natter/cert.pem");
    assert_string_equal(r->c.tls_key_file, "/etc/natter/my key.pem");
    assert_string_equal(r->c.oper_password_file, "pw");
    /* each is one of the copies c owns */
    const char *const given[] = {r->c.tls_cert_file, r->c.tls_key_file, r->c.oper_password_file};
    for (size_t i = 0; i < sizeof(given) / sizeof(given[0]); i++) {
        bool owned = false;
        for (size_t j = 0; j < r->c.n_owned; j++)
            owned = owned || r->c.owned[j] == given[i];
        assert_true(owned);
    }
    /* nt_config_fini frees them all (LeakSanitizer checks under the asan preset) and may be
     * called again */
    nt_config_fini(&r->c);
    assert_null(r->c.owned);
    assert_int_equal(r->c.n_owned, 0);
    nt_config_fini(&r->c);
    assert_int_equal(r->c.n_owned, 0);
}

static void test_conf_fini_frees_what_a_failed_parse_owned(void **state)
{
    (void)state;
    struct run *r = parse_conf("tls-cert = /a.pem\n"
                               "max-line = 0\n"
                               "tls-key = \"/b.pem\"\n"
                               "oper-password-file = \"\"\n"
                               "bogus = /c\n");
    assert_int_equal(r->rc, -1);
    assert_int_equal(r->lines, 3);
    nt_config_fini(&r->c); /* and teardown's second call is harmless */
    assert_null(r->c.owned);
    assert_int_equal(r->c.n_owned, 0);
}

static void test_conf_missing_file(void **state)
{
    (void)state;
    struct run *r = PARSE("--config", "/nonexistent-natter-dir/natter.conf");
    assert_string_equal(r->err, "natter: --config: cannot read '/nonexistent-natter-dir/"
                                "natter.conf': No such file or directory\n");
    assert_int_equal(r->rc, -1);
    /* and the command line's errors are still reported */
    r = PARSE("--config", "/nonexistent-natter-dir/natter.conf", "--max-line", "0");
    assert_int_equal(r->rc, -1);
    assert_int_equal(r->lines, 2);
    assert_non_null(strstr(r->err, "natter: --config: cannot read '/nonexistent-natter-dir/"));
    assert_non_null(
        strstr(r->err, "natter: --max-line: must be a whole number from 1 to 1048576, got '0'\n"));
}

static void test_conf_a_directory_is_not_a_file(void **state)
{
    (void)state;
    /* fopen() of a directory succeeds; its first read fails (EISDIR): an error, not an empty
     * file */
    const char *dir = make_dir();
    struct run *r = PARSE("--config", dir);
    if (r->rc != -1 || r->lines != 1)
        print_error("--config %s: rc %d, err \"%s\"\n", dir, r->rc, r->err);
    assert_int_equal(r->rc, -1);
    assert_int_equal(r->lines, 1);
    assert_int_equal(strncmp(r->err, "natter: --config: ", 18), 0);
    assert_non_null(strstr(r->err, dir));
}

static void test_conf_errors_name_a_long_path_in_full(void **state)
{
    (void)state;
    /* "each with the file, line and option", however long the file's path (PATH_MAX is 4096) */
    char name[201];
    memset(name, 'd', 200);
    name[200] = '\0';
    snprintf(long_dir, sizeof(long_dir), "%s/%s", make_dir(), name);
    assert_int_equal(mkdir(long_dir, 0700), 0);
    memset(name, 'e', 200);
    snprintf(long_path, sizeof(long_path), "%s/%s.conf", long_dir, name);
    FILE *f = fopen(long_path, "w");
    assert_non_null(f);
    fputs("max-line = 0\n", f);
    assert_int_equal(fclose(f), 0);
    struct run *r = PARSE("--config", long_path);
    char want[2048];
    snprintf(want, sizeof(want),
             "natter: %s:1: --max-line: must be a whole number from 1 to 1048576, got '0'\n",
             long_path);
    assert_string_equal(r->err, want);
    assert_int_equal(r->rc, -1);
}

static void test_conf_equals_form(void **state)
{
    (void)state;
    const char *path = write_conf("max-line = 100\nlisten = 127.0.0.1:7\n");
    char arg[300];
    snprintf(arg, sizeof(arg), "--config=%s", path);
    struct run *r = PARSE_OK(arg);
    assert_int_equal(r->c.max_line, 100);
    assert_int_equal(r->c.n_listen, 1);
    assert_int_equal(r->c.listen[0].port, 7);
    assert_string_equal(r->c.config_file, path);
    r = PARSE_OK(arg, "--max-line=300");
    assert_int_equal(r->c.max_line, 300);
    r = PARSE("--config=");
    assert_string_equal(r->err, "natter: --config: must not be empty\n");
    assert_int_equal(r->rc, -1);
    r = PARSE("--config");
    assert_string_equal(r->err, "natter: --config: missing value FILE\n");
    assert_int_equal(r->rc, -1);
}

static void test_conf_file_and_command_line_errors_all_reported(void **state)
{
    (void)state;
    const char *path = write_conf("max-line = 0\nbogus = 1\n");
    struct run *r = PARSE("--rate", "ten", "--config", path, "--frobnicate");
    assert_int_equal(r->rc, -1);
    assert_int_equal(r->lines, 4);
    static const char *const want[] = {
        "natter: @:1: --max-line: must be a whole number from 1 to 1048576, got '0'\n",
        "natter: @:2: unknown option 'bogus' (see --help)\n",
        "natter: --rate: must be a whole number from 0 to 1000000, got 'ten'\n",
        "natter: unknown option '--frobnicate' (see --help)\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *line = expand(want[i]);
        if (strstr(r->err, line) == NULL)
            print_error("no line \"%s\" in:\n%s", line, r->err);
        assert_non_null(strstr(r->err, line));
    }
}

static void test_conf_tls_listener_from_the_file(void **state)
{
    (void)state;
    const char *path = write_conf("listen = tls://127.0.0.1:0\n");
    struct run *r = PARSE("--config", path);
    assert_string_equal(r->err,
                        "natter: --listen tls://: needs --tls-cert FILE and --tls-key FILE\n");
    assert_int_equal(r->rc, -1);
    r = PARSE_OK("--config", path, "--tls-cert", "c.pem", "--tls-key", "k.pem");
    assert_true(nt_config_has_tls(&r->c));
    /* the command line's plain listener replaces the file's tls:// one: no certificate needed */
    r = PARSE_OK("--config", path, "--listen", "127.0.0.1:0");
    assert_false(nt_config_has_tls(&r->c));
}

static void test_check_config_flag(void **state)
{
    (void)state;
    assert_false(PARSE_OK("--echo")->c.check_config);
    assert_true(PARSE_OK("-n")->c.check_config);
    assert_true(PARSE_OK("--check-config")->c.check_config);
    EXPECT_ERROR(("--check-config=yes"), ("--check-config"));
    const char *path = write_conf("max-line = 100\n");
    struct run *r = PARSE_OK("-n", "--config", path);
    assert_true(r->c.check_config);
    assert_int_equal(r->c.max_line, 100);
    assert_string_equal(r->c.config_file, path);
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
        cmocka_unit_test_teardown(test_conf_example_from_the_docs, teardown),
        cmocka_unit_test_teardown(test_conf_empty_file_keeps_the_defaults, teardown),
        cmocka_unit_test_teardown(test_conf_spaces_around_equals_are_optional, teardown),
        cmocka_unit_test_teardown(test_conf_comments, teardown),
        cmocka_unit_test_teardown(test_conf_hash_inside_a_value_is_checked_as_the_value, teardown),
        cmocka_unit_test_teardown(test_conf_hash_right_after_equals_is_a_value, teardown),
        cmocka_unit_test_teardown(test_conf_hash_right_after_a_closing_quote_is_not_a_comment,
                                  teardown),
        cmocka_unit_test_teardown(test_conf_quoted_values, teardown),
        cmocka_unit_test_teardown(test_conf_repeated_listen, teardown),
        cmocka_unit_test_teardown(test_conf_listen_at_most_16, teardown),
        cmocka_unit_test_teardown(test_conf_booleans_yes_and_no, teardown),
        cmocka_unit_test_teardown(test_conf_booleans_other_words_refused, teardown),
        cmocka_unit_test_teardown(test_conf_every_error_reported_with_file_line_and_option,
                                  teardown),
        cmocka_unit_test_teardown(test_conf_same_checks_as_the_command_line, teardown),
        cmocka_unit_test_teardown(test_conf_unknown_option, teardown),
        cmocka_unit_test_teardown(test_conf_missing_equals, teardown),
        cmocka_unit_test_teardown(test_conf_missing_closing_quote, teardown),
        cmocka_unit_test_teardown(test_conf_text_after_a_quoted_value, teardown),
        cmocka_unit_test_teardown(test_conf_lines_are_at_most_4094_bytes, teardown),
        cmocka_unit_test_teardown(test_conf_nul_byte, teardown),
        cmocka_unit_test_teardown(test_conf_refuses_config_check_config_help_version, teardown),
        cmocka_unit_test_teardown(test_conf_every_other_option_can_be_set, teardown),
        cmocka_unit_test_teardown(test_conf_command_line_overrides_the_file, teardown),
        cmocka_unit_test_teardown(test_conf_command_line_listen_replaces_16_of_the_file, teardown),
        cmocka_unit_test_teardown(test_conf_paths_are_owned_and_freed, teardown),
        cmocka_unit_test_teardown(test_conf_fini_frees_what_a_failed_parse_owned, teardown),
        cmocka_unit_test_teardown(test_conf_missing_file, teardown),
        cmocka_unit_test_teardown(test_conf_a_directory_is_not_a_file, teardown),
        cmocka_unit_test_teardown(test_conf_errors_name_a_long_path_in_full, teardown),
        cmocka_unit_test_teardown(test_conf_equals_form, teardown),
        cmocka_unit_test_teardown(test_conf_file_and_command_line_errors_all_reported, teardown),
        cmocka_unit_test_teardown(test_conf_tls_listener_from_the_file, teardown),
        cmocka_unit_test_teardown(test_check_config_flag, teardown),
        cmocka_unit_test_teardown(test_diff_for_a_reload, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
