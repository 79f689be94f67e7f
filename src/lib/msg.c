/* SPDX-License-Identifier: MIT */
/* msg.c - refcounted, immutable outbound messages. */
#include "msg.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct nt_msg *nt_msg_new(size_t len)
{
    NT_ASSERT(len <= UINT32_MAX);
    struct nt_msg *msg = nt_xmalloc(sizeof(*msg) + len);
    msg->refs = 1;
    msg->len = (uint32_t)len;
    msg->queued = 0;
    return msg;
}

struct nt_msg *nt_msg_concat(const char *const *parts, const size_t *lens, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += lens[i];
    struct nt_msg *msg = nt_msg_new(total);
    char *p = msg->data;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > 0)
            memcpy(p, parts[i], lens[i]);
        p += lens[i];
    }
    return msg;
}

struct nt_msg *nt_msg_from_str(const char *s)
{
    size_t len = strlen(s);
    return nt_msg_concat(&s, &len, 1);
}

struct nt_msg *nt_msg_ref(struct nt_msg *msg)
{
    NT_ASSERT(msg->refs > 0 && msg->refs < UINT32_MAX);
    msg->refs++;
    return msg;
}

void nt_msg_unref(struct nt_msg *msg)
{
    NT_ASSERT(msg->refs > 0);
    if (--msg->refs == 0)
        free(msg);
}
