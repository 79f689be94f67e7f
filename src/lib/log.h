/* SPDX-License-Identifier: MIT */
/* log.h - levels, the one-event-per-line format on stderr, nt_fatal() for start-up. */
#ifndef NT_LOG_H
#define NT_LOG_H

#include <stdbool.h>

enum nt_log_level { NT_LOG_ERROR, NT_LOG_WARN, NT_LOG_INFO, NT_LOG_DEBUG };

/* The current threshold; events above it are not written. Default NT_LOG_INFO. */
extern enum nt_log_level nt_log_threshold;

/* Parses "error", "warn", "info" or "debug" into *out. Returns false for anything else. */
bool nt_log_level_parse(const char *s, enum nt_log_level *out);

/* The name of level, as nt_log_level_parse() takes it and log lines show it. */
const char *nt_log_level_name(enum nt_log_level level);

/*
 * Writes one line to stderr: "2026-01-02T10:00:00.123Z LEVEL message\n", where message is the
 * printf-style format. The line is written with one write() so lines never interleave.
 * Until nt_log_nonblocking() is called the write may wait for the reader (start-up, usage errors);
 * after it, never: see there.
 */
void nt_log_write(enum nt_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Bytes of log the process holds while stderr's reader is behind. */
#define NT_LOG_BUFFER (256 * 1024)

/*
 * From now on a log line never waits for stderr's reader (a pipe nobody reads, a stuck journal, a
 * terminal held by Ctrl-S would stop the whole chat otherwise). A pipe or a terminal is reopened
 * as a description of its own with O_NONBLOCK (setting it on the inherited one would change it for
 * the parent's shell too), a socket is written with MSG_DONTWAIT, a file as before (it never waits
 * on a reader). What stderr does not take at once is kept in a buffer of NT_LOG_BUFFER bytes; when
 * it is full, lines are dropped and counted until it has drained, and then one line says how many
 * ("N log lines dropped") where they are missing. on_pending(arg) is called when the buffer stops
 * being empty: the caller then calls nt_log_flush() until it returns true. Called again, it only
 * changes the hook (NULL: none, before the caller's storage goes).
 */
void nt_log_nonblocking(void (*on_pending)(void *arg), void *arg);

/* Writes what the buffer holds, as far as stderr takes it. Returns true when it is empty. */
bool nt_log_flush(void);

/* Lines dropped since start-up because the buffer was full or stderr was gone. */
unsigned long long nt_log_dropped_total(void);

/* Logs at a level; arguments are not evaluated when the level is filtered out. */
#define NT_LOG(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= nt_log_threshold)                                                           \
            nt_log_write((level), __VA_ARGS__);                                                    \
    } while (0)
#define NT_ERROR(...) NT_LOG(NT_LOG_ERROR, __VA_ARGS__)
#define NT_WARN(...)  NT_LOG(NT_LOG_WARN, __VA_ARGS__)
#define NT_INFO(...)  NT_LOG(NT_LOG_INFO, __VA_ARGS__)
#define NT_DEBUG(...) NT_LOG(NT_LOG_DEBUG, __VA_ARGS__)

#endif
