/* SPDX-License-Identifier: MIT */
/* framer.c - bytes -> lines, capped at max_line, with telnet IAC removal (PROTOCOL.md §5.1-5.2). */
#include "framer.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Telnet bytes (RFC 854). */
#define IAC  0xFF
#define SB   0xFA
#define SE   0xF0
#define WILL 0xFB
#define DONT 0xFE
/* A subnegotiation longer than this is cut off: the bytes after it are data again. */
#define SB_MAX 64

enum iac_state { IAC_NONE, IAC_SEEN, IAC_OPTION, IAC_SUB, IAC_SUB_IAC };

void nt_framer_init(struct nt_framer *f, size_t max_line, bool strip_iac)
{
    NT_ASSERT(max_line >= 1);
    memset(f, 0, sizeof(*f));
    f->max_line = max_line;
    f->strip_iac = strip_iac;
}

void nt_framer_fini(struct nt_framer *f)
{
    free(f->buf);
    f->buf = NULL;
    f->len = f->cap = 0;
}

void nt_framer_set_max(struct nt_framer *f, size_t max_line)
{
    NT_ASSERT(max_line >= 1);
    f->max_line = max_line; /* the buffer grows or the line is refused at its next byte */
}

/* The buffer holds up to max_line + 1 bytes: the content plus a CR that an LF may follow. */
static void append(struct nt_framer *f, char c)
{
    if (f->len == f->cap) { /* none yet, or max_line grew since it was made */
        f->cap = f->max_line + 1;
        f->buf = nt_xrealloc(f->buf, f->cap);
    }
    f->buf[f->len++] = c;
}

/*
 * Runs one byte through the telnet parser. Returns true when the byte is data for the line, false
 * when it belongs to a telnet command. *c may be rewritten (IAC IAC is a literal 0xFF).
 */
static bool telnet(struct nt_framer *f, unsigned char c)
{
    switch (f->iac_state) {
    case IAC_NONE:
        if (c != IAC)
            return true;
        f->iac_state = IAC_SEEN;
        return false;
    case IAC_SEEN:
        if (c == IAC) {
            f->iac_state = IAC_NONE;
            return true;
        }
        if (c >= WILL && c <= DONT)
            f->iac_state = IAC_OPTION;
        else if (c == SB) {
            f->iac_state = IAC_SUB;
            f->sb_len = 0;
        } else
            f->iac_state = IAC_NONE;
        return false;
    case IAC_OPTION:
        f->iac_state = IAC_NONE;
        return false;
    case IAC_SUB:
        if (c == IAC)
            f->iac_state = IAC_SUB_IAC;
        else if (++f->sb_len >= SB_MAX)
            f->iac_state = IAC_NONE;
        return false;
    default: /* IAC_SUB_IAC: SE ends it, IAC IAC is an escaped 0xFF inside it. */
        f->iac_state = (c == SE) ? IAC_NONE : IAC_SUB;
        if (f->iac_state == IAC_SUB && ++f->sb_len >= SB_MAX)
            f->iac_state = IAC_NONE;
        return false;
    }
}

/* Completes the buffered line: *line points into f->buf, which stays intact until the next call. */
static enum nt_frame_result finish(struct nt_framer *f, const char **line, size_t *line_len)
{
    size_t n = f->len;
    f->had_cr = n > 0 && f->buf[n - 1] == '\r';
    if (f->had_cr)
        n--;
    f->len = 0;
    if (n > f->max_line)
        return NT_FRAME_TOO_LONG; /* max_line shrank while it was pending */
    *line = f->buf;
    *line_len = n;
    return NT_FRAME_LINE;
}

/* Fast path: no partial line, no telnet state, a whole line in the input. No copy is made. */
static bool next_in_place(struct nt_framer *f, const char **in, size_t *in_len, const char **line,
                          size_t *line_len, enum nt_frame_result *res)
{
    const char *p = *in;
    const char *lf = memchr(p, '\n', *in_len);
    if (lf == NULL) {
        /* The tail of an over-long line with no LF yet: drop it all at once. */
        if (!f->discarding || (f->strip_iac && memchr(p, IAC, *in_len) != NULL))
            return false;
        *in += *in_len;
        *in_len = 0;
        *res = NT_FRAME_MORE;
        return true;
    }
    size_t n = (size_t)(lf - p);
    if (f->strip_iac && memchr(p, IAC, n) != NULL)
        return false;
    *in += n + 1;
    *in_len -= n + 1;
    if (f->discarding) {
        f->discarding = false;
        *res = NT_FRAME_MORE;
        return true;
    }
    f->had_cr = n > 0 && p[n - 1] == '\r';
    if (f->had_cr)
        n--;
    if (n > f->max_line) {
        *res = NT_FRAME_TOO_LONG;
        return true;
    }
    *line = p;
    *line_len = n;
    *res = NT_FRAME_LINE;
    return true;
}

enum nt_frame_result nt_framer_next(struct nt_framer *f, const char **in, size_t *in_len,
                                    const char **line, size_t *line_len)
{
    while (*in_len > 0) {
        if (f->len == 0 && f->iac_state == IAC_NONE) {
            enum nt_frame_result res;
            if (next_in_place(f, in, in_len, line, line_len, &res)) {
                if (res == NT_FRAME_MORE)
                    continue; /* discarded the tail of an over-long line */
                return res;
            }
        }
        unsigned char c = (unsigned char)**in;
        (*in)++;
        (*in_len)--;
        if (f->strip_iac && !telnet(f, c))
            continue;
        if (c == '\n') {
            if (f->discarding) {
                f->discarding = false;
                continue;
            }
            return finish(f, line, line_len);
        }
        if (f->discarding)
            continue;
        /* Over the cap: max_line bytes of content, plus one CR only if an LF follows it. */
        bool full = f->len >= f->max_line + 1 || (f->len >= f->max_line && c != '\r');
        if (full) {
            f->len = 0;
            f->discarding = true;
            return NT_FRAME_TOO_LONG;
        }
        append(f, (char)c);
    }
    if (f->len == 0) {
        free(f->buf);
        f->buf = NULL;
        f->cap = 0;
    }
    return NT_FRAME_MORE;
}

enum nt_frame_result nt_framer_end(struct nt_framer *f, const char **line, size_t *line_len)
{
    if (f->discarding || f->len == 0)
        return NT_FRAME_MORE;
    return finish(f, line, line_len);
}
