/* SPDX-License-Identifier: MIT */
/* irc.h - the IRC door: IRC clients (irssi, WeeChat, HexChat) in the same rooms as line users. */
#ifndef NT_IRC_DOOR_H
#define NT_IRC_DOOR_H

#include <stdint.h>

#include "chat/chat.h"
#include "lib/config.h"
#include "net/conn.h"

/* Event formats of the IRC door: one per combination of the tags a client asked for. */
#define NT_IRC_FMT_TIME 1u /* server-time: @time= on every relayed message */
#define NT_IRC_FMT_TAGS 2u /* message-tags: the sender's client tags relayed */
#define NT_IRC_FORMATS  4u

/* One IRC door serves every irc:// and ircs:// listener (PROTOCOL.md §8). */
struct nt_irc_door {
    struct nt_chat *chat;         /* borrowed */
    const struct nt_config *cfg;  /* borrowed */
    unsigned fmt[NT_IRC_FORMATS]; /* event slots, by NT_IRC_FMT_* bits */
    /* The same over WebSocket, one frame per line: [0] text frames, [1] binary.ircv3.net's. */
    unsigned ws_fmt[2][NT_IRC_FORMATS];
    char created[32]; /* 003: when the server started, UTC */
};

/* Initialises door over chat with cfg (both borrowed, outliving it). */
void nt_irc_door_init(struct nt_irc_door *door, struct nt_chat *chat, const struct nt_config *cfg);

/* Takes an admitted conn (plain, TLS or a WebSocket: nt_conn_framing() picks the event formats): a
 * session of its own becomes c's handler, with its NAME deadline (registration must complete in
 * time). */
void nt_irc_door_open(struct nt_irc_door *door, struct nt_conn *c);

/* Refuses an accepted conn with an IRC ERROR saying why (server full, banned...). */
void nt_irc_door_refuse(struct nt_irc_door *door, struct nt_conn *c, const char *why);

/* The time a silent client gets before a PING, and again before it is closed: half of
 * --idle-timeout, at most 120 s; 0 when idle_ms is 0 (no PINGs). */
uint64_t nt_irc_ping_ms(uint64_t idle_ms);

/* The IRC bytes of ev for a client with the NT_IRC_FMT_* tags in fmt_bits, one reference for the
 * caller (PROTOCOL.md §8.6). */
struct nt_msg *nt_irc_encode(const struct nt_event *ev, unsigned fmt_bits);

#endif
