/* SPDX-License-Identifier: MIT */
/* framer.h - bytes -> lines, capped at max_line, with telnet IAC removal. No I/O (fuzz target). */
#ifndef NT_FRAMER_H
#define NT_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum nt_frame_result {
    NT_FRAME_MORE,     /* the input is used up; no complete line */
    NT_FRAME_LINE,     /* *line / *line_len hold one line, without its LF and the CR before it */
    NT_FRAME_TOO_LONG, /* a line went over max_line; the rest of it up to LF will be discarded */
};

/* Splits a byte stream into lines (PROTOCOL.md §5.1, §5.2). */
struct nt_framer {
    char *buf;         /* owned; partial line, allocated only while one is pending */
    size_t len;        /* bytes in buf */
    size_t cap;        /* bytes buf has room for */
    size_t max_line;   /* the longest line content accepted, in bytes; may change (a reload) */
    bool strip_iac;    /* remove telnet IAC sequences (chat mode) */
    bool discarding;   /* inside an over-long line: drop bytes up to the next LF */
    bool had_cr;       /* the last NT_FRAME_LINE ended in CR LF (the CR is not in the line) */
    uint8_t iac_state; /* telnet parser state, private */
    uint8_t sb_len;    /* bytes seen inside the current IAC SB, private */
};

/* Initialises f for lines of at most max_line bytes (max_line >= 1). Allocates nothing. */
void nt_framer_init(struct nt_framer *f, size_t max_line, bool strip_iac);

/* Changes the longest line accepted (a reload, max_line >= 1), from the line being read: if what
 * is pending of it is over the new cap already, it is refused as too long. */
void nt_framer_set_max(struct nt_framer *f, size_t max_line);

/* Frees f's buffer. f may be initialised again afterwards. */
void nt_framer_fini(struct nt_framer *f);

/*
 * Consumes bytes from *in (of *in_len bytes), advancing both, until one outcome:
 * - NT_FRAME_LINE: *line points to the line's bytes, valid until the next call on f or until the
 *   input buffer changes; it may point into the input (no copy) or into f's buffer.
 * - NT_FRAME_TOO_LONG: reported once per over-long line, as soon as it goes over max_line.
 * - NT_FRAME_MORE: all input consumed; a partial line, if any, is kept in f.
 * Call again with the same *in / *in_len until NT_FRAME_MORE.
 */
enum nt_frame_result nt_framer_next(struct nt_framer *f, const char **in, size_t *in_len,
                                    const char **line, size_t *line_len);

/*
 * At the end of the input: returns NT_FRAME_LINE with the pending partial line (as if an LF had
 * come; what an over-long line left is not one), or NT_FRAME_MORE when there is none. Valid
 * until the next call on f.
 */
enum nt_frame_result nt_framer_end(struct nt_framer *f, const char **line, size_t *line_len);

#endif
