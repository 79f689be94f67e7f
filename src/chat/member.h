/* SPDX-License-Identifier: MIT */
/* member.h - how the chat core sees a client: a name, a room, flags and two operations. */
#ifndef NT_MEMBER_H
#define NT_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/event.h"
#include "lib/util.h"

struct nt_member;
struct nt_room;

/* What a door does for its member. The chat core calls nothing else of a door. */
struct nt_member_ops {
    /*
     * Queues ev's bytes in the door's format for m (take references; keep no pointer to ev past
     * the call unless referenced). Returns 0, or -1 when m went over one of its limits: the core
     * then drops m at its next safe point. Never leaves, closes or frees anything.
     */
    int (*deliver)(struct nt_member *m, struct nt_event *ev);
    /*
     * m is out of the chat (its leave was announced): the door says goodbye (a line, may be
     * NULL), flushes and closes, for reason (static: "slow", "quit", "kicked"...). Called once,
     * at a safe point; the door may free m only later, from its own close path.
     */
    void (*goodbye)(struct nt_member *m, const char *text, const char *reason);
};

enum nt_member_state {
    NT_MEMBER_OUT,      /* not (yet) in the chat: no name */
    NT_MEMBER_IN,       /* named, in a room */
    NT_MEMBER_DROPPING, /* marked to be dropped at the next safe point; takes nothing more */
    NT_MEMBER_LEFT,     /* out of the chat for good */
};

/* Embedded in a door's session. Fields are the core's; a door reads them, never writes. */
struct nt_member {
    const struct nt_member_ops *ops; /* static */
    uint64_t id;                     /* the identity: unique per process, for logs and events */
    const char *peer;                /* borrowed from the door: "127.0.0.1:50514", for logs */
    const char *ip;                  /* borrowed from the door: the address alone */
    enum nt_member_state state;
    char *name; /* owned, NUL-terminated; NULL while OUT */
    size_t name_len;
    struct nt_room *room;     /* borrowed; while IN or DROPPING */
    struct nt_list room_link; /* in room->members */
    bool is_oper;             /* /oper succeeded */
    struct nt_list drop_link; /* in the core's drop list while DROPPING */
    const char *drop_reason;  /* static, while DROPPING */
    char *drop_goodbye;       /* owned, while DROPPING; NULL = no goodbye line */
    struct nt_event *drop_ev; /* ref, while DROPPING: the leave event to announce, or NULL */
    char *parting;            /* owned: /quit's words, or NULL */
};

/* Initialises m for a new client of a door (state OUT). peer and ip must outlive m. */
void nt_member_init(struct nt_member *m, const struct nt_member_ops *ops, uint64_t id,
                    const char *peer, const char *ip);

/* Frees what m owns; m must be OUT or LEFT (the door calls this when it frees its session). */
void nt_member_fini(struct nt_member *m);

#endif
