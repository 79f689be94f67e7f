/* SPDX-License-Identifier: MIT */
/* irc.c - the IRC door: registration, capabilities, commands and numerics, the IRC encoder. */
#include "door/irc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/flood.h"
#include "lib/framer.h"
#include "lib/irc.h"
#include "lib/log.h"
#include "lib/ws.h"
#include "lib/text.h"

#define SERVER           "natter"
#define MAX_NICK_REFUSED 5
#define MAX_TARGETS      4
#define PING_MAX_MS      120000u
#define REALNAME_MAX     100
/* A line we build: 512 bytes with CR LF, as the protocol allows. */
#define IRC_LINE 512

/* Capabilities (PROTOCOL.md §8.3). */
enum cap {
    CAP_AWAY_NOTIFY = 1u << 0,
    CAP_ECHO = 1u << 1,
    CAP_TAGS = 1u << 2,
    CAP_MULTI_PREFIX = 1u << 3,
    CAP_TIME = 1u << 4,
};

static const struct {
    const char *name;
    unsigned bit;
} caps[] = {
    {"away-notify", CAP_AWAY_NOTIFY},   {"echo-message", CAP_ECHO}, {"message-tags", CAP_TAGS},
    {"multi-prefix", CAP_MULTI_PREFIX}, {"server-time", CAP_TIME},
};
#define CAP_LS "away-notify echo-message message-tags multi-prefix server-time"

/* One client of the IRC door. */
struct session {
    struct nt_member member; /* the chat's view of it */
    struct nt_irc_door *door;
    struct nt_conn *conn;    /* borrowed: it owns the session and frees it in on_closed */
    struct nt_framer framer; /* owned buffer */
    struct nt_flood flood;
    char *waiting; /* owned: the line whose nick the other nodes are asked for, or NULL */
    size_t waiting_len;
    char nick[NT_NAME_MAX_BYTES + 1]; /* the nick asked for before registration */
    size_t nick_len;
    char realname[REALNAME_MAX + 1];
    unsigned caps;      /* enum cap */
    unsigned fmt;       /* the event slot for its caps */
    unsigned refused;   /* nicks refused before registration */
    bool has_user;      /* USER came */
    bool is_capping;    /* CAP LS/REQ came, CAP END not yet: registration waits */
    bool is_registered; /* in the chat (or was) */
    bool is_pinged;     /* a PING of ours waits for any line */
    bool is_over;       /* a reply went over --max-output: dropped at settle() */
};

static struct session *session_of(struct nt_conn *c)
{
    return c->ctx;
}

/* --- a growable byte buffer -------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    char small[IRC_LINE * 2];
};

static void buf_init(struct buf *b)
{
    b->p = b->small;
    b->len = 0;
    b->cap = sizeof(b->small);
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap * 2;
        while (b->len + n > cap)
            cap *= 2;
        if (b->p == b->small) {
            b->p = nt_xmalloc(cap);
            memcpy(b->p, b->small, b->len);
        } else {
            b->p = nt_xrealloc(b->p, cap);
        }
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_free(struct buf *b)
{
    if (b->p != b->small)
        free(b->p);
}

static struct nt_msg *buf_msg(struct buf *b)
{
    struct nt_msg *msg = nt_msg_new(b->len);
    memcpy(msg->data, b->p, b->len);
    if (b->p != b->small)
        free(b->p);
    return msg;
}

/* --- the encoder ------------------------------------------------------------------------- */

/* "@time=2026-12-03T11:38:49.123Z;+tag=v " as the format asks, or nothing. */
static void add_tags(struct buf *b, const struct nt_event *ev, unsigned fmt_bits)
{
    bool has_time = fmt_bits & NT_IRC_FMT_TIME;
    bool has_client = (fmt_bits & NT_IRC_FMT_TAGS) && ev->tags_len > 0;
    if (!has_time && !has_client)
        return;
    buf_add(b, "@", 1);
    if (has_time) {
        time_t secs = (time_t)(ev->time_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char t[40];
        size_t n = strftime(t, sizeof(t), "time=%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(t + n, sizeof(t) - n, ".%03uZ", (unsigned)(ev->time_ms % 1000));
        buf_add(b, t, n);
        if (has_client)
            buf_add(b, ";", 1);
    }
    if (has_client)
        buf_add(b, ev->tags, ev->tags_len);
    buf_add(b, " ", 1);
}

/* ":NICK!user@natter " where user is the nick in ASCII lower case. */
static void add_source(struct buf *b, const char *nick, size_t len)
{
    buf_add(b, ":", 1);
    buf_add(b, nick, len);
    buf_add(b, "!", 1);
    char user[NT_NAME_MAX_BYTES];
    size_t n = len < sizeof(user) ? len : sizeof(user);
    for (size_t i = 0; i < n; i++)
        user[i] = (char)((nick[i] >= 'A' && nick[i] <= 'Z') ? nick[i] + 32 : nick[i]);
    buf_add(b, user, n);
    buf_str(b, "@" SERVER " ");
}

/* What IRC says of the reason a member left or its link closed, in a QUIT (PROTOCOL.md §8.6) and
 * an ERROR (§8.9); NULL for a reason without words of its own (kicked, banned, refused). */
static const char *reason_words(const char *reason)
{
    static const struct {
        const char *reason, *words;
    } table[] = {
        {"quit", "Quit"},
        {"slow", "SendQ exceeded"},
        {"stalled", "SendQ exceeded"},
        {"memory", "SendQ exceeded"},
        {"idle", "Idle timeout"},
        {"ping", "Ping timeout"},
        {"closed", "Connection closed"},
        {"error", "Connection closed"},
        {"", "Connection closed"},
        {"name-timeout", "Registration timed out"},
        {"name-attempts", "Too many refused nicknames"},
        {"shutdown", "Server shutting down"},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(reason, table[i].reason) == 0)
            return table[i].words;
    }
    return NULL;
}

/* The QUIT text of a leave (PROTOCOL.md §8.6). */
static void add_quit_text(struct buf *b, const struct nt_event *ev)
{
    const char *r = ev->reason ? ev->reason : "";
    const char *words = reason_words(r);
    if (ev->text_len > 0) {
        buf_str(b, "Quit: ");
        buf_add(b, ev->text, ev->text_len);
    } else {
        buf_str(b, words ? words : r);
    }
}

/*
 * One or more "PREFIX CMD TARGET :TEXT" lines, TEXT cut at UTF-8 boundaries so that each line,
 * tags not counted, is at most 512 bytes with CR LF (PROTOCOL.md §8.6). wrap: CTCP ACTION.
 */
static void add_text_lines(struct buf *b, const struct nt_event *ev, unsigned fmt_bits,
                           const char *cmd, const char *target, size_t target_len, bool is_room,
                           bool is_action)
{
    /* The source: the actor's ":NICK!user@natter ", or the server's ":natter " (is_server). */
    bool is_server = ev->kind == NT_EV_NOTICE;
    size_t source = is_server ? 1 + strlen(SERVER) + 1
                              : 1 + ev->actor_len + 1 + ev->actor_len + 1 + strlen(SERVER) + 1;
    size_t head =
        source + strlen(cmd) + (target != NULL ? 1 + (is_room ? 1 : 0) + target_len : 0) + 2;
    size_t wrap = is_action ? 9 : 0; /* "\x01ACTION " + "\x01" */
    size_t room = IRC_LINE - 2 - head - wrap;
    if (head + wrap + 2 + 4 > IRC_LINE)
        room = 4; /* cannot happen with names of at most 128 bytes; keeps progress */
    const char *t = ev->text;
    size_t left = ev->text_len;
    do {
        size_t n = left < room ? left : room;
        if (n < left) {
            while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80)
                n--; /* the cut falls before a UTF-8 character, never inside one */
            if (n == 0)
                n = left < room ? left : room;
        }
        add_tags(b, ev, fmt_bits);
        if (is_server)
            buf_str(b, ":" SERVER " ");
        else
            add_source(b, ev->actor, ev->actor_len);
        buf_str(b, cmd);
        if (target != NULL) {
            buf_add(b, " ", 1);
            if (is_room)
                buf_add(b, "#", 1);
            buf_add(b, target, target_len);
        }
        buf_add(b, " :", 2);
        if (is_action)
            buf_add(b,
                    "\x01"
                    "ACTION ",
                    8);
        buf_add(b, t, n);
        if (is_action)
            buf_add(b, "\x01", 1);
        buf_add(b, "\r\n", 2);
        t += n;
        left -= n;
    } while (left > 0);
}

/* "PREFIX CMD #room" or with " :TEXT". */
static void add_simple(struct buf *b, const struct nt_event *ev, unsigned fmt_bits, const char *who,
                       size_t who_len, const char *cmd, const char *arg, size_t arg_len,
                       bool is_room, const char *text, size_t text_len, bool has_text)
{
    add_tags(b, ev, fmt_bits);
    add_source(b, who, who_len);
    buf_str(b, cmd);
    if (arg != NULL) {
        buf_add(b, " ", 1);
        if (is_room)
            buf_add(b, "#", 1);
        buf_add(b, arg, arg_len);
    }
    if (has_text) {
        /* Within 512 bytes with CR LF, tags not counted: a long nick's long reason is cut. */
        size_t head = 1 + who_len * 2 + 2 + strlen(SERVER) + 1 + strlen(cmd) +
                      (arg != NULL ? 1 + (is_room ? 1 : 0) + arg_len : 0) + 2;
        size_t room = head + 2 < IRC_LINE ? IRC_LINE - 2 - head : 0;
        if (text_len > room) {
            text_len = room;
            while (text_len > 0 && ((unsigned char)text[text_len] & 0xC0) == 0x80)
                text_len--;
        }
        buf_add(b, " :", 2);
        buf_add(b, text, text_len);
    }
    buf_add(b, "\r\n", 2);
}

struct nt_msg *nt_irc_encode(const struct nt_event *ev, unsigned fmt_bits)
{
    struct buf b;
    buf_init(&b);
    const char *a = ev->actor;
    size_t al = ev->actor_len;
    switch (ev->kind) {
    case NT_EV_SAY:
    case NT_EV_ACTION:
        add_text_lines(&b, ev, fmt_bits, "PRIVMSG", ev->room, ev->room_len, true,
                       ev->kind == NT_EV_ACTION);
        break;
    case NT_EV_PRIVATE:
    case NT_EV_PRIVATE_ACTION:
        add_text_lines(&b, ev, fmt_bits, "PRIVMSG", ev->target, ev->target_len, false,
                       ev->kind == NT_EV_PRIVATE_ACTION);
        break;
    case NT_EV_NOTE:
        add_text_lines(&b, ev, fmt_bits, "NOTICE", ev->room, ev->room_len, true, false);
        break;
    case NT_EV_PRIVATE_NOTE:
        add_text_lines(&b, ev, fmt_bits, "NOTICE", ev->target, ev->target_len, false, false);
        break;
    case NT_EV_JOIN:
    case NT_EV_ENTER:
        add_simple(&b, ev, fmt_bits, a, al, "JOIN", ev->room, ev->room_len, true, NULL, 0, false);
        break;
    case NT_EV_PART:
        if (ev->target_len > 0) { /* a line user's /join: "left for ROOM" */
            struct buf why;
            buf_init(&why);
            buf_str(&why, "left for ");
            buf_add(&why, ev->target, ev->target_len);
            add_simple(&b, ev, fmt_bits, a, al, "PART", ev->room, ev->room_len, true, why.p,
                       why.len, true);
            buf_free(&why);
        } else {
            add_simple(&b, ev, fmt_bits, a, al, "PART", ev->room, ev->room_len, true, ev->text,
                       ev->text_len, ev->text_len > 0);
        }
        break;
    case NT_EV_LEAVE: {
        struct buf why;
        buf_init(&why);
        add_quit_text(&why, ev);
        add_simple(&b, ev, fmt_bits, a, al, "QUIT", NULL, 0, false, why.p, why.len, true);
        buf_free(&why);
        break;
    }
    case NT_EV_KICK:
    case NT_EV_BAN: { /* the target leaves the whole chat: a QUIT from it */
        struct buf why;
        buf_init(&why);
        buf_str(&why, ev->kind == NT_EV_BAN ? "Banned by " : "Kicked by ");
        buf_add(&why, a, al);
        if (ev->text_len > 0) {
            buf_add(&why, " (", 2);
            buf_add(&why, ev->text, ev->text_len);
            buf_add(&why, ")", 1);
        }
        add_simple(&b, ev, fmt_bits, ev->target, ev->target_len, "QUIT", NULL, 0, false, why.p,
                   why.len, true);
        buf_free(&why);
        break;
    }
    case NT_EV_RENAME:
        add_simple(&b, ev, fmt_bits, a, al, "NICK", NULL, 0, false, ev->target, ev->target_len,
                   true);
        break;
    case NT_EV_TOPIC:
        add_simple(&b, ev, fmt_bits, a, al, "TOPIC", ev->room, ev->room_len, true, ev->text,
                   ev->text_len, true);
        break;
    case NT_EV_AWAY:
        add_simple(&b, ev, fmt_bits, a, al, "AWAY", NULL, 0, false, ev->text, ev->text_len,
                   ev->text_len > 0);
        break;
    case NT_EV_WALL: /* a long /wall goes as several WALLOPS, like a long line */
        add_text_lines(&b, ev, fmt_bits, "WALLOPS", NULL, 0, false, false);
        break;
    case NT_EV_TAGMSG:
        if (!(fmt_bits & NT_IRC_FMT_TAGS))
            break; /* only message-tags clients get it (deliver skips the others) */
        if (ev->target_len > 0)
            add_simple(&b, ev, fmt_bits, a, al, "TAGMSG", ev->target, ev->target_len, false, NULL,
                       0, false);
        else
            add_simple(&b, ev, fmt_bits, a, al, "TAGMSG", ev->room, ev->room_len, true, NULL, 0,
                       false);
        break;
    case NT_EV_NOTICE:
    default: /* a server reply to one member: ":natter NOTICE NICK :TEXT", split if long */
        if (ev->target_len > 0)
            add_text_lines(&b, ev, fmt_bits & NT_IRC_FMT_TIME, "NOTICE", ev->target, ev->target_len,
                           false, false);
        else
            add_text_lines(&b, ev, fmt_bits & NT_IRC_FMT_TIME, "NOTICE", "*", 1, false, false);
        break;
    }
    return buf_msg(&b);
}

static struct nt_msg *encode_plain(const struct nt_event *ev)
{
    return nt_irc_encode(ev, 0);
}

static struct nt_msg *encode_time(const struct nt_event *ev)
{
    return nt_irc_encode(ev, NT_IRC_FMT_TIME);
}

static struct nt_msg *encode_tags(const struct nt_event *ev)
{
    return nt_irc_encode(ev, NT_IRC_FMT_TAGS);
}

static struct nt_msg *encode_time_tags(const struct nt_event *ev)
{
    return nt_irc_encode(ev, NT_IRC_FMT_TIME | NT_IRC_FMT_TAGS);
}

/* Over WebSocket (the IRCv3 WebSocket spec): each IRC line one message, without its CR LF; the
 * frames are built once per event and format, like the plain bytes. */
static struct nt_msg *ws_encode(const struct nt_event *ev, unsigned fmt_bits, int opcode)
{
    struct nt_msg *irc = nt_irc_encode(ev, fmt_bits);
    struct nt_msg *frames = nt_ws_frame_lines((enum nt_ws_opcode)opcode, irc->data, irc->len);
    nt_msg_unref(irc);
    return frames;
}

#define WS_ENCODER(name, bits, opcode)                                                             \
    static struct nt_msg *name(const struct nt_event *ev)                                          \
    {                                                                                              \
        return ws_encode(ev, bits, opcode);                                                        \
    }
WS_ENCODER(encode_ws_plain, 0, NT_WS_TEXT)
WS_ENCODER(encode_ws_time, NT_IRC_FMT_TIME, NT_WS_TEXT)
WS_ENCODER(encode_ws_tags, NT_IRC_FMT_TAGS, NT_WS_TEXT)
WS_ENCODER(encode_ws_time_tags, NT_IRC_FMT_TIME | NT_IRC_FMT_TAGS, NT_WS_TEXT)
WS_ENCODER(encode_wsb_plain, 0, NT_WS_BINARY)
WS_ENCODER(encode_wsb_time, NT_IRC_FMT_TIME, NT_WS_BINARY)
WS_ENCODER(encode_wsb_tags, NT_IRC_FMT_TAGS, NT_WS_BINARY)
WS_ENCODER(encode_wsb_time_tags, NT_IRC_FMT_TIME | NT_IRC_FMT_TAGS, NT_WS_BINARY)

/* --- sending ----------------------------------------------------------------------------- */

/* The nick numerics are addressed to: the registered name, the asked-for nick, or "*". */
static const char *me(const struct session *s)
{
    if (s->member.name != NULL)
        return s->member.name;
    return s->nick_len > 0 ? s->nick : "*";
}

/* Queues bytes of our own. A client this takes over its output cap is only marked: it is dropped
 * as too slow when the command that sent them is done (settle()), never in the middle of a reply
 * that walks a room (the room could go with it). */
static void send_raw(struct session *s, const char *data, size_t n)
{
    if (nt_conn_send_bytes(s->conn, data, n) == UV_ENOBUFS)
        s->is_over = true;
}

/* The door's safe point, after each command: a client that went over its cap leaves. */
static void settle(struct session *s)
{
    if (!s->is_over)
        return;
    s->is_over = false;
    if (s->member.state == NT_MEMBER_IN)
        nt_chat_drop(s->door->chat, &s->member, "slow", NULL);
    else
        nt_conn_goodbye(s->conn, NULL, "slow");
}

/* Sends one line: fmt's text and CR LF, cut to 512 bytes. */
__attribute__((format(printf, 2, 3))) static void sendf(struct session *s, const char *fmt, ...)
{
    char line[IRC_LINE * 2];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 misses the va_start above */
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 1;
    if (len > IRC_LINE - 2) { /* cut to 512 bytes with CR LF, between UTF-8 characters */
        len = IRC_LINE - 2;
        while (len > 0 && ((unsigned char)line[len] & 0xC0) == 0x80)
            len--;
    }
    line[len++] = '\r';
    line[len++] = '\n';
    send_raw(s, line, len);
}

/* ":natter CODE ME " + fmt's text. */
__attribute__((format(printf, 3, 4))) static void num(struct session *s, const char *code,
                                                      const char *fmt, ...)
{
    char rest[IRC_LINE * 2 - 16];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 misses the va_start above */
    vsnprintf(rest, sizeof(rest), fmt, ap);
    va_end(ap);
    sendf(s, ":" SERVER " %s %s %s", code, me(s), rest);
}

/* A client's parameter echoed in a reply: at most 200 bytes, sanitized (§5.3), so that no CR,
 * LF or other control byte of it can reach the client's stream (PROTOCOL.md §8.9). */
#define SHOW_MAX (NT_TEXT_SANITIZED_MAX(200) + 1)
static const char *show(struct nt_irc_span sp)
{
    static char out[SHOW_MAX]; /* one per reply: each line shows one parameter */
    size_t n = nt_text_sanitize(sp.p ? sp.p : "", sp.len < 200 ? sp.len : 200, out);
    if (n > 200) { /* U+FFFDs for bad bytes take 3 each: cut between characters */
        n = 200;
        while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80)
            n--;
    }
    out[n] = '\0';
    return out;
}

static void need_more(struct session *s, const struct nt_irc_msg *msg)
{
    num(s, "461", "%s :Not enough parameters", show(msg->command));
}

/* --- the member's operations ------------------------------------------------------------- */

static int deliver(struct nt_member *m, struct nt_event *ev)
{
    struct session *s = NT_CONTAINER_OF(m, struct session, member);
    if ((ev->kind == NT_EV_AWAY && !(s->caps & CAP_AWAY_NOTIFY)) ||
        (ev->kind == NT_EV_TAGMSG && !(s->caps & CAP_TAGS)))
        return 0;
    int rc = nt_conn_send(s->conn, nt_event_bytes(ev, s->fmt));
    return rc == UV_ENOBUFS ? -1 : 0;
}

static void goodbye(struct nt_member *m, const char *text, const char *reason,
                    const struct nt_event *why)
{
    struct session *s = NT_CONTAINER_OF(m, struct session, member);
    char words[NT_CONN_GOODBYE_MAX];
    if (why != NULL && (why->kind == NT_EV_KICK || why->kind == NT_EV_BAN)) {
        /* ERROR :Closing link: Kicked by Op (why) (PROTOCOL.md §8.9) */
        const char *verb = why->kind == NT_EV_BAN ? "Banned" : "Kicked";
        if (why->text_len > 0)
            snprintf(words, sizeof(words), "%s by %s (%s)", verb, why->actor, why->text);
        else
            snprintf(words, sizeof(words), "%s by %s", verb, why->actor);
        text = words;
    }
    nt_conn_goodbye(s->conn, text, reason);
}

static void resume(struct nt_member *m)
{
    nt_conn_resume(NT_CONTAINER_OF(m, struct session, member)->conn);
}

static const struct nt_member_ops member_ops = {
    .deliver = deliver, .goodbye = goodbye, .resume = resume};

/* The conn's goodbye hook: "ERROR :Closing link: WHY" (PROTOCOL.md §8.9). */
static size_t goodbye_line(struct nt_conn *c, const char *text, const char *reason, char *out,
                           size_t cap)
{
    struct session *s = session_of(c);
    const char *parting = s != NULL && strcmp(reason, "quit") == 0 ? s->member.parting : NULL;
    const char *words = reason_words(reason);
    char tmp[NT_CONN_GOODBYE_MAX];
    const char *why = words ? words : text ? text : reason;
    if (parting != NULL) {
        snprintf(tmp, sizeof(tmp), "Quit: %s", parting);
        why = tmp;
    }
    /* Formatted whole first, so a cut to cap can see the character it falls in (§8.9). */
    char line[NT_CONN_GOODBYE_MAX + 32];
    NT_ASSERT(cap <= NT_CONN_GOODBYE_MAX);
    int n = snprintf(line, sizeof(line), "ERROR :Closing link: %s", why);
    size_t len = n < 0 ? 0 : ((size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    if (len > cap - 3) {
        len = cap - 3;
        while (len > 0 && ((unsigned char)line[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(out, line, len);
    out[len++] = '\r';
    out[len++] = '\n';
    return len;
}

/* Replies with items as "CODE ME [ARG ]:ITEM ITEM ...", in as many lines as 512 bytes need. */
struct list_reply {
    struct session *s;
    const char *code;
    const char *arg; /* repeated before the ':' of every line (319's nick), or NULL */
    char line[IRC_LINE];
    size_t len;
};

static void list_flush(struct list_reply *r, bool always)
{
    if (r->len > 0 || always)
        num(r->s, r->code, "%s%s:%.*s", r->arg ? r->arg : "", r->arg ? " " : "", (int)r->len,
            r->line);
    r->len = 0;
}

static void list_add(struct list_reply *r, const char *item, size_t n)
{
    /* ":natter CODE ME [ARG ]:" + the items + CR LF, within 512 bytes */
    size_t head = 1 + strlen(SERVER) + 1 + strlen(r->code) + 1 + strlen(me(r->s)) + 2 + 2 +
                  (r->arg ? strlen(r->arg) + 1 : 0);
    if (r->len > 0 && head + r->len + 1 + n > IRC_LINE)
        list_flush(r, false);
    if (r->len > 0)
        r->line[r->len++] = ' ';
    if (r->len + n > sizeof(r->line))
        n = sizeof(r->line) - r->len; /* cannot happen: items are far shorter than a line */
    memcpy(r->line + r->len, item, n);
    r->len += n;
}

/* --- replies ----------------------------------------------------------------------------- */

static void lusers(struct session *s)
{
    const struct nt_chat *chat = s->door->chat;
    size_t people = nt_chat_people(chat);
    num(s, "251", ":There are %zu users and 0 invisible on 1 servers", people);
    if (chat->n_opers > 0)
        num(s, "252", "%zu :operator(s) online", chat->n_opers);
    num(s, "254", "%zu :channels formed", chat->hub.n_rooms);
    num(s, "255", ":I have %zu clients and 1 servers", people);
}

static void motd(struct session *s)
{
    num(s, "375", ":- " SERVER " Message of the day -");
    num(s, "372", ":- Rooms are channels: people on nc and telnet arrive in #lobby.");
    num(s, "376", ":End of /MOTD command.");
}

static void welcome(struct session *s)
{
    const char *n = me(s);
    num(s, "001", ":Welcome to the natter IRC network, %s", n);
    num(s, "002", ":Your host is " SERVER ", running version natter-" NT_VERSION);
    num(s, "003", ":This server was created %s", s->door->created);
    num(s, "004", SERVER " natter-" NT_VERSION " io n");
    num(s, "005",
        "AWAYLEN=%d CASEMAPPING=ascii CHANLIMIT=#:%d CHANMODES=,,,n CHANNELLEN=%zu CHANTYPES=# "
        "NETWORK=natter NICKLEN=%zu PREFIX=(o)@ "
        "TARGMAX=JOIN:,PART:,PRIVMSG:%d,NOTICE:%d,TAGMSG:%d,NAMES:1,WHOIS:1,USERHOST:5,ISON: "
        "TOPICLEN=%d UTF8ONLY :are supported by this server",
        NT_AWAY_MAX, NT_CHAT_MAX_ROOMS, NT_NAME_MAX_BYTES + 1, NT_NAME_MAX_BYTES, MAX_TARGETS,
        MAX_TARGETS, MAX_TARGETS, NT_TOPIC_MAX);
    lusers(s);
    motd(s);
}

/* 332 and 333 when room has a topic; 331 (asked = TOPIC query) when it has none. */
static void topic_reply(struct session *s, const struct nt_room *room, bool asked)
{
    if (room->topic == NULL) {
        if (asked)
            num(s, "331", "#%s :No topic is set", room->name);
        return;
    }
    num(s, "332", "#%s :%s", room->name, room->topic);
    num(s, "333", "#%s %s %llu", room->name, room->topic_setter,
        (unsigned long long)room->topic_time);
}

/* 353 lines (each within 512 bytes) and 366 for room. */
static void names_reply(struct session *s, const struct nt_room *room)
{
    char line[IRC_LINE + 2];
    int hn = snprintf(line, IRC_LINE, ":" SERVER " 353 %s = #%s :", me(s), room->name);
    size_t head = hn > 0 && hn < IRC_LINE ? (size_t)hn : 0, len = head;
    for (const struct nt_list *node = room->members.next; node != &room->members;
         node = node->next) {
        const struct nt_member *o = NT_CONTAINER_OF_CONST(node, struct nt_seat, room_link)->member;
        size_t need = o->name_len + (o->is_oper ? 1 : 0) + 1;
        if (len > head && len + need + 2 > IRC_LINE) {
            line[len++] = '\r';
            line[len++] = '\n';
            send_raw(s, line, len);
            len = head;
        }
        if (len > head)
            line[len++] = ' ';
        if (o->is_oper)
            line[len++] = '@';
        memcpy(line + len, o->name, o->name_len);
        len += o->name_len;
    }
    if (len > head) {
        line[len++] = '\r';
        line[len++] = '\n';
        send_raw(s, line, len);
    }
    num(s, "366", "#%s :End of /NAMES list.", room->name);
}

/* H or G, then * and @ for an operator (@ only with a channel). */
static void who_flags(const struct nt_member *o, bool in_room, char *out)
{
    size_t n = 0;
    out[n++] = o->away ? 'G' : 'H';
    if (o->is_oper) {
        out[n++] = '*';
        if (in_room)
            out[n++] = '@';
    }
    out[n] = '\0';
}

/* The ident shown for a member: its name in ASCII lower case. */
static void user_of(const struct nt_member *o, char *out)
{
    for (size_t i = 0; i <= o->name_len; i++) {
        char ch = o->name[i];
        out[i] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
    }
}

static void who_line(struct session *s, const struct nt_member *o, const char *chan)
{
    char flags[4], user[NT_NAME_MAX_BYTES + 1];
    who_flags(o, chan[0] == '#', flags);
    user_of(o, user);
    num(s, "352", "%s %s " SERVER " " SERVER " %s %s :0 %s", chan, user, o->name, flags,
        o->realname && o->realname[0] ? o->realname : o->name);
}

/* --- text from a client ------------------------------------------------------------------ */

/* Cleans a client's text (PROTOCOL.md §8.5): formatting out, then the §5.3 sanitizer, trimmed.
 * out holds NT_TEXT_SANITIZED_MAX(len) bytes. Returns the start (in out); *n its length. */
static const char *clean(const char *text, size_t len, char *out, size_t *n)
{
    char plain[NT_IRC_MAX_BODY + 1];
    if (len > NT_IRC_MAX_BODY)
        len = NT_IRC_MAX_BODY;
    size_t pn = nt_irc_strip_formatting(text, len, plain);
    *n = nt_text_sanitize(plain, pn, out);
    return nt_text_trim(out, n);
}

#define CLEAN_MAX NT_TEXT_SANITIZED_MAX(NT_IRC_MAX_BODY + 1)

static bool span_is(struct nt_irc_span sp, const char *s)
{
    size_t n = strlen(s);
    return sp.len == n && memcmp(sp.p, s, n) == 0;
}

/* --- registration ------------------------------------------------------------------------ */

static void refuse_nick(struct session *s)
{
    if (s->is_registered)
        return;
    if (++s->refused >= MAX_NICK_REFUSED)
        nt_conn_goodbye(s->conn, NULL, "name-attempts");
}

/* Completes registration when everything it needs has come (PROTOCOL.md §8.2). */
static void try_register(struct session *s)
{
    if (s->is_registered || s->nick_len == 0 || !s->has_user || s->is_capping ||
        s->conn->state != NT_CONN_OPEN)
        return;
    enum nt_name_check check;
    switch (nt_chat_register(s->door->chat, &s->member, s->nick, s->nick_len, &check)) {
    case NT_CHAT_JOINED:
        break;
    case NT_CHAT_NAME_INVALID:
        num(s, "432", "%s :Erroneous nickname: %s", s->nick, nt_names_check_message(check));
        s->nick_len = 0;
        s->nick[0] = '\0';
        refuse_nick(s);
        return;
    case NT_CHAT_NAME_TAKEN:
        num(s, "433", "%s :Nickname is already in use", s->nick);
        s->nick_len = 0;
        s->nick[0] = '\0';
        refuse_nick(s);
        return;
    case NT_CHAT_NAME_PENDING: /* on_data keeps the line for resume() */
        return;
    }
    s->is_registered = true;
    welcome(s);
    nt_conn_set_deadline(s->conn, NT_TIMEOUT_PING); /* dormant while --idle-timeout is 0 */
}

static void cmd_nick(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params == 0 || msg->params[0].len == 0) {
        num(s, "431", ":No nickname given");
        refuse_nick(s);
        return;
    }
    const char *nick = msg->params[0].p;
    size_t len = msg->params[0].len;
    enum nt_name_check check = nt_names_check(nick, len);
    if (check != NT_NAME_OK) {
        num(s, "432", "%s :Erroneous nickname: %s", show(msg->params[0]),
            nt_names_check_message(check));
        refuse_nick(s);
        return;
    }
    if (s->is_registered) {
        switch (nt_chat_rename(s->door->chat, &s->member, nick, len, &check)) {
        case NT_CHAT_TAKEN:
            num(s, "433", "%s :Nickname is already in use", show(msg->params[0]));
            break;
        case NT_CHAT_INVALID:
            num(s, "432", "%s :Erroneous nickname: %s", show(msg->params[0]),
                nt_names_check_message(check));
            break;
        default:
            break;
        }
        return;
    }
    const struct nt_member *owner = nt_chat_find(s->door->chat, nick, len);
    if (owner != NULL) {
        num(s, "433", "%s :Nickname is already in use", show(msg->params[0]));
        refuse_nick(s);
        return;
    }
    memcpy(s->nick, nick, len);
    s->nick[len] = '\0';
    s->nick_len = len;
    try_register(s);
}

static void cmd_user(struct session *s, const struct nt_irc_msg *msg)
{
    if (s->is_registered) {
        num(s, "462", ":You may not reregister");
        return;
    }
    if (msg->n_params < 4) {
        need_more(s, msg);
        return;
    }
    char clean_buf[CLEAN_MAX];
    size_t n;
    const char *real = clean(msg->params[3].p, msg->params[3].len, clean_buf, &n);
    if (n > REALNAME_MAX) {
        n = REALNAME_MAX;
        while (n > 0 && ((unsigned char)real[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(s->realname, real, n);
    s->realname[n] = '\0';
    s->has_user = true;
    try_register(s);
}

static void cmd_pass(struct session *s, const struct nt_irc_msg *msg)
{
    (void)msg;
    if (s->is_registered)
        num(s, "462", ":You may not reregister"); /* before it: ignored (§8.2) */
}

static void update_fmt(struct session *s)
{
    unsigned bits =
        ((s->caps & CAP_TIME) ? NT_IRC_FMT_TIME : 0) | ((s->caps & CAP_TAGS) ? NT_IRC_FMT_TAGS : 0);
    int framing = nt_conn_framing(s->conn);
    s->fmt = framing == 0 ? s->door->fmt[bits] : s->door->ws_fmt[framing == NT_WS_BINARY][bits];
    if (s->caps & CAP_ECHO)
        s->member.flags |= NT_MEMBER_ECHO;
    else
        s->member.flags &= ~(unsigned)NT_MEMBER_ECHO;
}

/* The bits of the capabilities named in list ("a -b c"); false if one is unknown. */
static bool parse_caps(struct nt_irc_span list, unsigned *on, unsigned *off)
{
    *on = *off = 0;
    size_t i = 0;
    while (i < list.len) {
        while (i < list.len && list.p[i] == ' ')
            i++;
        size_t start = i;
        while (i < list.len && list.p[i] != ' ')
            i++;
        if (i == start)
            break;
        bool is_off = list.p[start] == '-';
        struct nt_irc_span name = {list.p + start + is_off, i - start - is_off};
        unsigned bit = 0;
        for (size_t k = 0; k < NT_ARRAY_LEN(caps); k++) {
            if (span_is(name, caps[k].name))
                bit = caps[k].bit;
        }
        if (bit == 0)
            return false;
        if (is_off)
            *off |= bit;
        else
            *on |= bit;
    }
    return true;
}

static void cmd_cap(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params == 0) {
        need_more(s, msg);
        return;
    }
    struct nt_irc_span sub = msg->params[0];
    if (nt_irc_command_is(sub, "LS")) {
        if (!s->is_registered)
            s->is_capping = true;
        sendf(s, ":" SERVER " CAP %s LS :" CAP_LS, me(s));
    } else if (nt_irc_command_is(sub, "LIST")) {
        char list[128];
        size_t n = 0;
        list[0] = '\0';
        for (size_t k = 0; k < NT_ARRAY_LEN(caps); k++) {
            if (s->caps & caps[k].bit)
                n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? " " : "",
                                      caps[k].name);
        }
        sendf(s, ":" SERVER " CAP %s LIST :%s", me(s), list);
    } else if (nt_irc_command_is(sub, "REQ")) {
        if (!s->is_registered)
            s->is_capping = true;
        struct nt_irc_span list = msg->n_params > 1 ? msg->params[1] : (struct nt_irc_span){0};
        unsigned on, off;
        if (!parse_caps(list, &on, &off) || list.len > 200) {
            sendf(s, ":" SERVER " CAP %s NAK :%s", me(s), show(list));
            return;
        }
        s->caps = (s->caps | on) & ~off;
        update_fmt(s);
        sendf(s, ":" SERVER " CAP %s ACK :%s", me(s), show(list));
    } else if (nt_irc_command_is(sub, "END")) {
        s->is_capping = false;
        try_register(s);
    } else {
        num(s, "410", "%s :Invalid CAP command", show(sub));
    }
}

/* --- channels ---------------------------------------------------------------------------- */

/* The room name of a channel parameter ("#lobby" -> "lobby"), or false (403 sent). */
static bool channel(struct session *s, struct nt_irc_span chan, const char **name, size_t *len)
{
    if (chan.len < 2 || chan.p[0] != '#') {
        num(s, "403", "%s :No such channel", show(chan));
        return false;
    }
    *name = chan.p + 1;
    *len = chan.len - 1;
    return true;
}

static void no_such_channel(struct session *s, struct nt_irc_span chan)
{
    num(s, "403", "%s :No such channel", show(chan));
}

static void part_all(struct session *s)
{
    struct nt_member *m = &s->member;
    while (m->state == NT_MEMBER_IN && m->room != NULL)
        nt_chat_part(s->door->chat, m, m->room->name, m->room->name_len, NULL, 0);
}

static void cmd_join(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params == 0) {
        need_more(s, msg);
        return;
    }
    struct nt_irc_span list = msg->params[0], item;
    if (span_is(list, "0")) {
        part_all(s);
        return;
    }
    while (nt_irc_next_item(&list, &item) && s->member.state == NT_MEMBER_IN) {
        const char *name;
        size_t len;
        if (item.len == 0 || item.p[0] != '#') {
            num(s, "403", "%s :No such channel (channel names start with #)", show(item));
            continue;
        }
        name = item.p + 1;
        len = item.len - 1;
        enum nt_name_check check;
        struct nt_room *room;
        switch (nt_chat_enter(s->door->chat, &s->member, name, len, &check, &room)) {
        case NT_CHAT_INVALID: {
            const char *why = nt_names_check_message(check);
            num(s, "403", "%s :No such channel (Room n%s)", show(item), why + 1);
            break;
        }
        case NT_CHAT_TOO_MANY:
            num(s, "405", "%s :You have joined too many channels", show(item));
            break;
        case NT_CHAT_OK:
            if (room != NULL && s->member.state == NT_MEMBER_IN) {
                topic_reply(s, room, false);
                names_reply(s, room);
                nt_chat_replay(s->door->chat, &s->member, room);
            }
            break;
        default:
            break;
        }
    }
}

static void cmd_part(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params == 0) {
        need_more(s, msg);
        return;
    }
    char buf[CLEAN_MAX];
    size_t n = 0;
    const char *words = "";
    if (msg->n_params > 1)
        words = clean(msg->params[1].p, msg->params[1].len, buf, &n);
    struct nt_irc_span list = msg->params[0], item;
    while (nt_irc_next_item(&list, &item) && s->member.state == NT_MEMBER_IN) {
        const char *name;
        size_t len;
        if (!channel(s, item, &name, &len))
            continue;
        switch (nt_chat_part(s->door->chat, &s->member, name, len, words, n)) {
        case NT_CHAT_NO_ROOM:
            no_such_channel(s, item);
            break;
        case NT_CHAT_NOT_IN_ROOM:
            num(s, "442", "%s :You're not on that channel", show(item));
            break;
        default:
            break;
        }
    }
}

static void cmd_topic(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params == 0) {
        need_more(s, msg);
        return;
    }
    const char *name;
    size_t len;
    if (!channel(s, msg->params[0], &name, &len))
        return;
    struct nt_chat *chat = s->door->chat;
    struct nt_room *room = nt_hub_find(&chat->hub, name, len);
    if (room == NULL) {
        no_such_channel(s, msg->params[0]);
        return;
    }
    if (msg->n_params == 1) {
        topic_reply(s, room, true);
        return;
    }
    char buf[CLEAN_MAX];
    size_t n;
    const char *text = clean(msg->params[1].p, msg->params[1].len, buf, &n);
    switch (nt_chat_topic(chat, &s->member, name, len, text, n)) {
    case NT_CHAT_NOT_IN_ROOM:
        num(s, "442", "#%s :You're not on that channel", room->name);
        break;
    case NT_CHAT_TOO_LONG:
        num(s, "417", ":Topic too long (at most %d bytes)", NT_TOPIC_MAX);
        break;
    default:
        break;
    }
}

static void cmd_names(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params == 0) {
        num(s, "366", "* :End of /NAMES list.");
        return;
    }
    struct nt_irc_span list = msg->params[0], item;
    while (nt_irc_next_item(&list, &item)) {
        const struct nt_room *room =
            item.len > 1 && item.p[0] == '#'
                ? nt_hub_find(&s->door->chat->hub, item.p + 1, item.len - 1)
                : NULL;
        if (room != NULL)
            names_reply(s, room);
        else
            num(s, "366", "%s :End of /NAMES list.", show(item));
    }
}

static void list_line(struct session *s, const struct nt_room *room)
{
    num(s, "322", "#%s %zu :%s", room->name, room->count, room->topic ? room->topic : "");
}

static void cmd_list(struct session *s, const struct nt_irc_msg *msg)
{
    const struct nt_hub *hub = &s->door->chat->hub;
    num(s, "321", "Channel :Users  Name");
    if (msg->n_params > 0 && msg->params[0].len > 0 && msg->params[0].p[0] == '#') {
        struct nt_irc_span list = msg->params[0], item;
        while (nt_irc_next_item(&list, &item)) {
            const struct nt_room *room =
                item.len > 1 ? nt_hub_find(hub, item.p + 1, item.len - 1) : NULL;
            if (room != NULL)
                list_line(s, room);
        }
    } else {
        for (const struct nt_list *node = hub->rooms.next; node != &hub->rooms; node = node->next)
            list_line(s, NT_CONTAINER_OF_CONST(node, struct nt_room, link));
    }
    num(s, "323", ":End of /LIST");
}

static void cmd_mode(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params == 0) {
        need_more(s, msg);
        return;
    }
    struct nt_irc_span target = msg->params[0];
    struct nt_chat *chat = s->door->chat;
    if (target.len > 0 && target.p[0] == '#') {
        const struct nt_room *room =
            target.len > 1 ? nt_hub_find(&chat->hub, target.p + 1, target.len - 1) : NULL;
        if (room == NULL) {
            no_such_channel(s, target);
            return;
        }
        if (msg->n_params == 1) {
            num(s, "324", "#%s +n", room->name);
            num(s, "329", "#%s %llu", room->name, (unsigned long long)room->created_s);
        } else if (msg->n_params == 2 &&
                   (span_is(msg->params[1], "b") || span_is(msg->params[1], "+b"))) {
            num(s, "368", "#%s :End of channel ban list", room->name);
        } else {
            num(s, "482", "#%s :You're not a channel operator", room->name);
        }
        return;
    }
    const struct nt_member *who = nt_chat_find(chat, target.p, target.len);
    if (who == NULL) {
        num(s, "401", "%s :No such nick/channel", show(target));
    } else if (who != &s->member) {
        num(s, "502", ":Can't change mode for other users");
    } else {
        num(s, "221", "%s", s->member.is_oper ? "+io" : "+i");
    }
}

/* --- messages ---------------------------------------------------------------------------- */

/* Whether p[0..n) is valid UTF-8 without control characters: the sanitizer leaves it as is. */
static bool is_clean(const char *p, size_t n)
{
    char *out = nt_xmalloc(NT_TEXT_SANITIZED_MAX(n) + 1);
    bool same = nt_text_sanitize(p, n, out) == n && memcmp(out, p, n) == 0;
    free(out);
    return same;
}

/* PRIVMSG, NOTICE and TAGMSG (PROTOCOL.md §8.5). */
static void message(struct session *s, const struct nt_irc_msg *msg, const char *cmd)
{
    bool is_notice = strcmp(cmd, "NOTICE") == 0, is_tagmsg = strcmp(cmd, "TAGMSG") == 0;
    if (msg->n_params == 0 || msg->params[0].len == 0) {
        if (!is_notice)
            num(s, "411", ":No recipient given (%s)", cmd);
        return;
    }
    char tags[NT_IRC_MAX_CLIENT_TAGS];
    size_t tags_len = 0;
    if (msg->tags.len > 0) {
        tags_len = nt_irc_client_tags(msg->tags.p, msg->tags.len, tags, sizeof(tags));
        if (tags_len == (size_t)-1 || !is_clean(tags, tags_len))
            tags_len = 0; /* tags must be UTF-8 without controls (§8.9), or none are relayed */
    }
    char buf[CLEAN_MAX];
    size_t n = 0;
    const char *text = "";
    enum nt_event_kind room_kind = is_notice ? NT_EV_NOTE : NT_EV_SAY;
    enum nt_event_kind user_kind = is_notice ? NT_EV_PRIVATE_NOTE : NT_EV_PRIVATE;
    if (is_tagmsg) {
        if (tags_len == 0)
            return; /* nothing to relay */
        room_kind = user_kind = NT_EV_TAGMSG;
    } else {
        if (msg->n_params < 2 || msg->params[1].len == 0) {
            if (!is_notice)
                num(s, "412", ":No text to send");
            return;
        }
        struct nt_irc_span body = msg->params[1];
        struct nt_irc_span ctcp, args;
        if (nt_irc_ctcp(body.p, body.len, &ctcp, &args)) {
            if (!span_is(ctcp, "ACTION") || is_notice)
                return; /* other CTCP is not relayed (§8.5) */
            body = args;
            room_kind = NT_EV_ACTION;
            user_kind = NT_EV_PRIVATE_ACTION;
        }
        text = clean(body.p, body.len, buf, &n);
        if (n == 0) {
            if (!is_notice && room_kind != NT_EV_ACTION)
                num(s, "412", ":No text to send");
            return;
        }
    }
    struct nt_chat *chat = s->door->chat;
    struct nt_irc_span list = msg->params[0], item;
    unsigned targets = 0;
    while (nt_irc_next_item(&list, &item) && s->member.state == NT_MEMBER_IN) {
        if (++targets > MAX_TARGETS) {
            if (!is_notice)
                num(s, "407", "%s :Too many recipients", show(item));
            continue;
        }
        if (item.p[0] == '#') {
            enum nt_chat_result res = item.len > 1
                                          ? nt_chat_say(chat, &s->member, item.p + 1, item.len - 1,
                                                        room_kind, text, n, tags, tags_len)
                                          : NT_CHAT_NO_ROOM;
            if (is_notice)
                continue;
            if (res == NT_CHAT_NO_ROOM)
                num(s, "403", "%s :No such channel", show(item));
            else if (res == NT_CHAT_NOT_IN_ROOM)
                num(s, "404", "%s :Cannot send to channel", show(item));
            continue;
        }
        const struct nt_member *target;
        enum nt_chat_result res = nt_chat_tell(chat, &s->member, item.p, item.len, user_kind, text,
                                               n, tags, tags_len, &target);
        if (is_notice || is_tagmsg)
            continue;
        if (res == NT_CHAT_NO_USER)
            num(s, "401", "%s :No such nick/channel", show(item));
        else if (target != NULL && target->away != NULL)
            num(s, "301", "%s :%s", target->name, target->away);
    }
}

static void cmd_privmsg(struct session *s, const struct nt_irc_msg *msg)
{
    message(s, msg, "PRIVMSG");
}

static void cmd_notice(struct session *s, const struct nt_irc_msg *msg)
{
    message(s, msg, "NOTICE");
}

static void cmd_tagmsg(struct session *s, const struct nt_irc_msg *msg)
{
    message(s, msg, "TAGMSG");
}

/* --- queries ----------------------------------------------------------------------------- */

static void cmd_who(struct session *s, const struct nt_irc_msg *msg)
{
    struct nt_chat *chat = s->door->chat;
    struct nt_irc_span mask = msg->n_params > 0 ? msg->params[0] : (struct nt_irc_span){"*", 1};
    if (mask.len > 1 && mask.p[0] == '#') {
        const struct nt_room *room = nt_hub_find(&chat->hub, mask.p + 1, mask.len - 1);
        if (room != NULL) {
            char chan[NT_NAME_MAX_BYTES + 2];
            snprintf(chan, sizeof(chan), "#%s", room->name);
            for (const struct nt_list *node = room->members.next; node != &room->members;
                 node = node->next)
                who_line(s, NT_CONTAINER_OF_CONST(node, struct nt_seat, room_link)->member, chan);
        }
    } else {
        const struct nt_member *o = nt_chat_find(chat, mask.p, mask.len);
        if (o != NULL)
            who_line(s, o, "*");
    }
    num(s, "315", "%s :End of /WHO list.", show(mask));
}

static void cmd_whois(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params == 0) {
        num(s, "431", ":No nickname given");
        return;
    }
    struct nt_irc_span nick = msg->params[msg->n_params > 1 ? 1 : 0];
    const struct nt_member *o = nt_chat_find(s->door->chat, nick.p, nick.len);
    if (o == NULL) {
        num(s, "401", "%s :No such nick/channel", show(nick));
        num(s, "318", "%s :End of /WHOIS list.", show(nick));
        return;
    }
    char user[NT_NAME_MAX_BYTES + 1];
    user_of(o, user);
    num(s, "311", "%s %s " SERVER " * :%s", o->name, user,
        o->realname && o->realname[0] ? o->realname : o->name);
    if (o->n_seats > 0) {
        struct list_reply r = {.s = s, .code = "319", .arg = o->name};
        for (const struct nt_list *node = o->seats.next; node != &o->seats; node = node->next) {
            const struct nt_room *room =
                NT_CONTAINER_OF_CONST(node, struct nt_seat, member_link)->room;
            char item[NT_NAME_MAX_BYTES + 3];
            int n = snprintf(item, sizeof(item), "%s#%s", o->is_oper ? "@" : "", room->name);
            list_add(&r, item, (size_t)n);
        }
        list_flush(&r, false);
    }
    num(s, "312", "%s " SERVER " :%s", o->name, o->door);
    if (o->is_oper)
        num(s, "313", "%s :is an IRC operator", o->name);
    if (o->away != NULL)
        num(s, "301", "%s :%s", o->name, o->away);
    num(s, "318", "%s :End of /WHOIS list.", o->name);
}

static void cmd_userhost(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params == 0) {
        need_more(s, msg);
        return;
    }
    struct list_reply r = {.s = s, .code = "302"};
    for (size_t i = 0; i < msg->n_params && i < 5; i++) {
        const struct nt_member *o =
            nt_chat_find(s->door->chat, msg->params[i].p, msg->params[i].len);
        if (o == NULL)
            continue;
        char user[NT_NAME_MAX_BYTES + 1], item[3 * NT_NAME_MAX_BYTES];
        user_of(o, user);
        int n = snprintf(item, sizeof(item), "%s%s=%c%s@" SERVER, o->name, o->is_oper ? "*" : "",
                         o->away ? '-' : '+', user);
        list_add(&r, item, (size_t)n);
    }
    list_flush(&r, true);
}

static void cmd_ison(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params == 0) {
        need_more(s, msg);
        return;
    }
    struct list_reply r = {.s = s, .code = "303"};
    for (size_t i = 0; i < msg->n_params; i++) {
        const char *p = msg->params[i].p, *end = p + msg->params[i].len;
        while (p < end) {
            while (p < end && *p == ' ')
                p++;
            const char *w = p;
            while (p < end && *p != ' ')
                p++;
            const struct nt_member *o =
                p > w ? nt_chat_find(s->door->chat, w, (size_t)(p - w)) : NULL;
            if (o != NULL)
                list_add(&r, o->name, o->name_len);
        }
    }
    list_flush(&r, true);
}

static void cmd_away(struct session *s, const struct nt_irc_msg *msg)
{
    char buf[CLEAN_MAX];
    size_t n = 0;
    const char *text = "";
    if (msg->n_params > 0)
        text = clean(msg->params[0].p, msg->params[0].len, buf, &n);
    nt_chat_away(s->door->chat, &s->member, text, n);
    if (n > 0)
        num(s, "306", ":You have been marked as being away");
    else
        num(s, "305", ":You are no longer marked as being away");
}

/* --- operators --------------------------------------------------------------------------- */

static void not_oper(struct session *s)
{
    num(s, "481", ":Permission Denied- You're not an IRC operator");
}

static void cmd_oper(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params < 2) {
        need_more(s, msg);
        return;
    }
    if (nt_chat_oper(s->door->chat, &s->member, msg->params[1].p, msg->params[1].len) ==
        NT_CHAT_DENIED)
        num(s, "464", ":Password incorrect");
    else
        num(s, "381", ":You are now an IRC operator");
}

static void cmd_kick(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params < 2) {
        need_more(s, msg);
        return;
    }
    char buf[CLEAN_MAX];
    size_t n = 0;
    const char *why = "";
    if (msg->n_params > 2)
        why = clean(msg->params[2].p, msg->params[2].len, buf, &n);
    struct nt_irc_span who = msg->params[1];
    switch (nt_chat_kick(s->door->chat, &s->member, who.p, who.len, why, n)) {
    case NT_CHAT_DENIED:
        not_oper(s);
        break;
    case NT_CHAT_NO_USER:
        num(s, "401", "%s :No such nick/channel", show(who));
        break;
    default:
        break;
    }
}

static void cmd_wallops(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params == 0) {
        need_more(s, msg);
        return;
    }
    char buf[CLEAN_MAX];
    size_t n;
    const char *text = clean(msg->params[0].p, msg->params[0].len, buf, &n);
    if (!s->member.is_oper) {
        not_oper(s);
        return;
    }
    if (n > 0)
        nt_chat_wall(s->door->chat, &s->member, text, n);
}

/* --- liveness and leaving ---------------------------------------------------------------- */

static void cmd_ping(struct session *s, const struct nt_irc_msg *msg)
{
    if (msg->n_params == 0 || msg->params[0].len == 0) {
        num(s, "409", ":No origin specified");
        return;
    }
    struct nt_irc_span t = msg->params[0];
    sendf(s, ":" SERVER " PONG " SERVER " :%s", show(t));
}

static void cmd_pong(struct session *s, const struct nt_irc_msg *msg)
{
    (void)s;
    (void)msg; /* any line answers our PING (handle_line clears it) */
}

static void cmd_quit(struct session *s, const struct nt_irc_msg *msg)
{
    char buf[CLEAN_MAX];
    size_t n = 0;
    const char *words = "";
    if (msg->n_params > 0)
        words = clean(msg->params[0].p, msg->params[0].len, buf, &n);
    if (s->member.state == NT_MEMBER_IN) {
        nt_chat_quit(s->door->chat, &s->member, words, n);
        return;
    }
    if (n > 0 && s->member.parting == NULL)
        s->member.parting = nt_xstrndup(words, n); /* for the ERROR line (§8.9) */
    nt_conn_goodbye(s->conn, NULL, "quit");
}

static void cmd_lusers(struct session *s, const struct nt_irc_msg *msg)
{
    (void)msg;
    lusers(s);
}

static void cmd_motd(struct session *s, const struct nt_irc_msg *msg)
{
    (void)msg;
    motd(s);
}

static void cmd_version(struct session *s, const struct nt_irc_msg *msg)
{
    (void)msg;
    num(s, "351", "natter-" NT_VERSION " " SERVER " :the natter chat server");
}

static void cmd_time(struct session *s, const struct nt_irc_msg *msg)
{
    (void)msg;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char when[40];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    num(s, "391", SERVER " :%s", when);
}

static void cmd_info(struct session *s, const struct nt_irc_msg *msg)
{
    (void)msg;
    num(s, "371", ":natter " NT_VERSION ": one chat for nc, telnet, IRC and the web");
    num(s, "371", ":This server was created %s", s->door->created);
    num(s, "374", ":End of /INFO list.");
}

/* --- dispatch ---------------------------------------------------------------------------- */

static const struct command {
    const char *name;
    void (*run)(struct session *s, const struct nt_irc_msg *msg);
    bool is_pre; /* allowed before registration */
} commands[] = {
    {"PRIVMSG", cmd_privmsg, false},
    {"NOTICE", cmd_notice, false},
    {"PING", cmd_ping, true},
    {"PONG", cmd_pong, true},
    {"JOIN", cmd_join, false},
    {"PART", cmd_part, false},
    {"NICK", cmd_nick, true},
    {"USER", cmd_user, true},
    {"CAP", cmd_cap, true},
    {"PASS", cmd_pass, true},
    {"QUIT", cmd_quit, true},
    {"MODE", cmd_mode, false},
    {"WHO", cmd_who, false},
    {"WHOIS", cmd_whois, false},
    {"NAMES", cmd_names, false},
    {"LIST", cmd_list, false},
    {"TOPIC", cmd_topic, false},
    {"AWAY", cmd_away, false},
    {"USERHOST", cmd_userhost, false},
    {"ISON", cmd_ison, false},
    {"OPER", cmd_oper, false},
    {"KICK", cmd_kick, false},
    {"WALLOPS", cmd_wallops, false},
    {"TAGMSG", cmd_tagmsg, false},
    {"LUSERS", cmd_lusers, false},
    {"MOTD", cmd_motd, false},
    {"VERSION", cmd_version, false},
    {"TIME", cmd_time, false},
    {"INFO", cmd_info, false},
};

static void handle_line(struct session *s, const char *line, size_t len)
{
    struct nt_irc_msg msg;
    switch (nt_irc_parse(line, len, &msg)) {
    case NT_IRC_OK:
        break;
    case NT_IRC_EMPTY:
        return;
    case NT_IRC_NO_COMMAND:
        num(s, "421", "? :Unknown command");
        return;
    case NT_IRC_BODY_TOO_LONG:
    case NT_IRC_TAGS_TOO_LONG:
    case NT_IRC_CLIENT_TAGS_TOO_LONG:
        num(s, "417", ":Input line was too long");
        return;
    }
    for (size_t i = 0; i < NT_ARRAY_LEN(commands); i++) {
        if (!nt_irc_command_is(msg.command, commands[i].name))
            continue;
        if (!s->is_registered && !commands[i].is_pre)
            num(s, "451", ":You have not registered");
        else if (s->is_registered && s->member.state != NT_MEMBER_IN)
            return; /* on its way out: nothing more it says counts */
        else
            commands[i].run(s, &msg);
        return;
    }
    if (!s->is_registered) {
        num(s, "451", ":You have not registered");
        return;
    }
    num(s, "421", "%s :Unknown command", show(msg.command));
}

/* --- the conn handler -------------------------------------------------------------------- */

static size_t on_data(struct nt_conn *c, const char *data, size_t len)
{
    struct session *s = session_of(c);
    const struct nt_config *cfg = s->door->cfg;
    const char *in = data;
    size_t in_len = len;
    if (s->waiting != NULL) {
        if (s->member.claim_state == NT_CLAIM_PENDING)
            return 0; /* still waiting: the rest waits too (the conn keeps it) */
        char *waiting = s->waiting;
        s->waiting = NULL;
        handle_line(s, waiting, s->waiting_len);
        settle(s);
        if (s->member.claim_state == NT_CLAIM_PENDING) {
            s->waiting = waiting; /* asked again (another nick) */
            return 0;
        }
        free(waiting);
    }
    while (in_len > 0 && c->state == NT_CONN_OPEN) {
        /* §7.9 via §8.9: a line costs one token; none left, the rest waits (the conn keeps it). */
        if (!nt_flood_ready(&s->flood, cfg->rate, cfg->burst, nt_conn_now_ms(c)))
            return len - in_len;
        const char *line;
        size_t line_len;
        enum nt_frame_result res = nt_framer_next(&s->framer, &in, &in_len, &line, &line_len);
        if (res == NT_FRAME_MORE)
            break;
        nt_flood_spend(&s->flood, cfg->rate, cfg->burst);
        if (s->is_registered) {
            nt_conn_touch(c); /* any line is a sign of life: the PING waits again */
            s->is_pinged = false;
        }
        if (res == NT_FRAME_LINE)
            handle_line(s, line, line_len);
        else
            num(s, "417", ":Input line was too long");
        settle(s);
        if (s->member.claim_state == NT_CLAIM_PENDING) {
            s->waiting = nt_xstrndup(line, line_len); /* offered again when the answer comes */
            s->waiting_len = line_len;
            return len - in_len; /* a nick asked of the other nodes: the rest waits */
        }
    }
    return len;
}

static void on_eof(struct nt_conn *c)
{
    struct session *s = session_of(c);
    const char *line;
    size_t line_len;
    /* Over WebSocket a rest without LF is a message that never got its final frame: dropped
     * (RFC 6455 §5.4, PROTOCOL.md §9.3). */
    if (nt_framer_end(&s->framer, &line, &line_len) == NT_FRAME_LINE && nt_conn_framing(c) == 0)
        handle_line(s, line, line_len);
    settle(s);
    nt_conn_goodbye(c, NULL, "closed");
}

static void on_end(struct nt_conn *c, const char *reason)
{
    struct session *s = session_of(c);
    if (s->member.state == NT_MEMBER_OUT) {
        NT_DEBUG("conn=%llu peer=%s closed before registering: %s", (unsigned long long)c->id,
                 c->peer, reason);
        return;
    }
    nt_chat_leave(s->door->chat, &s->member, reason);
}

static void on_timeout(struct nt_conn *c, enum nt_timeout_kind kind)
{
    struct session *s = session_of(c);
    if (kind == NT_TIMEOUT_NAME) {
        nt_conn_goodbye(c, NULL, "name-timeout");
        return;
    }
    if (kind != NT_TIMEOUT_PING)
        return;
    if (s->is_pinged) {
        nt_conn_goodbye(c, NULL, "ping");
        return;
    }
    s->is_pinged = true;
    sendf(s, "PING :" SERVER);
    nt_conn_set_deadline(c, NT_TIMEOUT_PING);
    settle(s);
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
    .name = "irc",
    .on_data = on_data,
    .on_eof = on_eof,
    .on_end = on_end,
    .on_timeout = on_timeout,
    .on_closed = on_closed,
    .goodbye = goodbye_line,
};

uint64_t nt_irc_ping_ms(uint64_t idle_ms)
{
    uint64_t half = idle_ms / 2;
    if (idle_ms > 0 && half == 0)
        half = 1;
    return half < PING_MAX_MS ? half : PING_MAX_MS;
}

void nt_irc_door_init(struct nt_irc_door *door, struct nt_chat *chat, const struct nt_config *cfg)
{
    door->chat = chat;
    door->cfg = cfg;
    door->fmt[0] = nt_event_format_register(encode_plain);
    door->fmt[NT_IRC_FMT_TIME] = nt_event_format_register(encode_time);
    door->fmt[NT_IRC_FMT_TAGS] = nt_event_format_register(encode_tags);
    door->fmt[NT_IRC_FMT_TIME | NT_IRC_FMT_TAGS] = nt_event_format_register(encode_time_tags);
    static const nt_event_encoder ws[2][NT_IRC_FORMATS] = {
        {encode_ws_plain, encode_ws_time, encode_ws_tags, encode_ws_time_tags},
        {encode_wsb_plain, encode_wsb_time, encode_wsb_tags, encode_wsb_time_tags}};
    for (unsigned i = 0; i < 2; i++) {
        for (unsigned bits = 0; bits < NT_IRC_FORMATS; bits++)
            door->ws_fmt[i][bits] = nt_event_format_register(ws[i][bits]);
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(door->created, sizeof(door->created), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void nt_irc_door_open(struct nt_irc_door *door, struct nt_conn *c)
{
    struct session *s = nt_xcalloc(1, sizeof(*s));
    s->door = door;
    s->conn = c;
    nt_member_init(&s->member, &member_ops, c->id, c->peer, c->ip);
    s->member.door = nt_conn_framing(c) != 0 ? "IRC over WebSocket" : "IRC";
    s->member.realname = s->realname;
    s->member.flags = NT_MEMBER_SEES_OWN;
    update_fmt(s);
    nt_framer_init(&s->framer, NT_IRC_MAX_LINE, false);
    nt_flood_init(&s->flood, door->cfg->burst, nt_conn_now_ms(c));
    nt_conn_set_handler(c, &handler, s);
    nt_conn_set_deadline(c, NT_TIMEOUT_NAME); /* registration must complete in time (§8.2) */
}

void nt_irc_door_refuse(struct nt_irc_door *door, struct nt_conn *c, const char *why)
{
    nt_irc_door_open(door, c);
    nt_conn_goodbye(c, why, "refused");
}
