/* SPDX-License-Identifier: MIT */
/* fuzz_text.c - libFuzzer harness for text.c: sanitizing, UTF-8 decode/encode, trimming (§5.3). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lib/text.h"

/*
 * Input: any bytes, as one line from a peer. Checks:
 * - nt_text_sanitize() writes at most NT_TEXT_SANITIZED_MAX(len) bytes (an exact-size buffer, so
 *   ASan sees any overrun), and its output is valid UTF-8 (checked by an independent validator
 *   written from Unicode Table 3-7) without C0 controls (TAB, ESC included), DEL, C1 controls or
 *   the bidirectional controls U+202A-U+202E, U+2066-U+2069;
 * - sanitizing is idempotent, and clean text (valid UTF-8 without any of those) passes unchanged;
 * - nt_text_utf8_decode() consumes 1-4 bytes; a code point it returns is a Unicode scalar value
 *   that nt_text_utf8_encode() turns back into exactly the bytes consumed (so no overlong form,
 *   surrogate or value above U+10FFFF gets through); an invalid run it reports is one maximal
 *   invalid subpart;
 * - nt_text_trim() returns a sub-range with no ASCII whitespace at either end, having removed
 *   only ASCII whitespace.
 */

/*
 * Unicode Table 3-7, Well-Formed UTF-8 Byte Sequences: for a lead byte, the sequence length and
 * the range of the second byte (later bytes are 80..BF). Returns 0 for a byte that cannot lead.
 */
static size_t seq_len(uint8_t lead, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (lead <= 0x7F)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead == 0xE0) {
        *lo = 0xA0;
        return 3;
    }
    if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF)
        return 3;
    if (lead == 0xED) {
        *hi = 0x9F;
        return 3;
    }
    if (lead == 0xF0) {
        *lo = 0x90;
        return 4;
    }
    if (lead >= 0xF1 && lead <= 0xF3)
        return 4;
    if (lead == 0xF4) {
        *hi = 0x8F;
        return 4;
    }
    return 0;
}

/* How many bytes at s[0..n) form a prefix of a well-formed sequence (0 if s[0] cannot lead). */
static size_t valid_prefix(const uint8_t *s, size_t n, size_t *full)
{
    uint8_t lo, hi;
    size_t len = seq_len(s[0], &lo, &hi);
    *full = len;
    if (len == 0)
        return 0;
    size_t i = 1;
    for (; i < len && i < n; i++) {
        uint8_t b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            break;
    }
    return i;
}

static bool is_forbidden(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* Decodes s[0..n) with the independent validator. Returns false on any ill-formed sequence;
 * *clean is false when a forbidden code point appears. */
static bool validate(const uint8_t *s, size_t n, bool *clean)
{
    *clean = true;
    for (size_t i = 0; i < n;) {
        size_t full;
        size_t k = valid_prefix(s + i, n - i, &full);
        if (k == 0 || k < full)
            return false;
        uint32_t cp;
        if (full == 1)
            cp = s[i];
        else if (full == 2)
            cp = (uint32_t)(s[i] & 0x1F) << 6 | (s[i + 1] & 0x3Fu);
        else if (full == 3)
            cp = (uint32_t)(s[i] & 0x0F) << 12 | (uint32_t)(s[i + 1] & 0x3F) << 6 |
                 (s[i + 2] & 0x3Fu);
        else
            cp = (uint32_t)(s[i] & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3F) << 12 |
                 (uint32_t)(s[i + 2] & 0x3F) << 6 | (s[i + 3] & 0x3Fu);
        if (is_forbidden(cp))
            *clean = false;
        i += full;
    }
    return true;
}

static void check_decode(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t used = nt_text_utf8_decode(s + i, n - i, &cp);
        CHECK(used >= 1 && used <= 4 && used <= n - i);
        size_t full;
        size_t k = valid_prefix(s + i, n - i, &full);
        if (cp == UINT32_MAX) {
            /* A maximal invalid subpart: the longest prefix of a well-formed sequence, at least
             * one byte, and not itself complete. */
            CHECK(k < full || k == 0);
            CHECK(used == (k == 0 ? 1 : k));
        } else {
            CHECK(k == full && used == full);
            CHECK(cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF));
            char enc[4];
            CHECK(nt_text_utf8_encode(cp, enc) == used);
            CHECK(memcmp(enc, s + i, used) == 0);
        }
        i += used;
    }
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void check_trim(const char *s, size_t n)
{
    size_t len = n;
    const char *t = nt_text_trim(s, &len);
    CHECK(t >= s && len <= n && (size_t)(t - s) + len <= n);
    if (len > 0) {
        CHECK(!is_ascii_space(t[0]));
        CHECK(!is_ascii_space(t[len - 1]));
    }
    for (const char *p = s; p < t; p++)
        CHECK(is_ascii_space(*p));
    for (const char *p = t + len; p < s + n; p++)
        CHECK(is_ascii_space(*p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size copies and buffers, so ASan sees a byte read or written past either. */
    char *in = malloc(size ? size : 1);
    char *out = malloc(NT_TEXT_SANITIZED_MAX(size) ? NT_TEXT_SANITIZED_MAX(size) : 1);
    CHECK(in != NULL && out != NULL);
    if (size > 0)
        memcpy(in, data, size);

    check_decode(data, size);
    check_trim(in, size);

    size_t o = nt_text_sanitize(in, size, out);
    CHECK(o <= NT_TEXT_SANITIZED_MAX(size));
    bool clean;
    CHECK(validate((const uint8_t *)out, o, &clean));
    CHECK(clean);
    check_trim(out, o);

    char *again = malloc(NT_TEXT_SANITIZED_MAX(o) ? NT_TEXT_SANITIZED_MAX(o) : 1);
    CHECK(again != NULL);
    size_t o2 = nt_text_sanitize(out, o, again);
    CHECK(o2 == o && (o == 0 || memcmp(again, out, o) == 0));

    bool in_clean;
    if (validate(data, size, &in_clean) && in_clean)
        CHECK(o == size && (size == 0 || memcmp(out, data, size) == 0));

    free(again);
    free(out);
    free(in);
    return 0;
}
