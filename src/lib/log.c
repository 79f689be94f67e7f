/* SPDX-License-Identifier: MIT */
/* log.c - one event per line on stderr, ISO-8601 UTC timestamps with milliseconds; written
 * without blocking once the loop runs (log.h). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum nt_log_level nt_log_threshold = NT_LOG_INFO;

/* Where lines go, and what waits for stderr's reader. */
static struct {
    bool is_nonblocking;              /* nt_log_nonblocking() took: writes never wait */
    bool is_socket;                   /* send(MSG_DONTWAIT) rather than write() */
    bool is_dropping;                 /* the buffer filled: drop until it has drained */
    int fd;                           /* STDERR_FILENO, or owned: stderr reopened with O_NONBLOCK */
    size_t len;                       /* bytes waiting in buf */
    unsigned long long dropped;       /* since the last "dropped" line */
    unsigned long long dropped_total; /* since start-up */
    void (*on_pending)(void *arg);
    void *arg;
    char buf[NT_LOG_BUFFER]; /* untouched (no RSS) until stderr's reader falls behind */
} sink = {.fd = STDERR_FILENO};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

const char *nt_log_level_name(enum nt_log_level level)
{
    return level_names[level];
}

/* Bytes written (maybe fewer than n), 0 when stderr takes nothing now, -1 when it is gone. */
static ssize_t try_write(const char *p, size_t n)
{
    for (;;) {
        ssize_t w = sink.is_socket ? send(sink.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL)
                                   : write(sink.fd, p, n);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

static void count_dropped(unsigned long long n)
{
    sink.dropped += n;
    sink.dropped_total += n;
}

static unsigned long long count_lines(const char *p, size_t n)
{
    unsigned long long lines = 0;
    for (const char *end = p + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
        lines++;
    return lines;
}

/* One whole line, in nonblocking mode: written now, or kept, or dropped and counted. */
static void emit(const char *line, size_t n)
{
    if (sink.is_dropping) {
        count_dropped(1);
        return;
    }
    if (sink.len == 0) {
        ssize_t w = try_write(line, n);
        if (w < 0) {
            count_dropped(1);
            return;
        }
        line += w;
        n -= (size_t)w;
        if (n == 0)
            return;
    }
    /* The rest of a line cut by a short write always fits (the buffer was empty): never half a
     * line lost. */
    if (sink.len + n > sizeof(sink.buf)) {
        sink.is_dropping = true;
        count_dropped(1);
        return;
    }
    bool was_empty = sink.len == 0;
    memcpy(sink.buf + sink.len, line, n);
    sink.len += n;
    if (was_empty && sink.on_pending != NULL)
        sink.on_pending(sink.arg);
}

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

/*
 * Whether stderr is the journal's stream (systemd sets JOURNAL_STREAM to its "DEV:INODE"; a
 * child whose stderr was redirected inherits the variable but not the stream). Checked once.
 */
static bool is_journal(void)
{
    static int known = -1;
    if (known >= 0)
        return known;
    known = 0;
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (env != NULL && sscanf(env, "%llu:%llu", &dev, &ino) == 2 &&
        fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
        (unsigned long long)st.st_ino == ino)
        known = 1;
    return known;
}

void nt_log_write(enum nt_log_level level, const char *fmt, ...)
{
    char line[2048];
    size_t n;
    if (is_journal()) {
        /* The journal stamps lines itself; "<N>" is its syslog level (sd-daemon(3)). */
        static const int priority[] = {3, 4, 6, 7};
        n = (size_t)snprintf(line, sizeof(line), "<%d>%s ", priority[level], level_names[level]);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", ts.tv_nsec / 1000000L,
                              level_names[level]);
    }

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

    if (sink.is_nonblocking) {
        emit(line, n);
        return;
    }
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

void nt_log_nonblocking(void (*on_pending)(void *arg), void *arg)
{
    struct stat st;
    sink.on_pending = on_pending;
    sink.arg = arg;
    if (sink.is_nonblocking || fstat(STDERR_FILENO, &st) != 0)
        return; /* no stderr at all: writes fail and cost nothing */
    if (S_ISSOCK(st.st_mode)) {
        sink.is_socket = true;
    } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
        int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            NT_WARN("cannot reopen stderr without blocking (%s): a log reader that stops "
                    "reading will stop the server",
                    strerror(errno));
            return;
        }
        sink.fd = fd;
    } else {
        return; /* a file: a write never waits for a reader */
    }
    sink.is_nonblocking = true;
}

unsigned long long nt_log_dropped_total(void)
{
    return sink.dropped_total;
}

bool nt_log_flush(void)
{
    while (sink.len > 0) {
        ssize_t w = try_write(sink.buf, sink.len);
        if (w == 0)
            return false;
        if (w < 0) {
            /* stderr is gone: what waits is lost. */
            count_dropped(count_lines(sink.buf, sink.len));
            sink.len = 0;
            break;
        }
        memmove(sink.buf, sink.buf + w, sink.len - (size_t)w);
        sink.len -= (size_t)w;
    }
    sink.is_dropping = false;
    if (sink.dropped > 0) {
        unsigned long long n = sink.dropped;
        sink.dropped = 0;
        nt_log_write(NT_LOG_WARN, "%llu log lines dropped: stderr was not read fast enough", n);
    }
    return sink.len == 0;
}
