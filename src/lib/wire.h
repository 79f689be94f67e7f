/* SPDX-License-Identifier: MIT */
/* wire.h - what natter nodes tell each other through Redis (issue #11): one message, encoded and
 * decoded. Pure: no I/O; decoding allocates nothing (fuzz target). */
#ifndef NT_WIRE_H
#define NT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define NT_WIRE_VERSION  1
#define NT_WIRE_MAX_NODE 64                            /* bytes of a node's name */
#define NT_WIRE_MAX_STR  65536                         /* bytes of any other string */
#define NT_WIRE_MAX      ((size_t)8 * NT_WIRE_MAX_STR) /* bytes of a whole message */

/* What a message is. */
enum nt_wire_type {
    NT_WIRE_EVENT = 'E',     /* something happened in the chat on the sending node */
    NT_WIRE_HEARTBEAT = 'H', /* the node is alive (and its link works: it hears its own) */
    NT_WIRE_BYE = 'B',       /* the node leaves the cluster (a clean shutdown) */
    NT_WIRE_USER = 'U',      /* a user of the sender is here: actor, actor_id, claimed at time_ms,
                                in the rooms of target (comma-separated), away with text, kind:
                                NT_WIRE_USER_* bits */
    NT_WIRE_SYNC = 'S',      /* kind 0: "tell me who is on your node": every node (target "") or
                                the node named target answers with its USERs between DONEs;
                                kind 1: the node named target sends its rooms' HISTORY */
    NT_WIRE_DONE = 'D',      /* kind 0: the sender's USERs for a SYNC begin; kind 1: they are all
                                sent, and whom it did not name (or make act) since is gone */
    NT_WIRE_BANS = 'N',      /* the address text was banned (kind 1) or unbanned (kind 0) */
    NT_WIRE_HISTORY = 'Y',   /* a line of a room's history, for the node named reason: an event's
                                fields, actor_id its place in its room's (0: the first); the last
                                of them has kind NT_EV_KINDS and nothing else */
};

#define NT_WIRE_USER_OPER 1u /* the user is an operator */

/* A string inside a message: points into the buffer decoded, or the caller's for encoding. */
struct nt_wire_str {
    const char *p;
    size_t len;
};

/*
 * One message. Every field is on the wire for every type (a heartbeat's are empty), so a reader
 * needs no table per type. seq counts the sender's messages from 1: a receiver sees a gap
 * (messages lost while Redis dropped them) as a jump. kind is the chat's enum nt_event_kind as a
 * number, checked by the receiver.
 */
struct nt_wire_msg {
    uint8_t type;
    struct nt_wire_str node; /* the sender's --node-name, 1..NT_WIRE_MAX_NODE bytes */
    uint64_t seq;
    uint64_t time_ms; /* when it happened, ms since the epoch (UTC) */
    uint32_t kind;
    uint64_t actor_id; /* the actor's identity on the sending node */
    struct nt_wire_str room, actor, target, text, tags, reason;
};

/* Why a message was refused. */
enum nt_wire_result {
    NT_WIRE_OK = 0,
    NT_WIRE_SHORT,     /* it ends inside a field */
    NT_WIRE_VERSION_X, /* another version, or not natter's */
    NT_WIRE_TYPE_X,    /* an unknown type */
    NT_WIRE_NUMBER,    /* a number that is not canonical (over 64 bits, or with extra bytes) */
    NT_WIRE_LENGTH,    /* a string over its limit, an empty node name, or over NT_WIRE_MAX */
    NT_WIRE_TRAILING,  /* bytes after the last field */
};

/*
 * Encodes m (its strings within the limits: the caller's; asserted). Returns a message with one
 * reference for the caller: the payload to PUBLISH.
 */
struct nt_msg *nt_wire_encode(const struct nt_wire_msg *m);

/*
 * Decodes buf[0..len) into *m, whose strings then point into buf. Returns NT_WIRE_OK, or why
 * not (m is then undefined). Every message has exactly one encoding: what decodes re-encodes to
 * the same bytes.
 */
enum nt_wire_result nt_wire_decode(const char *buf, size_t len, struct nt_wire_msg *m);

/* The words for r ("a string over its limit"), static. */
const char *nt_wire_result_name(enum nt_wire_result r);

#endif
