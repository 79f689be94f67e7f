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

/*
 * Writes one line to stderr: "2026-01-02T10:00:00.123Z LEVEL message\n", where message is the
 * printf-style format. The line is written with one write() so lines never interleave.
 */
void nt_log_write(enum nt_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

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
