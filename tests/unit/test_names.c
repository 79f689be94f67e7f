/* SPDX-License-Identifier: MIT */
/* test_names.c - unit tests for names.c: rules (PROTOCOL.md §2.2, §2.3), folding, the registry. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "lib/names.h"

static const char *check_name(enum nt_name_check c)
{
    switch (c) {
    case NT_NAME_OK:
        return "OK";
    case NT_NAME_EMPTY:
        return "EMPTY";
    case NT_NAME_TOO_LONG:
        return "TOO_LONG";
    case NT_NAME_BAD_UTF8:
        return "BAD_UTF8";
    case NT_NAME_SPACE:
        return "SPACE";
    case NT_NAME_CONTROL:
        return "CONTROL";
    case NT_NAME_BAD_START:
        return "BAD_START";
    case NT_NAME_BAD_CHAR:
        return "BAD_CHAR";
    }
    return "?";
}

/* Checks name[0..len) from an exactly sized heap copy, so ASan sees any read past len. */
static void check(const char *name, size_t len, enum nt_name_check want)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, name, len);
    enum nt_name_check got = nt_names_check(copy, len);
    free(copy);
    if (got != want)
        print_error("nt_names_check(\"%.*s\", %zu) = %s, expected %s\n", (int)len, name, len,
                    check_name(got), check_name(want));
    assert_int_equal(got, want);
}

#define C(s, want) check((s), sizeof(s) - 1, (want))

/* Builds n copies of the UTF-8 character ch into buf; returns the byte length. */
static size_t repeat(char *buf, const char *ch, size_t n)
{
    size_t cl = strlen(ch), len = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + len, ch, cl);
        len += cl;
    }
    return len;
}

/* ---- nt_names_check (§2.2) ---- */

static void test_check_ok(void **state)
{
    (void)state;
    C("Alice", NT_NAME_OK);
    C("a", NT_NAME_OK);
    C("bob_42", NT_NAME_OK);
    C("caf\xc3\xa9", NT_NAME_OK);                              /* café */
    C("\xce\xa3\xce\xbf\xcf\x86\xce\xaf\xce\xb1", NT_NAME_OK); /* Σοφία */
    C("\xe6\x97\xa5\xe6\x9c\xac", NT_NAME_OK);                 /* 日本 */
    C("\xf0\x9f\x98\x80", NT_NAME_OK);                         /* 😀 */
    C("a/b", NT_NAME_OK);                                      /* only a leading / is refused */
    C("a~", NT_NAME_OK);
    C("a#b", NT_NAME_OK);
    C("x/", NT_NAME_OK);
    C("\xc2\xa1", NT_NAME_OK); /* U+00A1, just after U+00A0 */
    C("a\xe2\x80\xa7"
      "b",
      NT_NAME_OK); /* U+2027 hyphenation point */
}

static void test_check_empty(void **state)
{
    (void)state;
    check("", 0, NT_NAME_EMPTY);
    check("ignored", 0, NT_NAME_EMPTY);
}

static void test_check_length_in_code_points(void **state)
{
    (void)state;
    char buf[40 * 4];
    static const char *const chars[] = {"a", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80"};
    for (size_t i = 0; i < 4; i++) {
        size_t len = repeat(buf, chars[i], 32);
        check(buf, len, NT_NAME_OK);
        len = repeat(buf, chars[i], 33);
        check(buf, len, NT_NAME_TOO_LONG);
        len = repeat(buf, chars[i], 40);
        check(buf, len, NT_NAME_TOO_LONG);
        len = repeat(buf, chars[i], 1);
        check(buf, len, NT_NAME_OK);
    }
    /* 31 ASCII + one 4-byte char: 32 characters, 35 bytes */
    size_t len = repeat(buf, "a", 31);
    memcpy(buf + len, "\xf0\x9f\x98\x80", 4);
    check(buf, len + 4, NT_NAME_OK);
    /* 32 emoji are 128 bytes: NT_NAME_MAX_BYTES */
    len = repeat(buf, "\xf0\x9f\x98\x80", 32);
    assert_int_equal(len, NT_NAME_MAX_BYTES);
    check(buf, len, NT_NAME_OK);
}

static void test_check_bad_utf8(void **state)
{
    (void)state;
    C("\xff", NT_NAME_BAD_UTF8);
    C("ab\xff", NT_NAME_BAD_UTF8);
    C("ab\x80"
      "c",
      NT_NAME_BAD_UTF8);
    C("ab\xc0\xaf", NT_NAME_BAD_UTF8); /* overlong */
    C("ab\xe0\x80\xaf", NT_NAME_BAD_UTF8);
    C("ab\xed\xa0\x80", NT_NAME_BAD_UTF8); /* surrogate */
    C("ab\xe2\x82", NT_NAME_BAD_UTF8);     /* truncated at the end */
    C("ab\xe2\x82"
      "c",
      NT_NAME_BAD_UTF8);                     /* truncated inside */
    C("\xf4\x90\x80\x80", NT_NAME_BAD_UTF8); /* above U+10FFFF */
    C("\xc3", NT_NAME_BAD_UTF8);
}

static void test_check_space(void **state)
{
    (void)state;
    C("a b", NT_NAME_SPACE);
    C("Alice Smith", NT_NAME_SPACE);
    C("a\xc2\xa0"
      "b",
      NT_NAME_SPACE); /* U+00A0 */
    C("a\xe1\x9a\x80"
      "b",
      NT_NAME_SPACE); /* U+1680 */
    C("a\xe2\x80\x80"
      "b",
      NT_NAME_SPACE); /* U+2000 */
    C("a\xe2\x80\x85"
      "b",
      NT_NAME_SPACE); /* U+2005 */
    C("a\xe2\x80\x8a"
      "b",
      NT_NAME_SPACE); /* U+200A */
    C("a\xe2\x80\xa8"
      "b",
      NT_NAME_SPACE); /* U+2028 */
    C("a\xe2\x80\xa9"
      "b",
      NT_NAME_SPACE); /* U+2029 */
    C("a\xe2\x80\xaf"
      "b",
      NT_NAME_SPACE); /* U+202F */
    C("a\xe2\x81\x9f"
      "b",
      NT_NAME_SPACE); /* U+205F */
    C("a\xe3\x80\x80"
      "b",
      NT_NAME_SPACE); /* U+3000 */
    C("\xe3\x80\x80"
      "x",
      NT_NAME_SPACE); /* even at the start */
}

static void test_check_control(void **state)
{
    (void)state;
    C("a\x01"
      "b",
      NT_NAME_CONTROL);
    C("a\0b", NT_NAME_CONTROL);
    C("a\x1b[31mb", NT_NAME_CONTROL);
    C("a\x1f"
      "b",
      NT_NAME_CONTROL);
    C("a\x7f"
      "b",
      NT_NAME_CONTROL); /* DEL */
    C("a\xc2\x80"
      "b",
      NT_NAME_CONTROL); /* C1 U+0080 */
    C("a\xc2\x9b"
      "b",
      NT_NAME_CONTROL); /* C1 CSI */
    C("a\xc2\x9f"
      "b",
      NT_NAME_CONTROL); /* C1 U+009F */
    C("a\xe2\x80\xaa"
      "b",
      NT_NAME_CONTROL); /* U+202A */
    C("a\xe2\x80\xae"
      "b",
      NT_NAME_CONTROL); /* U+202E RLO */
    C("a\xe2\x81\xa6"
      "b",
      NT_NAME_CONTROL); /* U+2066 */
    C("a\xe2\x81\xa9"
      "b",
      NT_NAME_CONTROL); /* U+2069 */
    C("a\xef\xbb\xbf"
      "b",
      NT_NAME_CONTROL); /* U+FEFF */
    C("a\xef\xbf\xbd"
      "b",
      NT_NAME_CONTROL); /* U+FFFD */
    C("\xe2\x80\xae"
      "nimda",
      NT_NAME_CONTROL);
    /* Whitespace that is also a control is refused as a space (§2.2). */
    for (unsigned c = 0; c < 0x20; c++) {
        bool ws = c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
        char n[3] = {'a', (char)c, 'b'};
        check(n, 3, ws ? NT_NAME_SPACE : NT_NAME_CONTROL);
    }
    for (unsigned c = 0x80; c < 0xa0; c++) {
        char n[4] = {'a', '\xc2', (char)c, 'b'};
        check(n, 4, c == 0x85 ? NT_NAME_SPACE : NT_NAME_CONTROL);
    }
}

static void test_check_bad_start(void **state)
{
    (void)state;
    C("/alice", NT_NAME_BAD_START);
    C("#alice", NT_NAME_BAD_START);
    C("~alice", NT_NAME_BAD_START);
    C("&alice", NT_NAME_BAD_START);
    C("%alice", NT_NAME_BAD_START);
    C("+alice", NT_NAME_BAD_START);
    C("-alice", NT_NAME_BAD_START);
    C("/", NT_NAME_BAD_START);
    C("#", NT_NAME_BAD_START);
    C("//", NT_NAME_BAD_START);
    /* Allowed past the first character (PROTOCOL.md §2.2, as IRC nicks). */
    C("a/b", NT_NAME_OK);
    C("a#b", NT_NAME_OK);
    C("a~&%+-", NT_NAME_OK);
    C("[Bob]_^`{|}\\", NT_NAME_OK);
}

/* §2.2: characters an IRC nick cannot hold, anywhere. */
static void test_check_bad_char(void **state)
{
    (void)state;
    const char *bad = ",*?.!@:";
    for (const char *b = bad; *b != '\0'; b++) {
        char n[4] = {'a', *b, 'b', '\0'};
        C(n, NT_NAME_BAD_CHAR);
        char first[3] = {*b, 'x', '\0'};
        C(first, NT_NAME_BAD_CHAR); /* '*' and '@' first too: the rule about anywhere */
    }
    C("J.R.", NT_NAME_BAD_CHAR);
    C("*", NT_NAME_BAD_CHAR);
    C("nick!user@host", NT_NAME_BAD_CHAR);
    C("Σοφία.", NT_NAME_BAD_CHAR);
}

/* ---- nt_names_check_message (§2.3) ---- */

static void test_check_messages(void **state)
{
    (void)state;
    assert_null(nt_names_check_message(NT_NAME_OK));
    assert_string_equal(nt_names_check_message(NT_NAME_EMPTY), "Name cannot be empty.");
    assert_string_equal(nt_names_check_message(NT_NAME_TOO_LONG),
                        "Name is too long (at most 32 characters).");
    assert_string_equal(nt_names_check_message(NT_NAME_BAD_UTF8), "Name is not valid UTF-8.");
    assert_string_equal(nt_names_check_message(NT_NAME_SPACE), "Name cannot contain spaces.");
    assert_string_equal(nt_names_check_message(NT_NAME_CONTROL),
                        "Name cannot contain control characters.");
    assert_string_equal(nt_names_check_message(NT_NAME_BAD_START),
                        "Name cannot start with '/', '#', '~', '&', '%', '+' or '-'.");
    assert_string_equal(nt_names_check_message(NT_NAME_BAD_CHAR),
                        "Name cannot contain ',', '*', '?', '.', '!', '@' or ':'.");
}

/* ---- folding ---- */

static void check_fold(const char *name, const char *want)
{
    size_t len = strlen(name);
    assert_int_equal(nt_names_check(name, len), NT_NAME_OK);
    char *out = malloc(NT_NAME_MAX_BYTES + 1);
    assert_non_null(out);
    memset(out, 'Z', NT_NAME_MAX_BYTES + 1);
    size_t n = nt_names_fold(name, len, out);
    if (n != strlen(want) || memcmp(out, want, n) != 0)
        print_error("fold(\"%s\") = \"%.*s\" (%zu bytes), expected \"%s\"\n", name, (int)n, out, n,
                    want);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    assert_int_equal(out[n], '\0');
    free(out);
}

static void test_fold_ascii(void **state)
{
    (void)state;
    check_fold("Alice", "alice");
    check_fold("ALICE", "alice");
    check_fold("alice", "alice");
    check_fold("MiXeD_Case-42", "mixed_case-42");
    check_fold("AZaz09[]^`{}", "azaz09[]^`{}");
}

static void test_fold_latin1(void **state)
{
    (void)state;
    check_fold("\xc3\x89"
               "cole",
               "\xc3\xa9"
               "cole"); /* École -> école */
    check_fold("\xc3\xa9"
               "cole",
               "\xc3\xa9"
               "cole");
    check_fold("\xc3\x80\xc3\x96\xc3\x9e", "\xc3\xa0\xc3\xb6\xc3\xbe"); /* ÀÖÞ -> àöþ */
    check_fold("\xc3\x97", "\xc3\x97");                                 /* × has no case */
}

static void test_fold_greek(void **state)
{
    (void)state;
    /* Σοφία, ΣΟΦΊΑ, σοφία all fold to σοφία */
    check_fold("\xce\xa3\xce\xbf\xcf\x86\xce\xaf\xce\xb1",
               "\xcf\x83\xce\xbf\xcf\x86\xce\xaf\xce\xb1");
    check_fold("\xce\xa3\xce\x9f\xce\xa6\xce\x8a\xce\x91",
               "\xcf\x83\xce\xbf\xcf\x86\xce\xaf\xce\xb1");
    check_fold("\xcf\x83\xce\xbf\xcf\x86\xce\xaf\xce\xb1",
               "\xcf\x83\xce\xbf\xcf\x86\xce\xaf\xce\xb1");
    /* Σ, σ and final ς are one letter */
    check_fold("\xce\xa3", "\xcf\x83");
    check_fold("\xcf\x83", "\xcf\x83");
    check_fold("\xcf\x82", "\xcf\x83");
}

static void test_fold_cyrillic(void **state)
{
    (void)state;
    /* ДМИТРИЙ -> дмитрий */
    check_fold("\xd0\x94\xd0\x9c\xd0\x98\xd0\xa2\xd0\xa0\xd0\x98\xd0\x99",
               "\xd0\xb4\xd0\xbc\xd0\xb8\xd1\x82\xd1\x80\xd0\xb8\xd0\xb9");
    check_fold("\xd0\x81", "\xd1\x91"); /* Ё -> ё */
}

static void test_fold_uncased_kept(void **state)
{
    (void)state;
    check_fold("\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac"); /* 日本 */
    check_fold("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");                 /* 😀 */
    check_fold("42", "42");
}

static void test_fold_length_changes(void **state)
{
    (void)state;
    /* glibc C.UTF-8: towlower(towupper(c)) can change the encoded length */
    check_fold("K", "k");                               /* ASCII */
    check_fold("\xe2\x84\xaa", "k");                    /* U+212A KELVIN SIGN -> k */
    check_fold("\xc4\xb0", "i");                        /* U+0130 -> i */
    check_fold("\xc8\xba", "\xe2\xb1\xa5");             /* U+023A -> U+2C65: 2 bytes -> 3 */
    check_fold("\xf0\x90\x90\x80", "\xf0\x90\x90\xa8"); /* U+10400 -> U+10428 */
    /* 32 x U+023A: 64 bytes fold to 96, within NT_NAME_MAX_BYTES */
    char name[64 + 1], want[96 + 1];
    for (int i = 0; i < 32; i++) {
        memcpy(name + 2 * i, "\xc8\xba", 2);
        memcpy(want + 3 * i, "\xe2\xb1\xa5", 3);
    }
    name[64] = '\0';
    want[96] = '\0';
    check_fold(name, want);
}

/* Encodes cp as UTF-8 (independent of text.c). */
static size_t enc(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static void test_fold_every_code_point_matches_glibc(void **state)
{
    (void)state;
    /* The header's definition, checked for every code point a name may hold. The test uses its
     * own locale object and leaves the global locale alone ("C"), as a caller would. */
    locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (loc == (locale_t)0) {
        print_message("C.UTF-8 locale missing; skipped\n");
        skip();
    }
    char name[8], want[8], out[NT_NAME_MAX_BYTES + 1];
    size_t bad = 0;
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        size_t len = enc(cp, name);
        if (nt_names_check(name, len) != NT_NAME_OK)
            continue;
        uint32_t f = (uint32_t)towlower_l(towupper_l((wint_t)cp, loc), loc);
        size_t wl = enc(f, want);
        size_t n = nt_names_fold(name, len, out);
        if (n != wl || memcmp(out, want, n) != 0) {
            if (bad++ < 10)
                print_error("fold U+%04X: got %zu bytes, expected U+%04X\n", (unsigned)cp, n,
                            (unsigned)f);
        }
    }
    freelocale(loc);
    assert_int_equal(bad, 0);
}

static void test_check_every_code_point_agrees_with_rules(void **state)
{
    (void)state;
    /* §2.2 for a one-character name "aX" (so no leading-character rule), every code point */
    char name[8];
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        name[0] = 'a';
        size_t len = 1 + enc(cp, name + 1);
        enum nt_name_check want = NT_NAME_OK;
        bool ws = cp == ' ' || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
                  cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
        bool ctl = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
                   (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff || cp == 0xfffd;
        if ((cp >= 0x09 && cp <= 0x0d) || cp == 0x85)
            ws = true; /* both whitespace and control: refused as a space (§2.2) */
        if (ws)
            want = NT_NAME_SPACE;
        else if (ctl)
            want = NT_NAME_CONTROL;
        else if (cp < 0x80 && strchr(",*?.!@:", (int)cp) != NULL)
            want = NT_NAME_BAD_CHAR; /* §2.2: not in an IRC nick */
        enum nt_name_check got = nt_names_check(name, len);
        if (got != want)
            print_error("check(\"a\" U+%04X) = %s, expected %s\n", (unsigned)cp, check_name(got),
                        check_name(want));
        assert_int_equal(got, want);
    }
}

/* ---- the registry ---- */

static int owners[8];

static void test_registry_empty(void **state)
{
    (void)state;
    struct nt_names reg;
    nt_names_init(&reg);
    assert_int_equal(reg.count, 0);
    assert_null(nt_names_find(&reg, "alice", 5));
    assert_null(nt_names_remove(&reg, "alice", 5));
    assert_int_equal(reg.count, 0);
    nt_names_fini(&reg);
}

static void test_registry_add_find_remove(void **state)
{
    (void)state;
    struct nt_names reg;
    nt_names_init(&reg);
    assert_int_equal(nt_names_add(&reg, "Alice", 5, &owners[0]), 0);
    assert_int_equal(reg.count, 1);
    assert_ptr_equal(nt_names_find(&reg, "Alice", 5), &owners[0]);
    assert_ptr_equal(nt_names_find(&reg, "alice", 5), &owners[0]);
    assert_ptr_equal(nt_names_find(&reg, "ALICE", 5), &owners[0]);
    assert_null(nt_names_find(&reg, "Alic", 4));
    assert_null(nt_names_find(&reg, "Alicee", 6));
    assert_null(nt_names_find(&reg, "Bob", 3));

    assert_int_equal(nt_names_add(&reg, "Bob", 3, &owners[1]), 0);
    assert_int_equal(reg.count, 2);
    assert_ptr_equal(nt_names_find(&reg, "bob", 3), &owners[1]);
    assert_ptr_equal(nt_names_find(&reg, "alice", 5), &owners[0]);

    assert_ptr_equal(nt_names_remove(&reg, "aLiCe", 5), &owners[0]);
    assert_int_equal(reg.count, 1);
    assert_null(nt_names_find(&reg, "Alice", 5));
    assert_null(nt_names_remove(&reg, "Alice", 5));
    assert_ptr_equal(nt_names_find(&reg, "Bob", 3), &owners[1]);
    nt_names_fini(&reg);
}

static void test_registry_duplicate_case_insensitive(void **state)
{
    (void)state;
    struct nt_names reg;
    nt_names_init(&reg);
    assert_int_equal(nt_names_add(&reg, "Alice", 5, &owners[0]), 0);
    assert_int_equal(nt_names_add(&reg, "Alice", 5, &owners[1]), -EEXIST);
    assert_int_equal(nt_names_add(&reg, "ALICE", 5, &owners[1]), -EEXIST);
    assert_int_equal(nt_names_add(&reg, "alice", 5, &owners[1]), -EEXIST);
    /* unchanged: the first owner stays */
    assert_int_equal(reg.count, 1);
    assert_ptr_equal(nt_names_find(&reg, "alice", 5), &owners[0]);

    /* Σοφία and σοφία are the same name (§2.2), ΣΟΦΊΑΣ and σοφίας too */
    assert_int_equal(nt_names_add(&reg, "\xce\xa3\xce\xbf\xcf\x86\xce\xaf\xce\xb1", 10, &owners[2]),
                     0);
    assert_int_equal(nt_names_add(&reg, "\xcf\x83\xce\xbf\xcf\x86\xce\xaf\xce\xb1", 10, &owners[3]),
                     -EEXIST);
    assert_ptr_equal(nt_names_find(&reg, "\xce\xa3\xce\x9f\xce\xa6\xce\x8a\xce\x91", 10),
                     &owners[2]);
    assert_int_equal(
        nt_names_add(&reg, "\xcf\x83\xce\xbf\xcf\x86\xce\xaf\xce\xb1\xcf\x82", 12, &owners[4]), 0);
    assert_int_equal(
        nt_names_add(&reg, "\xce\xa3\xce\x9f\xce\xa6\xce\x8a\xce\x91\xce\xa3", 12, &owners[5]),
        -EEXIST);
    /* École / école */
    assert_int_equal(nt_names_add(&reg,
                                  "\xc3\x89"
                                  "cole",
                                  6, &owners[6]),
                     0);
    assert_int_equal(nt_names_add(&reg,
                                  "\xc3\xa9"
                                  "cole",
                                  6, &owners[7]),
                     -EEXIST);
    assert_int_equal(reg.count, 4);
    nt_names_fini(&reg);
}

static void test_registry_remove_then_readd(void **state)
{
    (void)state;
    struct nt_names reg;
    nt_names_init(&reg);
    for (int round = 0; round < 10; round++) {
        void *o = &owners[round % 8];
        assert_int_equal(nt_names_add(&reg, "Carol", 5, o), 0);
        assert_ptr_equal(nt_names_find(&reg, "CAROL", 5), o);
        assert_int_equal(nt_names_add(&reg, "carol", 5, &owners[7]), -EEXIST);
        assert_ptr_equal(nt_names_remove(&reg, "carol", 5), o);
        assert_null(nt_names_find(&reg, "Carol", 5));
    }
    assert_int_equal(reg.count, 0);
    nt_names_fini(&reg);
}

static size_t user_name(char *buf, size_t i)
{
    int n = snprintf(buf, 32, "User%zu", i);
    return (size_t)n;
}

static void check_invariants(const struct nt_names *reg)
{
    if (reg->cap) {
        assert_int_equal(reg->cap & (reg->cap - 1), 0); /* a power of two */
        assert_true(reg->used <= reg->cap);
    }
    assert_true(reg->count <= reg->used);
}

static void test_registry_growth_and_tombstones(void **state)
{
    (void)state;
    enum { N = 5000 };
    char buf[32];
    char *tags = malloc(N); /* owners: &tags[i] */
    assert_non_null(tags);
    struct nt_names reg;
    nt_names_init(&reg);
    for (size_t i = 0; i < N; i++) {
        size_t len = user_name(buf, i);
        assert_int_equal(nt_names_add(&reg, buf, len, &tags[i]), 0);
        check_invariants(&reg);
    }
    assert_int_equal(reg.count, N);
    for (size_t i = 0; i < N; i++) {
        size_t len = user_name(buf, i);
        buf[0] = 'u'; /* found case-insensitively */
        assert_ptr_equal(nt_names_find(&reg, buf, len), &tags[i]);
        assert_int_equal(nt_names_add(&reg, buf, len, &tags[0]), -EEXIST);
    }
    /* remove every odd one */
    for (size_t i = 1; i < N; i += 2) {
        size_t len = user_name(buf, i);
        assert_ptr_equal(nt_names_remove(&reg, buf, len), &tags[i]);
    }
    assert_int_equal(reg.count, N / 2);
    check_invariants(&reg);
    for (size_t i = 0; i < N; i++) {
        size_t len = user_name(buf, i);
        void *want = (i % 2) ? NULL : &tags[i];
        assert_ptr_equal(nt_names_find(&reg, buf, len), want);
    }
    /* re-add the odd ones with their owners */
    for (size_t i = 1; i < N; i += 2) {
        size_t len = user_name(buf, i);
        assert_int_equal(nt_names_add(&reg, buf, len, &tags[i]), 0);
        check_invariants(&reg);
    }
    for (size_t i = 0; i < N; i++) {
        size_t len = user_name(buf, i);
        assert_ptr_equal(nt_names_find(&reg, buf, len), &tags[i]);
    }
    nt_names_fini(&reg);
    free(tags);
}

static void test_registry_find_after_many_removes(void **state)
{
    (void)state;
    enum { N = 3000 };
    char buf[32];
    struct nt_names reg;
    nt_names_init(&reg);
    for (size_t i = 0; i < N; i++) {
        size_t len = user_name(buf, i);
        assert_int_equal(nt_names_add(&reg, buf, len, &owners[i % 8]), 0);
    }
    for (size_t i = 0; i < N; i++) {
        if (i == 1234)
            continue;
        size_t len = user_name(buf, i);
        assert_ptr_equal(nt_names_remove(&reg, buf, len), &owners[i % 8]);
    }
    assert_int_equal(reg.count, 1);
    size_t len = user_name(buf, 1234);
    assert_ptr_equal(nt_names_find(&reg, buf, len), &owners[1234 % 8]);
    /* lookups of absent names end even though the table is full of tombstones */
    for (size_t i = 0; i < N; i++) {
        if (i == 1234)
            continue;
        len = user_name(buf, i);
        assert_null(nt_names_find(&reg, buf, len));
        assert_null(nt_names_remove(&reg, buf, len));
    }
    len = user_name(buf, 99999);
    assert_null(nt_names_find(&reg, buf, len));
    check_invariants(&reg);
    nt_names_fini(&reg);
}

static void test_registry_churn_stays_bounded(void **state)
{
    (void)state;
    /* Connections come and go for months: with at most 8 names at once, 200000 joins must not
     * grow the table without bound, nor fill it with tombstones so that lookups never end. */
    char buf[32];
    struct nt_names reg;
    nt_names_init(&reg);
    for (size_t i = 0; i < 200000; i++) {
        size_t len = user_name(buf, i);
        assert_int_equal(nt_names_add(&reg, buf, len, &owners[i % 8]), 0);
        if (i >= 7) {
            len = user_name(buf, i - 7);
            assert_ptr_equal(nt_names_remove(&reg, buf, len), &owners[(i - 7) % 8]);
        }
        if (i % 1000 == 0)
            check_invariants(&reg);
    }
    assert_int_equal(reg.count, 7);
    check_invariants(&reg);
    if (reg.cap > 1024)
        print_error("cap %zu for %zu names after churn\n", reg.cap, reg.count);
    assert_true(reg.cap <= 1024);
    for (size_t i = 200000 - 7; i < 200000; i++) {
        size_t len = user_name(buf, i);
        assert_ptr_equal(nt_names_find(&reg, buf, len), &owners[i % 8]);
    }
    nt_names_fini(&reg);
}

static void test_registry_fini_and_reuse(void **state)
{
    (void)state;
    struct nt_names reg;
    nt_names_init(&reg);
    nt_names_fini(&reg); /* never used: frees nothing */
    nt_names_init(&reg);
    assert_int_equal(nt_names_add(&reg, "Dave", 4, &owners[0]), 0);
    nt_names_fini(&reg); /* with names still in it: ASan checks for a leak */
    nt_names_init(&reg);
    assert_null(nt_names_find(&reg, "Dave", 4));
    nt_names_fini(&reg);
}

/* A string longer than any name folds to nothing rather than to a name it is not: 33 four-byte
 * characters must not find the name of 32 (found by fuzz_names). */
static void test_fold_too_long_finds_nothing(void **state)
{
    (void)state;
    char name32[32 * 4], name33[33 * 4], out[NT_NAME_MAX_BYTES + 1];
    for (int i = 0; i < 33; i++)
        memcpy((i < 32 ? name32 + i * 4 : name33 + i * 4), "\xf0\x9f\x98\x80", 4);
    memcpy(name33, name32, sizeof(name32));
    assert_int_equal(nt_names_fold(name32, sizeof(name32), out), sizeof(name32));
    assert_true(nt_names_fold(name33, sizeof(name33), out) == NT_NAME_FOLD_TOO_LONG);
    struct nt_names reg;
    nt_names_init(&reg);
    int owner;
    assert_int_equal(nt_names_add(&reg, name32, sizeof(name32), &owner), 0);
    assert_null(nt_names_find(&reg, name33, sizeof(name33)));
    assert_null(nt_names_remove(&reg, name33, sizeof(name33)));
    assert_int_equal(nt_names_add(&reg, name33, sizeof(name33), &owner), -EINVAL);
    assert_ptr_equal(nt_names_find(&reg, name32, sizeof(name32)), &owner);
    nt_names_fini(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_too_long_finds_nothing),
        cmocka_unit_test(test_check_ok),
        cmocka_unit_test(test_check_empty),
        cmocka_unit_test(test_check_length_in_code_points),
        cmocka_unit_test(test_check_bad_utf8),
        cmocka_unit_test(test_check_space),
        cmocka_unit_test(test_check_control),
        cmocka_unit_test(test_check_bad_start),
        cmocka_unit_test(test_check_bad_char),
        cmocka_unit_test(test_check_messages),
        cmocka_unit_test(test_fold_ascii),
        cmocka_unit_test(test_fold_latin1),
        cmocka_unit_test(test_fold_greek),
        cmocka_unit_test(test_fold_cyrillic),
        cmocka_unit_test(test_fold_uncased_kept),
        cmocka_unit_test(test_fold_length_changes),
        cmocka_unit_test(test_fold_every_code_point_matches_glibc),
        cmocka_unit_test(test_check_every_code_point_agrees_with_rules),
        cmocka_unit_test(test_registry_empty),
        cmocka_unit_test(test_registry_add_find_remove),
        cmocka_unit_test(test_registry_duplicate_case_insensitive),
        cmocka_unit_test(test_registry_remove_then_readd),
        cmocka_unit_test(test_registry_growth_and_tombstones),
        cmocka_unit_test(test_registry_find_after_many_removes),
        cmocka_unit_test(test_registry_churn_stays_bounded),
        cmocka_unit_test(test_registry_fini_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
