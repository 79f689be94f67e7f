/* SPDX-License-Identifier: MIT */
/* fuzz_irc.c - libFuzzer harness for irc.c: messages, client tags, lists, CTCP, formatting (§8). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/irc.h"
#include "fuzz.h"

/*
 * Input: one line as the IRC door's framer hands it over (CR, LF and NUL inside are ordinary
 * bytes), in an exact-size heap copy so ASan sees any read past it. Checks:
 *   - nt_irc_parse's outcome equals a reference classification written from PROTOCOL.md §8.3 and
 *     §8.9 (tag section, client tags, body limits, empty, command word);
 *   - on OK, walking the line from its start along the spans accounts for every byte: spaces,
 *     '@' tags, ':' source, the command (letters or 3 digits), middle parameters without spaces,
 *     the trailing or the 15th parameter to the end; so every span lies inside the line, in order,
 *     and n_params <= 15; on any other outcome *msg is zeroed;
 *   - nt_irc_command_is matches the command upper-cased, not with one byte changed or added;
 *   - nt_irc_client_tags (of msg.tags, and of the whole input as a tag section) equals a
 *     reference filter; with caps of L, L - 1 and a few small ones, each output an exact-size heap
 *     buffer, it returns L or (size_t)-1 and writes nothing outside out[0..cap), nothing at all
 *     when it does not fit; after OK, L <= NT_IRC_MAX_CLIENT_TAGS - 2;
 *   - nt_irc_next_item (of every parameter and the input) gives nonempty items without commas,
 *     inside the list, in order, whose lengths and commas add up to the list;
 *   - nt_irc_ctcp's command is nonempty and has no space or \x01, its args no \x01;
 *   - nt_irc_strip_formatting (of every parameter and the input) equals a reference model,
 *     writes at most len bytes, leaves no formatting byte, keeps every other byte but the digits
 *     and commas of colour codes, and gives the same result in place.
 */

static const char FORMATTING[] = "\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f";

/* span lies within [base, base + len] (a zero-length span may be NULL). */
static bool within(struct nt_irc_span s, const char *base, size_t len)
{
    if (s.len == 0 && s.p == NULL)
        return true;
    return s.p >= base && s.p <= base + len && s.len <= (size_t)(base + len - s.p);
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_format(unsigned char c)
{
    return c != 0 && memchr(FORMATTING, c, sizeof(FORMATTING) - 1) != NULL;
}

/* ---- reference models ---- */

/* A '+' tag relays when it has no control byte, raw or as the escape \r or \n in its value. */
static bool ref_tag_relays(const char *t, size_t n)
{
    const char *eq = memchr(t, '=', n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    if (eq == NULL)
        return true;
    const char *v = eq + 1, *end = t + n;
    while (v < end) {
        if (*v == '\\' && v + 1 < end) {
            if (v[1] == 'r' || v[1] == 'n')
                return false;
            v += 2;
        } else {
            v++;
        }
    }
    return true;
}

/*
 * The client tags of tags[0..n) into out (n bytes): every '+' element (relaying or, when all is
 * true, any), joined by ';'. Returns the length.
 */
static size_t ref_client_tags(const char *tags, size_t n, char *out, bool all)
{
    size_t o = 0, start = 0;
    if (n == 0)
        return 0; /* tags may be NULL */
    for (size_t i = 0; i <= n; i++) {
        if (i < n && tags[i] != ';')
            continue;
        const char *t = tags + start;
        size_t tn = i - start;
        start = i + 1;
        if (tn == 0 || t[0] != '+' || (!all && !ref_tag_relays(t, tn)))
            continue;
        if (o > 0) {
            if (out)
                out[o] = ';';
            o++;
        }
        if (out)
            memcpy(out + o, t, tn);
        o += tn;
    }
    return o;
}

/* Where the tag section and the body are, and what nt_irc_parse() must answer. */
struct ref {
    bool has_tags;
    size_t tags_at, tags_len; /* after '@' */
    size_t body_at;
    enum nt_irc_parse res;
};

static void ref_parse(const char *l, size_t n, struct ref *r)
{
    size_t i = 0;
    memset(r, 0, sizeof(*r));
    while (i < n && l[i] == ' ')
        i++;
    if (i < n && l[i] == '@') {
        const char *sp = memchr(l + i, ' ', n - i);
        size_t end = sp ? (size_t)(sp - l) : n;
        r->has_tags = true;
        r->tags_at = i + 1;
        r->tags_len = end - i - 1;
        i = end;
        while (i < n && l[i] == ' ')
            i++;
    }
    r->body_at = i;
    if (r->has_tags && 1 + r->tags_len + 1 > 8191) {
        r->res = NT_IRC_TAGS_TOO_LONG;
    } else if (r->has_tags && ref_client_tags(l + r->tags_at, r->tags_len, NULL, true) + 2 > 4096) {
        r->res = NT_IRC_CLIENT_TAGS_TOO_LONG;
    } else if (n - i > 510) {
        r->res = NT_IRC_BODY_TOO_LONG;
    } else if (i == n) {
        r->res = NT_IRC_EMPTY;
    } else {
        if (l[i] == ':') {
            while (i < n && l[i] != ' ')
                i++;
            while (i < n && l[i] == ' ')
                i++;
        }
        size_t w = 0, digits = 0, letters = 0;
        for (; i + w < n && l[i + w] != ' '; w++) {
            unsigned char c = (unsigned char)l[i + w];
            digits += is_digit(c);
            letters += (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
        }
        bool ok = (w == 3 && digits == 3) || (w > 0 && letters == w);
        r->res = ok ? NT_IRC_OK : NT_IRC_NO_COMMAND;
    }
}

/* Whether t[i..i + 6) are six hex digits inside t[0..n). */
static bool hex6(const char *t, size_t n, size_t i)
{
    if (i > n || n - i < 6)
        return false;
    for (size_t k = 0; k < 6; k++) {
        if (!is_hex((unsigned char)t[i + k]))
            return false;
    }
    return true;
}

/* §8.5 as written: i is the last byte a code takes. */
static size_t ref_strip(const char *t, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == 0x03) {
            /* \x03 [D [D] [, D [D]]]: the background only after a foreground, a digit after ',' */
            size_t fg = 0;
            while (fg < 2 && i + 1 + fg < n && is_digit((unsigned char)t[i + 1 + fg]))
                fg++;
            i += fg;
            if (fg > 0 && i + 2 < n && t[i + 1] == ',' && is_digit((unsigned char)t[i + 2])) {
                i += 2;
                if (i + 1 < n && is_digit((unsigned char)t[i + 1]))
                    i++;
            }
        } else if (c == 0x04) {
            /* \x04 [RRGGBB [,RRGGBB]] */
            if (hex6(t, n, i + 1)) {
                i += 6;
                if (i + 1 < n && t[i + 1] == ',' && hex6(t, n, i + 2))
                    i += 7;
            }
        } else if (!is_format(c)) {
            out[o++] = (char)c;
        }
    }
    return o;
}

/* ---- checks ---- */

static void check_msg(const char *l, size_t n, const struct nt_irc_msg *m, const struct ref *r)
{
    const char *c = l, *end = l + n;
    CHECK(within(m->tags, l, n) && within(m->source, l, n) && within(m->command, l, n));
    CHECK(m->command.len <= NT_IRC_MAX_BODY);
    CHECK(m->n_params <= NT_IRC_MAX_PARAMS);
    while (c < end && *c == ' ')
        c++;
    if (r->has_tags) {
        CHECK(*c == '@' && m->tags.p == c + 1 && m->tags.len == r->tags_len);
        c = m->tags.p + m->tags.len;
        CHECK(c == end || *c == ' ');
        while (c < end && *c == ' ')
            c++;
    } else {
        CHECK(m->tags.p == NULL && m->tags.len == 0);
    }
    CHECK(c == l + r->body_at && c < end);
    if (*c == ':') {
        CHECK(m->source.p == c + 1);
        c = m->source.p + m->source.len;
        CHECK(memchr(m->source.p, ' ', m->source.len) == NULL);
        CHECK(c == end || *c == ' ');
        while (c < end && *c == ' ')
            c++;
    } else {
        CHECK(m->source.p == NULL && m->source.len == 0);
    }
    CHECK(m->command.p == c && m->command.len > 0);
    size_t letters = 0, digits = 0;
    for (size_t i = 0; i < m->command.len; i++) {
        unsigned char ch = (unsigned char)m->command.p[i];
        letters += (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        digits += is_digit(ch);
    }
    CHECK(letters == m->command.len || (digits == 3 && m->command.len == 3));
    c += m->command.len;
    CHECK(c == end || *c == ' ');
    for (size_t k = 0; k < m->n_params; k++) {
        const struct nt_irc_span *p = &m->params[k];
        CHECK(within(*p, l, n));
        CHECK(c < end && *c == ' ');
        while (c < end && *c == ' ')
            c++;
        CHECK(c < end);
        bool last = k + 1 == m->n_params;
        if (last && m->has_trailing) {
            CHECK(*c == ':' && p->p == c + 1 && p->p + p->len == end);
            c = end;
        } else if (k == NT_IRC_MAX_PARAMS - 1) {
            CHECK(*c != ':' && p->p == c && p->len > 0 && p->p + p->len == end);
            c = end;
        } else {
            CHECK(*c != ':' && p->p == c && p->len > 0);
            CHECK(memchr(p->p, ' ', p->len) == NULL);
            c += p->len;
            CHECK(c == end || *c == ' ');
        }
    }
    while (c < end && *c == ' ')
        c++;
    CHECK(c == end);
    /* the spans that the door sends on are within the body limit */
    CHECK((size_t)(end - (l + r->body_at)) <= NT_IRC_MAX_BODY);
}

/* cmd: a command of an OK message (1 to NT_IRC_MAX_BODY letters, or 3 digits). */
static void check_command_is(struct nt_irc_span cmd)
{
    char name[NT_IRC_MAX_BODY + 2];
    for (size_t i = 0; i < cmd.len; i++) {
        char ch = cmd.p[i];
        name[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
    }
    name[cmd.len] = '\0';
    CHECK(nt_irc_command_is(cmd, name));
    /* one byte different, of the same kind (a letter or a digit) */
    char last = name[cmd.len - 1];
    name[cmd.len - 1] = last == 'Z' ? 'A' : last == '9' ? '0' : (char)(last + 1);
    CHECK(!nt_irc_command_is(cmd, name));
    name[cmd.len - 1] = last;
    name[cmd.len] = 'X';
    name[cmd.len + 1] = '\0';
    CHECK(!nt_irc_command_is(cmd, name));
}

/* client_tags into an exact-size buffer of cap bytes filled with a sentinel; want: expected. */
static void client_tags_cap(const char *tags, size_t n, size_t cap, const char *want,
                            size_t want_len)
{
    char *out = cap ? malloc(cap) : NULL;
    CHECK(cap == 0 || out != NULL);
    if (cap)
        memset(out, 0xa5, cap);
    size_t got = nt_irc_client_tags(tags, n, out, cap);
    if (want_len <= cap) {
        CHECK(got == want_len);
        CHECK(got == 0 || memcmp(out, want, got) == 0);
        for (size_t i = got; i < cap; i++)
            CHECK((unsigned char)out[i] == 0xa5);
    } else {
        CHECK(got == (size_t)-1);
        for (size_t i = 0; i < cap; i++)
            CHECK((unsigned char)out[i] == 0xa5); /* nothing written */
    }
    free(out);
}

/* Returns the length of the client tags of tags[0..n). */
static size_t check_client_tags(const char *tags, size_t n, size_t seed)
{
    char *want = malloc(n ? n : 1);
    CHECK(want != NULL);
    size_t want_len = ref_client_tags(tags, n, want, false);
    CHECK(want_len <= n);
    for (size_t i = 0; i < want_len; i++) {
        unsigned char c = (unsigned char)want[i];
        CHECK(c >= 0x20 && c != 0x7f);
    }
    CHECK(want_len == 0 || want[0] == '+');
    client_tags_cap(tags, n, n, want, want_len);
    client_tags_cap(tags, n, want_len, want, want_len);
    if (want_len > 0)
        client_tags_cap(tags, n, want_len - 1, want, want_len);
    client_tags_cap(tags, n, seed % 8, want, want_len);
    client_tags_cap(tags, n, seed % 64, want, want_len);
    free(want);
    return want_len;
}

static void check_items(struct nt_irc_span list)
{
    struct nt_irc_span l = list, item;
    size_t bytes = 0, items = 0;
    const char *prev_end = list.p;
    while (nt_irc_next_item(&l, &item)) {
        CHECK(item.len > 0 && within(item, list.p, list.len));
        CHECK(memchr(item.p, ',', item.len) == NULL);
        CHECK(item.p >= prev_end);
        /* only commas are skipped */
        for (const char *q = prev_end; q < item.p; q++)
            CHECK(*q == ',');
        prev_end = item.p + item.len;
        CHECK(l.p == list.p + list.len - l.len);
        bytes += item.len;
        CHECK(++items <= list.len);
    }
    CHECK(l.len == 0 && item.p == NULL && item.len == 0);
    size_t commas = 0;
    for (size_t i = 0; i < list.len; i++)
        commas += list.p[i] == ',';
    CHECK(bytes + commas == list.len);
}

static void check_ctcp(struct nt_irc_span text)
{
    struct nt_irc_span cmd = {NULL, 12345}, args = {NULL, 12345};
    bool is = nt_irc_ctcp(text.p, text.len, &cmd, &args);
    bool want = text.len >= 2 && text.p[0] == '\x01' && text.p[1] != ' ' && text.p[1] != '\x01';
    CHECK(is == want);
    if (!is) {
        CHECK(cmd.len == 12345 && args.len == 12345);
        return;
    }
    CHECK(cmd.p == text.p + 1 && cmd.len > 0 && within(cmd, text.p, text.len));
    CHECK(memchr(cmd.p, ' ', cmd.len) == NULL && memchr(cmd.p, '\x01', cmd.len) == NULL);
    CHECK(within(args, text.p, text.len) && memchr(args.p, '\x01', args.len) == NULL);
    CHECK(args.len == 0 || args.p == cmd.p + cmd.len + 1);
}

static void check_strip(struct nt_irc_span text)
{
    size_t n = text.len;
    char *out = malloc(n ? n : 1), *ref = malloc(n ? n : 1), *in_place = malloc(n ? n : 1);
    CHECK(out != NULL && ref != NULL && in_place != NULL);
    size_t got = nt_irc_strip_formatting(text.p, n, out);
    CHECK(got <= n);
    size_t want = ref_strip(text.p, n, ref);
    CHECK(got == want && (got == 0 || memcmp(out, ref, got) == 0));
    for (size_t i = 0; i < got; i++)
        CHECK(!is_format((unsigned char)out[i]));
    /* every byte but formatting, digits, hex letters and commas is kept, in order */
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text.p[i];
        if (is_format(c) || is_hex(c) || c == ',')
            continue;
        while (j < got && (is_hex((unsigned char)out[j]) || out[j] == ','))
            j++;
        CHECK(j < got && (unsigned char)out[j] == c);
        j++;
    }
    for (; j < got; j++)
        CHECK(is_hex((unsigned char)out[j]) || out[j] == ',');
    if (n > 0)
        memcpy(in_place, text.p, n);
    CHECK(nt_irc_strip_formatting(in_place, n, in_place) == got);
    CHECK(got == 0 || memcmp(in_place, out, got) == 0);
    /* nothing is left to strip */
    CHECK(nt_irc_strip_formatting(out, got, in_place) == got);
    free(out);
    free(ref);
    free(in_place);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size ? size : 1); /* exact size: ASan sees any overrun */
    CHECK(line != NULL);
    if (size)
        memcpy(line, data, size);

    struct ref r;
    ref_parse(line, size, &r);
    struct nt_irc_msg m;
    memset(&m, 0x5a, sizeof(m));
    enum nt_irc_parse res = nt_irc_parse(line, size, &m);
    CHECK(res == r.res);
    size_t seed = size ? (unsigned char)line[size / 2] : 0;
    struct nt_irc_span whole = {line, size};
    if (res == NT_IRC_OK) {
        check_msg(line, size, &m, &r);
        check_command_is(m.command);
        size_t relayed = check_client_tags(m.tags.p, m.tags.len, seed);
        CHECK(relayed <= NT_IRC_MAX_CLIENT_TAGS - 2);
        for (size_t k = 0; k < m.n_params; k++) {
            check_items(m.params[k]);
            check_ctcp(m.params[k]);
            check_strip(m.params[k]);
        }
    } else {
        struct nt_irc_msg zero;
        memset(&zero, 0, sizeof(zero));
        CHECK(memcmp(&m, &zero, sizeof(m)) == 0);
    }
    /* the whole input through each of the others, whatever it is */
    check_client_tags(line, size, seed);
    check_items(whole);
    check_ctcp(whole);
    check_strip(whole);
    free(line);
    return 0;
}
