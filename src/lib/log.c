/* SPDX-License-Identifier: MIT */
/* log.c - one event per line on stderr, ISO-8601 UTC timestamps with milliseconds. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum nt_log_level nt_log_threshold = NT_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

bool nt_log_level_parse(const char *s, enum nt_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum nt_log_level)i;
            return true;
        }
    }
    return false;
}

void nt_log_write(enum nt_log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", ts.tv_nsec / 1000000L,
                          level_names[level]);

    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 misses the va_start above */
    int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    /* A long event is cut, never split: keep room for the newline. */
    if (n > sizeof(line) - 1)
        n = sizeof(line) - 1;
    line[n++] = '\n';

    /* One write() per event, so that lines from a busy server never interleave. */
    const char *p = line;
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0)
            break;
        p += w;
        n -= (size_t)w;
    }
}
