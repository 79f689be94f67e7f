/* SPDX-License-Identifier: MIT */
/* cluster.h - the door to the other natter nodes (issue #11): this node's events out through
 * Redis, theirs in as ghosts' doings, names claimed in Redis, outages and gaps told. */
#ifndef NT_CLUSTER_H
#define NT_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "chat/chat.h"
#include "lib/config.h"

struct nt_cluster;

/* Counters (/metrics, the log). */
struct nt_cluster_stats {
    uint64_t published; /* this node's events handed to Redis */
    uint64_t received;  /* other nodes' events applied here */
    uint64_t dropped;   /* this node's messages not sent (the link was down, or its queue full) */
    uint64_t missing;   /* other nodes' messages never received (gaps) */
    uint64_t claims;    /* names asked of Redis */
    uint64_t clashes;   /* names two nodes held at once, settled (one user renamed) */
    uint64_t peers;     /* other nodes heard from now */
    uint64_t ghosts;    /* users of other nodes here now */
    uint64_t outages;   /* times the link went down */
    bool is_up;         /* the link works now */
};

/* Joins chat to the cluster on cfg->redis as node (1-64 bytes): hooks itself into chat. Returns
 * it (never NULL); close it with nt_cluster_close(). */
struct nt_cluster *nt_cluster_new(uv_loop_t *loop, struct nt_chat *chat,
                                  const struct nt_config *cfg, const char *node);

/* Whether the link to the other nodes works now. */
bool nt_cluster_is_up(const struct nt_cluster *c);

/* c's counters, and the link's, now. */
void nt_cluster_stats(const struct nt_cluster *c, struct nt_cluster_stats *out);

/* The node's name. */
const char *nt_cluster_node(const struct nt_cluster *c);

/* Handles payload as if Redis had brought it on the events channel from another node, without
 * the link's numbering (the fuzzer: a node survives any bytes another node or Redis sends). */
void nt_cluster_receive(struct nt_cluster *c, const char *payload, size_t len);

/* Says goodbye to the other nodes (their users here leave silently first) and closes the link
 * (asynchronous). chat is unhooked; c is freed when its handles are. */
void nt_cluster_close(struct nt_cluster *c);

#endif
