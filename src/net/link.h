/* SPDX-License-Identifier: MIT */
/* link.h - a node's link to the other natter nodes through Redis pub/sub (issue #11): wire
 * messages out and in, its own heartbeat, reconnect with backoff, a bounded queue, gaps seen.
 * door/cluster.c is its user. */
#ifndef NT_LINK_H
#define NT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <hiredis/hiredis.h>

#include "lib/redis_url.h"
#include "lib/wire.h"

#define NT_LINK_HEARTBEAT_MS   1000 /* a heartbeat published this often */
#define NT_LINK_DEAD_MS        3000 /* none of our own back for this long: the link is down */
#define NT_LINK_CONNECT_MS     2000 /* a connect that takes longer fails */
#define NT_LINK_BACKOFF_MIN_MS 100  /* the first retry; doubling, with jitter, up to: */
#define NT_LINK_BACKOFF_MAX_MS 5000
#define NT_LINK_MAX_PEERS      64 /* other nodes whose message numbers are followed */

struct nt_link;

/* What a link tells its user. Times are wall-clock ms since the epoch (UTC). */
struct nt_link_callbacks {
    /* The link works: our own heartbeat came back through Redis. down_since: when it went down,
     * or 0 the first time. */
    void (*on_up)(struct nt_link *l, uint64_t down_since);
    /* The link does not work (a connection failed or closed, or our heartbeat has not come back
     * for NT_LINK_DEAD_MS), since since; once per outage, and also when it never came up. It
     * reconnects by itself. */
    void (*on_down)(struct nt_link *l, uint64_t since);
    /* A message of another node (events, heartbeats, byes), decoded; its strings are borrowed
     * for the call. Our own are not passed up. */
    void (*on_message)(struct nt_link *l, const struct nt_wire_msg *m);
    /* missing messages of the node named by m were never received (m is the one after them). */
    void (*on_gap)(struct nt_link *l, const struct nt_wire_msg *m, uint64_t missing);
};

/* Counters (for /metrics and the log). */
struct nt_link_stats {
    uint64_t published; /* messages handed to Redis */
    uint64_t received;  /* other nodes' messages passed up */
    uint64_t dropped;   /* ours not sent: the link was down, or the queue over its bound */
    uint64_t missing;   /* others' never received (gaps) */
    uint64_t refused;   /* payloads on our channel that are not natter's messages */
    uint64_t downs;     /* outages */
};

/*
 * A new link of the node called node (1..NT_WIRE_MAX_NODE bytes) to the cluster on url's
 * database (the channel is natter:DB:events: pub/sub is shared by every database, so the name
 * carries it), holding at most max_queue bytes not yet written to Redis. Connects at once and
 * keeps connecting; callbacks cb with ctx. Returns it, to be closed with nt_link_close().
 */
struct nt_link *nt_link_new(uv_loop_t *loop, const struct nt_redis_url *url, const char *node,
                            size_t max_queue, const struct nt_link_callbacks *cb, void *ctx);

/* The user's ctx. */
void *nt_link_ctx(const struct nt_link *l);

/* Whether the link works now (on_up came, and on_down has not since). */
bool nt_link_is_up(const struct nt_link *l);

/* l's counters. */
const struct nt_link_stats *nt_link_stats(const struct nt_link *l);

/*
 * Publishes m (type and fields the caller's; node and seq are set here: every message takes the
 * next number, sent or not, so others see what was dropped as a gap). Returns 0; UV_ENOTCONN
 * when the link is down, or UV_ENOBUFS when the queue is full: the message is dropped and
 * counted. Never calls back from inside.
 */
int nt_link_publish(struct nt_link *l, struct nt_wire_msg *m);

/* A Redis command's answer through nt_link_command(): reply is NULL when the connection went
 * down first (or the link closed). */
typedef void (*nt_link_reply_fn)(struct nt_link *l, const struct redisReply *reply, void *arg);

/*
 * Sends a command (argv[0..argc), lens bytes each) on the link's command connection, in order
 * with its PUBLISHes; fn(l, reply, arg) comes once, from the loop. Returns 0, or UV_ENOTCONN
 * (no connection now) or UV_ENOBUFS (the queue is full), and fn never comes.
 */
int nt_link_command(struct nt_link *l, int argc, const char **argv, const size_t *lens,
                    nt_link_reply_fn fn, void *arg);

/* Closes l (asynchronous: no callback comes after this; it is freed when its handles are). */
void nt_link_close(struct nt_link *l);

#endif
