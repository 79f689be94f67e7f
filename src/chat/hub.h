/* SPDX-License-Identifier: MIT */
/* hub.h - rooms, membership, history and fan-out: one event, delivered to each member. */
#ifndef NT_HUB_H
#define NT_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/event.h"
#include "chat/member.h"
#include "lib/names.h"
#include "lib/util.h"

#define NT_LOBBY "lobby"

/* The longest topic a room keeps, in bytes (PROTOCOL.md §7.6.1, TOPICLEN). */
#define NT_TOPIC_MAX 300

/* A room: created on first join, forgotten (with its history and topic) when the last member
 * leaves. */
struct nt_room {
    struct nt_list members; /* of struct nt_seat, by room_link, in order of entering; borrowed */
    size_t count;
    char *name; /* owned; as first spelled */
    size_t name_len;
    struct nt_list link;       /* in hub->rooms, in order of creation */
    struct nt_event **history; /* owned ring of refs, hub->history_cap slots; NULL if none */
    size_t hist_head, hist_len;
    uint64_t created_s;  /* Unix time of creation (IRC 329) */
    char *topic;         /* owned, or NULL when none is set */
    char *topic_setter;  /* owned name of who set it, while topic is set */
    uint64_t topic_time; /* Unix time it was set */
};

struct nt_hub {
    struct nt_names by_name; /* folded room name -> struct nt_room */
    struct nt_list rooms;    /* every room, owned, by link */
    size_t n_rooms;
    size_t n_members;    /* seats in all rooms */
    size_t history_cap;  /* --history */
    uint64_t deliveries; /* events handed to members (counter) */
};

/* Initialises hub, keeping the last history_cap chat events of each room. */
void nt_hub_init(struct nt_hub *hub, size_t history_cap);

/* Keeps the last history_cap chat events of each room from now on (a reload): each room keeps
 * the newest of what it has that fit. */
void nt_hub_set_history(struct nt_hub *hub, size_t history_cap);

/* Frees the hub's memory; every room must be empty (and so already freed). */
void nt_hub_fini(struct nt_hub *hub);

/* The room called name (compared like names, case-insensitively), or NULL. */
struct nt_room *nt_hub_find(const struct nt_hub *hub, const char *name, size_t len);

/* m's seat in room, or NULL when m is not in it. O(rooms of m). */
struct nt_seat *nt_hub_seat(const struct nt_member *m, const struct nt_room *room);

/*
 * Puts m (not in that room) into the room called name, creating it if needed (name must pass
 * nt_names_check): a seat at the end of the room's members and of m's rooms. Sets m->room when
 * it is m's first. Returns the room.
 */
struct nt_room *nt_hub_enter(struct nt_hub *hub, struct nt_member *m, const char *name, size_t len);

/* Takes m out of room (m must be in it); an emptied room is freed at once. Never called while a
 * delivery loop runs (members only leave at the core's safe points). */
void nt_hub_leave_room(struct nt_hub *hub, struct nt_member *m, struct nt_room *room);

/* Takes m out of every room it is in. */
void nt_hub_leave(struct nt_hub *hub, struct nt_member *m);

/*
 * Delivers ev to every member of room but except (may be NULL) and those being dropped. A
 * member whose deliver fails is marked through on_full(ctx, member), which must only mark it.
 * Nothing leaves a room, and no room is freed, during the call.
 */
void nt_hub_broadcast(struct nt_hub *hub, struct nt_room *room, struct nt_event *ev,
                      const struct nt_member *except,
                      void (*on_full)(void *ctx, struct nt_member *m), void *ctx);

/*
 * Delivers ev once to every member who shares a room with m (m's leave, rename, away), but
 * except, however many rooms they share: each recipient is stamped with ev->id (m->seen).
 */
void nt_hub_broadcast_shared(struct nt_hub *hub, struct nt_member *m, struct nt_event *ev,
                             const struct nt_member *except,
                             void (*on_full)(void *ctx, struct nt_member *m), void *ctx);

/* Keeps a reference to ev in room's history (the oldest goes past history_cap). */
void nt_hub_remember(struct nt_hub *hub, struct nt_room *room, struct nt_event *ev);

/* Empties room's history. */
void nt_hub_forget_history(struct nt_hub *hub, struct nt_room *room);

/* Delivers room's history to m, oldest first; stops when m's deliver fails (returns -1 then). */
int nt_hub_replay(struct nt_hub *hub, const struct nt_room *room, struct nt_member *m);

/* Sets (text non-empty) or clears (len 0) room's topic, set by setter at now_s. */
void nt_hub_set_topic(struct nt_room *room, const char *text, size_t len, const char *setter,
                      uint64_t now_s);

#endif
