/* SPDX-License-Identifier: MIT */
/* chat.h - the protocol state machine: name prompt, messages, notices (PROTOCOL.md §2-§4, §6). */
#ifndef NT_CHAT_H
#define NT_CHAT_H

#include <stddef.h>

#include "conn.h"
#include "timeouts.h"

/* Greets a newly accepted conn: the name prompt (or, in echo mode, the log line) and its first
 * deadline. */
void nt_chat_start(struct nt_conn *c);

/* Handles one complete line from c (without LF and CR). May send, broadcast, or say goodbye to
 * c (c stays valid; check c->state before using it for the next line). */
void nt_chat_line(struct nt_conn *c, const char *line, size_t len);

/* Handles a line from c that went over --max-line (PROTOCOL.md §3.4). Same rules as above. */
void nt_chat_line_too_long(struct nt_conn *c);

/* Handles c's expired deadline of kind NT_TIMEOUT_NAME or NT_TIMEOUT_IDLE. */
void nt_chat_timeout(struct nt_conn *c, enum nt_timeout_kind kind);

/*
 * Takes c out of the chat, once: out of the hub and the name registry, its deadline cleared, the
 * leave notice broadcast (named, and reason is not "shutdown"), and the leave logged with reason.
 * Does not close c.
 */
void nt_chat_leave(struct nt_conn *c, const char *reason);

#endif
