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

/* A room: created on first join, forgotten (with its history) when the last member leaves. */
struct nt_room {
    struct nt_list members; /* of struct nt_member, by room_link; borrowed */
    size_t count;
    char *name; /* owned; as first spelled */
    size_t name_len;
    struct nt_list link;       /* in hub->rooms, in order of creation */
    struct nt_event **history; /* owned ring of refs, hub->history_cap slots; NULL if none */
    size_t hist_head, hist_len;
};

struct nt_hub {
    struct nt_names by_name; /* folded room name -> struct nt_room */
    struct nt_list rooms;    /* every room, owned, by link */
    size_t n_rooms;
    size_t n_members;    /* members in all rooms */
    size_t history_cap;  /* --history */
    uint64_t deliveries; /* events handed to members (counter) */
};

/* Initialises hub, keeping the last history_cap chat events of each room. */
void nt_hub_init(struct nt_hub *hub, size_t history_cap);

/* Frees the hub's memory; every room must be empty (and so already freed). */
void nt_hub_fini(struct nt_hub *hub);

/* The room called name (compared like names, case-insensitively), or NULL. */
struct nt_room *nt_hub_find(const struct nt_hub *hub, const char *name, size_t len);

/*
 * Puts m (in no room) into the room called name, creating it if needed (name must pass
 * nt_names_check). Sets m->room and returns the room. O(1) apart from creation.
 */
struct nt_room *nt_hub_enter(struct nt_hub *hub, struct nt_member *m, const char *name, size_t len);

/* Takes m out of its room, if any; an emptied room is freed at once. Never called while a
 * delivery loop runs (members only leave at the core's safe points). */
void nt_hub_leave(struct nt_hub *hub, struct nt_member *m);

/*
 * Delivers ev to every member of room (NULL: of every room) but except (may be NULL) and those
 * being dropped. A member whose deliver fails is marked through on_full(ctx, member), which must
 * only mark it. Nothing leaves a room, and no room is freed, during the call.
 */
void nt_hub_broadcast(struct nt_hub *hub, struct nt_room *room, struct nt_event *ev,
                      const struct nt_member *except,
                      void (*on_full)(void *ctx, struct nt_member *m), void *ctx);

/* Keeps a reference to ev in room's history (the oldest goes past history_cap). */
void nt_hub_remember(struct nt_hub *hub, struct nt_room *room, struct nt_event *ev);

/* Delivers room's history to m, oldest first; stops when m's deliver fails (returns -1 then). */
int nt_hub_replay(struct nt_hub *hub, const struct nt_room *room, struct nt_member *m);

#endif
