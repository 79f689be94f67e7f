/* SPDX-License-Identifier: MIT */
/* text.c - sanitising: UTF-8 repair, control and escape stripping, trimming (PROTOCOL.md §5.3). */
#include "text.h"

#include <stdbool.h>
#include <string.h>

#define INVALID UINT32_MAX

size_t nt_text_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    uint32_t v;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
        v = b & 0x1Fu;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        v = b & 0x0Fu;
        if (b == 0xE0)
            lo = 0xA0; /* no overlong forms */
        else if (b == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        v = b & 0x07u;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *cp = INVALID;
        return 1;
    }
    /* A maximal invalid subpart is the longest valid prefix of a sequence: one U+FFFD for it. */
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            *cp = INVALID;
            return i;
        }
        v = (v << 6) | (s[i] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return i;
}

size_t nt_text_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Escape-sequence states (ECMA-48). */
enum esc_state {
    ESC_NONE,
    ESC_START,  /* after ESC */
    ESC_INTER,  /* ESC, intermediates 0x20-0x2F, waiting for the final byte */
    ESC_CSI,    /* CSI parameters and intermediates, waiting for a final 0x40-0x7E */
    ESC_STR,    /* OSC, DCS, SOS, PM, APC string, waiting for BEL or ST */
    ESC_STR_ESC /* ESC inside a string: '\' completes ST */
};

static bool is_bidi_control(uint32_t cp)
{
    return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Where a code point sends the escape parser from ESC_NONE; ESC_NONE if it starts nothing. */
static enum esc_state starts_sequence(uint32_t cp)
{
    switch (cp) {
    case 0x1B:
        return ESC_START;
    case 0x9B:
        return ESC_CSI;
    case 0x9D: /* OSC */
    case 0x90: /* DCS */
    case 0x98: /* SOS */
    case 0x9E: /* PM */
    case 0x9F: /* APC */
        return ESC_STR;
    default:
        return ESC_NONE;
    }
}

/* Feeds one code point (or INVALID) to the escape parser; returns true if it was swallowed. */
static bool in_sequence(enum esc_state *st, uint32_t cp)
{
    switch (*st) {
    case ESC_NONE:
        *st = starts_sequence(cp);
        return *st != ESC_NONE;
    case ESC_START:
        if (cp == '[')
            *st = ESC_CSI;
        else if (cp == ']' || cp == 'P' || cp == 'X' || cp == '^' || cp == '_')
            *st = ESC_STR;
        else if (cp >= 0x20 && cp <= 0x2F)
            *st = ESC_INTER;
        else
            *st = ESC_NONE; /* ESC X for any other X: two bytes, both dropped (§5.3) */
        return true;
    case ESC_INTER:
        if (cp >= 0x20 && cp <= 0x2F)
            return true;
        *st = ESC_NONE;
        if (cp >= 0x30 && cp <= 0x7E)
            return true;
        return in_sequence(st, cp);
    case ESC_CSI:
        if (cp >= 0x20 && cp <= 0x3F)
            return true;
        *st = ESC_NONE;
        if (cp >= 0x40 && cp <= 0x7E)
            return true;
        return in_sequence(st, cp); /* a malformed CSI ends here */
    case ESC_STR:
        if (cp == 0x07 || cp == 0x9C)
            *st = ESC_NONE;
        else if (cp == 0x1B)
            *st = ESC_STR_ESC;
        return true;
    default: /* ESC_STR_ESC */
        if (cp == '\\') {
            *st = ESC_NONE;
            return true;
        }
        /* An ESC that is not ST ends the string and starts a new escape. */
        *st = ESC_START;
        return in_sequence(st, cp);
    }
}

size_t nt_text_sanitize(const char *in, size_t len, char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    enum esc_state st = ESC_NONE;
    size_t o = 0;

    for (size_t i = 0; i < len;) {
        /* Printable ASCII outside any sequence is by far the common case. */
        if (st == ESC_NONE && s[i] >= 0x20 && s[i] < 0x7F) {
            out[o++] = (char)s[i++];
            continue;
        }
        uint32_t cp;
        i += nt_text_utf8_decode(s + i, len - i, &cp);
        if (cp != INVALID && in_sequence(&st, cp))
            continue;
        if (cp == INVALID) {
            if (st == ESC_STR || st == ESC_STR_ESC)
                continue; /* part of a string being dropped */
            st = ESC_NONE;
            o += nt_text_utf8_encode(0xFFFD, out + o);
        } else if (cp == '\t') {
            out[o++] = ' ';
        } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || is_bidi_control(cp)) {
            continue;
        } else {
            o += nt_text_utf8_encode(cp, out + o);
        }
    }
    return o;
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

const char *nt_text_trim(const char *s, size_t *len)
{
    size_t n = *len;
    while (n > 0 && is_ascii_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_ascii_space(s[n - 1]))
        n--;
    *len = n;
    return s;
}
