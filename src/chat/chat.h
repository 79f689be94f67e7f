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
 * The other nodes, as the core sees them (door/cluster.c implements it; a single node has none).
 * Users of other nodes are ghosts: members with m->node set whose deliver does nothing, so names,
 * rooms, counts and lists are the cluster's. Every hook is called for local members only.
 */
struct nt_chat_cluster {
    /* Local m wants name (free on this node): returns true when the cluster asked for it (m is
     * PENDING; the answer comes through nt_chat_claimed()), false when m may take it at once
     * (the other nodes are unreachable). */
    bool (*claim)(void *ctx, const struct nt_member *m, const char *name, size_t len);
    /* Local m no longer holds or wants name (it left, renamed, or gave up waiting). */
    void (*release)(void *ctx, const struct nt_member *m, const char *name, size_t len);
    /* ev happened and the other nodes need it: m (local) did it. */
    void (*publish)(void *ctx, const struct nt_event *ev, const struct nt_member *m);
    /* ip was banned (is_banned) or unbanned here: every node should know. */
    void (*bans_changed)(void *ctx, const char *ip, bool is_banned);
    const char *node; /* this node's --node-name (/who * shows it) */
    void *ctx;
};

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
    char **bans;           /* owned addresses refused (/ban) until /unban */
    size_t n_bans;
    /* Called after a ban was added or lifted (the server saves the list: --state-dir). */
    void (*on_bans_changed)(void *ctx);
    void *bans_ctx;
    struct nt_list members; /* every member IN or DROPPING, by all_link, in order of joining */
    struct nt_list drops;   /* members marked DROPPING, by drop_link, in order of marking */
    unsigned depth;         /* calls into the core in progress; the safe point is at 0 */
    bool is_shutting_down;  /* leaves are no longer announced */
    uint64_t next_event_id;
    size_t n_opers; /* members IN or DROPPING who are operators */
    char *scratch;  /* owned: NT_TEXT_SANITIZED_MAX(max_line) bytes for sanitizing */
    /* Counters (docs/OPERATIONS.md). */
    uint64_t lines_received;               /* chat lines and actions, not commands */
    uint64_t drops_slow;                   /* members dropped because a delivery failed */
    const struct nt_chat_cluster *cluster; /* borrowed; NULL on a single node */
    struct nt_list claims;                 /* members whose claim_state is not NONE, by wait_link */
};

/* Initialises chat with cfg (borrowed; must outlive it). */
void nt_chat_init(struct nt_chat *chat, const struct nt_config *cfg);

/* Frees what chat owns; every member must have left. */
void nt_chat_fini(struct nt_chat *chat);

/* The config changed under chat (a reload): takes its history size and line limit from now on.
 * Never called inside a command or a broadcast. */
void nt_chat_reload(struct nt_chat *chat);

enum nt_chat_join_result {
    NT_CHAT_JOINED,       /* m is in the lobby, and the others were told */
    NT_CHAT_NAME_INVALID, /* see *check */
    NT_CHAT_NAME_TAKEN,   /* somebody has that name (compared case-insensitively) */
    NT_CHAT_NAME_PENDING, /* asked of the other nodes: m is PENDING (member.h, resume) */
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

/* --- the calls of a door that speaks a richer protocol than lines (IRC) ----------------------
 * Each is a call into the core: its safe point comes at its end, so m (or others) may be dropped
 * by the time it returns: check m->state. Texts are sanitized by the door; the core checks what
 * is a chat rule (names, rooms, membership, topic length, operators). */

/* What a door call came to. */
enum nt_chat_result {
    NT_CHAT_OK,
    NT_CHAT_INVALID,     /* a name or room name breaks §2.2 (see *check) */
    NT_CHAT_TAKEN,       /* the name is somebody else's */
    NT_CHAT_SAME,        /* nothing to do: already in that room, already that name */
    NT_CHAT_NO_ROOM,     /* no such room */
    NT_CHAT_NOT_IN_ROOM, /* m is not in that room */
    NT_CHAT_NO_USER,     /* no such user */
    NT_CHAT_TOO_MANY,    /* m is in NT_CHAT_MAX_ROOMS rooms */
    NT_CHAT_TOO_LONG,    /* a topic over NT_TOPIC_MAX bytes */
    NT_CHAT_DENIED,      /* not an operator, or a wrong password */
    NT_CHAT_PENDING,     /* a name asked of the other nodes: m is PENDING (member.h, resume) */
};

/* The most rooms a member may be in at once (IRC CHANLIMIT). */
#define NT_CHAT_MAX_ROOMS 50

/* Takes m (OUT) into the chat as name, in no room, announced to nobody (IRC registration). On
 * NT_CHAT_NAME_INVALID, *check says why. */
enum nt_chat_join_result nt_chat_register(struct nt_chat *chat, struct nt_member *m,
                                          const char *name, size_t len, enum nt_name_check *check);

/*
 * Puts m (IN) into the room called name too, created if new: the room (and m, if it has
 * NT_MEMBER_SEES_OWN) get a JOIN event (the lobby) or an ENTER event (other rooms). No welcome,
 * no history: the door sends its own replies, then calls nt_chat_replay(). *room is the room
 * (on OK and SAME). Results: OK, SAME, INVALID (*check), TOO_MANY.
 */
enum nt_chat_result nt_chat_enter(struct nt_chat *chat, struct nt_member *m, const char *name,
                                  size_t len, enum nt_name_check *check, struct nt_room **room);

/* Sends room's history to m (after the door's reply to its JOIN). */
void nt_chat_replay(struct nt_chat *chat, struct nt_member *m, struct nt_room *room);

/* Takes m out of room with a PART event carrying words (may be empty) to the room (and m with
 * SEES_OWN). Results: OK, NO_ROOM, NOT_IN_ROOM. */
enum nt_chat_result nt_chat_part(struct nt_chat *chat, struct nt_member *m, const char *room,
                                 size_t room_len, const char *words, size_t words_len);

/*
 * m says text (kind NT_EV_SAY, NT_EV_ACTION, NT_EV_NOTE or NT_EV_TAGMSG, with client tags, may be
 * empty) to the room called room: to its members but m (and to m with NT_MEMBER_ECHO); SAY and
 * ACTION go into its history. Results: OK, NO_ROOM, NOT_IN_ROOM.
 */
enum nt_chat_result nt_chat_say(struct nt_chat *chat, struct nt_member *m, const char *room,
                                size_t room_len, enum nt_event_kind kind, const char *text,
                                size_t len, const char *tags, size_t tags_len);

/*
 * m tells the user called to text privately (kind NT_EV_PRIVATE, NT_EV_PRIVATE_ACTION,
 * NT_EV_PRIVATE_NOTE or NT_EV_TAGMSG), echoed to m with NT_MEMBER_ECHO. Results: OK (*target is
 * the recipient, borrowed until the next call into the core), NO_USER.
 */
enum nt_chat_result nt_chat_tell(struct nt_chat *chat, struct nt_member *m, const char *to,
                                 size_t to_len, enum nt_event_kind kind, const char *text,
                                 size_t len, const char *tags, size_t tags_len,
                                 const struct nt_member **target);

/* Renames m (IN) to name: everyone who shares a room with m, and m, get a RENAME event.
 * Results: OK, INVALID (*check), TAKEN, SAME (exactly the same spelling), PENDING. */
enum nt_chat_result nt_chat_rename(struct nt_chat *chat, struct nt_member *m, const char *name,
                                   size_t len, enum nt_name_check *check);

/* Sets (len > 0) or clears the topic of the room called room, which m must be in: a TOPIC event
 * to the room, m included. Results: OK, NO_ROOM, NOT_IN_ROOM, TOO_LONG. */
enum nt_chat_result nt_chat_topic(struct nt_chat *chat, struct nt_member *m, const char *room,
                                  size_t room_len, const char *text, size_t len);

/* Marks m away with text (len > 0, at most NT_AWAY_MAX bytes kept) or back: an AWAY event to
 * those who share a room with m. */
void nt_chat_away(struct nt_chat *chat, struct nt_member *m, const char *text, size_t len);
#define NT_AWAY_MAX 200

/* Makes m an operator if password is the operator password (logged either way). Results: OK,
 * SAME (already one), DENIED. */
enum nt_chat_result nt_chat_oper(struct nt_chat *chat, struct nt_member *m, const char *password,
                                 size_t len);

/* An operator m kicks the user called who out of the chat with why (may be empty), as /kick
 * does. Results: OK, DENIED (m is no operator), NO_USER. */
enum nt_chat_result nt_chat_kick(struct nt_chat *chat, struct nt_member *m, const char *who,
                                 size_t who_len, const char *why, size_t why_len);

/* An operator m tells everybody text (/wall). Results: OK, DENIED. */
enum nt_chat_result nt_chat_wall(struct nt_chat *chat, struct nt_member *m, const char *text,
                                 size_t len);

/* m leaves with words (may be empty): marked to be dropped ("quit"), announced at the safe point
 * at this call's end, then its door's goodbye. */
void nt_chat_quit(struct nt_chat *chat, struct nt_member *m, const char *words, size_t len);

/* The member called name (IN or DROPPING), or NULL. */
struct nt_member *nt_chat_find(const struct nt_chat *chat, const char *name, size_t len);

/* How many people are in the chat (every door). */
size_t nt_chat_people(const struct nt_chat *chat);

/* From now on leaves are not announced (the server tells everyone it is shutting down). */
void nt_chat_shutdown(struct nt_chat *chat);

/* Whether ip is refused (/ban). */
bool nt_chat_is_banned(const struct nt_chat *chat, const char *ip);

/* Refuses ip from now on; returns false if it already was. */
bool nt_chat_ban(struct nt_chat *chat, const char *ip);

/* Lifts the ban of ip; returns false if there was none. */
bool nt_chat_unban(struct nt_chat *chat, const char *ip);

/* --- the calls of the cluster (door/cluster.c) -------------------------------------------- */

/* The other nodes answered the claim of name by the member whose id is id: it may take it
 * (granted) or not. The member, if it still waits for that name, is resumed; returns whether one
 * did (if not, a granted name is nobody's: the cluster gives it back). */
bool nt_chat_claimed(struct nt_chat *chat, uint64_t id, const char *name, size_t len, bool granted);

/* Takes ghost g (OUT, g->node set) into the chat as name, in no room, announced to nobody, as
 * claimed at claimed_ms. NT_CHAT_NAME_TAKEN: a member here has that name (see nt_chat_find). */
enum nt_chat_join_result nt_chat_ghost_add(struct nt_chat *chat, struct nt_member *g,
                                           const char *name, size_t len, uint64_t claimed_ms);

/*
 * What ghost g (IN) did on its node, as the event of kind with fields f (g's name as actor) that
 * happened at time_ms: membership changes, then the same event to the members here, as if g were
 * local (PROTOCOL.md §10). A LEAVE, or a KICK or BAN of g, takes g out (LEFT). A KICK or BAN of
 * a local member drops it here as /kick does. Checks nothing a node could get wrong: unknown
 * rooms are made, a target who is not here is nobody.
 */
void nt_chat_apply(struct nt_chat *chat, struct nt_member *g, enum nt_event_kind kind,
                   const struct nt_event_fields *f, uint64_t time_ms);

/* Seats ghost g in the room called name, silently (a snapshot of its node says it is there). */
void nt_chat_ghost_seat(struct nt_chat *chat, struct nt_member *g, const char *name, size_t len);

/* Takes ghost g out of the chat for reason: announced as a leave (the others see NAME leave)
 * when is_told, else silently (its node is unreachable: the notice says so). */
void nt_chat_ghost_leave(struct nt_chat *chat, struct nt_member *g, const char *reason,
                         bool is_told);

/* Renames local member m to name (free here) because another node's claim on its name was
 * earlier: the RENAME event, and m is told why with text (a notice). */
void nt_chat_force_rename(struct nt_chat *chat, struct nt_member *m, const char *name, size_t len,
                          const char *text);

/*
 * The line of kind (SAY or ACTION) that another node keeps in the history of the room f->room,
 * said by f->actor at time_ms, as the next of that room's history here (the first of them,
 * is_first, replaces what the room kept): a node that starts gets the rooms' past this way.
 * Nobody is told; an unknown room is skipped.
 */
void nt_chat_remember(struct nt_chat *chat, enum nt_event_kind kind,
                      const struct nt_event_fields *f, uint64_t time_ms, bool is_first);

/* Tells every local member text (a server notice: the cluster's outages and gaps). */
void nt_chat_notice_all(struct nt_chat *chat, const char *text);

#endif
