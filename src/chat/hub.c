/* SPDX-License-Identifier: MIT */
/* hub.c - rooms, membership, history and fan-out. */
#include "chat/hub.h"

#include <stdlib.h>
#include <string.h>

void nt_hub_init(struct nt_hub *hub, size_t history_cap)
{
    memset(hub, 0, sizeof(*hub));
    nt_names_init(&hub->by_name);
    nt_list_init(&hub->rooms);
    hub->history_cap = history_cap;
}

static void free_room(struct nt_hub *hub, struct nt_room *room)
{
    NT_ASSERT(room->count == 0);
    nt_names_remove(&hub->by_name, room->name, room->name_len);
    nt_list_remove(&room->link);
    hub->n_rooms--;
    for (size_t i = 0; i < room->hist_len; i++)
        nt_event_unref(room->history[(room->hist_head + i) % hub->history_cap]);
    free(room->history);
    free(room->name);
    free(room);
}

void nt_hub_fini(struct nt_hub *hub)
{
    NT_ASSERT(hub->n_members == 0);
    while (!nt_list_is_empty(&hub->rooms))
        free_room(hub, NT_CONTAINER_OF(hub->rooms.next, struct nt_room, link));
    nt_names_fini(&hub->by_name);
}

struct nt_room *nt_hub_find(const struct nt_hub *hub, const char *name, size_t len)
{
    return nt_names_find(&hub->by_name, name, len);
}

struct nt_room *nt_hub_enter(struct nt_hub *hub, struct nt_member *m, const char *name, size_t len)
{
    NT_ASSERT(m->room == NULL && !nt_list_is_linked(&m->room_link));
    struct nt_room *room = nt_hub_find(hub, name, len);
    if (room == NULL) {
        room = nt_xcalloc(1, sizeof(*room));
        nt_list_init(&room->members);
        room->name = nt_xstrndup(name, len);
        room->name_len = len;
        if (hub->history_cap > 0)
            room->history = nt_xmalloc(hub->history_cap * sizeof(struct nt_event *));
        nt_names_add(&hub->by_name, name, len, room);
        nt_list_append(&hub->rooms, &room->link);
        hub->n_rooms++;
    }
    nt_list_append(&room->members, &m->room_link);
    room->count++;
    hub->n_members++;
    m->room = room;
    return room;
}

void nt_hub_leave(struct nt_hub *hub, struct nt_member *m)
{
    struct nt_room *room = m->room;
    if (room == NULL)
        return;
    nt_list_remove(&m->room_link);
    room->count--;
    hub->n_members--;
    m->room = NULL;
    if (room->count == 0)
        free_room(hub, room);
}

static void send_to_room(struct nt_hub *hub, struct nt_room *room, struct nt_event *ev,
                         const struct nt_member *except,
                         void (*on_full)(void *ctx, struct nt_member *m), void *ctx)
{
    /* Delivering never changes a member list (STYLE.md, ownership rule 2): a plain walk. */
    for (struct nt_list *node = room->members.next; node != &room->members; node = node->next) {
        struct nt_member *m = NT_CONTAINER_OF(node, struct nt_member, room_link);
        if (m == except || m->state != NT_MEMBER_IN)
            continue;
        hub->deliveries++;
        if (m->ops->deliver(m, ev) != 0)
            on_full(ctx, m);
    }
}

void nt_hub_broadcast(struct nt_hub *hub, struct nt_room *room, struct nt_event *ev,
                      const struct nt_member *except,
                      void (*on_full)(void *ctx, struct nt_member *m), void *ctx)
{
    if (room != NULL) {
        send_to_room(hub, room, ev, except, on_full, ctx);
        return;
    }
    for (struct nt_list *node = hub->rooms.next; node != &hub->rooms; node = node->next)
        send_to_room(hub, NT_CONTAINER_OF(node, struct nt_room, link), ev, except, on_full, ctx);
}

void nt_hub_remember(struct nt_hub *hub, struct nt_room *room, struct nt_event *ev)
{
    size_t cap = hub->history_cap;
    if (cap == 0)
        return;
    if (room->hist_len == cap) {
        nt_event_unref(room->history[room->hist_head]);
        room->hist_head = (room->hist_head + 1) % cap;
        room->hist_len--;
    }
    room->history[(room->hist_head + room->hist_len) % cap] = nt_event_ref(ev);
    room->hist_len++;
}

int nt_hub_replay(struct nt_hub *hub, const struct nt_room *room, struct nt_member *m)
{
    for (size_t i = 0; i < room->hist_len; i++) {
        hub->deliveries++;
        if (m->ops->deliver(m, room->history[(room->hist_head + i) % hub->history_cap]) != 0)
            return -1;
    }
    return 0;
}
