/* SPDX-License-Identifier: MIT */
/* hub.h - rooms, membership, history and fan-out: one message, queued to each member. */
#ifndef NT_HUB_H
#define NT_HUB_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "msg.h"
#include "names.h"
#include "util.h"

#define NT_LOBBY "lobby"

/* A room: created on first join, forgotten (with its history) when the last member leaves. */
struct nt_room {
    struct nt_list members; /* of struct nt_conn, by hub_link; borrowed */
    size_t count;
    char *name; /* owned; as first spelled */
    size_t name_len;
    struct nt_list link;     /* in hub->rooms, in order of creation */
    struct nt_msg **history; /* owned ring of refs, hub->history_cap slots; NULL if none */
    size_t hist_head, hist_len;
};

/* A broadcast asked for while one is running: sent when it is done. */
struct nt_hub_later {
    struct nt_room *room; /* NULL = every room */
    struct nt_msg *msg;   /* ref */
};

struct nt_hub {
    struct nt_names by_name; /* folded room name -> struct nt_room */
    struct nt_list rooms;    /* every room, owned, by link */
    size_t n_rooms;
    size_t n_members;           /* named clients in all rooms */
    size_t history_cap;         /* --history */
    bool is_broadcasting;       /* a broadcast is iterating members */
    bool has_empty_rooms;       /* rooms emptied during a broadcast, freed after it */
    struct nt_hub_later *later; /* owned ring */
    size_t later_head, later_len, later_cap;
};

/* Initialises hub, keeping the last history_cap chat lines of each room. */
void nt_hub_init(struct nt_hub *hub, size_t history_cap);

/* Frees the hub's memory; every room must be empty (and so already freed). */
void nt_hub_fini(struct nt_hub *hub);

/* The room called name (compared like names, case-insensitively), or NULL. */
struct nt_room *nt_hub_find(const struct nt_hub *hub, const char *name, size_t len);

/*
 * Puts named conn c (in no room) into the room called name, creating it if needed (name must pass
 * nt_names_check). Sets c->room and returns the room. O(1) apart from creation.
 */
struct nt_room *nt_hub_enter(struct nt_hub *hub, struct nt_conn *c, const char *name, size_t len);

/* Takes c out of its room, if any; an emptied room is freed (after the running broadcast). */
void nt_hub_leave(struct nt_hub *hub, struct nt_conn *c);

/*
 * Queues msg (one shared reference per recipient, no copy) to every member of room (NULL: of every
 * room) but except (may be NULL). A recipient that goes over its output cap is dropped as a slow
 * consumer during the call. A broadcast asked for while one is running (such as that consumer's
 * leave notice) is queued and sent, in order, when the running one has reached everybody: the
 * member lists never change under the iteration except by removing the member being sent to, and
 * no room is freed under it. A queued broadcast ignores except: it must be a member that leaves
 * its room before the running broadcast ends. The caller keeps its reference.
 */
void nt_hub_broadcast(struct nt_hub *hub, struct nt_room *room, struct nt_msg *msg,
                      const struct nt_conn *except);

/* Keeps a reference to msg in room's history (the oldest goes past history_cap). */
void nt_hub_remember(struct nt_hub *hub, struct nt_room *room, struct nt_msg *msg);

/* Queues room's history to c, oldest first. */
void nt_hub_replay(const struct nt_hub *hub, const struct nt_room *room, struct nt_conn *c);

#endif
