/* SPDX-License-Identifier: MIT */
/* wire.c - the messages natter nodes publish to each other: a version, a type, then fields. */
#include "wire.h"

#include <string.h>

#include "util.h"

/*
 * Layout: "nt" NT_WIRE_VERSION type, then node (string), seq, time_ms, kind, actor_id (numbers),
 * room, actor, target, text, tags, reason (strings). A number is an unsigned LEB128 varint in
 * its shortest form; a string is its length (a number) and its bytes.
 */

#define STRINGS 6

static size_t number_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static char *put_number(char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (char)(0x80 | (v & 0x7F));
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

static char *put_str(char *p, const struct nt_wire_str *s)
{
    p = put_number(p, s->len);
    if (s->len > 0)
        memcpy(p, s->p, s->len);
    return p + s->len;
}

static void strings_of(const struct nt_wire_msg *m, const struct nt_wire_str *out[STRINGS])
{
    out[0] = &m->room;
    out[1] = &m->actor;
    out[2] = &m->target;
    out[3] = &m->text;
    out[4] = &m->tags;
    out[5] = &m->reason;
}

struct nt_msg *nt_wire_encode(const struct nt_wire_msg *m)
{
    NT_ASSERT(m->node.len >= 1 && m->node.len <= NT_WIRE_MAX_NODE);
    const struct nt_wire_str *strs[STRINGS];
    strings_of(m, strs);
    size_t size = 4 + number_size(m->node.len) + m->node.len + number_size(m->seq) +
                  number_size(m->time_ms) + number_size(m->kind) + number_size(m->actor_id);
    for (int i = 0; i < STRINGS; i++) {
        NT_ASSERT(strs[i]->len <= NT_WIRE_MAX_STR);
        size += number_size(strs[i]->len) + strs[i]->len;
    }
    struct nt_msg *msg = nt_msg_new(size);
    char *p = msg->data;
    *p++ = 'n';
    *p++ = 't';
    *p++ = NT_WIRE_VERSION;
    *p++ = (char)m->type;
    p = put_str(p, &m->node);
    p = put_number(p, m->seq);
    p = put_number(p, m->time_ms);
    p = put_number(p, m->kind);
    p = put_number(p, m->actor_id);
    for (int i = 0; i < STRINGS; i++)
        p = put_str(p, strs[i]);
    NT_ASSERT((size_t)(p - msg->data) == size);
    return msg;
}

/* A reader over the buffer being decoded. */
struct cursor {
    const unsigned char *p, *end;
};

static enum nt_wire_result get_number(struct cursor *c, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (c->p == c->end)
            return NT_WIRE_SHORT;
        unsigned char b = *c->p++;
        if (shift == 63 && b > 1)
            return NT_WIRE_NUMBER; /* over 64 bits */
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            if (b == 0 && shift > 0)
                return NT_WIRE_NUMBER; /* a zero last byte: not the shortest form */
            *v = x;
            return NT_WIRE_OK;
        }
        if (shift == 63)
            return NT_WIRE_NUMBER;
    }
}

static enum nt_wire_result get_str(struct cursor *c, size_t max, struct nt_wire_str *s)
{
    uint64_t n;
    enum nt_wire_result r = get_number(c, &n);
    if (r != NT_WIRE_OK)
        return r;
    if (n > max)
        return NT_WIRE_LENGTH;
    if ((uint64_t)(c->end - c->p) < n)
        return NT_WIRE_SHORT;
    s->p = (const char *)c->p;
    s->len = (size_t)n;
    c->p += n;
    return NT_WIRE_OK;
}

enum nt_wire_result nt_wire_decode(const char *buf, size_t len, struct nt_wire_msg *m)
{
    struct cursor c = {(const unsigned char *)buf, (const unsigned char *)buf + len};
    if (len > NT_WIRE_MAX)
        return NT_WIRE_LENGTH;
    if (len < 4)
        return len >= 3 && (buf[0] != 'n' || buf[1] != 't' || buf[2] != NT_WIRE_VERSION)
                   ? NT_WIRE_VERSION_X
                   : NT_WIRE_SHORT;
    if (buf[0] != 'n' || buf[1] != 't' || buf[2] != NT_WIRE_VERSION)
        return NT_WIRE_VERSION_X;
    m->type = (uint8_t)buf[3];
    if (m->type != NT_WIRE_EVENT && m->type != NT_WIRE_HEARTBEAT && m->type != NT_WIRE_BYE &&
        m->type != NT_WIRE_USER && m->type != NT_WIRE_SYNC && m->type != NT_WIRE_DONE &&
        m->type != NT_WIRE_BANS && m->type != NT_WIRE_HISTORY)
        return NT_WIRE_TYPE_X;
    c.p += 4;
    enum nt_wire_result r = get_str(&c, NT_WIRE_MAX_NODE, &m->node);
    if (r == NT_WIRE_OK && m->node.len == 0)
        r = NT_WIRE_LENGTH;
    uint64_t kind = 0;
    if (r == NT_WIRE_OK)
        r = get_number(&c, &m->seq);
    if (r == NT_WIRE_OK)
        r = get_number(&c, &m->time_ms);
    if (r == NT_WIRE_OK)
        r = get_number(&c, &kind);
    if (r == NT_WIRE_OK && kind > UINT32_MAX)
        r = NT_WIRE_NUMBER;
    m->kind = (uint32_t)kind;
    if (r == NT_WIRE_OK)
        r = get_number(&c, &m->actor_id);
    struct nt_wire_str *strs[STRINGS] = {&m->room, &m->actor, &m->target,
                                         &m->text, &m->tags,  &m->reason};
    for (int i = 0; i < STRINGS && r == NT_WIRE_OK; i++)
        r = get_str(&c, NT_WIRE_MAX_STR, strs[i]);
    if (r == NT_WIRE_OK && c.p != c.end)
        r = NT_WIRE_TRAILING;
    return r;
}

const char *nt_wire_result_name(enum nt_wire_result r)
{
    switch (r) {
    case NT_WIRE_OK:
        return "ok";
    case NT_WIRE_SHORT:
        return "it ends inside a field";
    case NT_WIRE_VERSION_X:
        return "not a natter message of this version";
    case NT_WIRE_TYPE_X:
        return "an unknown message type";
    case NT_WIRE_NUMBER:
        return "a number not in its shortest form or over 64 bits";
    case NT_WIRE_LENGTH:
        return "a string over its limit, or no node name";
    case NT_WIRE_TRAILING:
        return "bytes after the last field";
    }
    return "?";
}
