/* SPDX-License-Identifier: MIT */
/* fuzz_cluster.c - libFuzzer harness for the cluster door: what other nodes send through Redis. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "door/cluster.h"
#include "door/irc.h"
#include "door/line.h"
#include "fuzz.h"
#include "output.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/redis_url.h"
#include "lib/wire.h"
#include "net/conn.h"
#include "server.h"

/*
 * One real server (a libuv loop with no listener) joined to a cluster as node "self" through
 * redis://127.0.0.1:1, where nothing listens: the link never comes up (its connect is closed
 * before the loop polls it), and what this node publishes or asks of Redis is dropped. Other
 * nodes' messages go in through nt_cluster_receive(), the path of a payload Redis brings, so
 * the cluster door makes ghosts of their users, settles name clashes with the local users and
 * applies their events to the chat core. Four local clients (two of the line door, two of the
 * IRC door, made with nt_conn_new_detached() and joined at the start of every input: alice and
 * bob in the lobby, carol in #lobby, dave in #lobby and #rust with message-tags, server-time,
 * away-notify and echo-message) see what the ghosts do, and act themselves.
 *
 * The input is a script of records; the first byte of each says what it is, by its bits 0-1:
 *   0, 1  a wire message built from the bytes after it and encoded with nt_wire_encode(): a
 *         type (mostly EVENT; USER, SYNC, DONE, BYE, BANS, HISTORY, HEARTBEAT), a node (north,
 *         south, east, North, bad names, rarely "self", which must be ignored), kind (mostly
 *         <= NT_EV_KINDS), a small actor_id (lookups collide), time_ms (tiny, so earlier than
 *         any local claim, or huge, so later, or any), and room, actor, target, text, tags and
 *         reason, each from a pool (names of local users and ghosts, rooms, room lists, invalid
 *         names, "self"; texts with escapes, CR, LF, bad UTF-8) or given raw in the input;
 *   2     a raw payload: the next byte (bit 2 set: the next two) is its length, then that many
 *         bytes go to nt_cluster_receive() as they are (whatever fails to decode is refused);
 *   3     local client (op >> 2) & 3: by bits 5-6, 0 or 1 = send the next N bytes (N the byte
 *         after), 2 = it half-closes, 3 = a closed client's slot gets a new connection; bit 4:
 *         the client does not read after this record, so --max-output (2 KiB) is reached and a
 *         remote event can take a local member over its cap (the safe point, from the cluster).
 * After every record: every member of chat->members is IN, found by its name, and seated in
 * rooms that list it; nt_chat_people() counts exactly those members; every room is non-empty,
 * found by its name, and the hub's seat count adds up; the ghosts the cluster counts are the
 * members with a node; nobody waits for a name claim (the link is down); and every byte any
 * local client was sent is valid UTF-8 without a control character but LF (IRC: CR only before
 * LF, CTCP's \x01, lines of at most 512 bytes after the tags), as in fuzz_chat; for IRC also
 * each line a message of the server (tags ending inside the line, then a prefix, or PING or
 * ERROR), so a CR LF smuggled in a text or a tag shows. At the end the cluster is closed (its
 * ghosts leave silently), then every client, and the loop runs the close callbacks: the loop
 * has the handles it had before the input, and ASan and LSan see every free.
 */

#define CLIENTS  4
#define IRC_FROM 2 /* clients 2 and 3 speak IRC */

static struct nt_config cfg;
static uv_loop_t loop;
static struct nt_server *srv;
static int base_handles;    /* the loop's handles between inputs */
static char long_text[641]; /* "long text long text ...": over an IRC line's 512 bytes */
static char big_node[NT_WIRE_MAX_NODE]; /* a node's longest name */

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    (*(int *)arg)++;
}

static int count_handles(void)
{
    int n = 0;
    uv_walk(&loop, count_handle, &n);
    return n;
}

static void setup_once(void)
{
    if (srv != NULL)
        return;
    nt_log_threshold = NT_LOG_ERROR;
    nt_config_defaults(&cfg);
    cfg.log_level = NT_LOG_ERROR;
    cfg.rate = 0;       /* pacing needs the loop's timers */
    cfg.max_line = 128; /* a local client's commands fit; remote texts are longer */
    cfg.history = 3;    /* remote SAYs go into the history that joins replay */
    cfg.max_per_ip = 0;
    cfg.max_output = 2048;              /* reachable: a client that does not read is dropped */
    memcpy(cfg.oper_password, "pw", 3); /* "/oper pw" is reachable: /kick, /ban of ghosts */
    cfg.redis_url = "redis://127.0.0.1:1";
    const char *why = NULL;
    CHECK(nt_redis_url_parse(cfg.redis_url, &cfg.redis, &why) == 0);
    CHECK(uv_loop_init(&loop) == 0);
    srv = calloc(1, sizeof(*srv));
    CHECK(srv != NULL);
    CHECK(nt_server_init(srv, &loop, &cfg, 1000) == 0);
    base_handles = count_handles();
    for (size_t i = 0; i < sizeof(long_text) - 1; i++)
        long_text[i] = "long text "[i % 10];
    memset(big_node, 'n', sizeof(big_node));
}

/* --- what local clients are sent (the checks of fuzz_chat.c) -------------------------------- */

/* Checks and drops what is queued for client i's conn c, as the flush would have written it. */
static void drain(struct nt_conn *c, int i)
{
    struct nt_msg *msg;
    while ((msg = nt_conn_take_queued(c)) != NULL) {
        check_output(msg->data, msg->len, i >= IRC_FROM);
        nt_msg_unref(msg);
    }
}

/* --- the chat as the public structures show it ---------------------------------------------- */

static void check_chat(const struct nt_cluster *cluster)
{
    const struct nt_chat *chat = &srv->chat;
    CHECK(chat->depth == 0 && nt_list_is_empty(&chat->drops));
    CHECK(nt_list_is_empty(&chat->claims)); /* the link is down: every name is taken at once */
    size_t members = 0, ghosts = 0, seats = 0;
    for (const struct nt_list *l = chat->members.next; l != &chat->members; l = l->next) {
        const struct nt_member *m = NT_CONTAINER_OF_CONST(l, struct nt_member, all_link);
        members++;
        CHECK(m->state == NT_MEMBER_IN && m->name != NULL && m->name_len > 0);
        CHECK(nt_chat_find(chat, m->name, m->name_len) == m);
        if (m->node != NULL)
            ghosts++;
        size_t n = 0;
        for (const struct nt_list *s = m->seats.next; s != &m->seats; s = s->next, n++) {
            const struct nt_seat *seat = NT_CONTAINER_OF_CONST(s, struct nt_seat, member_link);
            CHECK(seat->member == m && seat->room != NULL);
            CHECK(nt_hub_seat(m, seat->room) == seat);
        }
        CHECK(n == m->n_seats && n <= NT_CHAT_MAX_ROOMS);
        CHECK(m->room ==
              (n > 0 ? NT_CONTAINER_OF_CONST(m->seats.next, struct nt_seat, member_link)->room
                     : NULL));
        seats += n;
    }
    CHECK(members == nt_chat_people(chat));
    size_t rooms = 0, in_rooms = 0;
    for (const struct nt_list *l = chat->hub.rooms.next; l != &chat->hub.rooms; l = l->next) {
        const struct nt_room *r = NT_CONTAINER_OF_CONST(l, struct nt_room, link);
        rooms++;
        CHECK(r->count > 0 && nt_hub_find(&chat->hub, r->name, r->name_len) == r);
        size_t n = 0;
        for (const struct nt_list *s = r->members.next; s != &r->members; s = s->next, n++) {
            const struct nt_seat *seat = NT_CONTAINER_OF_CONST(s, struct nt_seat, room_link);
            CHECK(seat->room == r && seat->member->state == NT_MEMBER_IN);
        }
        CHECK(n == r->count);
        in_rooms += n;
    }
    CHECK(rooms == chat->hub.n_rooms && in_rooms == seats && seats == chat->hub.n_members);
    if (cluster != NULL) {
        struct nt_cluster_stats st;
        nt_cluster_stats(cluster, &st);
        CHECK(st.ghosts == ghosts && !st.is_up);
    } else {
        CHECK(ghosts == 0);
    }
}

/* --- the input ------------------------------------------------------------------------------ */

struct reader {
    const uint8_t *p;
    size_t n;
};

static uint8_t next_byte(struct reader *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

static uint64_t next_u64(struct reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | next_byte(r);
    return v;
}

/* n bytes of the input (fewer at its end). */
static struct nt_wire_str next_raw(struct reader *r, size_t n)
{
    if (n > r->n)
        n = r->n;
    struct nt_wire_str s = {(const char *)r->p, n};
    r->p += n;
    r->n -= n;
    return s;
}

/* Names of local users and ghosts (in several spellings), rooms, room lists, and what no name
 * or room may be. */
static const char *const words[] = {"alice",
                                    "Alice",
                                    "bob",
                                    "carol",
                                    "dave",
                                    "erin",
                                    "ERIN",
                                    "frank",
                                    "grace",
                                    "heidi",
                                    "alice-2",
                                    "erin-2",
                                    "lobby",
                                    "rust",
                                    "Rust",
                                    "go",
                                    "lobby,rust",
                                    "rust,go,,lobby,",
                                    "lobby,",
                                    ",",
                                    "",
                                    "a b",
                                    "#rust",
                                    "x\x01y",
                                    "\xff\xfe",
                                    "σοφία",
                                    "ΣΟΦΊΑ",
                                    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
                                    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
                                    "/nick",
                                    "self"};
/* Texts: plain, empty, escapes, line breaks, bad UTF-8, bidi, CTCP, long; and addresses (the
 * text of a BANS message), one of them a local client's. */
static const char *const texts[] = {"",
                                    "hi",
                                    "hello there",
                                    "\x1b[2Jgotcha",
                                    "two\nlines",
                                    "cr\rhere",
                                    "\xc3\x28 bad utf8",
                                    "\xe2\x80\xae bidi",
                                    "\001ACTION waves\001",
                                    "café ☕",
                                    long_text,
                                    "10.0.0.1",
                                    "10.0.0.9",
                                    "1.2.3.4\n"};
static const char *const tag_texts[] = {"",
                                        "+typing=active",
                                        "+draft/reply=1;+x=y",
                                        "+a=b\r\n:evil PRIVMSG #lobby :owned",
                                        "msgid=abc",
                                        "+e=\x01",
                                        "+sp=a b"};
/* Reasons of a LEAVE, and "self": whom a HISTORY line is for. */
static const char *const reasons[] = {"",     "quit", "kicked", "banned", "slow", "name-timeout",
                                      "gone", "self", "self"};
/* Other nodes; "self" (this node: ignored) is picked rarely, by 255. */
static const char *const nodes[] = {"north", "south", "east", "North", "we\x1bst", "a b"};

/* A string from pool, or (the byte is 0xF0 or more) one given raw: its length, then its bytes. */
static struct nt_wire_str next_str(struct reader *r, const char *const *pool, size_t n)
{
    uint8_t b = next_byte(r);
    if (b >= 0xF0)
        return next_raw(r, next_byte(r));
    const char *s = pool[b % n];
    return (struct nt_wire_str){s, strlen(s)};
}

/* A wire message of another node from the bytes of r, encoded as that node would. */
static struct nt_msg *next_message(struct reader *r)
{
    static const uint8_t types[] = {
        NT_WIRE_EVENT, NT_WIRE_EVENT,   NT_WIRE_EVENT,   NT_WIRE_EVENT,    NT_WIRE_USER,
        NT_WIRE_USER,  NT_WIRE_SYNC,    NT_WIRE_DONE,    NT_WIRE_DONE,     NT_WIRE_BYE,
        NT_WIRE_BANS,  NT_WIRE_HISTORY, NT_WIRE_HISTORY, NT_WIRE_HEARTBEAT};
    static uint64_t seq;
    struct nt_wire_msg w = {.type = types[next_byte(r) % NT_ARRAY_LEN(types)], .seq = ++seq};
    uint8_t nb = next_byte(r);
    const char *node = nb == 255 ? "self" : nodes[nb % NT_ARRAY_LEN(nodes)];
    w.node = nb == 254 ? (struct nt_wire_str){big_node, NT_WIRE_MAX_NODE}
                       : (struct nt_wire_str){node, strlen(node)};
    uint8_t kb = next_byte(r);
    /* NT_EV_KINDS too: the end of a HISTORY (and a kind no event has). */
    w.kind = kb < 0xE0 ? kb % (NT_EV_KINDS + 1) : kb == 0xFF ? (uint32_t)next_u64(r) : kb;
    uint8_t ib = next_byte(r);
    w.actor_id = ib < 0xF8 ? ib % 6 : next_u64(r);
    /* Local users claimed their names at the wall clock's now: a tiny time is earlier, a huge
     * one later; ghosts of two nodes with the same tiny time are settled by the node names. */
    uint8_t tb = next_byte(r);
    w.time_ms = tb < 0x80 ? tb % 4 : tb < 0xC0 ? UINT64_MAX - (tb & 3) : next_u64(r);
    w.room = next_str(r, words, NT_ARRAY_LEN(words));
    w.actor = next_str(r, words, NT_ARRAY_LEN(words));
    w.target = next_str(r, words, NT_ARRAY_LEN(words));
    w.text = next_str(r, texts, NT_ARRAY_LEN(texts));
    w.tags = next_str(r, tag_texts, NT_ARRAY_LEN(tag_texts));
    w.reason = next_str(r, reasons, NT_ARRAY_LEN(reasons));
    return nt_wire_encode(&w);
}

/* --- local clients -------------------------------------------------------------------------- */

/* What each local client says first: its name, and for IRC its registration and channels. */
static const char *const hellos[CLIENTS] = {
    "alice\n",
    "bob\r\n",
    "NICK carol\r\nUSER carol 0 * :Carol\r\nJOIN #lobby\r\n",
    "CAP LS 302\r\nNICK dave\r\nUSER dave 0 * :Dave\r\n"
    "CAP REQ :message-tags server-time away-notify echo-message multi-prefix\r\nCAP END\r\n"
    "JOIN #lobby,#rust\r\n",
};

static struct nt_conn *open_client(int i)
{
    static const char *const ips[CLIENTS] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1"};
    struct nt_conn *c = nt_conn_new_detached(&srv->net, ips[i]);
    c->is_counted = true;
    srv->n_clients++;
    if (i >= IRC_FROM)
        nt_irc_door_open(&srv->irc, c);
    else
        nt_line_door_open(&srv->line, c);
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    /* As nt_server_start does, after the server is initialised: the cluster is the server's
     * while it lives (nt_server_stop would close it); this harness closes it itself. */
    struct nt_cluster *cluster = nt_cluster_new(&loop, &srv->chat, &cfg, "self");
    srv->cluster = cluster;
    struct nt_conn *clients[CLIENTS];
    bool reads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = open_client(i);
        nt_conn_input(clients[i], hellos[i], strlen(hellos[i]));
        reads[i] = true;
    }
    for (int i = 0; i < CLIENTS; i++)
        drain(clients[i], i);
    check_chat(cluster);

    struct reader r = {data, size};
    while (r.n > 0) {
        uint8_t op = next_byte(&r);
        switch (op & 3) {
        case 0:
        case 1: {
            struct nt_msg *msg = next_message(&r);
            nt_cluster_receive(cluster, msg->data, msg->len);
            nt_msg_unref(msg);
            break;
        }
        case 2: {
            size_t n = next_byte(&r);
            if (op & 4)
                n = n << 8 | next_byte(&r);
            struct nt_wire_str raw = next_raw(&r, n);
            /* Its own copy, of exactly its size: ASan sees a read past the payload. */
            char *payload = malloc(raw.len ? raw.len : 1);
            CHECK(payload != NULL);
            memcpy(payload, raw.p, raw.len);
            nt_cluster_receive(cluster, payload, raw.len);
            free(payload);
            break;
        }
        default: {
            int who = (op >> 2) & 3;
            struct nt_conn *c = clients[who];
            reads[who] = (op & 0x10) == 0;
            switch ((op >> 5) & 3) {
            case 0:
            case 1: {
                struct nt_wire_str in = next_raw(&r, next_byte(&r));
                if (c->state == NT_CONN_OPEN)
                    nt_conn_input(c, in.p, in.len);
                break;
            }
            case 2:
                if (c->state == NT_CONN_OPEN) {
                    c->got_eof = true;
                    c->h->on_eof(c);
                }
                break;
            default:
                /* A closed client's slot is reused; the closed one is freed at the end. */
                if (c->state != NT_CONN_OPEN) {
                    drain(c, who);
                    nt_conn_close(c, "quit");
                    clients[who] = open_client(who);
                }
                break;
            }
            break;
        }
        }
        /* Clients that read take what they were sent; the others let it pile up. */
        for (int i = 0; i < CLIENTS; i++) {
            if (reads[i] || clients[i]->state != NT_CONN_OPEN)
                drain(clients[i], i);
        }
        check_chat(cluster);
    }

    /* As nt_server_stop does: the cluster first (its ghosts leave, silently), then the conns. */
    nt_cluster_close(cluster);
    srv->cluster = NULL;
    check_chat(NULL);
    for (int i = 0; i < CLIENTS; i++)
        drain(clients[i], i);
    for (struct nt_list *node = srv->net.conns.next; node != &srv->net.conns; node = node->next) {
        struct nt_conn *c = NT_CONTAINER_OF(node, struct nt_conn, all_link);
        struct nt_msg *msg;
        while ((msg = nt_conn_take_queued(c)) != NULL) /* slots closed and reused: checked then */
            nt_msg_unref(msg);
        nt_conn_close(c, "error");
    }
    /* The close callbacks free every conn, the cluster, its link and both Redis connections
     * (whose connects were never polled); nothing is flushed, since no conn is left dirty. */
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(srv->net.n_conns == 0 && srv->chat.hub.n_members == 0 && srv->chat.hub.n_rooms == 0);
    CHECK(srv->net.queued_bytes == 0 && nt_chat_people(&srv->chat) == 0);
    CHECK(nt_list_is_empty(&srv->chat.members));
    CHECK(count_handles() == base_handles);
    /* Bans from other nodes and from kicks are the server's: every input starts without. */
    while (srv->chat.n_bans > 0) {
        char *ip = strdup(srv->chat.bans[0]); /* the unban frees the list's copy */
        CHECK(ip != NULL && nt_chat_unban(&srv->chat, ip));
        free(ip);
    }
    return 0;
}
