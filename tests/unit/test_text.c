/* SPDX-License-Identifier: MIT */
/* test_text.c - unit tests for text.c: sanitising (PROTOCOL.md §5.3), trimming, UTF-8. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/text.h"

#define FFFD "\xef\xbf\xbd"

/* Output buffers are exactly NT_TEXT_SANITIZED_MAX(len) bytes on the heap (ASan checks). */
static char *out_buf;

static int teardown(void **state)
{
    (void)state;
    free(out_buf);
    out_buf = NULL;
    return 0;
}

static void show(const char *label, const char *s, size_t len)
{
    char hex[1024];
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < sizeof(hex); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x21 && c < 0x7f && c != '\\') {
            hex[o++] = (char)c;
        } else {
            int n = snprintf(hex + o, sizeof(hex) - o, "\\x%02x", c);
            o += (size_t)n;
        }
    }
    hex[o] = '\0';
    print_error("  %s: \"%s\" (%zu bytes)\n", label, hex, len);
}

/* Sanitizes in[0..len) into a fresh, exactly sized buffer; returns it (owned by out_buf). */
static const char *sanitize(const char *in, size_t len, size_t *out_len)
{
    free(out_buf);
    size_t cap = NT_TEXT_SANITIZED_MAX(len);
    char *in_copy = malloc(len ? len : 1);
    assert_non_null(in_copy);
    if (len)
        memcpy(in_copy, in, len);
    out_buf = malloc(cap ? cap : 1);
    assert_non_null(out_buf);
    size_t n = nt_text_sanitize(in_copy, len, out_buf);
    free(in_copy);
    assert_true(n <= cap);
    *out_len = n;
    return out_buf;
}

static void check_sanitize(const char *in, size_t in_len, const char *want, size_t want_len)
{
    size_t n;
    const char *got = sanitize(in, in_len, &n);
    if (n != want_len || memcmp(got, want, n) != 0) {
        print_error("sanitize mismatch\n");
        show("input", in, in_len);
        show("expected", want, want_len);
        show("got", got, n);
    }
    assert_int_equal(n, want_len);
    assert_memory_equal(got, want, n);
}

#define S(in, want) check_sanitize((in), sizeof(in) - 1, (want), sizeof(want) - 1)

/* ---- plain text passes ---- */

static void test_ascii_unchanged(void **state)
{
    (void)state;
    S("", "");
    S("Hi Alice!", "Hi Alice!");
    S(" !\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~",
      " !\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~");
    /* leading and trailing spaces are the trimmer's business, not the sanitizer's */
    S("  two  spaces  ", "  two  spaces  ");
}

static void test_valid_multibyte_kept(void **state)
{
    (void)state;
    S("caf\xc3\xa9", "caf\xc3\xa9");                           /* é */
    S("\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac"); /* 日本 */
    S("ok \xf0\x9f\x98\x80!", "ok \xf0\x9f\x98\x80!");         /* 😀 */
    S("\xc2\xa0", "\xc2\xa0");                                 /* U+00A0 */
    S("\xc2\xa1\xdf\xbf", "\xc2\xa1\xdf\xbf");                 /* U+00A1 U+07FF */
    S("\xe0\xa0\x80\xef\xbf\xbf", "\xe0\xa0\x80\xef\xbf\xbf"); /* U+0800 U+FFFF */
    S("\xed\x9f\xbf\xee\x80\x80", "\xed\x9f\xbf\xee\x80\x80"); /* U+D7FF U+E000 */
    S("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
      "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"); /* U+10000 U+10FFFF */
    S(FFFD, FFFD);                         /* a replacement character that was sent stays one */
    S("\xef\xbb\xbf", "\xef\xbb\xbf");     /* U+FEFF is not a control */
}

/* ---- controls ---- */

static void test_tab_becomes_space(void **state)
{
    (void)state;
    S("a\tb", "a b");
    S("\t\t", "  ");
}

static void test_c0_del_removed(void **state)
{
    (void)state;
    S("a\x07"
      "b",
      "ab");         /* BEL */
    S("a\0b", "ab"); /* NUL */
    S("a\x7f"
      "b",
      "ab"); /* DEL */
    S("a\x01\x02\x03\x04\x05\x06\x08\x0a\x0b\x0c\x0d\x0e\x0f"
      "b",
      "ab");
    S("a\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1c\x1d\x1e\x1f"
      "b",
      "ab");
    S("a\rb", "ab");               /* a lone CR inside a line */
    S("a\x08\x08\x08xyz", "axyz"); /* backspaces cannot overwrite */
}

static void test_c1_removed(void **state)
{
    (void)state;
    S("a\xc2\x80"
      "b",
      "ab");
    S("a\xc2\x85"
      "b",
      "ab"); /* NEL */
    S("a\xc2\x8d"
      "b",
      "ab"); /* RI */
    S("a\xc2\x9c"
      "b",
      "ab"); /* ST */
}

static void test_every_c0_c1_alone(void **state)
{
    (void)state;
    char in[3];
    for (unsigned c = 0; c < 0x20; c++) {
        if (c == '\t' || c == 0x1b)
            continue;
        in[0] = 'x';
        in[1] = (char)c;
        in[2] = 'y';
        check_sanitize(in, 3, "xy", 2);
    }
    for (unsigned c = 0x80; c < 0xa0; c++) {
        /* U+0080..U+009F as UTF-8: C2 80..C2 9F */
        char in2[4] = {'x', '\xc2', (char)c, 'y'};
        size_t n;
        const char *got = sanitize(in2, 4, &n);
        /* CSI/OSC/DCS/SOS/PM/APC (9B 9D 90 98 9E 9F) swallow the rest: at least the control goes */
        assert_true(n >= 1);
        assert_int_equal(got[0], 'x');
        if (c != 0x9b && c != 0x9d && c != 0x90 && c != 0x98 && c != 0x9e && c != 0x9f) {
            assert_int_equal(n, 2);
            assert_memory_equal(got, "xy", 2);
        }
    }
}

/* ---- escape sequences ---- */

static void test_csi_removed(void **state)
{
    (void)state;
    S("a\x1b[2Jb", "ab");              /* clear screen */
    S("\x1b[31mred\x1b[0m", "red");    /* colour */
    S("x\x1b[1;31;40my", "xy");        /* parameters */
    S("x\x1b[?25ly", "xy");            /* private parameter */
    S("x\x1b[10;20Hy", "xy");          /* cursor position */
    S("x\x1b[ qy", "xy");              /* intermediate byte */
    S("x\x1b[@y", "xy");               /* final byte 0x40 */
    S("x\x1b[~y", "xy");               /* final byte 0x7E */
    S("\x1b[A\x1b[B\x1b[C\x1b[D", ""); /* arrows */
}

static void test_csi_cut_at_end_of_line(void **state)
{
    (void)state;
    S("ab\x1b[", "ab");
    S("ab\x1b[12;3", "ab");
    S("ab\x1b", "ab");
    S("\x1b", "");
}

static void test_osc_removed(void **state)
{
    (void)state;
    S("a\x1b]0;evil title\x07"
      "b",
      "ab");                                                    /* ended by BEL */
    S("a\x1b]0;evil title\x1b\\b", "ab");                       /* ended by ESC \ */
    S("a\x1b]8;;http://x/\x1b\\link\x1b]8;;\x1b\\b", "alinkb"); /* hyperlink */
    S("a\x1b]52;c;ZXZpbA==\x07"
      "b",
      "ab"); /* clipboard */
    S("a\x1b]0;cut at end", "a");
}

static void test_dcs_sos_pm_apc_removed(void **state)
{
    (void)state;
    S("a\x1bPq#0;2;0;0;0#0~~\x1b\\b", "ab"); /* DCS (sixel) */
    S("a\x1bXsos\x1b\\b", "ab");             /* SOS */
    S("a\x1b^pm\x1b\\b", "ab");              /* PM */
    S("a\x1b_apc\x1b\\b", "ab");             /* APC */
    S("a\x1bPcut at end", "a");
}

static void test_two_byte_escapes_removed(void **state)
{
    (void)state;
    S("a\x1b"
      "7b",
      "ab"); /* save cursor */
    S("a\x1b"
      "8b",
      "ab"); /* restore cursor */
    S("a\x1b"
      "cb",
      "ab"); /* full reset */
    S("a\x1b"
      "Db",
      "ab"); /* index */
    S("a\x1b"
      "Mb",
      "ab"); /* reverse index */
    S("a\x1b"
      "=b",
      "ab");
}

static void test_esc_any_other_byte_two_bytes(void **state)
{
    (void)state;
    /* §5.3: "ESC X for any other X (two bytes)": X goes with the ESC even when it is a control */
    S("a\x1b\x01"
      "b",
      "ab");
    S("a\x1b\x7f"
      "b",
      "ab");
    S("a\x1b\tb", "ab"); /* not "a b": the TAB is the X of ESC X */
}

static void test_c1_sequences_removed(void **state)
{
    (void)state;
    S("a\xc2\x9b"
      "2Jb",
      "ab"); /* U+009B CSI */
    S("a\xc2\x9b"
      "31mred\xc2\x9b"
      "0m",
      "ared");
    S("a\xc2\x9d"
      "0;title\x07"
      "b",
      "ab"); /* U+009D OSC, BEL */
    S("a\xc2\x9d"
      "0;title\x1b\\b",
      "ab"); /* U+009D OSC, ESC \ */
    S("a\xc2\x90"
      "q#0\x1b\\b",
      "ab"); /* U+0090 DCS */
    S("a\xc2\x98"
      "sos\x1b\\b",
      "ab"); /* U+0098 SOS */
    S("a\xc2\x9e"
      "pm\x1b\\b",
      "ab"); /* U+009E PM */
    S("a\xc2\x9f"
      "apc\x1b\\b",
      "ab"); /* U+009F APC */
    S("a\xc2\x9b"
      "12",
      "a"); /* cut at end of line */
}

static void test_raw_c1_bytes_are_invalid_utf8(void **state)
{
    (void)state;
    /* a bare 0x9B byte is not U+009B: it is invalid UTF-8 and becomes U+FFFD, nothing else */
    S("a\x9b"
      "31mb",
      "a" FFFD "31mb");
    S("\x9d"
      "0;x\x07",
      FFFD "0;x");
}

/* ---- bidirectional controls ---- */

static void test_bidi_removed(void **state)
{
    (void)state;
    S("a\xe2\x80\xaa"
      "b",
      "ab"); /* U+202A LRE */
    S("a\xe2\x80\xab"
      "b",
      "ab"); /* U+202B RLE */
    S("a\xe2\x80\xac"
      "b",
      "ab"); /* U+202C PDF */
    S("a\xe2\x80\xad"
      "b",
      "ab"); /* U+202D LRO */
    S("a\xe2\x80\xae"
      "b",
      "ab"); /* U+202E RLO */
    S("a\xe2\x81\xa6"
      "b",
      "ab"); /* U+2066 LRI */
    S("a\xe2\x81\xa7"
      "b",
      "ab"); /* U+2067 RLI */
    S("a\xe2\x81\xa8"
      "b",
      "ab"); /* U+2068 FSI */
    S("a\xe2\x81\xa9"
      "b",
      "ab"); /* U+2069 PDI */
    S("\xe2\x80\xae"
      "txt.exe",
      "txt.exe");
}

static void test_bidi_neighbours_kept(void **state)
{
    (void)state;
    S("a\xe2\x80\xa9"
      "b",
      "a\xe2\x80\xa9"
      "b"); /* U+2029, just below the range */
    S("a\xe2\x80\xaf"
      "b",
      "a\xe2\x80\xaf"
      "b"); /* U+202F, just above */
    S("a\xe2\x81\xa5"
      "b",
      "a\xe2\x81\xa5"
      "b"); /* U+2065 */
    S("a\xe2\x81\xaa"
      "b",
      "a\xe2\x81\xaa"
      "b"); /* U+206A */
}

/* ---- invalid UTF-8: one U+FFFD per maximal subpart (Python's errors="replace") ---- */

static void test_invalid_utf8_replaced(void **state)
{
    (void)state;
    S("\xff", FFFD);
    S("\xfe", FFFD);
    S("a\xff"
      "b",
      "a" FFFD "b");
    S("\xc0\xaf", FFFD FFFD);                   /* overlong '/' */
    S("\xe0\x80\xaf", FFFD FFFD FFFD);          /* overlong, 3 bytes */
    S("\xf0\x80\x80\x80", FFFD FFFD FFFD FFFD); /* overlong, 4 bytes */
    S("\xed\xa0\x80", FFFD FFFD FFFD);          /* surrogate U+D800 */
    S("\xed\xbf\xbf", FFFD FFFD FFFD);          /* surrogate U+DFFF */
    S("\xe2\x82", FFFD);                        /* truncated € */
    S("\xe2\x82"
      "A",
      FFFD "A");
    S("\xf0\x9f\x98", FFFD); /* truncated emoji */
    S("\xf0\x9f\x98"
      "x",
      FFFD "x");
    S("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* above U+10FFFF */
    S("\xf5\x80", FFFD FFFD);
    S("\xf8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD);
    S("\x80\x80", FFFD FFFD); /* lone continuation bytes */
    S("\xc2", FFFD);
    S("a\xf1\x80\x80\xe1\x80\xc2"
      "b",
      "a" FFFD FFFD FFFD "b");
    S("\xc3\xa9\xc3", "\xc3\xa9" FFFD);
}

static void test_invalid_utf8_does_not_swallow_controls(void **state)
{
    (void)state;
    /* a truncated sequence ends before the ESC: the ESC still starts a sequence */
    S("\xe2\x82\x1b[2Jx", FFFD "x");
    S("\xc3\x07"
      "x",
      FFFD "x");
}

/* ---- the output bound and properties ---- */

static void test_output_bound_worst_cases(void **state)
{
    (void)state;
    /* one byte -> 3 bytes is the worst case; exact-size heap buffers let ASan see any overrun */
    static const char *const patterns[] = {
        "\xff", "\x80",    "\xc0", "\xe2\x82", "\xf0\x9f\x98", "\xed\xa0\x80", "\xf4\x90\x80\x80",
        "\t",   "\xc3\xa9"};
    for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
        size_t plen = strlen(patterns[p]);
        for (size_t reps = 1; reps <= 300; reps += 37) {
            size_t len = plen * reps;
            char *in = malloc(len);
            assert_non_null(in);
            for (size_t i = 0; i < reps; i++)
                memcpy(in + i * plen, patterns[p], plen);
            size_t n;
            sanitize(in, len, &n);
            assert_true(n <= NT_TEXT_SANITIZED_MAX(len));
            free(in);
        }
    }
    size_t n;
    sanitize("\xff\xff\xff\xff", 4, &n);
    assert_int_equal(n, 12); /* reaches the bound exactly */
}

static uint32_t rng_state = 777;
static uint32_t rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

/* A reference UTF-8 decoder (Unicode Table 3-7, maximal subparts); returns bytes used and *cp,
 * UINT32_MAX for an invalid subpart. */
static size_t ref_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char b = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;
    uint32_t v;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
        v = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        v = b & 0x0f;
        if (b == 0xe0)
            lo = 0xa0;
        if (b == 0xed)
            hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        v = b & 0x07;
        if (b == 0xf0)
            lo = 0x90;
        if (b == 0xf4)
            hi = 0x8f;
    } else {
        *cp = UINT32_MAX;
        return 1;
    }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            *cp = UINT32_MAX;
            return i;
        }
        v = (v << 6) | (s[i] & 0x3f);
        lo = 0x80;
        hi = 0xbf;
    }
    *cp = v;
    return i;
}

static bool is_removed_cp(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* The output is valid UTF-8 with no control, no ESC, no bidi control. */
static void check_clean(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = ref_decode((const unsigned char *)s + i, n - i, &cp);
        if (cp == UINT32_MAX || is_removed_cp(cp)) {
            print_error("bad output at byte %zu\n", i);
            show("output", s, n);
        }
        assert_true(cp != UINT32_MAX);
        assert_false(is_removed_cp(cp));
        i += k;
    }
}

static void test_random_input_properties(void **state)
{
    (void)state;
    static const char *const pieces[] = {"a",
                                         "Z",
                                         " ",
                                         "\t",
                                         "\x1b",
                                         "[",
                                         "]",
                                         "P",
                                         "\\",
                                         "\x07",
                                         "m",
                                         "0",
                                         ";",
                                         "\n",
                                         "\r",
                                         "\xff",
                                         "\x80",
                                         "\xc2",
                                         "\xc2\x9b",
                                         "\xc2\x9d",
                                         "\xc2\x85",
                                         "\xe2\x80\xae",
                                         "\xe2\x81\xa6",
                                         "\xe2\x82",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "\xf0\x9f",
                                         "\xed\xa0\x80",
                                         "\x7f",
                                         "\0"};
    char in[256];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0;
        size_t want = rnd() % 40;
        for (size_t k = 0; k < want; k++) {
            const char *p = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
            size_t pl = p[0] ? strlen(p) : 1;
            if (len + pl > sizeof(in))
                break;
            memcpy(in + len, p, pl);
            len += pl;
        }
        if (iter % 3 == 0) /* and some fully random bytes */
            for (size_t k = 0; k < len; k++)
                if (rnd() % 4 == 0)
                    in[k] = (char)(rnd() & 0xff);
        size_t n;
        const char *got = sanitize(in, len, &n);
        assert_true(n <= NT_TEXT_SANITIZED_MAX(len));
        check_clean(got, n);
        /* sanitizing is idempotent: clean text passes unchanged */
        char *again_in = malloc(n ? n : 1);
        assert_non_null(again_in);
        memcpy(again_in, got, n);
        size_t n2;
        const char *again = sanitize(again_in, n, &n2);
        if (n2 != n || memcmp(again, again_in, n) != 0) {
            print_error("not idempotent\n");
            show("first", again_in, n);
            show("second", again, n2);
        }
        assert_int_equal(n2, n);
        assert_memory_equal(again, again_in, n);
        free(again_in);
    }
}

static void test_valid_text_unchanged(void **state)
{
    (void)state;
    /* random printable code points of every length pass byte for byte */
    char in[512];
    for (int iter = 0; iter < 5000; iter++) {
        size_t len = 0;
        while (len + 4 <= sizeof(in) && rnd() % 64 != 0) {
            uint32_t cp;
            do {
                switch (rnd() % 4) {
                case 0:
                    cp = 0x20 + rnd() % 0x5f;
                    break;
                case 1:
                    cp = 0xa0 + rnd() % (0x800 - 0xa0);
                    break;
                case 2:
                    cp = 0x800 + rnd() % (0x10000 - 0x800);
                    break;
                default:
                    cp = 0x10000 + rnd() % (0x110000 - 0x10000);
                    break;
                }
            } while ((cp >= 0xd800 && cp <= 0xdfff) || is_removed_cp(cp));
            len += nt_text_utf8_encode(cp, in + len);
        }
        size_t n;
        const char *got = sanitize(in, len, &n);
        assert_int_equal(n, len);
        assert_memory_equal(got, in, len);
    }
}

/* ---- trim ---- */

static void check_trim(const char *s, size_t len, size_t want_off, size_t want_len)
{
    size_t n = len;
    const char *t = nt_text_trim(s, &n);
    assert_int_equal(n, want_len);
    if (want_len > 0)
        assert_ptr_equal(t, s + want_off);
}

#define T(s, off, n) check_trim((s), sizeof(s) - 1, (off), (n))

static void test_trim(void **state)
{
    (void)state;
    T("abc", 0, 3);
    T("  abc  ", 2, 3);
    T(" \t\r\n\v\fabc \t\r\n\v\f", 6, 3);
    T("a b  c", 0, 6); /* inner spaces stay */
    T("   ", 0, 0);
    T(" \t\r\n\v\f", 0, 0);
    T("", 0, 0);
    T("x", 0, 1);
    T(" x ", 1, 1);
    /* only ASCII whitespace: U+00A0 and U+3000 are not trimmed, nor NUL */
    T("\xc2\xa0"
      "a\xc2\xa0",
      0, 5);
    T(" \xe3\x80\x80"
      "a ",
      1, 4);
    T("\0a\0", 0, 3);
    /* only len bytes are looked at */
    size_t n = 3;
    const char *s = "ab    ";
    const char *t = nt_text_trim(s, &n);
    assert_ptr_equal(t, s);
    assert_int_equal(n, 2);
}

/* ---- decode / encode ---- */

static void check_decode(const char *s, size_t len, size_t want_n, uint32_t want_cp)
{
    unsigned char *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, s, len);
    uint32_t cp = 0x12345678;
    size_t n = nt_text_utf8_decode(copy, len, &cp);
    free(copy);
    if (n != want_n || cp != want_cp) {
        print_error("decode: got %zu bytes cp %#x, expected %zu bytes cp %#x\n", n, (unsigned)cp,
                    want_n, (unsigned)want_cp);
        show("input", s, len);
    }
    assert_int_equal(n, want_n);
    assert_int_equal(cp, want_cp);
}

#define D(s, n, cp) check_decode((s), sizeof(s) - 1, (n), (cp))
#define BAD         UINT32_MAX

static void test_utf8_decode_examples(void **state)
{
    (void)state;
    D("A", 1, 0x41);
    D("\0", 1, 0);
    D("\x7f", 1, 0x7f);
    D("\xc2\x80", 2, 0x80);
    D("\xc3\xa9", 2, 0xe9);
    D("\xdf\xbf", 2, 0x7ff);
    D("\xe0\xa0\x80", 3, 0x800);
    D("\xe6\x97\xa5", 3, 0x65e5);
    D("\xed\x9f\xbf", 3, 0xd7ff);
    D("\xee\x80\x80", 3, 0xe000);
    D("\xef\xbf\xbf", 3, 0xffff);
    D("\xf0\x90\x80\x80", 4, 0x10000);
    D("\xf0\x9f\x98\x80", 4, 0x1f600);
    D("\xf4\x8f\xbf\xbf", 4, 0x10ffff);
    D("Ab", 1, 0x41); /* only one code point */
    D("\xc3\xa9xyz", 2, 0xe9);
    D("\xff", 1, BAD);
    D("\x80", 1, BAD);
    D("\xc0\xaf", 1, BAD); /* C0 never starts a valid sequence */
    D("\xc1\xbf", 1, BAD);
    D("\xe2\x82", 2, BAD); /* truncated: the whole maximal subpart */
    D("\xe2\x82"
      "A",
      2, BAD);
    D("\xf0\x9f\x98", 3, BAD);
    D("\xf0\x9f\x98"
      "A",
      3, BAD);
    D("\xed\xa0\x80", 1, BAD); /* surrogate: ED then A0 is out of range */
    D("\xe0\x80\x80", 1, BAD); /* overlong */
    D("\xf0\x80\x80\x80", 1, BAD);
    D("\xf4\x90\x80\x80", 1, BAD); /* > U+10FFFF */
    D("\xf5\x80\x80\x80", 1, BAD);
    /* len limits what is looked at */
    check_decode("\xc3\xa9", 1, 1, BAD);
    check_decode("\xe6\x97\xa5", 2, 2, BAD);
    check_decode("\xf0\x9f\x98\x80", 3, 3, BAD);
}

static void test_utf8_decode_matches_reference(void **state)
{
    (void)state;
    /* every 1-, 2- and 3-byte input, and 4-byte inputs over the interesting lead bytes */
    unsigned char s[4];
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                size_t len = 3;
                uint32_t want, got = 0;
                size_t wn = ref_decode(s, len, &want);
                size_t gn = nt_text_utf8_decode(s, len, &got);
                if (wn != gn || want != got)
                    print_error("decode %02x %02x %02x: got %zu/%#x, want %zu/%#x\n", a, b, c, gn,
                                (unsigned)got, wn, (unsigned)want);
                assert_int_equal(gn, wn);
                assert_int_equal(got, want);
            }
            uint32_t want2, got2 = 0;
            size_t w2 = ref_decode(s, 2, &want2);
            size_t g2 = nt_text_utf8_decode(s, 2, &got2);
            assert_int_equal(g2, w2);
            assert_int_equal(got2, want2);
        }
        uint32_t want1, got1 = 0;
        assert_int_equal(nt_text_utf8_decode(s, 1, &got1), ref_decode(s, 1, &want1));
        assert_int_equal(got1, want1);
    }
    for (unsigned a = 0xf0; a <= 0xf8; a++)
        for (unsigned b = 0x70; b <= 0xc8; b++)
            for (unsigned c = 0x70; c <= 0xc8; c += 3)
                for (unsigned d = 0; d < 256; d++) {
                    s[0] = (unsigned char)a;
                    s[1] = (unsigned char)b;
                    s[2] = (unsigned char)c;
                    s[3] = (unsigned char)d;
                    uint32_t want, got = 0;
                    size_t wn = ref_decode(s, 4, &want);
                    size_t gn = nt_text_utf8_decode(s, 4, &got);
                    assert_int_equal(gn, wn);
                    assert_int_equal(got, want);
                }
}

static void test_utf8_encode_examples(void **state)
{
    (void)state;
    char out[4];
    assert_int_equal(nt_text_utf8_encode(0x41, out), 1);
    assert_memory_equal(out, "A", 1);
    assert_int_equal(nt_text_utf8_encode(0, out), 1);
    assert_int_equal(out[0], 0);
    assert_int_equal(nt_text_utf8_encode(0x7f, out), 1);
    assert_int_equal(nt_text_utf8_encode(0x80, out), 2);
    assert_memory_equal(out, "\xc2\x80", 2);
    assert_int_equal(nt_text_utf8_encode(0xe9, out), 2);
    assert_memory_equal(out, "\xc3\xa9", 2);
    assert_int_equal(nt_text_utf8_encode(0x7ff, out), 2);
    assert_memory_equal(out, "\xdf\xbf", 2);
    assert_int_equal(nt_text_utf8_encode(0x800, out), 3);
    assert_memory_equal(out, "\xe0\xa0\x80", 3);
    assert_int_equal(nt_text_utf8_encode(0xfffd, out), 3);
    assert_memory_equal(out, FFFD, 3);
    assert_int_equal(nt_text_utf8_encode(0xffff, out), 3);
    assert_memory_equal(out, "\xef\xbf\xbf", 3);
    assert_int_equal(nt_text_utf8_encode(0x10000, out), 4);
    assert_memory_equal(out, "\xf0\x90\x80\x80", 4);
    assert_int_equal(nt_text_utf8_encode(0x1f600, out), 4);
    assert_memory_equal(out, "\xf0\x9f\x98\x80", 4);
    assert_int_equal(nt_text_utf8_encode(0x10ffff, out), 4);
    assert_memory_equal(out, "\xf4\x8f\xbf\xbf", 4);
}

static void test_utf8_round_trip_every_code_point(void **state)
{
    (void)state;
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        char *out = malloc(4); /* exactly 4: ASan sees a 5th byte */
        assert_non_null(out);
        size_t n = nt_text_utf8_encode(cp, out);
        size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (n != want)
            print_error("encode U+%04X: %zu bytes, want %zu\n", (unsigned)cp, n, want);
        assert_int_equal(n, want);
        uint32_t back = UINT32_MAX;
        size_t m = nt_text_utf8_decode((const unsigned char *)out, n, &back);
        assert_int_equal(m, n);
        assert_int_equal(back, cp);
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ascii_unchanged, teardown),
        cmocka_unit_test_teardown(test_valid_multibyte_kept, teardown),
        cmocka_unit_test_teardown(test_tab_becomes_space, teardown),
        cmocka_unit_test_teardown(test_c0_del_removed, teardown),
        cmocka_unit_test_teardown(test_c1_removed, teardown),
        cmocka_unit_test_teardown(test_every_c0_c1_alone, teardown),
        cmocka_unit_test_teardown(test_csi_removed, teardown),
        cmocka_unit_test_teardown(test_csi_cut_at_end_of_line, teardown),
        cmocka_unit_test_teardown(test_osc_removed, teardown),
        cmocka_unit_test_teardown(test_dcs_sos_pm_apc_removed, teardown),
        cmocka_unit_test_teardown(test_two_byte_escapes_removed, teardown),
        cmocka_unit_test_teardown(test_esc_any_other_byte_two_bytes, teardown),
        cmocka_unit_test_teardown(test_c1_sequences_removed, teardown),
        cmocka_unit_test_teardown(test_raw_c1_bytes_are_invalid_utf8, teardown),
        cmocka_unit_test_teardown(test_bidi_removed, teardown),
        cmocka_unit_test_teardown(test_bidi_neighbours_kept, teardown),
        cmocka_unit_test_teardown(test_invalid_utf8_replaced, teardown),
        cmocka_unit_test_teardown(test_invalid_utf8_does_not_swallow_controls, teardown),
        cmocka_unit_test_teardown(test_output_bound_worst_cases, teardown),
        cmocka_unit_test_teardown(test_random_input_properties, teardown),
        cmocka_unit_test_teardown(test_valid_text_unchanged, teardown),
        cmocka_unit_test_teardown(test_trim, teardown),
        cmocka_unit_test_teardown(test_utf8_decode_examples, teardown),
        cmocka_unit_test_teardown(test_utf8_decode_matches_reference, teardown),
        cmocka_unit_test_teardown(test_utf8_encode_examples, teardown),
        cmocka_unit_test_teardown(test_utf8_round_trip_every_code_point, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
