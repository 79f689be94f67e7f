/* SPDX-License-Identifier: MIT */
/* event.c - immutable refcounted chat events and their per-format byte cache. */
#include "chat/event.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static nt_event_encoder encoders[NT_EVENT_FORMATS];
static unsigned n_formats;
static uint64_t n_encodings;

unsigned nt_event_format_register(nt_event_encoder encoder)
{
    for (unsigned i = 0; i < n_formats; i++) {
        if (encoders[i] == encoder)
            return i; /* registering twice (a second server in one process) is the same slot */
    }
    NT_ASSERT(n_formats < NT_EVENT_FORMATS);
    encoders[n_formats] = encoder;
    return n_formats++;
}

/* Copies s[0..len) (NULL: "") to *p, NUL-terminated, and points *out at it. */
static void put(char **p, const char *s, size_t len, const char **out, size_t *out_len)
{
    *out = *p;
    *out_len = s ? len : 0;
    if (s != NULL && len > 0)
        memcpy(*p, s, len);
    (*p)[*out_len] = '\0';
    *p += *out_len + 1;
}

struct nt_event *nt_event_new(enum nt_event_kind kind, uint64_t id, const struct nt_event_fields *f)
{
    size_t room_len = f->room ? f->room_len : 0, actor_len = f->actor ? f->actor_len : 0;
    size_t target_len = f->target ? f->target_len : 0, text_len = f->text ? f->text_len : 0;
    size_t tags_len = f->tags ? f->tags_len : 0;
    size_t size = room_len + actor_len + target_len + text_len + tags_len + 5;
    struct nt_event *ev = nt_xmalloc(sizeof(*ev) + size);
    memset(ev, 0, sizeof(*ev));
    ev->refs = 1;
    ev->kind = kind;
    ev->id = id;
    ev->time_ms = nt_wall_ms();
    ev->actor_id = f->actor_id;
    ev->reason = f->reason;
    char *p = ev->data;
    put(&p, f->room, room_len, &ev->room, &ev->room_len);
    put(&p, f->actor, actor_len, &ev->actor, &ev->actor_len);
    put(&p, f->target, target_len, &ev->target, &ev->target_len);
    put(&p, f->text, text_len, &ev->text, &ev->text_len);
    put(&p, f->tags, tags_len, &ev->tags, &ev->tags_len);
    return ev;
}

struct nt_event *nt_event_ref(struct nt_event *ev)
{
    NT_ASSERT(ev->refs > 0 && ev->refs < UINT32_MAX);
    ev->refs++;
    return ev;
}

void nt_event_unref(struct nt_event *ev)
{
    NT_ASSERT(ev->refs > 0);
    if (--ev->refs > 0)
        return;
    for (unsigned i = 0; i < n_formats; i++) {
        if (ev->bytes[i] != NULL)
            nt_msg_unref(ev->bytes[i]);
    }
    free(ev);
}

struct nt_msg *nt_event_bytes(struct nt_event *ev, unsigned fmt)
{
    NT_ASSERT(fmt < n_formats);
    if (ev->bytes[fmt] == NULL) {
        ev->bytes[fmt] = encoders[fmt](ev);
        n_encodings++;
    }
    return ev->bytes[fmt];
}

uint64_t nt_event_encodings(void)
{
    return n_encodings;
}
