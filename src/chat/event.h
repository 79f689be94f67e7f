/* SPDX-License-Identifier: MIT */
/* event.h - what happens in the chat: one immutable, refcounted event, encoded once per format. */
#ifndef NT_EVENT_H
#define NT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/msg.h"

/* The kinds of event (docs/ARCHITECTURE.md, "Events"). The fields each uses are listed. */
enum nt_event_kind {
    NT_EV_SAY,     /* actor said text in room */
    NT_EV_ACTION,  /* actor did text in room (/me) */
    NT_EV_PRIVATE, /* actor to target (a name) privately: text */
    NT_EV_JOIN,    /* actor joined the chat, in room */
    NT_EV_ENTER,   /* actor came into room from another room */
    NT_EV_PART,    /* actor left room: for the room named target (/join), or with words text */
    NT_EV_LEAVE,   /* actor left the chat from room, for reason; text: its parting words, if any */
    NT_EV_KICK,    /* actor (an operator) kicked target out of the chat, from room; text: why */
    NT_EV_BAN,     /* actor (an operator) banned target, who left the chat from room */
    NT_EV_RENAME,  /* actor (the old name) is now known as target, in room */
    NT_EV_NOTICE,  /* the server tells its recipient text (replies, welcome lines) */
    NT_EV_WALL,    /* actor (an operator) tells everybody text */
    NT_EV_PRIVATE_ACTION, /* actor to target privately: an action, text (IRC CTCP ACTION) */
    NT_EV_NOTE,           /* actor's notice to room: text (IRC NOTICE #room) */
    NT_EV_PRIVATE_NOTE,   /* actor's notice to target: text (IRC NOTICE nick) */
    NT_EV_TOPIC,          /* actor set room's topic to text ("" cleared it) */
    NT_EV_AWAY,           /* actor is away with text, or back ("") */
    NT_EV_TAGMSG,         /* actor sent tags alone to room, or to target when one is set */
    NT_EV_KINDS
};

/* Slots for the byte forms of an event: one per door format in use (line, the IRC door's four
 * tag variants, and each of them over WebSocket: 14 today). */
#define NT_EVENT_FORMATS 16

struct nt_event;
/* Builds the bytes of ev in one format, with one reference for the event's cache. */
typedef struct nt_msg *(*nt_event_encoder)(const struct nt_event *ev);

/* One thing that happened. Immutable once made, apart from the byte cache, which only fills. */
struct nt_event {
    uint32_t refs;
    enum nt_event_kind kind;
    uint64_t id;        /* 1, 2, ... per chat core */
    uint64_t time_ms;   /* wall-clock time it happened, ms since the epoch (UTC) */
    uint64_t actor_id;  /* the identity of the actor (a member id); 0 for the server */
    const char *reason; /* static; NT_EV_LEAVE's reason ("quit", "slow", "idle"...), else NULL */
    /* Strings, NUL-terminated, in the event's own allocation; "" when unused. tags: the sender's
     * client-only IRC tags ("+typing=active"), relayed to message-tags clients. */
    const char *room, *actor, *target, *text, *tags;
    size_t room_len, actor_len, target_len, text_len, tags_len;
    struct nt_msg *bytes[NT_EVENT_FORMATS]; /* refs, built on first use, NULL until then */
    char data[];
};

/* The strings of a new event; NULL pointers mean "". */
struct nt_event_fields {
    const char *room, *actor, *target, *text, *tags;
    size_t room_len, actor_len, target_len, text_len, tags_len;
    uint64_t actor_id;
    const char *reason; /* static */
};

/*
 * Claims a format slot for encoder (a door calls this once, at start-up). Returns the slot, which
 * the door passes to nt_event_bytes(). Aborts past NT_EVENT_FORMATS.
 */
unsigned nt_event_format_register(nt_event_encoder encoder);

/* Makes an event of kind with copies of f's strings, stamped id and the current time, with one
 * reference owned by the caller. One allocation. */
struct nt_event *nt_event_new(enum nt_event_kind kind, uint64_t id,
                              const struct nt_event_fields *f);

/* Takes one more reference; returns ev. */
struct nt_event *nt_event_ref(struct nt_event *ev);

/* Drops one reference; the event and its byte forms are freed with the last one (a send queue
 * holding a byte form keeps that message alive by its own reference). */
void nt_event_unref(struct nt_event *ev);

/*
 * The bytes of ev in format slot fmt: built by that format's encoder the first time any recipient
 * needs them, then shared by every recipient of that format (one allocation per event per
 * format, never one per recipient). Borrowed: valid while ev is; take a reference to keep it.
 */
struct nt_msg *nt_event_bytes(struct nt_event *ev, unsigned fmt);

/* How many byte forms nt_event_bytes() has built since start (for tests and metrics). */
uint64_t nt_event_encodings(void);

#endif
