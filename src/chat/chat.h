/* SPDX-License-Identifier: MIT */
/* chat.h - the chat core: names, rooms, commands, moderation; members in, events out. */
#ifndef NT_CHAT_H
#define NT_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/event.h"
#include "chat/hub.h"
#include "chat/member.h"
#include "lib/command.h"
#include "lib/config.h"
#include "lib/names.h"
#include "lib/util.h"

/* Lists in replies (/who, /rooms, /bans) stop after this many entries. */
#define NT_CHAT_LIST_MAX 100

/*
 * The chat. It knows members only through struct nt_member and never touches a socket or the
 * loop: a unit test or a fuzzer drives it with fake members. Delivering never leaves, closes or
 * frees anything: a member that cannot take more is marked, and every marked member is dropped
 * (leave event, then its door's goodbye) at the safe point, when the outermost call into the core
 * returns (docs/ARCHITECTURE.md, "The safe point").
 */
struct nt_chat {
    const struct nt_config *cfg; /* borrowed */
    struct nt_hub hub;
    struct nt_names names; /* folded name -> struct nt_member (borrowed) */
    char **bans;           /* owned addresses refused until restart (/ban) */
    size_t n_bans;
    struct nt_list drops;  /* members marked DROPPING, by drop_link, in order of marking */
    unsigned depth;        /* calls into the core in progress; the safe point is at 0 */
    bool is_shutting_down; /* leaves are no longer announced */
    uint64_t next_event_id;
    char *scratch; /* owned: NT_TEXT_SANITIZED_MAX(max_line) bytes for sanitizing */
    /* Counters (docs/OPERATIONS.md). */
    uint64_t lines_received; /* chat lines and actions, not commands */
    uint64_t drops_slow;     /* members dropped because a delivery failed */
};

/* Initialises chat with cfg (borrowed; must outlive it). */
void nt_chat_init(struct nt_chat *chat, const struct nt_config *cfg);

/* Frees what chat owns; every member must have left. */
void nt_chat_fini(struct nt_chat *chat);

enum nt_chat_join_result {
    NT_CHAT_JOINED,       /* m is in the lobby, and the others were told */
    NT_CHAT_NAME_INVALID, /* see *check */
    NT_CHAT_NAME_TAKEN,   /* somebody has that name (compared case-insensitively) */
};

/*
 * Takes m (OUT) into the chat as name[0..len) (trimmed by the door): the join event to the
 * lobby, the welcome notice and the lobby's history to m. On NT_CHAT_NAME_INVALID, *check says
 * why (nt_names_check_message()); m stays OUT. May drop members (m too) at its end.
 */
enum nt_chat_join_result nt_chat_join(struct nt_chat *chat, struct nt_member *m, const char *name,
                                      size_t len, enum nt_name_check *check);

/*
 * Handles one line typed by m (IN) in the line protocol (PROTOCOL.md §3, §7): sanitizes it, runs
 * a command or says it to m's room. May drop members (m too) at its end.
 */
void nt_chat_line(struct nt_chat *chat, struct nt_member *m, const char *line, size_t len);

/*
 * m's door is done with it (its connection ends, for reason): if m is in the chat, it leaves
 * now, announced to its room unless the server is shutting down, and is logged. Idempotent; m is
 * LEFT (or stays OUT) afterwards. Never calls m's goodbye.
 */
void nt_chat_leave(struct nt_chat *chat, struct nt_member *m, const char *reason);

/*
 * Marks m (IN) to be dropped for reason with goodbye (copied; NULL for none): at the safe point
 * it leaves, announced, and its door's goodbye runs. Called from outside the core (a timer), the
 * safe point is this call's own end.
 */
void nt_chat_drop(struct nt_chat *chat, struct nt_member *m, const char *reason,
                  const char *goodbye);

/* From now on leaves are not announced (the server tells everyone it is shutting down). */
void nt_chat_shutdown(struct nt_chat *chat);

/* Whether ip is refused (/ban). */
bool nt_chat_is_banned(const struct nt_chat *chat, const char *ip);

/* Refuses ip from now on; returns false if it already was. */
bool nt_chat_ban(struct nt_chat *chat, const char *ip);

/* Lifts the ban of ip; returns false if there was none. */
bool nt_chat_unban(struct nt_chat *chat, const char *ip);

#endif
