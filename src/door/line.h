/* SPDX-License-Identifier: MIT */
/* line.h - the HOWTO's line protocol (and its echo server) as a door into the chat. */
#ifndef NT_LINE_H
#define NT_LINE_H

#include "chat/chat.h"
#include "lib/config.h"
#include "lib/msg.h"
#include "net/conn.h"

/* One line door serves every tcp:// and tls:// listener (PROTOCOL.md). */
struct nt_line_door {
    struct nt_chat *chat;        /* borrowed */
    const struct nt_config *cfg; /* borrowed */
    unsigned fmt;                /* the line format's event slot */
    unsigned ws_fmt;             /* the same as WebSocket text frames (natter.line), one a line */
    struct nt_msg *prompt;       /* owned ref: "Enter your name: ", shared by every newcomer */
};

/* Initialises door over chat with cfg (both borrowed, outliving it). */
void nt_line_door_init(struct nt_line_door *door, struct nt_chat *chat,
                       const struct nt_config *cfg);

/* The config changed (a reload): every open line session of net takes --max-line from now on,
 * from the line it is reading. */
void nt_line_door_reload(struct nt_line_door *door, struct nt_net *net);

/* Frees what door owns. */
void nt_line_door_fini(struct nt_line_door *door);

/*
 * Takes an admitted conn (plain, TLS or a WebSocket, whose messages are lines): a session of its
 * own becomes c's handler, and c gets the name prompt and its NAME deadline (echo mode: the log
 * line and the IDLE deadline).
 */
void nt_line_door_open(struct nt_line_door *door, struct nt_conn *c);

/* The line protocol's bytes for ev (PROTOCOL.md §2-§7), with one reference for the caller. */
struct nt_msg *nt_line_encode(const struct nt_event *ev);

#endif
