/* SPDX-License-Identifier: MIT */
/* line.c - the HOWTO's line protocol: name prompt, lines, echo mode, and its event encoder. */
#include "door/line.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/flood.h"
#include "lib/framer.h"
#include "lib/log.h"
#include "lib/text.h"
#include "lib/ws.h"

#define MAX_NAME_ATTEMPTS 5
#define SLOW_GOODBYE      "Disconnected: too slow to receive messages."

/* One client of the line door. */
struct session {
    struct nt_member member; /* the chat's view of it */
    struct nt_line_door *door;
    struct nt_conn *conn;    /* borrowed: it owns the session and frees it in on_closed */
    struct nt_framer framer; /* owned buffer */
    struct nt_flood flood;
    unsigned fmt;           /* its event slot: door->fmt, or door->ws_fmt over WebSocket */
    unsigned name_attempts; /* refused names so far */
    bool is_echo;
    char *waiting; /* owned: the line whose name the other nodes are asked for, or NULL */
    size_t waiting_len;
};

static struct session *session_of(struct nt_conn *c)
{
    return c->ctx;
}

/* --- the encoder -------------------------------------------------------------------------- */

#define NOTICE_PARTS 6

/* "*** " + parts (at most NOTICE_PARTS) + " ***\n" */
static struct nt_msg *notice(const char *const *parts, const size_t *lens, size_t n)
{
    const char *all[NOTICE_PARTS + 2];
    size_t all_lens[NOTICE_PARTS + 2];
    NT_ASSERT(n <= NOTICE_PARTS);
    if (n > NOTICE_PARTS)
        n = NOTICE_PARTS; /* unreachable; says so to cppcheck */
    all[0] = "*** ";
    all_lens[0] = 4;
    for (size_t i = 0; i < n; i++) {
        all[i + 1] = parts[i];
        all_lens[i + 1] = lens[i];
    }
    all[n + 1] = " ***\n";
    all_lens[n + 1] = 5;
    return nt_msg_concat(all, all_lens, n + 2);
}

struct nt_msg *nt_line_encode(const struct nt_event *ev)
{
    switch (ev->kind) {
    case NT_EV_SAY: { /* §3.2 */
        const char *p[] = {ev->actor, ": ", ev->text, "\n"};
        const size_t l[] = {ev->actor_len, 2, ev->text_len, 1};
        return nt_msg_concat(p, l, 4);
    }
    case NT_EV_ACTION: { /* §7.5 */
        const char *p[] = {"* ", ev->actor, " ", ev->text, "\n"};
        const size_t l[] = {2, ev->actor_len, 1, ev->text_len, 1};
        return nt_msg_concat(p, l, 5);
    }
    case NT_EV_PRIVATE: { /* §7.4 */
        const char *p[] = {"[private] ", ev->actor, ": ", ev->text, "\n"};
        const size_t l[] = {10, ev->actor_len, 2, ev->text_len, 1};
        return nt_msg_concat(p, l, 5);
    }
    case NT_EV_JOIN: { /* §2.6 */
        const char *p[] = {ev->actor, " has joined the chat"};
        const size_t l[] = {ev->actor_len, 20};
        return notice(p, l, 2);
    }
    case NT_EV_ENTER: { /* §7.6 */
        const char *p[] = {ev->actor, " has joined ", ev->room};
        const size_t l[] = {ev->actor_len, 12, ev->room_len};
        return notice(p, l, 3);
    }
    case NT_EV_PART: { /* §7.6, §8.6 */
        if (ev->target_len > 0) {
            const char *p[] = {ev->actor, " left for ", ev->target};
            const size_t l[] = {ev->actor_len, 10, ev->target_len};
            return notice(p, l, 3);
        }
        if (ev->text_len == 0) {
            const char *p[] = {ev->actor, " has left ", ev->room};
            const size_t l[] = {ev->actor_len, 10, ev->room_len};
            return notice(p, l, 3);
        }
        const char *p[] = {ev->actor, " has left ", ev->room, " (", ev->text, ")"};
        const size_t l[] = {ev->actor_len, 10, ev->room_len, 2, ev->text_len, 1};
        return notice(p, l, 6);
    }
    case NT_EV_PRIVATE_ACTION: { /* §8.6 */
        const char *p[] = {"[private] * ", ev->actor, " ", ev->text, "\n"};
        const size_t l[] = {12, ev->actor_len, 1, ev->text_len, 1};
        return nt_msg_concat(p, l, 5);
    }
    case NT_EV_NOTE:
    case NT_EV_PRIVATE_NOTE: { /* §8.6 */
        const char *p[] = {"-", ev->actor, "- ", ev->text, "\n"};
        const size_t l[] = {1, ev->actor_len, 2, ev->text_len, 1};
        return nt_msg_concat(p, l, 5);
    }
    case NT_EV_TOPIC: { /* §7.6.1 */
        if (ev->text_len == 0) {
            const char *p[] = {ev->actor, " cleared the topic"};
            const size_t l[] = {ev->actor_len, 18};
            return notice(p, l, 2);
        }
        const char *p[] = {ev->actor, " set the topic: ", ev->text};
        const size_t l[] = {ev->actor_len, 16, ev->text_len};
        return notice(p, l, 3);
    }
    case NT_EV_AWAY:
    case NT_EV_TAGMSG:
        return nt_msg_from_str(""); /* line users never see them (deliver skips them) */
    case NT_EV_LEAVE: {             /* §4.1, §7.7 */
        if (ev->text_len == 0) {
            const char *p[] = {ev->actor, " has left the chat"};
            const size_t l[] = {ev->actor_len, 18};
            return notice(p, l, 2);
        }
        const char *p[] = {ev->actor, " has left the chat (", ev->text, ")"};
        const size_t l[] = {ev->actor_len, 20, ev->text_len, 1};
        return notice(p, l, 4);
    }
    case NT_EV_KICK:
    case NT_EV_BAN: { /* §7.10 */
        const char *verb = ev->kind == NT_EV_BAN ? " was banned by " : " was kicked by ";
        if (ev->text_len == 0) {
            const char *p[] = {ev->target, verb, ev->actor};
            const size_t l[] = {ev->target_len, strlen(verb), ev->actor_len};
            return notice(p, l, 3);
        }
        const char *p[] = {ev->target, verb, ev->actor, " (", ev->text, ")"};
        const size_t l[] = {ev->target_len, strlen(verb), ev->actor_len, 2, ev->text_len, 1};
        return notice(p, l, 6);
    }
    case NT_EV_RENAME: { /* §7.3 */
        const char *p[] = {ev->actor, " is now known as ", ev->target};
        const size_t l[] = {ev->actor_len, 17, ev->target_len};
        return notice(p, l, 3);
    }
    case NT_EV_WALL: { /* §7.10 */
        const char *p[] = {"Notice from ", ev->actor, ": ", ev->text};
        const size_t l[] = {12, ev->actor_len, 2, ev->text_len};
        return notice(p, l, 4);
    }
    case NT_EV_NOTICE:
    default: {
        const char *p[] = {ev->text};
        const size_t l[] = {ev->text_len};
        return notice(p, l, 1);
    }
    }
}

/* --- the member's operations -------------------------------------------------------------- */

/* natter.line over WebSocket: each line one text message without its LF, built once per event. */
static struct nt_msg *encode_ws(const struct nt_event *ev)
{
    struct nt_msg *line = nt_line_encode(ev);
    struct nt_msg *frames = nt_ws_frame_lines(NT_WS_TEXT, line->data, line->len);
    nt_msg_unref(line);
    return frames;
}

static int deliver(struct nt_member *m, struct nt_event *ev)
{
    struct session *s = NT_CONTAINER_OF(m, struct session, member);
    if (ev->kind == NT_EV_AWAY || ev->kind == NT_EV_TAGMSG)
        return 0; /* §8.6: nothing a line user sees */
    int rc = nt_conn_send(s->conn, nt_event_bytes(ev, s->fmt));
    return rc == UV_ENOBUFS ? -1 : 0;
}

static void goodbye(struct nt_member *m, const char *text, const char *reason,
                    const struct nt_event *why)
{
    (void)why; /* the core's text says it: "*** You were kicked by Op (why) ***" */
    struct session *s = NT_CONTAINER_OF(m, struct session, member);
    nt_conn_goodbye(s->conn, text, reason);
}

static void resume(struct nt_member *m)
{
    nt_conn_resume(NT_CONTAINER_OF(m, struct session, member)->conn);
}

static const struct nt_member_ops member_ops = {
    .deliver = deliver, .goodbye = goodbye, .resume = resume};

/* Sends the session's own bytes (not an event); a client over its cap is cut off. */
static void send_parts(struct session *s, const char *const *parts, const size_t *lens, size_t n)
{
    struct nt_msg *msg = nt_msg_concat(parts, lens, n);
    int rc = nt_conn_send_text(s->conn, msg);
    nt_msg_unref(msg);
    if (rc == UV_ENOBUFS)
        nt_conn_goodbye(s->conn, SLOW_GOODBYE, "slow");
}

/* --- the protocol ------------------------------------------------------------------------- */

/* Counts a refused name (§2.3): the reason, then the prompt again, or the goodbye after 5. */
static void refuse_name(struct session *s, const char *why)
{
    s->name_attempts++;
    if (s->name_attempts >= MAX_NAME_ATTEMPTS) {
        const char *parts[] = {why, "\n"};
        const size_t lens[] = {strlen(why), 1};
        send_parts(s, parts, lens, 2);
        nt_conn_goodbye(s->conn, "Too many invalid names; disconnecting.", "name-attempts");
        return;
    }
    const struct nt_msg *prompt = s->door->prompt;
    const char *parts[] = {why, "\n", prompt->data};
    const size_t lens[] = {strlen(why), 1, prompt->len};
    send_parts(s, parts, lens, 3);
}

static void take_name(struct session *s, const char *line, size_t len)
{
    const char *name = nt_text_trim(line, &len);
    enum nt_name_check check;
    switch (nt_chat_join(s->door->chat, &s->member, name, len, &check)) {
    case NT_CHAT_JOINED:
        if (s->member.state == NT_MEMBER_IN)
            nt_conn_set_deadline(s->conn, NT_TIMEOUT_IDLE);
        break;
    case NT_CHAT_NAME_INVALID:
        refuse_name(s, nt_names_check_message(check));
        break;
    case NT_CHAT_NAME_TAKEN: {
        char why[NT_NAME_MAX_BYTES + 64];
        snprintf(why, sizeof(why), "Name \"%.*s\" is already taken.", (int)len, name);
        refuse_name(s, why);
        break;
    }
    case NT_CHAT_NAME_PENDING: /* handle_line keeps the line for resume() */
        break;
    }
}

static void echo(struct session *s, const char *line, size_t len)
{
    /* §6: exactly as sent, so the CR the framer took off goes back. */
    const char *end = s->framer.had_cr ? "\r\n" : "\n";
    const char *parts[] = {line, end};
    const size_t lens[] = {len, strlen(end)};
    send_parts(s, parts, lens, 2);
}

static void handle_line(struct session *s, const char *line, size_t len)
{
    if (s->is_echo) {
        nt_conn_touch(s->conn);
        echo(s, line, len);
    } else if (s->member.state == NT_MEMBER_OUT) {
        take_name(s, line, len);
    } else if (s->member.state == NT_MEMBER_IN) {
        nt_conn_touch(s->conn);
        nt_chat_line(s->door->chat, &s->member, line, len);
    }
    if (s->member.claim_state == NT_CLAIM_PENDING && s->waiting == NULL) {
        s->waiting = nt_xstrndup(line, len); /* offered again when the answer comes */
        s->waiting_len = len;
    }
}

/* The line that waited for the other nodes' answer, offered again (it is there now). Returns
 * false while it still waits. */
static bool retry_waiting(struct session *s)
{
    if (s->waiting == NULL)
        return true;
    if (s->member.claim_state == NT_CLAIM_PENDING)
        return false;
    char *line = s->waiting;
    s->waiting = NULL;
    handle_line(s, line, s->waiting_len);
    free(line);
    return s->waiting == NULL;
}

static void line_too_long(struct session *s)
{
    char why[96];
    snprintf(why, sizeof(why), "Line too long (more than %llu bytes); not sent.",
             (unsigned long long)s->door->cfg->max_line);
    if (!s->is_echo && s->member.state == NT_MEMBER_OUT) {
        refuse_name(s, why); /* §3.4: an over-long name line is a refused name */
        return;
    }
    if (!s->is_echo && s->member.state != NT_MEMBER_IN)
        return;
    nt_conn_touch(s->conn);
    const char *parts[] = {why, "\n"};
    const size_t lens[] = {strlen(why), 1};
    send_parts(s, parts, lens, 2);
}

/* --- the conn handler --------------------------------------------------------------------- */

static size_t on_data(struct nt_conn *c, const char *data, size_t len)
{
    struct session *s = session_of(c);
    const struct nt_config *cfg = s->door->cfg;
    bool paced = !s->is_echo;
    const char *in = data;
    size_t in_len = len;
    if (!retry_waiting(s))
        return 0; /* the rest waits (the conn keeps it) */
    while (in_len > 0 && c->state == NT_CONN_OPEN) {
        /* §7.9: a line costs one token; none left, the rest waits (the conn keeps it). */
        if (paced && !nt_flood_ready(&s->flood, cfg->rate, cfg->burst, nt_conn_now_ms(c)))
            return len - in_len;
        const char *line;
        size_t line_len;
        enum nt_frame_result res = nt_framer_next(&s->framer, &in, &in_len, &line, &line_len);
        if (res == NT_FRAME_MORE)
            break;
        if (paced)
            nt_flood_spend(&s->flood, cfg->rate, cfg->burst);
        if (res == NT_FRAME_LINE)
            handle_line(s, line, line_len);
        else
            line_too_long(s);
        if (s->waiting != NULL)
            return len - in_len; /* a name asked of the other nodes: the rest waits */
    }
    return len;
}

/* The peer half-closed. Like the HOWTO's readline(), a last line without LF still counts (§5.1);
 * then what is queued for it is still sent (it may be reading). */
static void on_eof(struct nt_conn *c)
{
    struct session *s = session_of(c);
    const char *line;
    size_t line_len;
    /* Over WebSocket a rest without LF is a message that never got its final frame: dropped
     * (RFC 6455 §5.4, PROTOCOL.md §9.3). */
    if (nt_framer_end(&s->framer, &line, &line_len) == NT_FRAME_LINE && nt_conn_framing(c) == 0)
        handle_line(s, line, line_len);
    nt_conn_goodbye(c, NULL, "closed");
}

static void on_end(struct nt_conn *c, const char *reason)
{
    struct session *s = session_of(c);
    if (s->is_echo) {
        NT_INFO("Connection from %s closed", c->peer);
        return;
    }
    if (s->member.state == NT_MEMBER_OUT) {
        NT_DEBUG("conn=%llu peer=%s closed before naming: %s", (unsigned long long)c->id, c->peer,
                 reason);
        return;
    }
    nt_chat_leave(s->door->chat, &s->member, reason);
}

static void on_timeout(struct nt_conn *c, enum nt_timeout_kind kind)
{
    if (kind == NT_TIMEOUT_NAME)
        nt_conn_goodbye(c, "Disconnected: no valid name given in time.", "name-timeout"); /* §2.4 */
    else
        nt_conn_goodbye(c, "Disconnected: idle timeout.", "idle"); /* §4.2 */
}

static void on_closed(struct nt_conn *c)
{
    struct session *s = session_of(c);
    nt_chat_leave(s->door->chat, &s->member, c->reason ? c->reason : "error");
    nt_member_fini(&s->member);
    nt_framer_fini(&s->framer);
    free(s->waiting);
    free(s);
}

static const struct nt_conn_handler handler = {
    .name = "line",
    .on_data = on_data,
    .on_eof = on_eof,
    .on_end = on_end,
    .on_timeout = on_timeout,
    .on_closed = on_closed,
};

void nt_line_door_init(struct nt_line_door *door, struct nt_chat *chat, const struct nt_config *cfg)
{
    door->chat = chat;
    door->cfg = cfg;
    door->fmt = nt_event_format_register(nt_line_encode);
    door->ws_fmt = nt_event_format_register(encode_ws);
    door->prompt = nt_msg_from_str("Enter your name: ");
}

void nt_line_door_reload(struct nt_line_door *door, struct nt_net *net)
{
    for (struct nt_list *l = net->conns.next; l != &net->conns; l = l->next) {
        struct nt_conn *c = NT_CONTAINER_OF(l, struct nt_conn, all_link);
        if (c->h == &handler)
            nt_framer_set_max(&session_of(c)->framer, door->cfg->max_line);
    }
}

void nt_line_door_fini(struct nt_line_door *door)
{
    nt_msg_unref(door->prompt);
    door->prompt = NULL;
}

void nt_line_door_open(struct nt_line_door *door, struct nt_conn *c)
{
    struct session *s = nt_xcalloc(1, sizeof(*s));
    s->door = door;
    s->conn = c;
    s->is_echo = door->cfg->echo;
    nt_member_init(&s->member, &member_ops, c->id, c->peer, c->ip);
    bool is_ws = nt_conn_framing(c) != 0;
    s->fmt = is_ws ? door->ws_fmt : door->fmt;
    if (is_ws)
        s->member.door = "line over WebSocket";
    /* Chat mode strips telnet commands; echo mode returns the bytes untouched (§5.2). */
    nt_framer_init(&s->framer, door->cfg->max_line, !s->is_echo);
    nt_flood_init(&s->flood, door->cfg->burst, nt_conn_now_ms(c));
    nt_conn_set_handler(c, &handler, s);
    if (s->is_echo) {
        NT_INFO("New connection from %s", c->peer);
        nt_conn_set_deadline(c, NT_TIMEOUT_IDLE);
        return;
    }
    nt_conn_set_deadline(c, NT_TIMEOUT_NAME); /* set once; a name line does not move it */
    if (nt_conn_send_text(c, door->prompt) == UV_ENOBUFS) /* §2.1 */
        nt_conn_goodbye(c, SLOW_GOODBYE, "slow");
}
