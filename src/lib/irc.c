/* SPDX-License-Identifier: MIT */
/* irc.c - IRC messages parsed in place, client tags, lists, CTCP, formatting (PROTOCOL.md §8). */
#include "irc.h"

#include <string.h>

/* CTCP's delimiter (the "Client-to-Client Protocol" document). */
#define CTCP_DELIM '\x01'

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_letter(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static unsigned char to_upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

/* The first index at or after i in s[0..len) that is not a space, or len. */
static size_t skip_spaces(const char *s, size_t i, size_t len)
{
    while (i < len && s[i] == ' ')
        i++;
    return i;
}

/* The first index at or after i in s[0..len) that is a space, or len. */
static size_t find_space(const char *s, size_t i, size_t len)
{
    while (i < len && s[i] != ' ')
        i++;
    return i;
}

/* A command is a word of letters, or a numeric of exactly three digits (modern IRC). */
static bool is_command(const char *p, size_t n)
{
    if (n == 0)
        return false;
    if (n == 3 && is_digit((unsigned char)p[0]) && is_digit((unsigned char)p[1]) &&
        is_digit((unsigned char)p[2]))
        return true;
    for (size_t i = 0; i < n; i++) {
        if (!is_letter((unsigned char)p[i]))
            return false;
    }
    return true;
}

/* The next non-empty element of *list separated by sep; false (and *item empty) at the end. */
static bool next_split(struct nt_irc_span *list, char sep, struct nt_irc_span *item)
{
    /* No arithmetic on list->p when it is empty: it may be NULL. */
    size_t i = 0;
    while (i < list->len && list->p[i] == sep)
        i++;
    if (i == list->len) {
        if (list->len > 0)
            list->p += list->len;
        list->len = 0;
        item->p = NULL;
        item->len = 0;
        return false;
    }
    size_t end = i;
    while (end < list->len && list->p[end] != sep)
        end++;
    item->p = list->p + i;
    item->len = end - i;
    if (end < list->len)
        end++; /* its separator */
    list->p += end;
    list->len -= end;
    return true;
}

/* A client-only tag: its key starts with '+' (IRCv3 message-tags). */
static bool is_client_tag(struct nt_irc_span tag)
{
    return tag.len > 0 && tag.p[0] == '+';
}

/*
 * Whether a tag may be relayed: no control byte (C0 or DEL) in its key or value, neither as sent
 * nor escaped ("\r" and "\n" unescape to CR and LF) - PROTOCOL.md §8.9.
 */
static bool is_clean_tag(struct nt_irc_span tag)
{
    for (size_t i = 0; i < tag.len; i++) {
        unsigned char c = (unsigned char)tag.p[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    /* The escapes in a second pass, so that the byte after a '\' was checked above too. */
    const char *eq = memchr(tag.p, '=', tag.len);
    if (eq == NULL)
        return true;
    for (size_t i = (size_t)(eq - tag.p) + 1; i + 1 < tag.len; i++) {
        if (tag.p[i] != '\\')
            continue;
        if (tag.p[i + 1] == 'r' || tag.p[i + 1] == 'n')
            return false;
        i++; /* the escaped byte: "\\r" is a backslash and an 'r' */
    }
    return true;
}

/* The length of the client-only tags of tags[0..len) as sent, joined by ';', clean or not. */
static size_t client_tags_len(const char *tags, size_t len)
{
    struct nt_irc_span list = {tags, len};
    struct nt_irc_span tag;
    size_t total = 0;
    bool first = true;
    while (next_split(&list, ';', &tag)) {
        if (!is_client_tag(tag))
            continue;
        total += (first ? 0 : 1) + tag.len;
        first = false;
    }
    return total;
}

/* nt_irc_parse() into m, which is zeroed; m is left half filled when the result is not OK. */
static enum nt_irc_parse parse(const char *line, size_t len, struct nt_irc_msg *m)
{
    size_t i = skip_spaces(line, 0, len);
    if (i < len && line[i] == '@') {
        size_t end = find_space(line, i + 1, len);
        m->tags.p = line + i + 1;
        m->tags.len = end - (i + 1);
        /* Both limits count the '@' and the space after the tags (IRCv3 message-tags). */
        if (m->tags.len + 2 > NT_IRC_MAX_TAGS)
            return NT_IRC_TAGS_TOO_LONG;
        if (client_tags_len(m->tags.p, m->tags.len) + 2 > NT_IRC_MAX_CLIENT_TAGS)
            return NT_IRC_CLIENT_TAGS_TOO_LONG;
        i = skip_spaces(line, end, len);
    }
    /* The body starts after the tags and their spaces (or the leading spaces): PROTOCOL.md §8.9. */
    if (len - i > NT_IRC_MAX_BODY)
        return NT_IRC_BODY_TOO_LONG;
    if (i == len)
        return NT_IRC_EMPTY;
    if (line[i] == ':') {
        size_t end = find_space(line, i + 1, len);
        m->source.p = line + i + 1;
        m->source.len = end - (i + 1);
        i = skip_spaces(line, end, len);
    }
    size_t end = find_space(line, i, len);
    if (!is_command(line + i, end - i))
        return NT_IRC_NO_COMMAND;
    m->command.p = line + i;
    m->command.len = end - i;
    i = end;
    for (;;) {
        i = skip_spaces(line, i, len);
        if (i == len)
            return NT_IRC_OK;
        struct nt_irc_span *param = &m->params[m->n_params++];
        if (line[i] == ':') {
            param->p = line + i + 1;
            param->len = len - (i + 1);
            m->has_trailing = true;
            return NT_IRC_OK;
        }
        if (m->n_params == NT_IRC_MAX_PARAMS) {
            /* RFC 2812 §2.3.1: after 14 middle parameters the ':' of the trailing is optional. */
            param->p = line + i;
            param->len = len - i;
            return NT_IRC_OK;
        }
        end = find_space(line, i, len);
        param->p = line + i;
        param->len = end - i;
        i = end;
    }
}

enum nt_irc_parse nt_irc_parse(const char *line, size_t len, struct nt_irc_msg *msg)
{
    struct nt_irc_msg m;
    memset(&m, 0, sizeof(m));
    enum nt_irc_parse res = parse(line, len, &m);
    if (res == NT_IRC_OK)
        *msg = m;
    else
        memset(msg, 0, sizeof(*msg));
    return res;
}

bool nt_irc_command_is(struct nt_irc_span command, const char *name)
{
    size_t n = strlen(name);
    if (command.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (to_upper((unsigned char)command.p[i]) != to_upper((unsigned char)name[i]))
            return false;
    }
    return true;
}

size_t nt_irc_client_tags(const char *tags, size_t len, char *out, size_t cap)
{
    struct nt_irc_span list = {tags, len};
    struct nt_irc_span tag;
    size_t total = 0;
    bool first = true;
    /* Measure first, so that nothing is written when they do not fit. */
    while (next_split(&list, ';', &tag)) {
        if (!is_client_tag(tag) || !is_clean_tag(tag))
            continue;
        total += (first ? 0 : 1) + tag.len;
        first = false;
    }
    if (total > cap)
        return (size_t)-1;
    list.p = tags;
    list.len = len;
    size_t o = 0;
    while (next_split(&list, ';', &tag)) {
        if (!is_client_tag(tag) || !is_clean_tag(tag))
            continue;
        if (o > 0)
            out[o++] = ';';
        memcpy(out + o, tag.p, tag.len);
        o += tag.len;
    }
    return o;
}

bool nt_irc_next_item(struct nt_irc_span *list, struct nt_irc_span *item)
{
    return next_split(list, ',', item);
}

bool nt_irc_ctcp(const char *text, size_t len, struct nt_irc_span *command,
                 struct nt_irc_span *args)
{
    if (len == 0 || text[0] != CTCP_DELIM)
        return false;
    /* The message ends at the next delimiter, or at the end when the client left it out. */
    size_t end = 1;
    while (end < len && text[end] != CTCP_DELIM)
        end++;
    size_t sp = 1;
    while (sp < end && text[sp] != ' ')
        sp++;
    if (sp == 1)
        return false;
    command->p = text + 1;
    command->len = sp - 1;
    if (sp < end) {
        args->p = text + sp + 1;
        args->len = end - (sp + 1);
    } else {
        args->p = text + end;
        args->len = 0;
    }
    return true;
}

/* The number of bytes of s[i..len), at most max, that pass is(). */
static size_t count_run(const char *s, size_t i, size_t len, size_t max, bool (*is)(unsigned char))
{
    size_t n = 0;
    while (n < max && i + n < len && is((unsigned char)s[i + n]))
        n++;
    return n;
}

/*
 * The index after the arguments of a \x03 whose arguments start at i: up to two digits, then a
 * comma and up to two digits only when a foreground came and a digit follows the comma (so
 * "\x03,5" and "\x031,x" keep their commas, as clients display them).
 */
static size_t skip_colour(const char *s, size_t i, size_t len)
{
    size_t n = count_run(s, i, len, 2, is_digit);
    if (n == 0)
        return i;
    i += n;
    if (i + 1 < len && s[i] == ',' && is_digit((unsigned char)s[i + 1]))
        i += 1 + count_run(s, i + 1, len, 2, is_digit);
    return i;
}

/* The same for \x04: exactly six hex digits, then ',' and exactly six more, each optional. */
static size_t skip_hex_colour(const char *s, size_t i, size_t len)
{
    if (count_run(s, i, len, 6, is_hex) < 6)
        return i;
    i += 6;
    if (i < len && s[i] == ',' && count_run(s, i + 1, len, 6, is_hex) == 6)
        i += 7;
    return i;
}

size_t nt_irc_strip_formatting(const char *text, size_t len, char *out)
{
    /* o <= i throughout, and text[i] is read before out[o] is written: out may be text. */
    size_t o = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)text[i++];
        switch (c) {
        case 0x02: /* bold */
        case 0x0f: /* reset */
        case 0x11: /* monospace */
        case 0x16: /* reverse */
        case 0x1d: /* italics */
        case 0x1e: /* strike */
        case 0x1f: /* underline */
            break;
        case 0x03:
            i = skip_colour(text, i, len);
            break;
        case 0x04:
            i = skip_hex_colour(text, i, len);
            break;
        default:
            out[o++] = (char)c;
            break;
        }
    }
    return o;
}
