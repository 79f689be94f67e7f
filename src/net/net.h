/* SPDX-License-Identifier: MIT */
/* net.h - what every conn shares: the loop, the conn list, the dirty list, deadlines, output
 * limits. Data only (and address formatting): conn.c drives it (nt_conn_net_init), so net never
 * names a conn function. */
#ifndef NT_NET_H
#define NT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lib/util.h"
#include "net/timeouts.h"

#define NT_READ_BUF_SIZE (64 * 1024)
/* A flush copies a conn's queued messages into one buffer when they fit in this much. */
#define NT_FLAT_SIZE 16384
#define NT_LINGER_MS 2000

struct nt_conn;
struct nt_net;

/* The limits a conn's output lives under (docs/OPERATIONS.md). */
struct nt_net_limits {
    uint64_t max_output;       /* pending bytes per conn before it is cut as too slow */
    uint64_t max_output_total; /* bytes all queues hold together, shared messages once */
    uint64_t sndbuf;           /* SO_SNDBUF for accepted sockets; 0 = the kernel's */
};

/* Counters (docs/OPERATIONS.md, "Counters"). */
struct nt_net_stats {
    uint64_t accepted;
    uint64_t bytes_written;
    uint64_t cut_slow;    /* over --max-output */
    uint64_t cut_stalled; /* took nothing for --stall-timeout */
    uint64_t cut_memory;  /* the largest backlog when all went over --max-output-total */
    uint64_t tls_failures;
    uint64_t flood_pauses; /* reads paused by flood control */
    /* Connections refused at the door (the server counts them). */
    uint64_t refused_banned, refused_per_ip, refused_full;
};

struct nt_net {
    uv_loop_t *loop; /* borrowed */
    struct nt_net_limits limits;
    struct nt_timeouts timeouts;
    uv_check_t flush_check; /* flushes dirty conns once per loop iteration */
    uv_idle_t flush_idle;   /* active while conns are dirty, so the poll does not block */
    struct nt_list conns;   /* every open conn, by all_link */
    struct nt_list dirty;   /* conns with output to flush, by dirty_link */
    uint64_t n_conns;       /* open conns */
    uint64_t next_conn_id;
    uint64_t queued_bytes; /* bytes of messages queued anywhere (each once) + queue slots */
    struct nt_net_stats stats;
    /* Called by a conn's close callback after its handler's on_closed, before it is freed. */
    void (*on_conn_closed)(struct nt_net *net, struct nt_conn *c);
    void *owner;                     /* the server's */
    char read_buf[NT_READ_BUF_SIZE]; /* one read buffer for every conn: reads are handled
                                        synchronously, so no two are live at once */
    char flat[NT_FLAT_SIZE]; /* one write staging buffer: a flush copies short messages here */
};

/* Formats an IPv4 or IPv6 address with its port as "1.2.3.4:80" or "[::1]:80" into out. */
void nt_net_format_addr(const struct sockaddr_storage *ss, char *out, size_t size);

#endif
