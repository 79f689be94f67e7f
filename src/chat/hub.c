/* SPDX-License-Identifier: MIT */
/* hub.c - rooms, membership (seats), history, topics and fan-out. */
#include "chat/hub.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void nt_hub_init(struct nt_hub *hub, size_t history_cap)
{
    memset(hub, 0, sizeof(*hub));
    nt_names_init(&hub->by_name);
    nt_list_init(&hub->rooms);
    hub->history_cap = history_cap;
}

void nt_hub_set_history(struct nt_hub *hub, size_t history_cap)
{
    size_t old = hub->history_cap;
    if (old == history_cap)
        return;
    for (struct nt_list *l = hub->rooms.next; l != &hub->rooms; l = l->next) {
        struct nt_room *room = NT_CONTAINER_OF(l, struct nt_room, link);
        size_t keep = room->hist_len < history_cap ? room->hist_len : history_cap;
        size_t drop = room->hist_len - keep; /* the oldest */
        struct nt_event **ring =
            history_cap > 0 ? nt_xmalloc(history_cap * sizeof(struct nt_event *)) : NULL;
        for (size_t i = 0; i < room->hist_len; i++) {
            struct nt_event *ev = room->history[(room->hist_head + i) % old];
            if (i < drop)
                nt_event_unref(ev);
            else
                ring[i - drop] = ev;
        }
        free(room->history);
        room->history = ring;
        room->hist_head = 0;
        room->hist_len = keep;
    }
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
    free(room->topic);
    free(room->topic_setter);
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

struct nt_seat *nt_hub_seat(const struct nt_member *m, const struct nt_room *room)
{
    for (struct nt_list *node = m->seats.next; node != &m->seats; node = node->next) {
        struct nt_seat *seat = NT_CONTAINER_OF(node, struct nt_seat, member_link);
        if (seat->room == room)
            return seat;
    }
    return NULL;
}

struct nt_room *nt_hub_enter(struct nt_hub *hub, struct nt_member *m, const char *name, size_t len)
{
    struct nt_room *room = nt_hub_find(hub, name, len);
    if (room == NULL) {
        room = nt_xcalloc(1, sizeof(*room));
        nt_list_init(&room->members);
        room->name = nt_xstrndup(name, len);
        room->name_len = len;
        room->created_s = (uint64_t)time(NULL);
        if (hub->history_cap > 0)
            room->history = nt_xmalloc(hub->history_cap * sizeof(struct nt_event *));
        nt_names_add(&hub->by_name, name, len, room);
        nt_list_append(&hub->rooms, &room->link);
        hub->n_rooms++;
    }
    NT_ASSERT(nt_hub_seat(m, room) == NULL);
    struct nt_seat *seat = m->home.room == NULL ? &m->home : nt_xcalloc(1, sizeof(*seat));
    seat->member = m;
    seat->room = room;
    nt_list_append(&room->members, &seat->room_link);
    nt_list_append(&m->seats, &seat->member_link);
    m->n_seats++;
    room->count++;
    hub->n_members++;
    if (m->room == NULL)
        m->room = room;
    return room;
}

/* Takes seat (of m) out of its room and m's list; an emptied room is freed. The caller sets
 * m->room again. */
static void leave_seat(struct nt_hub *hub, struct nt_member *m, struct nt_seat *seat)
{
    struct nt_room *room = seat->room;
    nt_list_remove(&seat->room_link);
    nt_list_remove(&seat->member_link);
    m->n_seats--;
    room->count--;
    hub->n_members--;
    if (seat == &m->home)
        seat->room = NULL;
    else
        free(seat);
    if (room->count == 0)
        free_room(hub, room);
}

void nt_hub_leave_room(struct nt_hub *hub, struct nt_member *m, struct nt_room *room)
{
    struct nt_seat *seat = nt_hub_seat(m, room);
    NT_ASSERT(seat != NULL);
    if (seat == NULL)
        return; /* unreachable; says so to cppcheck */
    leave_seat(hub, m, seat);
    /* m->room is the first seat's room, if m has one left. The analyzer cannot see that the
     * freed seat was unlinked from m->seats, so it takes m->seats.next for it. */
    struct nt_list *first = m->seats.next;
    /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): first is a live seat (see above) */
    m->room = first == &m->seats ? NULL : NT_CONTAINER_OF(first, struct nt_seat, member_link)->room;
}

void nt_hub_leave(struct nt_hub *hub, struct nt_member *m)
{
    for (struct nt_list *node = m->seats.next, *next; node != &m->seats; node = next) {
        next = node->next;
        leave_seat(hub, m, NT_CONTAINER_OF(node, struct nt_seat, member_link));
    }
    m->room = NULL;
}

void nt_hub_broadcast(struct nt_hub *hub, struct nt_room *room, struct nt_event *ev,
                      const struct nt_member *except,
                      void (*on_full)(void *ctx, struct nt_member *m), void *ctx)
{
    /* Delivering never changes a member list (STYLE.md, ownership rule 2): a plain walk. */
    for (struct nt_list *node = room->members.next; node != &room->members; node = node->next) {
        struct nt_member *m = NT_CONTAINER_OF(node, struct nt_seat, room_link)->member;
        if (m == except || m->state != NT_MEMBER_IN || m->node != NULL)
            continue; /* a ghost's own node delivers to it */
        hub->deliveries++;
        if (m->ops->deliver(m, ev) != 0)
            on_full(ctx, m);
    }
}

void nt_hub_broadcast_shared(struct nt_hub *hub, struct nt_member *m, struct nt_event *ev,
                             const struct nt_member *except,
                             void (*on_full)(void *ctx, struct nt_member *m), void *ctx)
{
    if (m->n_seats == 1) { /* a line member: one room, nobody twice */
        nt_hub_broadcast(hub, m->room, ev, except, on_full, ctx);
        return;
    }
    for (struct nt_list *s = m->seats.next; s != &m->seats; s = s->next) {
        struct nt_room *room = NT_CONTAINER_OF(s, struct nt_seat, member_link)->room;
        for (struct nt_list *node = room->members.next; node != &room->members; node = node->next) {
            struct nt_member *o = NT_CONTAINER_OF(node, struct nt_seat, room_link)->member;
            if (o->seen == ev->id)
                continue;
            o->seen = ev->id;
            if (o == except || o->state != NT_MEMBER_IN || o->node != NULL)
                continue;
            hub->deliveries++;
            if (o->ops->deliver(o, ev) != 0)
                on_full(ctx, o);
        }
    }
}

void nt_hub_forget_history(struct nt_hub *hub, struct nt_room *room)
{
    for (size_t i = 0; i < room->hist_len; i++)
        nt_event_unref(room->history[(room->hist_head + i) % hub->history_cap]);
    room->hist_head = room->hist_len = 0;
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

void nt_hub_set_topic(struct nt_room *room, const char *text, size_t len, const char *setter,
                      uint64_t now_s)
{
    free(room->topic);
    free(room->topic_setter);
    room->topic = room->topic_setter = NULL;
    room->topic_time = 0;
    if (len == 0)
        return;
    room->topic = nt_xstrndup(text, len);
    room->topic_setter = nt_xstrndup(setter, strlen(setter));
    room->topic_time = now_s;
}
