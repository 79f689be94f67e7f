/* SPDX-License-Identifier: MIT */
/* hub.c - rooms, membership, history and fan-out. */
#include "hub.h"

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
        nt_msg_unref(room->history[(room->hist_head + i) % hub->history_cap]);
    free(room->history);
    free(room->name);
    free(room);
}

void nt_hub_fini(struct nt_hub *hub)
{
    NT_ASSERT(hub->n_members == 0 && hub->later_len == 0);
    while (!nt_list_is_empty(&hub->rooms))
        free_room(hub, NT_CONTAINER_OF(hub->rooms.next, struct nt_room, link));
    nt_names_fini(&hub->by_name);
    free(hub->later);
    hub->later = NULL;
}

struct nt_room *nt_hub_find(const struct nt_hub *hub, const char *name, size_t len)
{
    return nt_names_find(&hub->by_name, name, len);
}

struct nt_room *nt_hub_enter(struct nt_hub *hub, struct nt_conn *c, const char *name, size_t len)
{
    NT_ASSERT(c->room == NULL && !nt_list_is_linked(&c->hub_link));
    struct nt_room *room = nt_hub_find(hub, name, len);
    if (room == NULL) {
        room = nt_xcalloc(1, sizeof(*room));
        nt_list_init(&room->members);
        room->name = nt_xstrndup(name, len);
        room->name_len = len;
        if (hub->history_cap > 0)
            room->history = nt_xmalloc(hub->history_cap * sizeof(struct nt_msg *));
        nt_names_add(&hub->by_name, name, len, room);
        nt_list_append(&hub->rooms, &room->link);
        hub->n_rooms++;
    }
    nt_list_append(&room->members, &c->hub_link);
    room->count++;
    hub->n_members++;
    c->room = room;
    return room;
}

static void sweep_empty_rooms(struct nt_hub *hub)
{
    struct nt_list *node = hub->rooms.next;
    while (node != &hub->rooms) {
        struct nt_list *next = node->next;
        struct nt_room *room = NT_CONTAINER_OF(node, struct nt_room, link);
        if (room->count == 0)
            free_room(hub, room);
        node = next;
    }
    hub->has_empty_rooms = false;
}

void nt_hub_leave(struct nt_hub *hub, struct nt_conn *c)
{
    struct nt_room *room = c->room;
    if (room == NULL)
        return;
    nt_list_remove(&c->hub_link);
    room->count--;
    hub->n_members--;
    c->room = NULL;
    if (room->count > 0)
        return;
    /* A running broadcast may be iterating this room, or have it queued: free it afterwards. */
    if (hub->is_broadcasting)
        hub->has_empty_rooms = true;
    else
        free_room(hub, room);
}

static void send_to_room(struct nt_room *room, struct nt_msg *msg, const struct nt_conn *except)
{
    /* nt_conn_send() may drop c as too slow, which unlinks c and only c: keep the next node. */
    struct nt_list *node = room->members.next;
    while (node != &room->members) {
        struct nt_list *next = node->next;
        struct nt_conn *c = NT_CONTAINER_OF(node, struct nt_conn, hub_link);
        if (c != except)
            nt_conn_send(c, msg);
        node = next;
    }
}

static void send_to(struct nt_hub *hub, struct nt_room *room, struct nt_msg *msg,
                    const struct nt_conn *except)
{
    if (room != NULL) {
        send_to_room(room, msg, except);
        return;
    }
    /* Rooms are not freed during a broadcast, so the room list is stable too. */
    for (struct nt_list *node = hub->rooms.next; node != &hub->rooms; node = node->next)
        send_to_room(NT_CONTAINER_OF(node, struct nt_room, link), msg, except);
}

static void push_later(struct nt_hub *hub, struct nt_room *room, struct nt_msg *msg)
{
    if (hub->later_len == hub->later_cap) {
        size_t cap = hub->later_cap ? hub->later_cap * 2 : 8;
        struct nt_hub_later *arr = nt_xmalloc(cap * sizeof(*arr));
        for (size_t i = 0; i < hub->later_len; i++)
            arr[i] = hub->later[(hub->later_head + i) % hub->later_cap];
        free(hub->later);
        hub->later = arr;
        hub->later_cap = cap;
        hub->later_head = 0;
    }
    struct nt_hub_later *slot = &hub->later[(hub->later_head + hub->later_len) % hub->later_cap];
    slot->room = room;
    slot->msg = nt_msg_ref(msg);
    hub->later_len++;
}

void nt_hub_broadcast(struct nt_hub *hub, struct nt_room *room, struct nt_msg *msg,
                      const struct nt_conn *except)
{
    if (hub->is_broadcasting) {
        /* Only the notice about a member dropped during the running broadcast gets here; it
         * excludes that member, which is out of its room by the time the notice goes. */
        push_later(hub, room, msg);
        return;
    }
    hub->is_broadcasting = true;
    send_to(hub, room, msg, except);
    while (hub->later_len > 0) {
        struct nt_hub_later next = hub->later[hub->later_head];
        hub->later_head = (hub->later_head + 1) % hub->later_cap;
        hub->later_len--;
        send_to(hub, next.room, next.msg, NULL);
        nt_msg_unref(next.msg);
    }
    hub->is_broadcasting = false;
    if (hub->has_empty_rooms)
        sweep_empty_rooms(hub);
}

void nt_hub_remember(struct nt_hub *hub, struct nt_room *room, struct nt_msg *msg)
{
    size_t cap = hub->history_cap;
    if (cap == 0)
        return;
    if (room->hist_len == cap) {
        nt_msg_unref(room->history[room->hist_head]);
        room->hist_head = (room->hist_head + 1) % cap;
        room->hist_len--;
    }
    room->history[(room->hist_head + room->hist_len) % cap] = nt_msg_ref(msg);
    room->hist_len++;
}

void nt_hub_replay(const struct nt_hub *hub, const struct nt_room *room, struct nt_conn *c)
{
    for (size_t i = 0; i < room->hist_len; i++)
        nt_conn_send(c, room->history[(room->hist_head + i) % hub->history_cap]);
}
