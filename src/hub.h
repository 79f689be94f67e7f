/* SPDX-License-Identifier: MIT */
/* hub.h - membership and fan-out: one message, queued to each member. */
#ifndef NT_HUB_H
#define NT_HUB_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "msg.h"
#include "util.h"

/* The chat's one room: every named client. */
struct nt_hub {
    struct nt_list members; /* of struct nt_conn, by hub_link; borrowed */
    size_t count;
    bool is_broadcasting;  /* a broadcast is iterating the members */
    struct nt_msg **later; /* owned refs: broadcasts asked for during one, in order */
    size_t later_head, later_len, later_cap;
};

void nt_hub_init(struct nt_hub *hub);
/* Frees the hub's memory; it must have no members. */
void nt_hub_fini(struct nt_hub *hub);

/* Adds named conn c (in no hub). O(1). */
void nt_hub_join(struct nt_hub *hub, struct nt_conn *c);

/* Removes c if it is a member. O(1). */
void nt_hub_leave(struct nt_hub *hub, struct nt_conn *c);

/*
 * Queues msg (one shared reference per recipient, no copy) to every member but except (may be
 * NULL). A recipient that goes over its output cap is dropped as a slow consumer during the call.
 * A broadcast asked for while one is running (such as that consumer's leave notice) is queued
 * and sent, in order, when the running one has reached everybody: the member list is never
 * changed under the iteration except by removing the member being sent to. The caller keeps its
 * reference.
 */
void nt_hub_broadcast(struct nt_hub *hub, struct nt_msg *msg, const struct nt_conn *except);

#endif
