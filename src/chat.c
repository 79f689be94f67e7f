/* SPDX-License-Identifier: MIT */
/* chat.c - the protocol state machine: name prompt, messages, commands, notices (PROTOCOL.md). */
#include "chat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "hub.h"
#include "log.h"
#include "names.h"
#include "server.h"
#include "text.h"

/* Lists in replies (/who, /rooms) stop after this many entries, so that no reply can come near
 * --max-output and get its asker dropped as too slow. */
#define LIST_MAX 100

/* A growable string for building reply lines. */
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

/* Wraps b as a server line, "*** TEXT ***\n", and returns it as a message (b is emptied). */
static struct nt_msg *sb_notice(struct sbuf *b)
{
    const char *parts[] = {"*** ", b->p ? b->p : "", " ***\n"};
    const size_t lens[] = {4, b->len, 5};
    struct nt_msg *msg = nt_msg_concat(parts, lens, 3);
    free(b->p);
    *b = (struct sbuf){0};
    return msg;
}

/* Sends c the server line built in b (b is emptied). */
static void send_notice(struct nt_conn *c, struct sbuf *b)
{
    struct nt_msg *msg = sb_notice(b);
    nt_conn_send(c, msg);
    nt_msg_unref(msg);
}

/* Broadcasts the server line built in b to room (NULL: every room) but except (b is emptied). */
static void broadcast_notice(struct nt_server *srv, struct nt_room *room, struct sbuf *b,
                             const struct nt_conn *except)
{
    struct nt_msg *msg = sb_notice(b);
    nt_hub_broadcast(&srv->hub, room, msg, except);
    nt_msg_unref(msg);
}

/* Sends c one server line, "*** TEXT ***" (PROTOCOL.md §7). */
__attribute__((format(printf, 2, 3))) static void reply(struct nt_conn *c, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    struct sbuf b = {0};
    sb_str(&b, text);
    send_notice(c, &b);
}

/* Broadcasts "*** NAME<middle> ***" to room (NULL: everyone) but except. */
static void notice(struct nt_conn *c, struct nt_room *room, const char *middle,
                   const struct nt_conn *except)
{
    const char *parts[] = {"*** ", c->name, middle, " ***\n"};
    const size_t lens[] = {4, c->name_len, strlen(middle), 5};
    struct nt_msg *msg = nt_msg_concat(parts, lens, 4);
    nt_hub_broadcast(&c->srv->hub, room, msg, except);
    nt_msg_unref(msg);
}

void nt_chat_start(struct nt_conn *c)
{
    struct nt_server *srv = c->srv;
    if (c->state == NT_CONN_ECHO) {
        NT_INFO("New connection from %s", c->peer);
        nt_timeouts_set(&srv->timeouts, &c->timeout, NT_TIMEOUT_IDLE);
        return;
    }
    nt_conn_send(c, srv->prompt); /* §2.1 */
    nt_timeouts_set(&srv->timeouts, &c->timeout, NT_TIMEOUT_NAME);
}

/* Counts a refused name (§2.3): the reason, then the prompt again, or the goodbye after 5. */
static void refuse_name(struct nt_conn *c, const char *why)
{
    c->name_attempts++;
    size_t why_len = strlen(why);
    if (c->name_attempts >= NT_MAX_NAME_ATTEMPTS) {
        const char *parts[] = {why, "\n"};
        const size_t lens[] = {why_len, 1};
        struct nt_msg *msg = nt_msg_concat(parts, lens, 2);
        nt_conn_send(c, msg);
        nt_msg_unref(msg);
        nt_conn_goodbye(c, "Too many invalid names; disconnecting.", "name-attempts");
        return;
    }
    const struct nt_msg *prompt = c->srv->prompt;
    const char *parts[] = {why, "\n", prompt->data};
    const size_t lens[] = {why_len, 1, prompt->len};
    struct nt_msg *msg = nt_msg_concat(parts, lens, 3);
    nt_conn_send(c, msg);
    nt_msg_unref(msg);
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

/* Puts c into the room called name: notices, the line for c, the room's history (§7.6). */
static void enter_room(struct nt_conn *c, const char *name, size_t len, bool is_first)
{
    struct nt_server *srv = c->srv;
    struct nt_room *room = nt_hub_enter(&srv->hub, c, name, len);
    struct sbuf b = {0};
    if (is_first) {
        notice(c, room, " has joined the chat", c); /* §2.6 */
        sb_printf(&b, "Welcome to %s, %s: ", room->name, c->name);
        say_others(&b, room->count - 1);
        sb_str(&b, ". Type /help for the commands.");
    } else {
        struct sbuf n = {0};
        sb_printf(&n, "%s has joined %s", c->name, room->name);
        broadcast_notice(srv, room, &n, c);
        sb_printf(&b, "You are now in %s: ", room->name);
        say_others(&b, room->count - 1);
    }
    send_notice(c, &b);
    nt_hub_replay(&srv->hub, room, c); /* §7.8: history, before any live line */
}

static void take_name(struct nt_conn *c, const char *line, size_t len)
{
    struct nt_server *srv = c->srv;
    const char *name = nt_text_trim(line, &len);
    enum nt_name_check check = nt_names_check(name, len);
    if (check != NT_NAME_OK) {
        refuse_name(c, nt_names_check_message(check));
        return;
    }
    if (nt_names_add(&srv->names, name, len, c) == -EEXIST) {
        char why[NT_NAME_MAX_BYTES + 64];
        snprintf(why, sizeof(why), "Name \"%.*s\" is already taken.", (int)len, name);
        refuse_name(c, why);
        return;
    }
    c->name = nt_xstrndup(name, len);
    c->name_len = len;
    c->state = NT_CONN_NAMED;
    nt_timeouts_set(&srv->timeouts, &c->timeout, NT_TIMEOUT_IDLE);
    NT_INFO("conn=%llu peer=%s joined as %s", (unsigned long long)c->id, c->peer, c->name);
    enter_room(c, NT_LOBBY, strlen(NT_LOBBY), true);
}

/* Relays a line of chat text (§3.2) or an action (§7.5) to c's room and its history. */
static void say(struct nt_conn *c, const char *pre, const char *sep, const char *text, size_t n)
{
    struct nt_server *srv = c->srv;
    if (srv->cfg->log_messages)
        NT_INFO("conn=%llu %s%s%s%.*s", (unsigned long long)c->id, pre, c->name, sep, (int)n, text);
    const char *parts[] = {pre, c->name, sep, text, "\n"};
    const size_t lens[] = {strlen(pre), c->name_len, strlen(sep), n, 1};
    struct nt_msg *msg = nt_msg_concat(parts, lens, 5);
    nt_hub_remember(&srv->hub, c->room, msg);
    nt_hub_broadcast(&srv->hub, c->room, msg, c);
    nt_msg_unref(msg);
}

static void usage(struct nt_conn *c, enum nt_command_id id)
{
    reply(c, "Usage: %s", nt_command_info(id)->usage);
}

static void cmd_help(struct nt_conn *c)
{
    size_t n;
    const struct nt_command_info *table = nt_command_table(&n);
    reply(c, "Commands (start a line with // to send one that begins with /):");
    for (size_t i = 0; i < n; i++)
        reply(c, "%s - %s", table[i].usage, table[i].help);
}

/* "NAME, NAME, ... and N more" of room's members. */
static void list_members(struct sbuf *b, const struct nt_room *room)
{
    size_t i = 0;
    for (const struct nt_list *node = room->members.next; node != &room->members;
         node = node->next, i++) {
        if (i == LIST_MAX) {
            sb_printf(b, " and %zu more", room->count - LIST_MAX);
            return;
        }
        const struct nt_conn *m = NT_CONTAINER_OF_CONST(node, struct nt_conn, hub_link);
        if (i > 0)
            sb_str(b, ", ");
        sb_add(b, m->name, m->name_len);
    }
}

static void cmd_who(struct nt_conn *c, const char *arg, size_t len)
{
    const struct nt_hub *hub = &c->srv->hub;
    struct sbuf b = {0};
    if (len == 0) {
        sb_printf(&b, "%zu in %s: ", c->room->count, c->room->name);
        list_members(&b, c->room);
        send_notice(c, &b);
        return;
    }
    if (len != 1 || arg[0] != '*') {
        usage(c, NT_CMD_WHO);
        return;
    }
    reply(c, "%zu %s in %zu %s:", hub->n_members, hub->n_members == 1 ? "person" : "people",
          hub->n_rooms, hub->n_rooms == 1 ? "room" : "rooms");
    size_t i = 0;
    for (const struct nt_list *node = hub->rooms.next; node != &hub->rooms;
         node = node->next, i++) {
        if (i == LIST_MAX) {
            reply(c, "and %zu more rooms", hub->n_rooms - LIST_MAX);
            break;
        }
        const struct nt_room *room = NT_CONTAINER_OF_CONST(node, struct nt_room, link);
        sb_printf(&b, "%s (%zu): ", room->name, room->count);
        list_members(&b, room);
        send_notice(c, &b);
    }
}

static void cmd_rooms(struct nt_conn *c)
{
    const struct nt_hub *hub = &c->srv->hub;
    reply(c, "%zu %s:", hub->n_rooms, hub->n_rooms == 1 ? "room" : "rooms");
    size_t i = 0;
    for (const struct nt_list *node = hub->rooms.next; node != &hub->rooms;
         node = node->next, i++) {
        if (i == LIST_MAX) {
            reply(c, "and %zu more rooms", hub->n_rooms - LIST_MAX);
            break;
        }
        const struct nt_room *room = NT_CONTAINER_OF_CONST(node, struct nt_room, link);
        reply(c, "%s: %zu", room->name, room->count);
    }
}

/* Checks the one-word argument of command id against the name rules; replies with the usage
 * (none given) or why not, and returns false. */
static bool check_word(struct nt_conn *c, enum nt_command_id id, const char *arg, size_t len,
                       const char *what)
{
    if (len == 0) {
        usage(c, id);
        return false;
    }
    enum nt_name_check check = nt_names_check(arg, len);
    if (check == NT_NAME_OK)
        return true;
    /* "Name cannot ..." becomes "Room name cannot ..." for rooms. */
    const char *why = nt_names_check_message(check);
    if (strcmp(what, "Name") == 0)
        reply(c, "%s", why);
    else
        reply(c, "%s n%s", what, why + 1); /* what is "Room": "Room name cannot ..." */
    return false;
}

static void cmd_nick(struct nt_conn *c, const char *arg, size_t len)
{
    struct nt_server *srv = c->srv;
    if (!check_word(c, NT_CMD_NICK, arg, len, "Name"))
        return;
    struct nt_conn *owner = nt_names_find(&srv->names, arg, len);
    if (owner != NULL && owner != c) {
        reply(c, "Name \"%.*s\" is already taken.", (int)len, arg);
        return;
    }
    if (len == c->name_len && memcmp(arg, c->name, len) == 0) {
        reply(c, "You are already %s", c->name);
        return;
    }
    nt_names_remove(&srv->names, c->name, c->name_len);
    nt_names_add(&srv->names, arg, len, c);
    char *old = c->name;
    c->name = nt_xstrndup(arg, len);
    c->name_len = len;
    NT_INFO("conn=%llu peer=%s renamed %s to %s", (unsigned long long)c->id, c->peer, old, c->name);
    struct sbuf b = {0};
    sb_printf(&b, "%s is now known as %s", old, c->name);
    free(old);
    broadcast_notice(srv, c->room, &b, NULL); /* §7.3: the renamer sees it too */
}

static void cmd_msg(struct nt_conn *c, const char *arg, size_t len)
{
    const char *to, *text;
    size_t to_len, text_len;
    if (!nt_command_split(arg, len, &to, &to_len, &text, &text_len) || text_len == 0) {
        usage(c, NT_CMD_MSG);
        return;
    }
    struct nt_conn *target = nt_names_find(&c->srv->names, to, to_len);
    if (target == NULL) {
        reply(c, "No such user: %.*s", (int)to_len, to);
        return;
    }
    const char *parts[] = {"[private] ", c->name, ": ", text, "\n"};
    const size_t lens[] = {10, c->name_len, 2, text_len, 1};
    struct nt_msg *msg = nt_msg_concat(parts, lens, 5);
    nt_conn_send(target, msg);
    nt_msg_unref(msg);
}

static void cmd_join(struct nt_conn *c, const char *arg, size_t len)
{
    struct nt_server *srv = c->srv;
    if (!check_word(c, NT_CMD_JOIN, arg, len, "Room"))
        return;
    struct nt_room *to = nt_hub_find(&srv->hub, arg, len);
    if (to == c->room) {
        reply(c, "You are already in %s", c->room->name);
        return;
    }
    /* The new room's name as the others will see it: as first spelled, if it exists. */
    char *to_name = to ? nt_xstrndup(to->name, to->name_len) : nt_xstrndup(arg, len);
    struct sbuf b = {0};
    sb_printf(&b, "%s left for %s", c->name, to_name);
    broadcast_notice(srv, c->room, &b, c); /* §7.6 */
    nt_hub_leave(&srv->hub, c);
    enter_room(c, to_name, strlen(to_name), false);
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

static void cmd_oper(struct nt_conn *c, const char *arg, size_t len)
{
    const struct nt_config *cfg = c->srv->cfg;
    if (c->is_oper) {
        reply(c, "You are already an operator");
        return;
    }
    if (cfg->oper_password[0] == '\0' || !password_matches(cfg->oper_password, arg, len)) {
        NT_WARN("conn=%llu peer=%s name=%s /oper: wrong password", (unsigned long long)c->id,
                c->peer, c->name);
        reply(c, "Permission denied");
        return;
    }
    c->is_oper = true;
    NT_INFO("conn=%llu peer=%s name=%s is now an operator", (unsigned long long)c->id, c->peer,
            c->name);
    reply(c, "You are now an operator");
}

/* Removes target from the chat with a notice to its room (§7.10). */
static void kick(struct nt_conn *c, struct nt_conn *target, const char *verb, const char *why,
                 size_t why_len, const char *reason)
{
    struct sbuf b = {0};
    sb_printf(&b, " was %s by %s", verb, c->name);
    if (why_len > 0) {
        sb_str(&b, " (");
        sb_add(&b, why, why_len);
        sb_str(&b, ")");
    }
    /* The notice to the room replaces "has left the chat"; an operator elsewhere is told too. */
    free(target->leave_notice);
    target->leave_notice = nt_xstrndup(b.p, b.len);
    if (target->room != c->room)
        reply(c, "%s%s", target->name, b.p);
    NT_INFO("conn=%llu peer=%s name=%s%s", (unsigned long long)target->id, target->peer,
            target->name, b.p);
    struct sbuf g = {0};
    sb_printf(&g, "*** You were %s by %s", verb, c->name);
    if (why_len > 0) {
        sb_str(&g, " (");
        sb_add(&g, why, why_len);
        sb_str(&g, ")");
    }
    sb_str(&g, " ***");
    nt_conn_goodbye(target, g.p, reason);
    free(g.p);
    free(b.p);
}

static void cmd_kick(struct nt_conn *c, enum nt_command_id id, const char *arg, size_t len)
{
    struct nt_server *srv = c->srv;
    const char *who, *why;
    size_t who_len, why_len;
    if (!nt_command_split(arg, len, &who, &who_len, &why, &why_len) ||
        (id == NT_CMD_BAN && why_len > 0)) {
        usage(c, id);
        return;
    }
    struct nt_conn *target = nt_names_find(&srv->names, who, who_len);
    if (target == NULL) {
        reply(c, "No such user: %.*s", (int)who_len, who);
        return;
    }
    if (id == NT_CMD_BAN) {
        nt_server_ban(srv, target->ip);
        NT_INFO("conn=%llu peer=%s name=%s banned %s", (unsigned long long)c->id, c->peer, c->name,
                target->ip);
        kick(c, target, "banned", "", 0, "banned");
    } else {
        kick(c, target, "kicked", why, why_len, "kicked");
    }
}

static void cmd_bans(struct nt_conn *c)
{
    struct nt_server *srv = c->srv;
    if (srv->n_bans == 0) {
        reply(c, "No banned addresses");
        return;
    }
    struct sbuf b = {0};
    sb_str(&b, "Banned addresses: ");
    for (size_t i = 0; i < srv->n_bans && i < LIST_MAX; i++) {
        if (i > 0)
            sb_str(&b, ", ");
        sb_str(&b, srv->bans[i]);
    }
    if (srv->n_bans > LIST_MAX)
        sb_printf(&b, " and %zu more", srv->n_bans - LIST_MAX);
    send_notice(c, &b);
}

static void cmd_unban(struct nt_conn *c, const char *arg, size_t len)
{
    char ip[64];
    if (len == 0 || len >= sizeof(ip) || memchr(arg, ' ', len) != NULL) {
        usage(c, NT_CMD_UNBAN);
        return;
    }
    memcpy(ip, arg, len);
    ip[len] = '\0';
    if (nt_server_unban(c->srv, ip)) {
        NT_INFO("conn=%llu peer=%s name=%s unbanned %s", (unsigned long long)c->id, c->peer,
                c->name, ip);
        reply(c, "%s is no longer banned", ip);
    } else {
        reply(c, "%s is not banned", ip);
    }
}

static void cmd_wall(struct nt_conn *c, const char *arg, size_t len)
{
    if (len == 0) {
        usage(c, NT_CMD_WALL);
        return;
    }
    struct sbuf b = {0};
    sb_printf(&b, "Notice from %s: ", c->name);
    sb_add(&b, arg, len);
    broadcast_notice(c->srv, NULL, &b, NULL);
}

static void command(struct nt_conn *c, const struct nt_command *cmd)
{
    const struct nt_command_info *info = nt_command_info(cmd->id);
    if (info != NULL && info->is_oper && !c->is_oper) {
        reply(c, "Permission denied: /%s is for operators", info->name);
        return;
    }
    const char *arg = cmd->arg;
    size_t len = cmd->arg_len;
    bool takes_no_arg = cmd->id == NT_CMD_HELP || cmd->id == NT_CMD_ROOMS || cmd->id == NT_CMD_BANS;
    if ((takes_no_arg && len > 0) || (cmd->id == NT_CMD_OPER && len == 0)) {
        usage(c, cmd->id);
        return;
    }
    switch (cmd->id) {
    case NT_CMD_HELP:
        cmd_help(c);
        break;
    case NT_CMD_WHO:
        cmd_who(c, arg, len);
        break;
    case NT_CMD_NICK:
        cmd_nick(c, arg, len);
        break;
    case NT_CMD_ME:
        if (len == 0)
            usage(c, NT_CMD_ME);
        else
            say(c, "* ", " ", arg, len);
        break;
    case NT_CMD_MSG:
        cmd_msg(c, arg, len);
        break;
    case NT_CMD_JOIN:
        cmd_join(c, arg, len);
        break;
    case NT_CMD_ROOMS:
        cmd_rooms(c);
        break;
    case NT_CMD_QUIT:
        if (len > 0) {
            struct sbuf b = {0};
            sb_str(&b, " has left the chat (");
            sb_add(&b, arg, len);
            sb_str(&b, ")");
            c->leave_notice = b.p;
        }
        nt_conn_goodbye(c, NULL, "quit");
        break;
    case NT_CMD_OPER:
        cmd_oper(c, arg, len);
        break;
    case NT_CMD_KICK:
    case NT_CMD_BAN:
        cmd_kick(c, cmd->id, arg, len);
        break;
    case NT_CMD_UNBAN:
        cmd_unban(c, arg, len);
        break;
    case NT_CMD_BANS:
        cmd_bans(c);
        break;
    case NT_CMD_WALL:
        cmd_wall(c, arg, len);
        break;
    default:
        reply(c, "Unknown command: /%.*s. Type /help for the commands.", (int)cmd->name_len,
              cmd->name);
        break;
    }
}

static void relay(struct nt_conn *c, const char *line, size_t len)
{
    struct nt_server *srv = c->srv;
    size_t n = nt_text_sanitize(line, len, srv->scratch); /* §3.1 */
    const char *text = nt_text_trim(srv->scratch, &n);
    if (n == 0)
        return;
    struct nt_command cmd;
    nt_command_parse(text, n, &cmd);
    if (cmd.id == NT_CMD_NONE)
        say(c, "", ": ", cmd.arg, cmd.arg_len); /* §3.2 */
    else
        command(c, &cmd);
}

static void echo(struct nt_conn *c, const char *line, size_t len)
{
    /* §6: exactly as sent, so the CR the framer took off goes back. */
    const char *end = c->framer.had_cr ? "\r\n" : "\n";
    const char *parts[] = {line, end};
    const size_t lens[] = {len, strlen(end)};
    struct nt_msg *msg = nt_msg_concat(parts, lens, 2);
    nt_conn_send(c, msg);
    nt_msg_unref(msg);
}

void nt_chat_line(struct nt_conn *c, const char *line, size_t len)
{
    switch (c->state) {
    case NT_CONN_NAMING:
        take_name(c, line, len);
        break;
    case NT_CONN_NAMED:
        nt_timeouts_touch(&c->srv->timeouts, &c->timeout);
        relay(c, line, len);
        break;
    case NT_CONN_ECHO:
        nt_timeouts_touch(&c->srv->timeouts, &c->timeout);
        echo(c, line, len);
        break;
    default:
        break;
    }
}

void nt_chat_line_too_long(struct nt_conn *c)
{
    char why[96];
    snprintf(why, sizeof(why), "Line too long (more than %llu bytes); not sent.",
             (unsigned long long)c->srv->cfg->max_line);
    if (c->state == NT_CONN_NAMING) {
        refuse_name(c, why); /* §3.4: an over-long name line is a refused name */
        return;
    }
    if (c->state != NT_CONN_NAMED && c->state != NT_CONN_ECHO)
        return;
    nt_timeouts_touch(&c->srv->timeouts, &c->timeout);
    size_t len = strlen(why);
    why[len++] = '\n';
    why[len] = '\0';
    nt_conn_send_str(c, why);
}

void nt_chat_timeout(struct nt_conn *c, enum nt_timeout_kind kind)
{
    if (kind == NT_TIMEOUT_NAME)
        nt_conn_goodbye(c, "Disconnected: no valid name given in time.", "name-timeout"); /* §2.4 */
    else
        nt_conn_goodbye(c, "Disconnected: idle timeout.", "idle"); /* §4.2 */
}

void nt_chat_leave(struct nt_conn *c, const char *reason)
{
    struct nt_server *srv = c->srv;
    nt_timeouts_clear(&c->timeout);
    if (!c->is_counted)
        return; /* refused at the door: never part of the chat */
    switch (c->state) {
    case NT_CONN_NAMED:
        NT_INFO("conn=%llu peer=%s name=%s left: %s", (unsigned long long)c->id, c->peer, c->name,
                reason);
        /* The notice first, while the room surely exists; c is skipped and leaves right after. */
        if (strcmp(reason, "shutdown") != 0)
            notice(c, c->room, c->leave_notice ? c->leave_notice : " has left the chat", c);
        nt_hub_leave(&srv->hub, c);
        nt_names_remove(&srv->names, c->name, c->name_len);
        break;
    case NT_CONN_ECHO:
        NT_INFO("Connection from %s closed", c->peer);
        break;
    default:
        NT_DEBUG("conn=%llu peer=%s closed before naming: %s", (unsigned long long)c->id, c->peer,
                 reason);
        break;
    }
}
