/* SPDX-License-Identifier: MIT */
/* test_state.c - unit tests for state.c: the ban list on disk (OPERATIONS.md "State"). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/state.h"

struct seen {
    char got[16][64];
    size_t n;
    unsigned warned[16];
    char why[16][64];
    size_t n_warned;
};

static void add(void *ctx, const char *address)
{
    struct seen *s = ctx;
    snprintf(s->got[s->n++], sizeof(s->got[0]), "%s", address);
}

static void warn(void *ctx, unsigned lineno, const char *line)
{
    struct seen *s = ctx;
    snprintf(s->why[s->n_warned], sizeof(s->why[0]), "%s", line);
    s->warned[s->n_warned++] = lineno;
}

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/nt-test-state-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_missing_file_is_an_empty_list(void **state)
{
    (void)state;
    char path[128];
    assert_true(nt_state_bans_path(dir, path, sizeof(path)));
    struct seen s = {0};
    assert_int_equal(nt_state_bans_load(path, add, warn, &s), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.n_warned, 0);
}

static void test_save_then_load_round_trips(void **state)
{
    (void)state;
    char path[128];
    assert_true(nt_state_bans_path(dir, path, sizeof(path)));
    char a[] = "127.0.0.3", b[] = "::1", c[] = "2001:db8::7";
    char *list[] = {a, b, c};
    assert_int_equal(nt_state_bans_save(path, list, 3), 0);
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed over, nothing left beside */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    struct seen s = {0};
    assert_int_equal(nt_state_bans_load(path, add, warn, &s), 3);
    assert_string_equal(s.got[0], "127.0.0.3");
    assert_string_equal(s.got[1], "::1");
    assert_string_equal(s.got[2], "2001:db8::7");
    assert_int_equal(s.n_warned, 0);
    /* An empty list is a header alone, and loads as nothing. */
    assert_int_equal(nt_state_bans_save(path, list, 0), 0);
    struct seen e = {0};
    assert_int_equal(nt_state_bans_load(path, add, warn, &e), 0);
    assert_int_equal(e.n_warned, 0);
}

static void test_damaged_lines_are_reported_and_skipped(void **state)
{
    (void)state;
    char path[128];
    assert_true(nt_state_bans_path(dir, path, sizeof(path)));
    static const char data[] = "# header\n10.0.0.1\r\nnope\n\n   \n  10.0.0.2  \n1.2.3\nbad\0nul\n"
                               "::ffff:1.2.3.4\n300.1.1.1";
    write_file(path, data, sizeof(data) - 1);
    struct seen s = {0};
    assert_int_equal(nt_state_bans_load(path, add, warn, &s), 3);
    assert_string_equal(s.got[0], "10.0.0.1");
    assert_string_equal(s.got[1], "10.0.0.2");
    assert_string_equal(s.got[2], "::ffff:1.2.3.4");
    assert_int_equal(s.n_warned, 4);
    assert_int_equal(s.warned[0], 3);
    assert_string_equal(s.why[0], "nope");
    assert_int_equal(s.warned[1], 7);
    assert_string_equal(s.why[1], "1.2.3");
    assert_int_equal(s.warned[2], 8);
    assert_string_equal(s.why[2], "(a NUL byte)");
    assert_int_equal(s.warned[3], 10); /* the last line needs no LF */
    assert_string_equal(s.why[3], "300.1.1.1");
}

static void test_unreadable_is_an_error_and_save_into_a_missing_dir_fails(void **state)
{
    (void)state;
    struct seen s = {0};
    assert_int_equal(nt_state_bans_load(dir, add, warn, &s), -1); /* a directory */
    char path[160];
    snprintf(path, sizeof(path), "%s/no/such/bans", dir);
    char a[] = "127.0.0.1";
    char *list[] = {a};
    assert_int_equal(nt_state_bans_save(path, list, 1), -1);
    char small[8];
    assert_false(nt_state_bans_path(dir, small, sizeof(small)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_file_is_an_empty_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_then_load_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_lines_are_reported_and_skipped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_unreadable_is_an_error_and_save_into_a_missing_dir_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
