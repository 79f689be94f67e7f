/* SPDX-License-Identifier: MIT */
/* web.h - the web door: HTTP/1.1 for the bundled browser client, WebSocket into the line and IRC
 * doors, /metrics and /healthz (PROTOCOL.md §9). */
#ifndef NT_WEB_DOOR_H
#define NT_WEB_DOOR_H

#include <stddef.h>
#include <stdint.h>

#include "chat/chat.h"
#include "door/cluster.h"
#include "door/irc.h"
#include "door/line.h"
#include "lib/config.h"
#include "lib/msg.h"
#include "net/conn.h"
#include "net/net.h"

#define NT_WEB_MAX_REQUESTS 100 /* requests on one connection; the last says Connection: close */
#define NT_WEB_ETAG_SIZE    19  /* a quoted 64-bit hash and its NUL */
#define NT_WEB_HEAD_MS                                                                             \
    10000 /* a request head must come whole within this, or the name                               \
             timeout if shorter; also the idle time between requests */

/* One file of the browser client, compiled in (web/, by CMake: web_assets.c). */
struct nt_web_asset {
    const char *path; /* "/index.html" */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
};
extern const struct nt_web_asset nt_web_assets[]; /* ends with a NULL path */

/* One web door serves every http:// and https:// listener. */
struct nt_web_door {
    const struct nt_config *cfg;      /* borrowed */
    struct nt_chat *chat;             /* borrowed: /metrics */
    struct nt_net *net;               /* borrowed: /metrics */
    struct nt_line_door *line;        /* borrowed: WebSockets with subprotocol natter.line */
    struct nt_irc_door *irc;          /* borrowed: every other WebSocket */
    const struct nt_cluster *cluster; /* borrowed: /metrics; NULL on a single node */
    struct nt_msg **bodies;           /* owned refs, one per asset: shared by every response */
    char (*etags)[NT_WEB_ETAG_SIZE];  /* owned, one per asset: "\"0123456789abcdef\"" */
    size_t n_assets;
    uint64_t start_ms;           /* wall clock at start, for process_start_time_seconds */
    uint64_t requests, upgrades; /* counters: requests answered, WebSockets opened */
};

/* Initialises door (every argument borrowed, outliving it). */
void nt_web_door_init(struct nt_web_door *door, struct nt_chat *chat, struct nt_net *net,
                      struct nt_line_door *line, struct nt_irc_door *irc,
                      const struct nt_config *cfg);

/* Frees what door owns. */
void nt_web_door_fini(struct nt_web_door *door);

/* Takes an admitted conn of an http:// or https:// listener: a session of its own becomes c's
 * handler, with the HTTP deadline. A WebSocket handshake hands c to the line or IRC door. */
void nt_web_door_open(struct nt_web_door *door, struct nt_conn *c);

/* Refuses an accepted conn with status (403 banned, 429 too many from the address, 503 full) and
 * text as the body, then closes it. */
void nt_web_door_refuse(struct nt_web_door *door, struct nt_conn *c, int status, const char *text);

/* The HTTP deadline: NT_WEB_HEAD_MS, or the name timeout when that is shorter (and not off). */
uint64_t nt_web_head_ms(uint64_t name_timeout_ms);

#endif
