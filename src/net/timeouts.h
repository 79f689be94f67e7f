/* SPDX-License-Identifier: MIT */
/* timeouts.h - name, idle, linger, throttle and stall deadlines: activity-ordered lists + one
 * uv_timer. */
#ifndef NT_TIMEOUTS_H
#define NT_TIMEOUTS_H

#include <stdint.h>
#include <uv.h>

#include "lib/util.h"

enum nt_timeout_kind {
    NT_TIMEOUT_NAME,
    NT_TIMEOUT_IDLE,
    NT_TIMEOUT_LINGER,
    NT_TIMEOUT_THROTTLE, /* flood control: the time one token takes */
    NT_TIMEOUT_STALL,    /* output waits and the socket took nothing (--stall-timeout) */
    NT_TIMEOUT_PING,     /* an IRC client silent: PING it, then close it (PROTOCOL.md §8.9) */
    NT_TIMEOUT_HTTP,     /* the web door: a request head whole, or the next one (PROTOCOL.md §9) */
    NT_TIMEOUT_KINDS
};

/* Embedded in its owner (a conn). Not in any list after nt_timeouts_clear(). */
struct nt_timeout_node {
    struct nt_list link;       /* in the list of its kind, ordered by deadline (or dormant) */
    uint64_t deadline;         /* uv_now() milliseconds; 0 while dormant */
    enum nt_timeout_kind kind; /* valid while linked */
};

struct nt_timeouts;
/* Called once for each node whose deadline passed, after it was unlinked. May clear or set any
 * node, including this one. */
typedef void (*nt_timeout_fn)(struct nt_timeouts *t, struct nt_timeout_node *node);

/*
 * Every kind has one duration for everybody, so a list kept in order of last activity is also in
 * order of deadline: touching a node moves it to the tail in O(1), and one timer, armed for the
 * earliest head, serves every client (docs/ARCHITECTURE.md, "Timeouts").
 */
struct nt_timeouts {
    uv_timer_t timer; /* embedded */
    struct nt_list lists[NT_TIMEOUT_KINDS];
    /* Nodes set while their kind's duration is 0: they never expire, but a reload that gives
     * the kind a duration starts their deadlines from then (nt_timeouts_set_duration). */
    struct nt_list dormant[NT_TIMEOUT_KINDS];
    uint64_t duration_ms[NT_TIMEOUT_KINDS]; /* 0 = this kind never expires */
    uint64_t armed_for;                     /* deadline the timer is set for; 0 = not armed */
    nt_timeout_fn on_expire;
};

/* Initialises t on loop with the durations per kind. Returns 0 or a libuv error. */
int nt_timeouts_init(struct nt_timeouts *t, uv_loop_t *loop, const uint64_t *durations_ms,
                     nt_timeout_fn on_expire);

/* Initialises a node that is in no list. */
void nt_timeouts_node_init(struct nt_timeout_node *node);

/* (Re)starts node's deadline of kind, duration from now. Of a kind of duration 0, the node waits
 * dormant. O(1). */
void nt_timeouts_set(struct nt_timeouts *t, struct nt_timeout_node *node,
                     enum nt_timeout_kind kind);

/* Restarts node's deadline in its current kind (if linked). O(1), no timer call. */
void nt_timeouts_touch(struct nt_timeouts *t, struct nt_timeout_node *node);

/*
 * Changes kind's duration (a reload, docs/OPERATIONS.md): every running deadline of the kind moves
 * by the difference (a client idle for 100 s of a 300 s timeout that becomes 120 s has 20 s left,
 * or expires at once), so the list stays in order; to 0, they all go dormant; from 0, the dormant
 * ones start a whole duration from now. O(nodes of the kind).
 */
void nt_timeouts_set_duration(struct nt_timeouts *t, enum nt_timeout_kind kind, uint64_t ms);

/* Unlinks node; no callback will come for it. */
void nt_timeouts_clear(struct nt_timeout_node *node);

/* Closes the timer handle (asynchronous: it is freed on the loop's next close callbacks). */
void nt_timeouts_close(struct nt_timeouts *t);

#endif
