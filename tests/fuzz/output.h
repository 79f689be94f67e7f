/* SPDX-License-Identifier: MIT */
/* output.h - the checks fuzz_chat and fuzz_cluster run on every byte a client is sent: valid
 * UTF-8 with LF the only control (PROTOCOL.md §5.3); for IRC clients CR only before LF, CTCP's
 * \x01, lines of at most 512 bytes after their tags, each a message of the server (§8.9). */
#ifndef NT_FUZZ_OUTPUT_H
#define NT_FUZZ_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"

/* Checks that an IRC line's body, from s[at] on, is a message of the server: one with a prefix,
 * or one of the two it sends without one. So a CR LF that came inside a text or a tag, which the
 * other checks let pass, shows as a line of its own that is none of these. */
static inline void check_irc_body(const unsigned char *s, size_t n, size_t at)
{
    CHECK(at < n);
    CHECK(s[at] == ':' || (n - at >= 6 && memcmp(s + at, "PING :", 6) == 0) ||
          (n - at >= 7 && memcmp(s + at, "ERROR :", 7) == 0));
}

/* Checks bytes sent to a client as UTF-8 text with LF the only control (IRC: CR before LF and
 * \x01 too, lines of at most 512 bytes after the tags, each a message of the server). */
static inline void check_output(const char *p, size_t n, bool is_irc)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t line_start = 0, body_start = 0;
    for (size_t i = 0; i < n;) {
        unsigned char b = s[i];
        if (b < 0x80) {
            if (is_irc && i == line_start) {
                const unsigned char *lf = memchr(s + i, '\n', n - i);
                CHECK(lf != NULL); /* an IRC message is whole lines */
                body_start = i;
                if (b == '@') { /* the tags end with a space inside the line */
                    const unsigned char *sp = memchr(s + i, ' ', (size_t)(lf - (s + i)));
                    CHECK(sp != NULL);
                    body_start = (size_t)(sp - s) + 1;
                }
                check_irc_body(s, (size_t)(lf - s), body_start);
            }
            if (b == '\n') {
                if (is_irc) {
                    CHECK(i > 0 && s[i - 1] == '\r');
                    CHECK(i + 1 - (body_start > line_start ? body_start : line_start) <= 512);
                }
                line_start = body_start = i + 1;
            } else if (is_irc && b == '\r') {
                CHECK(i + 1 < n && s[i + 1] == '\n');
            } else {
                CHECK((b >= 0x20 && b != 0x7F) || (is_irc && b == 0x01));
            }
            i++;
            continue;
        }
        size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
        CHECK(b >= 0xC2 && b <= 0xF4 && i + len <= n);
        uint32_t cp = b & (len == 2 ? 0x1Fu : len == 3 ? 0x0Fu : 0x07u);
        for (size_t k = 1; k < len; k++) {
            CHECK((s[i + k] & 0xC0) == 0x80);
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        CHECK(cp >= (len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u)); /* no overlong form */
        CHECK(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF));
        CHECK(cp > 0x9F); /* no C1 control */
        CHECK(!(cp >= 0x202A && cp <= 0x202E) && !(cp >= 0x2066 && cp <= 0x2069));
        i += len;
    }
}

#endif
