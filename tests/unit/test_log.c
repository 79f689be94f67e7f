/* SPDX-License-Identifier: MIT */
/* test_log.c - unit tests for log.c: stderr on a pipe nobody reads never blocks a log line;
 * lines wait in the buffer, then are dropped whole and counted, and the count is logged where
 * they are missing once the pipe drains. The log's state is the process's own, so the tests run
 * in order and the first one turns the non-blocking mode on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"

#define MAX_LINES 20000

static int saved_stderr = -1;
static int pipe_r = -1;
static int pendings; /* calls of the on_pending hook */

static void on_pending(void *arg)
{
    (void)arg;
    pendings++;
}

/* Everything the pipe holds now (its read end is non-blocking), appended to *buf. */
static void drain_pipe(char **buf, size_t *len, size_t *cap)
{
    for (;;) {
        if (*cap - *len < 65536) {
            *cap = *cap * 2 + 65536;
            *buf = realloc(*buf, *cap);
            assert_non_null(*buf);
        }
        ssize_t n = read(pipe_r, *buf + *len, *cap - *len);
        if (n > 0) {
            *len += (size_t)n;
            continue;
        }
        assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        return;
    }
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pipe_r = p[0];
    fcntl(pipe_r, F_SETFL, O_NONBLOCK);
    saved_stderr = dup(STDERR_FILENO);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    nt_log_threshold = NT_LOG_INFO;
    nt_log_nonblocking(on_pending, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nt_log_nonblocking(NULL, NULL);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    if (pipe_r >= 0)
        close(pipe_r);
    return 0;
}

static void test_unread_pipe_never_blocks_and_drops_are_counted(void **state)
{
    (void)state;
    /* Nobody reads: far more than the pipe (64 KiB) and the buffer hold, and every call
     * returns (a blocking write would hang the test here). */
    int written = 0;
    while (written < MAX_LINES) {
        NT_INFO("line %06d %s", written, "padding-padding-padding-padding-padding-padding-padding");
        written++;
        if (nt_log_dropped_total() >= 1000)
            break;
    }
    assert_true(written < MAX_LINES);
    assert_int_equal(pendings, 1); /* once, when the buffer stopped being empty */
    assert_false(nt_log_flush());  /* the pipe is still full */

    /* The reader comes back. */
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (int rounds = 0; rounds < 10000; rounds++) {
        drain_pipe(&buf, &len, &cap);
        if (nt_log_flush())
            break;
    }
    drain_pipe(&buf, &len, &cap);
    assert_true(len > 0 && buf[len - 1] == '\n');

    /* Whole lines, in order, the numbered ones first, then the count of what is missing. */
    int logged = 0, last = -1;
    unsigned long long dropped = 0;
    int dropped_lines = 0;
    for (char *line = buf, *end; line < buf + len; line = end + 1) {
        end = memchr(line, '\n', (size_t)(buf + len - line));
        assert_non_null(end);
        *end = '\0';
        assert_true(strlen(line) > 25 && line[23] == 'Z' && line[24] == ' ');
        const char *msg = line + 25;
        int n;
        if (sscanf(msg, "info line %d padding-", &n) == 1) {
            assert_int_equal(dropped_lines, 0); /* nothing after the count */
            assert_true(n > last);
            last = n;
            logged++;
        } else {
            assert_int_equal(sscanf(msg,
                                    "warn %llu log lines dropped: stderr was not read fast "
                                    "enough",
                                    &dropped),
                             1);
            dropped_lines++;
        }
    }
    assert_int_equal(dropped_lines, 1);
    assert_true(dropped > 0);
    assert_int_equal((unsigned long long)logged + dropped, (unsigned long long)written);
    assert_int_equal(nt_log_dropped_total(), dropped);
    /* The lines that got out are the first ones, with no hole among them. */
    assert_int_equal(last, logged - 1);

    /* Drained: the next line goes out at once. */
    len = 0;
    NT_INFO("after the drain");
    drain_pipe(&buf, &len, &cap);
    assert_true(len > 16 && memcmp(buf + len - 16, "after the drain\n", 16) == 0);
    assert_true(nt_log_flush());
    free(buf);
}

static void test_reader_gone_costs_only_the_lines(void **state)
{
    (void)state;
    close(pipe_r);
    pipe_r = -1;
    unsigned long long before = nt_log_dropped_total();
    NT_INFO("nobody will read this");
    NT_WARN("nor this");
    assert_int_equal(nt_log_dropped_total(), before + 2);
    assert_true(nt_log_flush());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unread_pipe_never_blocks_and_drops_are_counted),
        cmocka_unit_test(test_reader_gone_costs_only_the_lines),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
