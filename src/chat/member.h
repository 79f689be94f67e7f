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
     * NULL), flushes and closes, for reason (static: "slow", "quit", "kicked"...); why is the
     * event that put m out when an operator did (NT_EV_KICK, NT_EV_BAN: who, and why in its
     * text), else NULL, for a door that words its goodbye itself. Called once, at a safe point;
     * the door may free m only later, from its own close path.
     */
    void (*goodbye)(struct nt_member *m, const char *text, const char *reason,
                    const struct nt_event *why);
    /*
     * The cluster answered m's claim of a name (claim_state is GRANTED or DENIED now): the door
     * offers again the input that waited for it (NULL for a door whose members never wait: a
     * ghost). Called from outside the core.
     */
    void (*resume)(struct nt_member *m);
};

/* Where a name asked of the cluster stands (door/cluster.c; always NONE on a single node). A
 * door whose call into the core left its member PENDING keeps the line that asked and offers it
 * again at resume(): the same call then finds the answer here. */
enum nt_claim_state {
    NT_CLAIM_NONE,
    NT_CLAIM_PENDING, /* asked; the door waits and reads nothing more */
    NT_CLAIM_GRANTED, /* the cluster gave claim_name to this member: the next try takes it */
    NT_CLAIM_DENIED,  /* another node holds it: the next try is told it is taken */
};

enum nt_member_state {
    NT_MEMBER_OUT,      /* not (yet) in the chat: no name */
    NT_MEMBER_IN,       /* named; in rooms (a line member in exactly one, an IRC one in any) */
    NT_MEMBER_DROPPING, /* marked to be dropped at the next safe point; takes nothing more */
    NT_MEMBER_LEFT,     /* out of the chat for good */
};

/* How a door wants its member served (set by the door before it joins, never changed). */
enum nt_member_flag {
    NT_MEMBER_SEES_OWN = 1u << 0, /* gets its own JOIN, PART and TOPIC back (IRC) */
    NT_MEMBER_ECHO = 1u << 1,     /* gets its own lines and private messages back (echo-message) */
};

/* A member's place in one room: in the room's member list and in the member's list of rooms. */
struct nt_seat {
    struct nt_member *member;   /* borrowed */
    struct nt_room *room;       /* borrowed; NULL while the seat is free */
    struct nt_list room_link;   /* in room->members */
    struct nt_list member_link; /* in member->seats, in order of entering */
};

/* Embedded in a door's session. Fields are the core's; a door reads them, never writes (but
 * for flags, door and realname, which it sets once before the member joins). */
struct nt_member {
    const struct nt_member_ops *ops; /* static */
    uint64_t id;                     /* the identity: unique per process, for logs and events */
    const char *peer;                /* borrowed from the door: "127.0.0.1:50514", for logs */
    const char *ip;                  /* borrowed from the door: the address alone */
    const char *door;                /* static: "line", "IRC" (WHOIS) */
    const char *realname;            /* borrowed from the door, or NULL: the name is shown */
    unsigned flags;                  /* enum nt_member_flag */
    enum nt_member_state state;
    char *name; /* owned, NUL-terminated; NULL while OUT */
    size_t name_len;
    struct nt_room *room; /* borrowed: the room of the first seat (a line member's room), or
                             NULL when in none */
    struct nt_list seats; /* of struct nt_seat, by member_link */
    size_t n_seats;
    struct nt_seat home;      /* embedded: the first seat, so a line member allocates none */
    uint64_t seen;            /* the id of the last event a many-room broadcast gave it */
    struct nt_list all_link;  /* in the core's list of every member IN or DROPPING */
    bool is_oper;             /* /oper succeeded */
    char *away;               /* owned: the AWAY text, or NULL */
    struct nt_list drop_link; /* in the core's drop list while DROPPING */
    const char *drop_reason;  /* static, while DROPPING */
    char *drop_goodbye;       /* owned, while DROPPING; NULL = no goodbye line */
    struct nt_event *drop_ev; /* ref, while DROPPING: the leave event to announce, or NULL */
    char *parting;            /* owned: /quit's words, or NULL */
    /* The cluster (door/cluster.c). */
    const char *node;    /* borrowed: the node of a ghost (a user of another node), or NULL */
    uint64_t claimed_ms; /* wall-clock ms its name was claimed: the earlier claim wins a clash */
    enum nt_claim_state claim_state;
    char *claim_name; /* owned, while claim_state is not NONE */
    size_t claim_len;
    struct nt_list wait_link; /* in the core's list of members with a claim, while not NONE */
};

/* Initialises m for a new client of a door (state OUT). peer and ip must outlive m. */
void nt_member_init(struct nt_member *m, const struct nt_member_ops *ops, uint64_t id,
                    const char *peer, const char *ip);

/* Frees what m owns; m must be OUT or LEFT (the door calls this when it frees its session). */
void nt_member_fini(struct nt_member *m);

#endif
