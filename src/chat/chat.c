/* SPDX-License-Identifier: MIT */
/* chat.c - the chat core: joining, leaving, the safe point, commands and moderation. */
#include "chat/chat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/text.h"

/* A growable string for building reply texts. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        b->p = nt_xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void nt_member_init(struct nt_member *m, const struct nt_member_ops *ops, uint64_t id,
                    const char *peer, const char *ip)
{
    memset(m, 0, sizeof(*m));
    m->ops = ops;
    m->id = id;
    m->peer = peer;
    m->ip = ip;
    m->state = NT_MEMBER_OUT;
    m->door = "line";
    nt_list_init(&m->seats);
}

void nt_member_fini(struct nt_member *m)
{
    NT_ASSERT(m->state == NT_MEMBER_OUT || m->state == NT_MEMBER_LEFT);
    free(m->name);
    free(m->parting);
    free(m->drop_goodbye);
    free(m->away);
    free(m->claim_name);
    m->name = m->parting = m->drop_goodbye = m->away = m->claim_name = NULL;
}

void nt_chat_init(struct nt_chat *chat, const struct nt_config *cfg)
{
    memset(chat, 0, sizeof(*chat));
    chat->cfg = cfg;
    nt_hub_init(&chat->hub, cfg->history);
    nt_names_init(&chat->names);
    nt_list_init(&chat->drops);
    nt_list_init(&chat->members);
    nt_list_init(&chat->claims);
    chat->scratch = nt_xmalloc(NT_TEXT_SANITIZED_MAX(cfg->max_line));
}

void nt_chat_reload(struct nt_chat *chat)
{
    NT_ASSERT(chat->depth == 0);
    nt_hub_set_history(&chat->hub, chat->cfg->history);
    free(chat->scratch);
    chat->scratch = nt_xmalloc(NT_TEXT_SANITIZED_MAX(chat->cfg->max_line));
}

void nt_chat_fini(struct nt_chat *chat)
{
    NT_ASSERT(nt_list_is_empty(&chat->drops));
    nt_hub_fini(&chat->hub);
    nt_names_fini(&chat->names);
    for (size_t i = 0; i < chat->n_bans; i++)
        free(chat->bans[i]);
    free(chat->bans);
    free(chat->scratch);
}

/* --- events ------------------------------------------------------------------------------ */

static struct nt_event *event(struct nt_chat *chat, enum nt_event_kind kind,
                              const struct nt_member *actor, const struct nt_event_fields *extra)
{
    struct nt_event_fields f = extra ? *extra : (struct nt_event_fields){0};
    if (actor != NULL) {
        f.actor = actor->name;
        f.actor_len = actor->name_len;
        f.actor_id = actor->id;
        if (f.room == NULL && actor->room != NULL) {
            f.room = actor->room->name;
            f.room_len = actor->room->name_len;
        }
    }
    return nt_event_new(kind, ++chat->next_event_id, &f);
}

/* Tells the other nodes about ev, done by m, if m is local: ev NULL says m is here (it took its
 * name, IRC users in no room too). */
static void publish(struct nt_chat *chat, const struct nt_event *ev, const struct nt_member *m)
{
    if (chat->cluster != NULL && m->node == NULL && !chat->is_shutting_down)
        chat->cluster->publish(chat->cluster->ctx, ev, m);
}

/* --- names asked of the other nodes (door/cluster.c) ------------------------------------------ */

static void claim_clear(struct nt_member *m)
{
    if (m->claim_state == NT_CLAIM_NONE)
        return;
    nt_list_remove(&m->wait_link);
    free(m->claim_name);
    m->claim_name = NULL;
    m->claim_len = 0;
    m->claim_state = NT_CLAIM_NONE;
}

/* m gives up the name it asked for: the cluster forgets it unless a member here holds it. */
static void abandon(struct nt_chat *chat, struct nt_member *m)
{
    if (m->claim_state == NT_CLAIM_PENDING || m->claim_state == NT_CLAIM_GRANTED) {
        if (nt_names_find(&chat->names, m->claim_name, m->claim_len) == NULL)
            chat->cluster->release(chat->cluster->ctx, m, m->claim_name, m->claim_len);
    }
    claim_clear(m);
}

enum gate { GATE_OK, GATE_PENDING, GATE_TAKEN };

/* Whether local m may take name (free here) as far as the other nodes go. */
static enum gate gate(struct nt_chat *chat, struct nt_member *m, const char *name, size_t len)
{
    if (chat->cluster == NULL || m->node != NULL)
        return GATE_OK;
    if (m->claim_state != NT_CLAIM_NONE && m->claim_len == len &&
        memcmp(m->claim_name, name, len) == 0) {
        enum nt_claim_state state = m->claim_state;
        if (state == NT_CLAIM_PENDING)
            return GATE_PENDING;
        claim_clear(m);
        return state == NT_CLAIM_GRANTED ? GATE_OK : GATE_TAKEN;
    }
    abandon(chat, m);
    if (!chat->cluster->claim(chat->cluster->ctx, m, name, len))
        return GATE_OK;
    m->claim_state = NT_CLAIM_PENDING;
    m->claim_name = nt_xstrndup(name, len);
    m->claim_len = len;
    nt_list_append(&chat->claims, &m->wait_link);
    return GATE_PENDING;
}

bool nt_chat_claimed(struct nt_chat *chat, uint64_t id, const char *name, size_t len, bool granted)
{
    for (struct nt_list *node = chat->claims.next; node != &chat->claims; node = node->next) {
        struct nt_member *m = NT_CONTAINER_OF(node, struct nt_member, wait_link);
        if (m->id != id || m->claim_state != NT_CLAIM_PENDING || m->claim_len != len ||
            memcmp(m->claim_name, name, len) != 0)
            continue;
        m->claim_state = granted ? NT_CLAIM_GRANTED : NT_CLAIM_DENIED;
        if (m->ops->resume != NULL)
            m->ops->resume(m);
        return true;
    }
    return false;
}

/* Marks m to be dropped at the safe point (a delivery to it failed, or a command asked). */
static void mark(struct nt_chat *chat, struct nt_member *m, const char *reason, const char *goodbye,
                 struct nt_event *leave_ev)
{
    if (m->state != NT_MEMBER_IN) {
        if (leave_ev != NULL)
            nt_event_unref(leave_ev);
        return;
    }
    m->state = NT_MEMBER_DROPPING;
    m->drop_reason = reason;
    m->drop_goodbye = goodbye ? nt_xstrndup(goodbye, strlen(goodbye)) : NULL;
    m->drop_ev = leave_ev;
    nt_list_append(&chat->drops, &m->drop_link);
}

static void on_full(void *ctx, struct nt_member *m)
{
    struct nt_chat *chat = ctx;
    chat->drops_slow++;
    mark(chat, m, "slow", "Disconnected: too slow to receive messages.", NULL);
}

/* Delivers ev to m alone (a reply, a welcome), unless m is being dropped. */
static void deliver(struct nt_chat *chat, struct nt_member *m, struct nt_event *ev)
{
    if (m->state != NT_MEMBER_IN || m->node != NULL)
        return; /* a ghost's own node delivers to it */
    chat->hub.deliveries++;
    if (m->ops->deliver(m, ev) != 0)
        on_full(chat, m);
}

static void broadcast(struct nt_chat *chat, struct nt_room *room, struct nt_event *ev,
                      const struct nt_member *except)
{
    nt_hub_broadcast(&chat->hub, room, ev, except, on_full, chat);
}

/* Sends m the server notice in b (b is emptied). */
static void send_notice(struct nt_chat *chat, struct nt_member *m, struct sbuf *b)
{
    struct nt_event_fields f = {
        .text = b->p, .text_len = b->len, .target = m->name, .target_len = m->name_len};
    struct nt_event *ev = nt_event_new(NT_EV_NOTICE, ++chat->next_event_id, &f);
    deliver(chat, m, ev);
    nt_event_unref(ev);
    free(b->p);
    *b = (struct sbuf){0};
}

/* Sends m one server notice (PROTOCOL.md §7). */
__attribute__((format(printf, 3, 4))) static void reply(struct nt_chat *chat, struct nt_member *m,
                                                        const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    struct sbuf b = {0};
    sb_str(&b, text);
    send_notice(chat, m, &b);
}

/* --- joining, leaving and the safe point ---------------------------------------------------- */

/* Takes m out of the chat now: announced with ev (or a plain leave event) unless shutting down. */
static void leave_told(struct nt_chat *chat, struct nt_member *m, const char *reason,
                       struct nt_event *ev, bool is_told)
{
    if (m->node != NULL)
        NT_INFO("cluster: %s of %s left: %s", m->name, m->node, reason);
    else
        NT_INFO("conn=%llu peer=%s name=%s left: %s", (unsigned long long)m->id, m->peer, m->name,
                reason);
    m->state = NT_MEMBER_LEFT; /* skipped by the broadcast of its own leave */
    if (!chat->is_shutting_down && is_told) {
        if (ev == NULL) {
            struct nt_event_fields f = {.reason = reason};
            if (m->parting != NULL) {
                f.text = m->parting;
                f.text_len = strlen(m->parting);
            }
            ev = event(chat, NT_EV_LEAVE, m, &f);
            publish(chat, ev, m);
        }
        nt_hub_broadcast_shared(&chat->hub, m, ev, m, on_full, chat);
    }
    if (ev != NULL)
        nt_event_unref(ev);
    nt_hub_leave(&chat->hub, m);
    nt_names_remove(&chat->names, m->name, m->name_len);
    if (chat->cluster != NULL && m->node == NULL)
        chat->cluster->release(chat->cluster->ctx, m, m->name, m->name_len);
    nt_list_remove(&m->all_link);
    if (m->is_oper)
        chat->n_opers--;
}

static void leave_now(struct nt_chat *chat, struct nt_member *m, const char *reason,
                      struct nt_event *ev)
{
    leave_told(chat, m, reason, ev, true);
}

/* The safe point: drops every marked member, in order; their leaves may mark more. */
static void settle(struct nt_chat *chat)
{
    chat->depth++; /* the goodbyes below call back into the core, which must not settle again */
    while (!nt_list_is_empty(&chat->drops)) {
        struct nt_member *m = NT_CONTAINER_OF(chat->drops.next, struct nt_member, drop_link);
        nt_list_remove(&m->drop_link);
        struct nt_event *ev = m->drop_ev;
        m->drop_ev = NULL;
        const char *reason = m->drop_reason;
        char *goodbye = m->drop_goodbye;
        m->drop_goodbye = NULL;
        struct nt_event *why = ev != NULL ? nt_event_ref(ev) : NULL; /* leave_now takes ev's */
        leave_now(chat, m, reason, ev);
        m->ops->goodbye(m, goodbye, reason, why);
        if (why != NULL)
            nt_event_unref(why);
        free(goodbye);
    }
    chat->depth--;
}

static void enter(struct nt_chat *chat)
{
    chat->depth++;
}

static void done(struct nt_chat *chat)
{
    NT_ASSERT(chat->depth > 0);
    if (--chat->depth == 0)
        settle(chat);
}

/* "nobody else is here", "1 other person is here", "N other people are here" */
static void say_others(struct sbuf *b, size_t others)
{
    if (others == 0)
        sb_str(b, "nobody else is here");
    else if (others == 1)
        sb_str(b, "1 other person is here");
    else
        sb_printf(b, "%zu other people are here", others);
}

/* Puts m into the room called name: the event for the others, the line for m, the room's
 * history (§7.6, §7.8). */
static void enter_room(struct nt_chat *chat, struct nt_member *m, const char *name, size_t len,
                       bool is_first)
{
    struct nt_room *room = nt_hub_enter(&chat->hub, m, name, len);
    struct nt_event *ev = event(chat, is_first ? NT_EV_JOIN : NT_EV_ENTER, m, NULL);
    publish(chat, ev, m);
    broadcast(chat, room, ev, m); /* §2.6 */
    nt_event_unref(ev);
    struct sbuf b = {0};
    if (is_first)
        sb_printf(&b, "Welcome to %s, %s: ", room->name, m->name);
    else
        sb_printf(&b, "You are now in %s: ", room->name);
    say_others(&b, room->count - 1);
    if (is_first)
        sb_str(&b, ". Type /help for the commands.");
    send_notice(chat, m, &b);
    if (room->topic != NULL)
        reply(chat, m, "Topic: %s", room->topic); /* §7.6.1 */
    if (m->state == NT_MEMBER_IN && nt_hub_replay(&chat->hub, room, m) != 0)
        on_full(chat, m); /* history, before any live line */
}

/* Claims name for m (OUT): m is IN, in no room yet. */
static enum nt_chat_join_result claim(struct nt_chat *chat, struct nt_member *m, const char *name,
                                      size_t len, enum nt_name_check *check)
{
    NT_ASSERT(m->state == NT_MEMBER_OUT);
    *check = nt_names_check(name, len);
    if (*check != NT_NAME_OK)
        return NT_CHAT_NAME_INVALID;
    if (nt_names_find(&chat->names, name, len) != NULL)
        return NT_CHAT_NAME_TAKEN;
    switch (gate(chat, m, name, len)) {
    case GATE_PENDING:
        return NT_CHAT_NAME_PENDING;
    case GATE_TAKEN:
        return NT_CHAT_NAME_TAKEN;
    case GATE_OK:
        break;
    }
    nt_names_add(&chat->names, name, len, m);
    m->name = nt_xstrndup(name, len);
    m->name_len = len;
    m->state = NT_MEMBER_IN;
    m->claimed_ms = nt_wall_ms();
    nt_list_append(&chat->members, &m->all_link);
    NT_INFO("conn=%llu peer=%s joined as %s", (unsigned long long)m->id, m->peer, m->name);
    publish(chat, NULL, m);
    return NT_CHAT_JOINED;
}

enum nt_chat_join_result nt_chat_join(struct nt_chat *chat, struct nt_member *m, const char *name,
                                      size_t len, enum nt_name_check *check)
{
    enum nt_chat_join_result res = claim(chat, m, name, len, check);
    if (res != NT_CHAT_JOINED)
        return res;
    enter(chat);
    enter_room(chat, m, NT_LOBBY, strlen(NT_LOBBY), true);
    done(chat);
    return NT_CHAT_JOINED;
}

enum nt_chat_join_result nt_chat_register(struct nt_chat *chat, struct nt_member *m,
                                          const char *name, size_t len, enum nt_name_check *check)
{
    return claim(chat, m, name, len, check);
}

void nt_chat_leave(struct nt_chat *chat, struct nt_member *m, const char *reason)
{
    if (m->claim_state != NT_CLAIM_NONE)
        abandon(chat, m);
    if (m->state == NT_MEMBER_OUT || m->state == NT_MEMBER_LEFT)
        return;
    enter(chat);
    struct nt_event *ev = NULL;
    if (m->state == NT_MEMBER_DROPPING) {
        nt_list_remove(&m->drop_link);
        ev = m->drop_ev;
        m->drop_ev = NULL;
        free(m->drop_goodbye);
        m->drop_goodbye = NULL;
    }
    leave_now(chat, m, reason, ev);
    done(chat);
}

void nt_chat_drop(struct nt_chat *chat, struct nt_member *m, const char *reason,
                  const char *goodbye)
{
    enter(chat);
    mark(chat, m, reason, goodbye, NULL);
    done(chat);
}

void nt_chat_shutdown(struct nt_chat *chat)
{
    chat->is_shutting_down = true;
}

bool nt_chat_is_banned(const struct nt_chat *chat, const char *ip)
{
    for (size_t i = 0; i < chat->n_bans; i++) {
        if (strcmp(chat->bans[i], ip) == 0)
            return true;
    }
    return false;
}

bool nt_chat_ban(struct nt_chat *chat, const char *ip)
{
    if (nt_chat_is_banned(chat, ip))
        return false;
    chat->bans = nt_xrealloc(chat->bans, (chat->n_bans + 1) * sizeof(*chat->bans));
    chat->bans[chat->n_bans++] = nt_xstrndup(ip, strlen(ip));
    if (chat->on_bans_changed != NULL)
        chat->on_bans_changed(chat->bans_ctx);
    if (chat->cluster != NULL)
        chat->cluster->bans_changed(chat->cluster->ctx, ip, true);
    return true;
}

bool nt_chat_unban(struct nt_chat *chat, const char *ip)
{
    for (size_t i = 0; i < chat->n_bans; i++) {
        if (strcmp(chat->bans[i], ip) == 0) {
            free(chat->bans[i]);
            chat->bans[i] = chat->bans[--chat->n_bans];
            if (chat->on_bans_changed != NULL)
                chat->on_bans_changed(chat->bans_ctx);
            if (chat->cluster != NULL)
                chat->cluster->bans_changed(chat->cluster->ctx, ip, false);
            return true;
        }
    }
    return false;
}

/* --- saying things ------------------------------------------------------------------------ */

/* Relays a line of chat text (§3.2) or an action (§7.5) to m's room and its history. */
static void say(struct nt_chat *chat, struct nt_member *m, enum nt_event_kind kind,
                const char *text, size_t n)
{
    if (chat->cfg->log_messages)
        NT_INFO("conn=%llu %s%s%s%.*s", (unsigned long long)m->id, kind == NT_EV_ACTION ? "* " : "",
                m->name, kind == NT_EV_ACTION ? " " : ": ", (int)n, text);
    chat->lines_received++;
    struct nt_event_fields f = {.text = text, .text_len = n};
    struct nt_event *ev = event(chat, kind, m, &f);
    publish(chat, ev, m);
    nt_hub_remember(&chat->hub, m->room, ev);
    broadcast(chat, m->room, ev, m);
    nt_event_unref(ev);
}

/* --- commands (PROTOCOL.md §7) -------------------------------------------------------------- */

static void usage(struct nt_chat *chat, struct nt_member *m, enum nt_command_id id)
{
    reply(chat, m, "Usage: %s", nt_command_info(id)->usage);
}

static void cmd_help(struct nt_chat *chat, struct nt_member *m)
{
    size_t n;
    const struct nt_command_info *table = nt_command_table(&n);
    reply(chat, m, "Commands (start a line with // to send one that begins with /):");
    for (size_t i = 0; i < n; i++)
        reply(chat, m, "%s - %s", table[i].usage, table[i].help);
}

/* A member's name, and in a cluster (with_node) its node: "Alice (north)". */
static void add_name(const struct nt_chat *chat, struct sbuf *b, const struct nt_member *o,
                     bool with_node)
{
    sb_add(b, o->name, o->name_len);
    if (with_node && chat->cluster != NULL) {
        sb_str(b, " (");
        sb_str(b, o->node != NULL ? o->node : chat->cluster->node);
        sb_str(b, ")");
    }
}

/* "NAME, NAME, ... and N more" of room's members. */
static void list_members(const struct nt_chat *chat, struct sbuf *b, const struct nt_room *room,
                         bool with_node)
{
    size_t i = 0;
    for (const struct nt_list *node = room->members.next; node != &room->members;
         node = node->next, i++) {
        if (i == NT_CHAT_LIST_MAX) {
            sb_printf(b, " and %zu more", room->count - NT_CHAT_LIST_MAX);
            return;
        }
        const struct nt_member *o = NT_CONTAINER_OF_CONST(node, struct nt_seat, room_link)->member;
        if (i > 0)
            sb_str(b, ", ");
        add_name(chat, b, o, with_node);
    }
}

/* Replies with the first NT_CHAT_LIST_MAX rooms, one line each from line(). */
static void each_room(struct nt_chat *chat, struct nt_member *m,
                      void (*line)(struct nt_chat *chat, struct nt_member *m,
                                   const struct nt_room *room))
{
    const struct nt_hub *hub = &chat->hub;
    size_t i = 0;
    for (const struct nt_list *node = hub->rooms.next; node != &hub->rooms;
         node = node->next, i++) {
        if (i == NT_CHAT_LIST_MAX) {
            reply(chat, m, "and %zu more rooms", hub->n_rooms - NT_CHAT_LIST_MAX);
            break;
        }
        line(chat, m, NT_CONTAINER_OF_CONST(node, struct nt_room, link));
    }
}

static void who_line(struct nt_chat *chat, struct nt_member *m, const struct nt_room *room)
{
    struct sbuf b = {0};
    sb_printf(&b, "%s (%zu): ", room->name, room->count);
    list_members(chat, &b, room, true);
    send_notice(chat, m, &b);
}

static void cmd_who(struct nt_chat *chat, struct nt_member *m, const char *arg, size_t len)
{
    const struct nt_hub *hub = &chat->hub;
    if (len == 0) {
        struct sbuf b = {0};
        sb_printf(&b, "%zu in %s: ", m->room->count, m->room->name);
        list_members(chat, &b, m->room, false);
        send_notice(chat, m, &b);
        return;
    }
    if (len != 1 || arg[0] != '*') {
        usage(chat, m, NT_CMD_WHO);
        return;
    }
    size_t people = nt_chat_people(chat);
    reply(chat, m, "%zu %s in %zu %s:", people, people == 1 ? "person" : "people", hub->n_rooms,
          hub->n_rooms == 1 ? "room" : "rooms");
    each_room(chat, m, who_line);
    /* IRC users may be in no room; they are people of the chat too (PROTOCOL.md §7.3). */
    struct sbuf b = {0};
    size_t n = 0;
    for (const struct nt_list *node = chat->members.next; node != &chat->members;
         node = node->next) {
        const struct nt_member *o = NT_CONTAINER_OF_CONST(node, struct nt_member, all_link);
        if (o->n_seats > 0)
            continue;
        if (n < NT_CHAT_LIST_MAX) {
            sb_str(&b, n > 0 ? ", " : "");
            add_name(chat, &b, o, true);
        }
        n++;
    }
    if (n == 0)
        return;
    struct sbuf line = {0};
    sb_printf(&line, "in no room (%zu): ", n);
    sb_add(&line, b.p, b.len);
    if (n > NT_CHAT_LIST_MAX)
        sb_printf(&line, " and %zu more", n - NT_CHAT_LIST_MAX);
    free(b.p);
    send_notice(chat, m, &line);
}

static void rooms_line(struct nt_chat *chat, struct nt_member *m, const struct nt_room *room)
{
    reply(chat, m, "%s: %zu", room->name, room->count);
}

static void cmd_rooms(struct nt_chat *chat, struct nt_member *m)
{
    const struct nt_hub *hub = &chat->hub;
    reply(chat, m, "%zu %s:", hub->n_rooms, hub->n_rooms == 1 ? "room" : "rooms");
    each_room(chat, m, rooms_line);
}

/* Checks the one-word argument of command id against the name rules; replies with the usage
 * (none given) or why not, and returns false. */
static bool check_word(struct nt_chat *chat, struct nt_member *m, enum nt_command_id id,
                       const char *arg, size_t len, bool is_room)
{
    if (len == 0) {
        usage(chat, m, id);
        return false;
    }
    enum nt_name_check check = nt_names_check(arg, len);
    if (check == NT_NAME_OK)
        return true;
    const char *why = nt_names_check_message(check);
    if (is_room)
        reply(chat, m, "Room n%s", why + 1); /* "Name cannot ..." -> "Room name cannot ..." */
    else
        reply(chat, m, "%s", why);
    return false;
}

/* Renames m to name[0..len) (valid, not taken by another): the event to m's rooms and m. */
static void rename_to(struct nt_chat *chat, struct nt_member *m, const char *name, size_t len)
{
    struct nt_event_fields f = {.target = name, .target_len = len};
    struct nt_event *ev = event(chat, NT_EV_RENAME, m, &f); /* actor: the old name */
    publish(chat, ev, m);
    bool is_other = nt_names_find(&chat->names, name, len) != m; /* not a change of case */
    nt_names_remove(&chat->names, m->name, m->name_len);
    nt_names_add(&chat->names, name, len, m);
    if (m->node != NULL)
        NT_INFO("cluster: %s of %s renamed to %.*s", m->name, m->node, (int)len, name);
    else
        NT_INFO("conn=%llu peer=%s renamed %s to %.*s", (unsigned long long)m->id, m->peer, m->name,
                (int)len, name);
    if (chat->cluster != NULL && m->node == NULL && is_other)
        chat->cluster->release(chat->cluster->ctx, m, m->name, m->name_len);
    free(m->name);
    m->name = nt_xstrndup(name, len);
    m->name_len = len;
    nt_hub_broadcast_shared(&chat->hub, m, ev, NULL, on_full, chat); /* §7.3: m sees it too */
    if (m->n_seats != 1 && m->seen != ev->id)
        deliver(chat, m, ev); /* in no room, or a many-room broadcast passed it by */
    nt_event_unref(ev);
}

static enum nt_chat_result try_rename(struct nt_chat *chat, struct nt_member *m, const char *name,
                                      size_t len, enum nt_name_check *check)
{
    *check = nt_names_check(name, len);
    if (*check != NT_NAME_OK)
        return NT_CHAT_INVALID;
    struct nt_member *owner = nt_names_find(&chat->names, name, len);
    if (owner != NULL && owner != m)
        return NT_CHAT_TAKEN;
    if (len == m->name_len && memcmp(name, m->name, len) == 0)
        return NT_CHAT_SAME;
    if (owner == NULL) { /* a new name, not m's own in another case */
        switch (gate(chat, m, name, len)) {
        case GATE_PENDING:
            return NT_CHAT_PENDING;
        case GATE_TAKEN:
            return NT_CHAT_TAKEN;
        case GATE_OK:
            break;
        }
    }
    rename_to(chat, m, name, len);
    return NT_CHAT_OK;
}

static void cmd_nick(struct nt_chat *chat, struct nt_member *m, const char *arg, size_t len)
{
    if (len == 0) {
        usage(chat, m, NT_CMD_NICK);
        return;
    }
    enum nt_name_check check;
    switch (try_rename(chat, m, arg, len, &check)) {
    case NT_CHAT_INVALID:
        reply(chat, m, "%s", nt_names_check_message(check));
        break;
    case NT_CHAT_TAKEN:
        reply(chat, m, "Name \"%.*s\" is already taken.", (int)len, arg);
        break;
    case NT_CHAT_SAME:
        reply(chat, m, "You are already %s", m->name);
        break;
    default:
        break;
    }
}

/* Delivers a private event of kind from m to target (and back to m with NT_MEMBER_ECHO). */
static void tell(struct nt_chat *chat, struct nt_member *m, struct nt_member *target,
                 enum nt_event_kind kind, const char *text, size_t len, const char *tags,
                 size_t tags_len)
{
    struct nt_event_fields f = {.target = target->name,
                                .target_len = target->name_len,
                                .text = text,
                                .text_len = len,
                                .tags = tags,
                                .tags_len = tags_len};
    struct nt_event *ev = event(chat, kind, m, &f);
    if (target->node != NULL)
        publish(chat, ev, m);
    deliver(chat, target, ev);
    if ((m->flags & NT_MEMBER_ECHO) && target != m)
        deliver(chat, m, ev);
    nt_event_unref(ev);
}

static void cmd_msg(struct nt_chat *chat, struct nt_member *m, const char *arg, size_t len)
{
    const char *to, *text;
    size_t to_len, text_len;
    if (!nt_command_split(arg, len, &to, &to_len, &text, &text_len) || text_len == 0) {
        usage(chat, m, NT_CMD_MSG);
        return;
    }
    struct nt_member *target = nt_names_find(&chat->names, to, to_len);
    if (target == NULL || target->state != NT_MEMBER_IN) {
        reply(chat, m, "No such user: %.*s", (int)to_len, to);
        return;
    }
    tell(chat, m, target, NT_EV_PRIVATE, text, text_len, NULL, 0);
}

static void cmd_join(struct nt_chat *chat, struct nt_member *m, const char *arg, size_t len)
{
    if (!check_word(chat, m, NT_CMD_JOIN, arg, len, true))
        return;
    struct nt_room *to = nt_hub_find(&chat->hub, arg, len);
    if (to == m->room) {
        reply(chat, m, "You are already in %s", m->room->name);
        return;
    }
    /* The new room's name as the others will see it: as first spelled, if it exists. */
    char *to_name = to ? nt_xstrndup(to->name, to->name_len) : nt_xstrndup(arg, len);
    struct nt_event_fields f = {.target = to_name, .target_len = strlen(to_name)};
    struct nt_event *ev = event(chat, NT_EV_PART, m, &f);
    publish(chat, ev, m);
    broadcast(chat, m->room, ev, m); /* §7.6 */
    nt_event_unref(ev);
    nt_hub_leave_room(&chat->hub, m, m->room);
    enter_room(chat, m, to_name, strlen(to_name), false);
    free(to_name);
}

/* Constant-time comparison, so the time a wrong password takes tells nothing about it. */
static bool password_matches(const char *want, const char *got, size_t got_len)
{
    size_t want_len = strlen(want);
    unsigned char diff = (unsigned char)(want_len != got_len);
    for (size_t i = 0; i < got_len; i++)
        diff |= (unsigned char)(got[i] ^ want[i < want_len ? i : 0]);
    return diff == 0;
}

static enum nt_chat_result oper(struct nt_chat *chat, struct nt_member *m, const char *arg,
                                size_t len)
{
    const struct nt_config *cfg = chat->cfg;
    if (m->is_oper)
        return NT_CHAT_SAME;
    if (cfg->oper_password[0] == '\0' || !password_matches(cfg->oper_password, arg, len)) {
        NT_WARN("conn=%llu peer=%s name=%s /oper: wrong password", (unsigned long long)m->id,
                m->peer, m->name);
        return NT_CHAT_DENIED;
    }
    m->is_oper = true;
    chat->n_opers++;
    NT_INFO("conn=%llu peer=%s name=%s is now an operator", (unsigned long long)m->id, m->peer,
            m->name);
    return NT_CHAT_OK;
}

static void cmd_oper(struct nt_chat *chat, struct nt_member *m, const char *arg, size_t len)
{
    switch (oper(chat, m, arg, len)) {
    case NT_CHAT_SAME:
        reply(chat, m, "You are already an operator");
        break;
    case NT_CHAT_DENIED:
        reply(chat, m, "Permission denied");
        break;
    default:
        reply(chat, m, "You are now an operator");
        break;
    }
}

/* Whether a and b are in one room together. */
static bool shares_room(const struct nt_member *a, const struct nt_member *b)
{
    for (const struct nt_list *node = b->seats.next; node != &b->seats; node = node->next) {
        if (nt_hub_seat(a, NT_CONTAINER_OF_CONST(node, struct nt_seat, member_link)->room) != NULL)
            return true;
    }
    return false;
}

/* Drops target with a kick or ban event to its room (§7.10). */
static void kick(struct nt_chat *chat, struct nt_member *m, struct nt_member *target,
                 enum nt_event_kind kind, const char *why, size_t why_len, const char *reason)
{
    const char *verb = kind == NT_EV_BAN ? "banned" : "kicked";
    struct nt_event_fields f = {.target = target->name,
                                .target_len = target->name_len,
                                .text = why,
                                .text_len = why_len,
                                .reason = reason,
                                .room = target->room ? target->room->name : NULL,
                                .room_len = target->room ? target->room->name_len : 0};
    struct nt_event *ev = event(chat, kind, m, &f);
    publish(chat, ev, m);
    struct sbuf b = {0};
    sb_printf(&b, " was %s by %s", verb, m->name);
    if (why_len > 0) {
        sb_str(&b, " (");
        sb_add(&b, why, why_len);
        sb_str(&b, ")");
    }
    if (!shares_room(m, target)) /* an operator elsewhere is told too, once */
        reply(chat, m, "%s%s", target->name, b.p);
    NT_INFO("conn=%llu peer=%s name=%s%s", (unsigned long long)target->id, target->peer,
            target->name, b.p);
    struct sbuf g = {0};
    sb_printf(&g, "*** You were %s by %s", verb, m->name);
    if (why_len > 0) {
        sb_str(&g, " (");
        sb_add(&g, why, why_len);
        sb_str(&g, ")");
    }
    sb_str(&g, " ***");
    mark(chat, target, reason, g.p, ev); /* the event replaces "has left the chat" */
    free(g.p);
    free(b.p);
}

static void cmd_kick(struct nt_chat *chat, struct nt_member *m, enum nt_command_id id,
                     const char *arg, size_t len)
{
    const char *who, *why;
    size_t who_len, why_len;
    if (!nt_command_split(arg, len, &who, &who_len, &why, &why_len) ||
        (id == NT_CMD_BAN && why_len > 0)) {
        usage(chat, m, id);
        return;
    }
    struct nt_member *target = nt_names_find(&chat->names, who, who_len);
    if (target == NULL || target->state != NT_MEMBER_IN) {
        reply(chat, m, "No such user: %.*s", (int)who_len, who);
        return;
    }
    if (id == NT_CMD_BAN) {
        if (target->node == NULL) /* a user of another node: its node bans its address */
            nt_chat_ban(chat, target->ip);
        NT_INFO("conn=%llu peer=%s name=%s banned %s", (unsigned long long)m->id, m->peer, m->name,
                target->ip);
        kick(chat, m, target, NT_EV_BAN, "", 0, "banned");
    } else {
        kick(chat, m, target, NT_EV_KICK, why, why_len, "kicked");
    }
}

static void cmd_bans(struct nt_chat *chat, struct nt_member *m)
{
    if (chat->n_bans == 0) {
        reply(chat, m, "No banned addresses");
        return;
    }
    struct sbuf b = {0};
    sb_str(&b, "Banned addresses: ");
    for (size_t i = 0; i < chat->n_bans && i < NT_CHAT_LIST_MAX; i++) {
        if (i > 0)
            sb_str(&b, ", ");
        sb_str(&b, chat->bans[i]);
    }
    if (chat->n_bans > NT_CHAT_LIST_MAX)
        sb_printf(&b, " and %zu more", chat->n_bans - NT_CHAT_LIST_MAX);
    send_notice(chat, m, &b);
}

static void cmd_unban(struct nt_chat *chat, struct nt_member *m, const char *arg, size_t len)
{
    char ip[64];
    if (len == 0 || len >= sizeof(ip) || memchr(arg, ' ', len) != NULL) {
        usage(chat, m, NT_CMD_UNBAN);
        return;
    }
    memcpy(ip, arg, len);
    ip[len] = '\0';
    if (nt_chat_unban(chat, ip)) {
        NT_INFO("conn=%llu peer=%s name=%s unbanned %s", (unsigned long long)m->id, m->peer,
                m->name, ip);
        reply(chat, m, "%s is no longer banned", ip);
    } else {
        reply(chat, m, "%s is not banned", ip);
    }
}

/* /wall: everybody, in every room or none, once. */
static void wall(struct nt_chat *chat, struct nt_member *m, const char *text, size_t len)
{
    struct nt_event_fields f = {.text = text, .text_len = len};
    struct nt_event *ev = event(chat, NT_EV_WALL, m, &f);
    publish(chat, ev, m);
    for (struct nt_list *node = chat->members.next; node != &chat->members; node = node->next)
        deliver(chat, NT_CONTAINER_OF(node, struct nt_member, all_link), ev);
    nt_event_unref(ev);
}

static void cmd_wall(struct nt_chat *chat, struct nt_member *m, const char *arg, size_t len)
{
    if (len == 0) {
        usage(chat, m, NT_CMD_WALL);
        return;
    }
    wall(chat, m, arg, len);
}

static void quit(struct nt_chat *chat, struct nt_member *m, const char *arg, size_t len)
{
    if (len > 0) {
        free(m->parting);
        m->parting = nt_xstrndup(arg, len);
    }
    mark(chat, m, "quit", NULL, NULL);
}

/* Sets or clears room's topic: the event to the room, the setter included (§7.6.1). */
static void set_topic(struct nt_chat *chat, struct nt_member *m, struct nt_room *room,
                      const char *text, size_t len)
{
    nt_hub_set_topic(room, text, len, m->name, (uint64_t)time(NULL));
    struct nt_event_fields f = {
        .room = room->name, .room_len = room->name_len, .text = text, .text_len = len};
    struct nt_event *ev = event(chat, NT_EV_TOPIC, m, &f);
    publish(chat, ev, m);
    broadcast(chat, room, ev, NULL);
    nt_event_unref(ev);
}

static void cmd_topic(struct nt_chat *chat, struct nt_member *m, const char *arg, size_t len)
{
    struct nt_room *room = m->room;
    if (len == 0) {
        if (room->topic != NULL)
            reply(chat, m, "Topic of %s: %s", room->name, room->topic);
        else
            reply(chat, m, "No topic is set for %s", room->name);
        return;
    }
    if (len > NT_TOPIC_MAX) {
        reply(chat, m, "Topic too long (at most %d bytes)", NT_TOPIC_MAX);
        return;
    }
    if (len == 1 && arg[0] == '-')
        len = 0; /* "/topic -" clears it */
    set_topic(chat, m, room, arg, len);
}

static void command(struct nt_chat *chat, struct nt_member *m, const struct nt_command *cmd)
{
    const struct nt_command_info *info = nt_command_info(cmd->id);
    if (info != NULL && info->is_oper && !m->is_oper) {
        reply(chat, m, "Permission denied: /%s is for operators", info->name);
        return;
    }
    const char *arg = cmd->arg;
    size_t len = cmd->arg_len;
    bool takes_no_arg = cmd->id == NT_CMD_HELP || cmd->id == NT_CMD_ROOMS || cmd->id == NT_CMD_BANS;
    if ((takes_no_arg && len > 0) || (cmd->id == NT_CMD_OPER && len == 0)) {
        usage(chat, m, cmd->id);
        return;
    }
    switch (cmd->id) {
    case NT_CMD_HELP:
        cmd_help(chat, m);
        break;
    case NT_CMD_WHO:
        cmd_who(chat, m, arg, len);
        break;
    case NT_CMD_NICK:
        cmd_nick(chat, m, arg, len);
        break;
    case NT_CMD_ME:
        if (len == 0)
            usage(chat, m, NT_CMD_ME);
        else
            say(chat, m, NT_EV_ACTION, arg, len);
        break;
    case NT_CMD_MSG:
        cmd_msg(chat, m, arg, len);
        break;
    case NT_CMD_JOIN:
        cmd_join(chat, m, arg, len);
        break;
    case NT_CMD_ROOMS:
        cmd_rooms(chat, m);
        break;
    case NT_CMD_QUIT:
        quit(chat, m, arg, len);
        break;
    case NT_CMD_TOPIC:
        cmd_topic(chat, m, arg, len);
        break;
    case NT_CMD_OPER:
        cmd_oper(chat, m, arg, len);
        break;
    case NT_CMD_KICK:
    case NT_CMD_BAN:
        cmd_kick(chat, m, cmd->id, arg, len);
        break;
    case NT_CMD_UNBAN:
        cmd_unban(chat, m, arg, len);
        break;
    case NT_CMD_BANS:
        cmd_bans(chat, m);
        break;
    case NT_CMD_WALL:
        cmd_wall(chat, m, arg, len);
        break;
    default:
        reply(chat, m, "Unknown command: /%.*s. Type /help for the commands.", (int)cmd->name_len,
              cmd->name);
        break;
    }
}

void nt_chat_line(struct nt_chat *chat, struct nt_member *m, const char *line, size_t len)
{
    if (m->state != NT_MEMBER_IN)
        return;
    size_t n = nt_text_sanitize(line, len, chat->scratch); /* §3.1 */
    const char *text = nt_text_trim(chat->scratch, &n);
    if (n == 0)
        return;
    enter(chat);
    struct nt_command cmd;
    nt_command_parse(text, n, &cmd);
    if (cmd.id == NT_CMD_NONE)
        say(chat, m, NT_EV_SAY, cmd.arg, cmd.arg_len); /* §3.2 */
    else
        command(chat, m, &cmd);
    done(chat);
}

/* --- the calls of richer doors (IRC) ------------------------------------------------------- */

struct nt_member *nt_chat_find(const struct nt_chat *chat, const char *name, size_t len)
{
    return nt_names_find(&chat->names, name, len);
}

size_t nt_chat_people(const struct nt_chat *chat)
{
    return chat->names.count;
}

/* The room called name that m is in: OK, NO_ROOM or NOT_IN_ROOM. */
static enum nt_chat_result room_of(struct nt_chat *chat, const struct nt_member *m,
                                   const char *name, size_t len, struct nt_room **room)
{
    *room = nt_hub_find(&chat->hub, name, len);
    if (*room == NULL)
        return NT_CHAT_NO_ROOM;
    return nt_hub_seat(m, *room) ? NT_CHAT_OK : NT_CHAT_NOT_IN_ROOM;
}

enum nt_chat_result nt_chat_enter(struct nt_chat *chat, struct nt_member *m, const char *name,
                                  size_t len, enum nt_name_check *check, struct nt_room **room)
{
    *room = NULL;
    *check = nt_names_check(name, len);
    if (*check != NT_NAME_OK)
        return NT_CHAT_INVALID;
    if (m->state != NT_MEMBER_IN)
        return NT_CHAT_OK; /* being dropped: nothing more happens to it */
    struct nt_room *r = nt_hub_find(&chat->hub, name, len);
    if (r != NULL && nt_hub_seat(m, r) != NULL) {
        *room = r;
        return NT_CHAT_SAME;
    }
    if (m->n_seats >= NT_CHAT_MAX_ROOMS)
        return NT_CHAT_TOO_MANY;
    enter(chat);
    r = nt_hub_enter(&chat->hub, m, name, len);
    bool is_lobby = nt_hub_find(&chat->hub, NT_LOBBY, strlen(NT_LOBBY)) == r;
    struct nt_event_fields f = {.room = r->name, .room_len = r->name_len};
    struct nt_event *ev = event(chat, is_lobby ? NT_EV_JOIN : NT_EV_ENTER, m, &f);
    publish(chat, ev, m);
    broadcast(chat, r, ev, (m->flags & NT_MEMBER_SEES_OWN) ? NULL : m);
    nt_event_unref(ev);
    *room = r;
    done(chat);
    return NT_CHAT_OK;
}

void nt_chat_replay(struct nt_chat *chat, struct nt_member *m, struct nt_room *room)
{
    if (m->state != NT_MEMBER_IN || nt_hub_seat(m, room) == NULL)
        return;
    enter(chat);
    if (nt_hub_replay(&chat->hub, room, m) != 0)
        on_full(chat, m);
    done(chat);
}

enum nt_chat_result nt_chat_part(struct nt_chat *chat, struct nt_member *m, const char *name,
                                 size_t name_len, const char *words, size_t words_len)
{
    struct nt_room *room;
    enum nt_chat_result res = room_of(chat, m, name, name_len, &room);
    if (res != NT_CHAT_OK || m->state != NT_MEMBER_IN)
        return res;
    enter(chat);
    struct nt_event_fields f = {
        .room = room->name, .room_len = room->name_len, .text = words, .text_len = words_len};
    struct nt_event *ev = event(chat, NT_EV_PART, m, &f);
    publish(chat, ev, m);
    broadcast(chat, room, ev, (m->flags & NT_MEMBER_SEES_OWN) ? NULL : m);
    nt_event_unref(ev);
    /* Leaving a room is no delivery: the room may go now (nobody walks it). */
    nt_hub_leave_room(&chat->hub, m, room);
    done(chat);
    return NT_CHAT_OK;
}

enum nt_chat_result nt_chat_say(struct nt_chat *chat, struct nt_member *m, const char *name,
                                size_t name_len, enum nt_event_kind kind, const char *text,
                                size_t len, const char *tags, size_t tags_len)
{
    struct nt_room *room;
    enum nt_chat_result res = room_of(chat, m, name, name_len, &room);
    if (res != NT_CHAT_OK || m->state != NT_MEMBER_IN)
        return res;
    enter(chat);
    bool is_chat = kind == NT_EV_SAY || kind == NT_EV_ACTION;
    if (is_chat) {
        chat->lines_received++;
        if (chat->cfg->log_messages)
            NT_INFO("conn=%llu %s%s%s%.*s", (unsigned long long)m->id,
                    kind == NT_EV_ACTION ? "* " : "", m->name, kind == NT_EV_ACTION ? " " : ": ",
                    (int)len, text);
    }
    struct nt_event_fields f = {.room = room->name,
                                .room_len = room->name_len,
                                .text = text,
                                .text_len = len,
                                .tags = tags,
                                .tags_len = tags_len};
    struct nt_event *ev = event(chat, kind, m, &f);
    publish(chat, ev, m);
    if (is_chat)
        nt_hub_remember(&chat->hub, room, ev);
    broadcast(chat, room, ev, m);
    if (m->flags & NT_MEMBER_ECHO)
        deliver(chat, m, ev);
    nt_event_unref(ev);
    done(chat);
    return NT_CHAT_OK;
}

enum nt_chat_result nt_chat_tell(struct nt_chat *chat, struct nt_member *m, const char *to,
                                 size_t to_len, enum nt_event_kind kind, const char *text,
                                 size_t len, const char *tags, size_t tags_len,
                                 const struct nt_member **target)
{
    struct nt_member *t = nt_names_find(&chat->names, to, to_len);
    *target = t;
    if (t == NULL || t->state != NT_MEMBER_IN)
        return NT_CHAT_NO_USER;
    if (m->state != NT_MEMBER_IN)
        return NT_CHAT_OK;
    enter(chat);
    tell(chat, m, t, kind, text, len, tags, tags_len);
    done(chat);
    return NT_CHAT_OK;
}

enum nt_chat_result nt_chat_rename(struct nt_chat *chat, struct nt_member *m, const char *name,
                                   size_t len, enum nt_name_check *check)
{
    if (m->state != NT_MEMBER_IN) {
        *check = NT_NAME_OK;
        return NT_CHAT_SAME;
    }
    enter(chat);
    enum nt_chat_result res = try_rename(chat, m, name, len, check);
    done(chat);
    return res;
}

enum nt_chat_result nt_chat_topic(struct nt_chat *chat, struct nt_member *m, const char *name,
                                  size_t name_len, const char *text, size_t len)
{
    struct nt_room *room;
    enum nt_chat_result res = room_of(chat, m, name, name_len, &room);
    if (res != NT_CHAT_OK || m->state != NT_MEMBER_IN)
        return res;
    if (len > NT_TOPIC_MAX)
        return NT_CHAT_TOO_LONG;
    enter(chat);
    set_topic(chat, m, room, text, len);
    done(chat);
    return NT_CHAT_OK;
}

void nt_chat_away(struct nt_chat *chat, struct nt_member *m, const char *text, size_t len)
{
    if (m->state != NT_MEMBER_IN)
        return;
    if (len > NT_AWAY_MAX) {
        len = NT_AWAY_MAX;
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
            len--; /* never cut a UTF-8 character in two */
    }
    if (len == 0 && m->away == NULL)
        return;
    free(m->away);
    m->away = len > 0 ? nt_xstrndup(text, len) : NULL;
    enter(chat);
    struct nt_event_fields f = {.text = text, .text_len = len};
    struct nt_event *ev = event(chat, NT_EV_AWAY, m, &f);
    publish(chat, ev, m);
    nt_hub_broadcast_shared(&chat->hub, m, ev, m, on_full, chat);
    nt_event_unref(ev);
    done(chat);
}

enum nt_chat_result nt_chat_oper(struct nt_chat *chat, struct nt_member *m, const char *password,
                                 size_t len)
{
    return oper(chat, m, password, len);
}

enum nt_chat_result nt_chat_kick(struct nt_chat *chat, struct nt_member *m, const char *who,
                                 size_t who_len, const char *why, size_t why_len)
{
    if (!m->is_oper)
        return NT_CHAT_DENIED;
    struct nt_member *target = nt_names_find(&chat->names, who, who_len);
    if (target == NULL || target->state != NT_MEMBER_IN)
        return NT_CHAT_NO_USER;
    if (m->state != NT_MEMBER_IN)
        return NT_CHAT_OK;
    enter(chat);
    kick(chat, m, target, NT_EV_KICK, why, why_len, "kicked");
    done(chat);
    return NT_CHAT_OK;
}

enum nt_chat_result nt_chat_wall(struct nt_chat *chat, struct nt_member *m, const char *text,
                                 size_t len)
{
    if (!m->is_oper)
        return NT_CHAT_DENIED;
    if (m->state != NT_MEMBER_IN)
        return NT_CHAT_OK;
    enter(chat);
    wall(chat, m, text, len);
    done(chat);
    return NT_CHAT_OK;
}

void nt_chat_quit(struct nt_chat *chat, struct nt_member *m, const char *words, size_t len)
{
    enter(chat);
    quit(chat, m, words, len);
    done(chat);
}

/* --- the calls of the cluster -------------------------------------------------------------- */

enum nt_chat_join_result nt_chat_ghost_add(struct nt_chat *chat, struct nt_member *g,
                                           const char *name, size_t len, uint64_t claimed_ms)
{
    NT_ASSERT(g->node != NULL && g->state == NT_MEMBER_OUT);
    if (nt_names_check(name, len) != NT_NAME_OK)
        return NT_CHAT_NAME_INVALID;
    if (nt_names_add(&chat->names, name, len, g) != 0)
        return NT_CHAT_NAME_TAKEN;
    g->name = nt_xstrndup(name, len);
    g->name_len = len;
    g->state = NT_MEMBER_IN;
    g->claimed_ms = claimed_ms;
    nt_list_append(&chat->members, &g->all_link);
    NT_DEBUG("cluster: %s of %s is here", g->name, g->node);
    return NT_CHAT_JOINED;
}

/* ghost g's seat in the room called name, taken if g is not in it yet (no event: the caller's
 * event says what happened); NULL for a name no room may have. */
static struct nt_room *ghost_seat(struct nt_chat *chat, struct nt_member *g, const char *name,
                                  size_t len)
{
    if (nt_names_check(name, len) != NT_NAME_OK)
        return NULL;
    struct nt_room *room = nt_hub_find(&chat->hub, name, len);
    if (room != NULL && nt_hub_seat(g, room) != NULL)
        return room;
    if (room == NULL && g->n_seats >= NT_CHAT_MAX_ROOMS)
        return NULL;
    return nt_hub_enter(&chat->hub, g, name, len);
}

/* The event f describes, by ghost g, stamped with when it happened on its node. */
static struct nt_event *ghost_event(struct nt_chat *chat, struct nt_member *g,
                                    enum nt_event_kind kind, const struct nt_event_fields *f,
                                    uint64_t time_ms)
{
    struct nt_event_fields ff = *f;
    ff.actor = g->name;
    ff.actor_len = g->name_len;
    ff.actor_id = g->id;
    struct nt_event *ev = nt_event_new(kind, ++chat->next_event_id, &ff);
    if (time_ms != 0)
        ev->time_ms = time_ms;
    return ev;
}

static void apply(struct nt_chat *chat, struct nt_member *g, enum nt_event_kind kind,
                  const struct nt_event_fields *f, uint64_t time_ms)
{
    struct nt_room *room = NULL;
    struct nt_member *t =
        f->target_len > 0 ? nt_names_find(&chat->names, f->target, f->target_len) : NULL;
    bool to_room = f->room_len > 0;
    switch (kind) {
    case NT_EV_SAY:
    case NT_EV_ACTION:
    case NT_EV_NOTE:
    case NT_EV_TAGMSG:
        if (kind == NT_EV_TAGMSG && !to_room)
            goto private;
        if ((room = ghost_seat(chat, g, f->room, f->room_len)) == NULL)
            return;
        break;
    case NT_EV_PRIVATE:
    case NT_EV_PRIVATE_ACTION:
    case NT_EV_PRIVATE_NOTE:
      private:
        if (t == NULL || t->node != NULL || t->state != NT_MEMBER_IN)
            return; /* not here: its own node has it, or it is gone */
        break;
    case NT_EV_JOIN:
    case NT_EV_ENTER:
        room = nt_names_check(f->room, f->room_len) == NT_NAME_OK
                   ? nt_hub_find(&chat->hub, f->room, f->room_len)
                   : NULL;
        if (room != NULL && nt_hub_seat(g, room) != NULL)
            return; /* known already (a snapshot came first) */
        if ((room = ghost_seat(chat, g, f->room, f->room_len)) == NULL)
            return;
        break;
    case NT_EV_PART:
    case NT_EV_TOPIC:
        room = nt_hub_find(&chat->hub, f->room, f->room_len);
        if (room == NULL || nt_hub_seat(g, room) == NULL)
            return;
        break;
    case NT_EV_RENAME:
        if (nt_names_check(f->target, f->target_len) != NT_NAME_OK || (t != NULL && t != g))
            return; /* a clash: the cluster settles it before (door/cluster.c) */
        break;
    case NT_EV_KICK:
    case NT_EV_BAN:
        if (t == NULL || t->state != NT_MEMBER_IN)
            return;
        break;
    case NT_EV_LEAVE:
    case NT_EV_AWAY:
    case NT_EV_WALL:
        break;
    default:
        return; /* NOTICE: a node's replies stay on it */
    }
    if (kind == NT_EV_RENAME) {
        rename_to(chat, g, f->target, f->target_len);
        return;
    }
    if (kind == NT_EV_KICK || kind == NT_EV_BAN) {
        if (kind == NT_EV_BAN && t->node == NULL)
            nt_chat_ban(chat, t->ip);
        kick(chat, g, t, kind, f->text, f->text_len, kind == NT_EV_BAN ? "banned" : "kicked");
        return;
    }
    /* Names as they are here, not as the other node spelled them. */
    struct nt_event_fields shown = *f;
    const struct nt_room *at = room != NULL ? room : g->room;
    shown.room = at != NULL ? at->name : NULL;
    shown.room_len = at != NULL ? at->name_len : 0;
    shown.target = t != NULL ? t->name : NULL;
    shown.target_len = t != NULL ? t->name_len : 0;
    if (kind == NT_EV_PART && nt_names_check(f->target, f->target_len) == NT_NAME_OK) {
        shown.target = f->target; /* a line user's /join: the room it left for */
        shown.target_len = f->target_len;
    }
    struct nt_event *ev = ghost_event(chat, g, kind, &shown, time_ms);
    switch (kind) {
    case NT_EV_SAY:
    case NT_EV_ACTION:
        nt_hub_remember(&chat->hub, room, ev);
        broadcast(chat, room, ev, g);
        break;
    case NT_EV_NOTE:
    case NT_EV_JOIN:
    case NT_EV_ENTER:
        broadcast(chat, room, ev, g);
        break;
    case NT_EV_TAGMSG:
        if (to_room)
            broadcast(chat, room, ev, g);
        else
            deliver(chat, t, ev);
        break;
    case NT_EV_PRIVATE:
    case NT_EV_PRIVATE_ACTION:
    case NT_EV_PRIVATE_NOTE:
        deliver(chat, t, ev);
        break;
    case NT_EV_PART:
        broadcast(chat, room, ev, g);
        nt_hub_leave_room(&chat->hub, g, room);
        break;
    case NT_EV_TOPIC:
        nt_hub_set_topic(room, f->text, f->text_len, g->name, ev->time_ms / 1000);
        broadcast(chat, room, ev, g);
        break;
    case NT_EV_AWAY:
        free(g->away);
        g->away = f->text_len > 0 ? nt_xstrndup(f->text, f->text_len) : NULL;
        nt_hub_broadcast_shared(&chat->hub, g, ev, g, on_full, chat);
        break;
    case NT_EV_WALL:
        for (struct nt_list *node = chat->members.next; node != &chat->members; node = node->next) {
            struct nt_member *o = NT_CONTAINER_OF(node, struct nt_member, all_link);
            if (o->node == NULL)
                deliver(chat, o, ev);
        }
        break;
    case NT_EV_LEAVE:
        leave_told(chat, g, f->reason != NULL ? f->reason : "left", nt_event_ref(ev), true);
        break;
    default:
        break;
    }
    nt_event_unref(ev);
}

void nt_chat_apply(struct nt_chat *chat, struct nt_member *g, enum nt_event_kind kind,
                   const struct nt_event_fields *f, uint64_t time_ms)
{
    NT_ASSERT(g->node != NULL);
    if (g->state != NT_MEMBER_IN)
        return;
    enter(chat);
    apply(chat, g, kind, f, time_ms);
    done(chat);
}

void nt_chat_ghost_leave(struct nt_chat *chat, struct nt_member *g, const char *reason,
                         bool is_told)
{
    NT_ASSERT(g->node != NULL);
    if (g->state == NT_MEMBER_DROPPING) {
        nt_list_remove(&g->drop_link);
        if (g->drop_ev != NULL)
            nt_event_unref(g->drop_ev);
        g->drop_ev = NULL;
        free(g->drop_goodbye);
        g->drop_goodbye = NULL;
        g->state = NT_MEMBER_IN;
    }
    if (g->state != NT_MEMBER_IN)
        return;
    enter(chat);
    leave_told(chat, g, reason, NULL, is_told);
    done(chat);
}

void nt_chat_force_rename(struct nt_chat *chat, struct nt_member *m, const char *name, size_t len,
                          const char *text)
{
    if (m->state != NT_MEMBER_IN || nt_names_find(&chat->names, name, len) != NULL)
        return;
    enter(chat);
    reply(chat, m, "%s", text); /* why, then the rename as everyone sees it */
    rename_to(chat, m, name, len);
    m->claimed_ms = nt_wall_ms();
    done(chat);
}

void nt_chat_notice_all(struct nt_chat *chat, const char *text)
{
    enter(chat);
    for (struct nt_list *node = chat->members.next; node != &chat->members; node = node->next) {
        struct nt_member *m = NT_CONTAINER_OF(node, struct nt_member, all_link);
        if (m->node == NULL)
            reply(chat, m, "%s", text);
    }
    done(chat);
}

void nt_chat_ghost_seat(struct nt_chat *chat, struct nt_member *g, const char *name, size_t len)
{
    NT_ASSERT(g->node != NULL);
    if (g->state == NT_MEMBER_IN)
        ghost_seat(chat, g, name, len);
}

void nt_chat_remember(struct nt_chat *chat, enum nt_event_kind kind,
                      const struct nt_event_fields *f, uint64_t time_ms, bool is_first)
{
    if ((kind != NT_EV_SAY && kind != NT_EV_ACTION) ||
        nt_names_check(f->actor, f->actor_len) != NT_NAME_OK)
        return;
    struct nt_room *room = nt_hub_find(&chat->hub, f->room, f->room_len);
    if (room == NULL || room->history == NULL)
        return;
    if (is_first)
        nt_hub_forget_history(&chat->hub, room);
    struct nt_event_fields ff = *f;
    ff.room = room->name;
    ff.room_len = room->name_len;
    ff.target = ff.reason = NULL;
    ff.target_len = 0;
    struct nt_event *ev = nt_event_new(kind, ++chat->next_event_id, &ff);
    if (time_ms != 0)
        ev->time_ms = time_ms;
    nt_hub_remember(&chat->hub, room, ev);
    nt_event_unref(ev);
}
