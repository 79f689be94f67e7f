/* SPDX-License-Identifier: MIT */
/* fuzz_chat.c - libFuzzer harness for the whole per-connection protocol, without sockets. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "door/irc.h"
#include "door/line.h"
#include "door/web.h"
#include "fuzz.h"
#include "output.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/ws.h"
#include "net/conn.h"
#include "server.h"

/*
 * Eight clients of one real server (a libuv loop with no listener), made with
 * nt_conn_new_detached(), two opened by the line door and two by the IRC door, and four by the
 * web door: a WebSocket speaking natter.line, one speaking IRC in text frames, one in binary frames
 * (their handshakes are the harness's), and one that sends raw HTTP requests, in one chat: bytes
 * go in through nt_conn_input(), the very path a read takes, through the door into the chat core,
 * and what the server sends stays in each conn's queue, where the harness reads it. The input is a
 * script of records; the first byte of each says what to do: bits 0-1 and 5: which client (bit 5
 * picks the web door's four); bits 2-3: 0 or
 * 1 = send the next N bytes (N = the byte after), 2 = the client half-closes (end of input), 3 = a
 * new connection takes the slot of a closed one, or, when it is open, a reload (SIGHUP) sets
 * max_line and history from the byte after; bit 4: the client does not read after this record;
 * bit 6, for a WebSocket: the bytes go in as they are (frames, or garbage), not as one masked
 * text message of them. WebSocket bytes go in below the WebSocket transport (nt_conn_read()).
 * A client that does not read keeps its queue, so --max-output (2 KiB here) is reached and the safe
 * point is exercised: a reply or a broadcast that takes a member over its cap only marks it, and it
 * is dropped afterwards. Checks, after every record, on every byte any client was sent: valid
 * UTF-8, and no control character but LF (for IRC clients also the CR right before it, and CTCP's
 * \x01): whatever a peer sends, nothing reaches another terminal that could move its cursor, clear
 * its screen or ring its bell (PROTOCOL.md §5.3), and no IRC line is over 512 bytes without its
 * tags (§8.9). A WebSocket's output must be final unmasked frames, text (binary for the binary
 * one) whose payloads pass the same checks as lines, a Pong, or a Close last. At the end every
 * client is closed and the loop runs the close callbacks: ASan and
 * LSan see every free.
 */

#define CLIENTS  8
#define IRC_FROM 2 /* clients 2 and 3 speak IRC */
#define WS_FROM  4 /* 4: natter.line, 5: IRC text, 6: IRC binary over WebSocket; 7: raw HTTP */
#define HTTP_AT  7

static struct nt_config cfg;
static uv_loop_t loop;
static struct nt_server *srv;

/* The harness's configuration; a reload record changes max_line and history (see below). */
static void base_config(struct nt_config *c)
{
    nt_config_defaults(c);
    c->log_level = NT_LOG_ERROR;
    c->rate = 0;      /* pacing needs the loop's timers; fuzz the protocol itself */
    c->max_line = 64; /* short lines reach the over-long path quickly */
    c->history = 3;   /* joins replay history */
    c->max_per_ip = 0;
    c->max_output = 2048; /* reachable: clients that do not read are dropped as too slow */
    memcpy(c->oper_password, "pw", 3); /* "/oper pw" is reachable */
}

static int reload_byte = -1; /* what the next reload reads: -1 = the base configuration */

/* nt_server_read_config_fn: the base configuration, or one with max_line 1-256 and history 0-4
 * from reload_byte. */
static int read_config(struct nt_config *next, FILE *err, void *arg)
{
    (void)err;
    (void)arg;
    base_config(next);
    if (reload_byte >= 0) {
        next->max_line = 1 + (uint64_t)reload_byte;
        next->history = (uint64_t)reload_byte % 5;
    }
    return 0;
}

static void setup_once(void)
{
    if (srv != NULL)
        return;
    nt_log_threshold = NT_LOG_ERROR;
    base_config(&cfg);
    CHECK(uv_loop_init(&loop) == 0);
    srv = calloc(1, sizeof(*srv));
    CHECK(srv != NULL);
    CHECK(nt_server_init(srv, &loop, &cfg, 1000) == 0);
    srv->read_config = read_config;
}

/* Checks the frames of one queued message of a WebSocket (each message is whole frames). */
static void check_frames(const char *p, size_t n, bool is_irc, bool is_binary)
{
    size_t at = 0;
    while (at < n) {
        CHECK(at + 2 <= n);
        const unsigned char *h = (const unsigned char *)p + at;
        unsigned opcode = h[0] & 0x0F;
        CHECK((h[0] & 0xF0) == 0x80 && (h[1] & 0x80) == 0); /* final, no RSV, unmasked */
        size_t len = h[1], hl = 2;
        if (len == 126) {
            CHECK(at + 4 <= n);
            len = (size_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (len == 127) {
            CHECK(at + 10 <= n);
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | h[i];
            hl = 10;
        }
        CHECK(at + hl + len <= n);
        const char *payload = p + at + hl;
        if (opcode == NT_WS_CLOSE) {
            CHECK(len == 0 || len == 2);
            CHECK(at + hl + len == n); /* nothing after a Close */
        } else if (opcode != NT_WS_PONG) {
            CHECK(opcode == (is_binary ? NT_WS_BINARY : NT_WS_TEXT));
            CHECK(memchr(payload, '\n', len) == NULL);
            char *line = malloc(len + 2);
            CHECK(line != NULL);
            memcpy(line, payload, len);
            size_t ll = len;
            if (is_irc)
                line[ll++] = '\r';
            line[ll++] = '\n';
            check_output(line, ll, is_irc);
            free(line);
        }
        at += hl + len;
    }
}

/* Checks and drops what is queued for client i's conn c, as the flush would have written it. */
static void drain(struct nt_conn *c, int i)
{
    struct nt_msg *msg;
    while ((msg = nt_conn_take_queued(c)) != NULL) {
        if (i == HTTP_AT || (i >= WS_FROM && c->ws == NULL))
            ; /* HTTP answers (the web door's own business) */
        else if (c->ws != NULL)
            check_frames(msg->data, msg->len, i != WS_FROM, i == WS_FROM + 2);
        else
            check_output(msg->data, msg->len, i >= IRC_FROM);
        nt_msg_unref(msg);
    }
}

/* The handshake a WebSocket client of the web door sends, for each subprotocol. */
static void handshake(struct nt_conn *c, int i)
{
    static const char *const subs[] = {"natter.line", "text.ircv3.net", "binary.ircv3.net"};
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:8080\r\n"
                     "Sec-WebSocket-Protocol: %s\r\n\r\n",
                     subs[i - WS_FROM]);
    nt_conn_input(c, req, (size_t)n);
    CHECK(c->ws != NULL);
    struct nt_msg *answer = nt_conn_take_queued(c);
    CHECK(answer != NULL && answer->len > 12 && memcmp(answer->data, "HTTP/1.1 101", 12) == 0);
    nt_msg_unref(answer);
}

/* Sends in[0..n) to a WebSocket client's conn as one masked message (text, or binary for the
 * binary one), in a frame with a mask from the bytes' own length. */
static void send_message(struct nt_conn *c, const char *in, size_t n, bool is_binary)
{
    char *frame = malloc(n + 8);
    CHECK(frame != NULL);
    size_t h = 0;
    frame[h++] = (char)(0x80 | (is_binary ? NT_WS_BINARY : NT_WS_TEXT));
    frame[h++] = (char)(0x80 | (n < 126 ? n : 126));
    if (n >= 126) {
        frame[h++] = (char)(n >> 8);
        frame[h++] = (char)n;
    }
    const unsigned char mask[4] = {(unsigned char)n, 0x5A, 0xA5, 0x3C};
    memcpy(frame + h, mask, 4);
    h += 4;
    for (size_t k = 0; k < n; k++)
        frame[h + k] = (char)((unsigned char)in[k] ^ mask[k & 3]);
    nt_conn_read(c, frame, h + n);
    free(frame);
}

static struct nt_conn *open_client(int i)
{
    static const char *const ips[CLIENTS] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1",
                                             "10.0.0.4", "10.0.0.5", "10.0.0.6", "127.0.0.1"};
    struct nt_conn *c = nt_conn_new_detached(&srv->net, ips[i]);
    c->is_counted = true;
    srv->n_clients++;
    if (i >= WS_FROM) {
        nt_web_door_open(&srv->web, c);
        if (i != HTTP_AT)
            handshake(c, i);
    } else if (i >= IRC_FROM) {
        nt_irc_door_open(&srv->irc, c);
    } else {
        nt_line_door_open(&srv->line, c);
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    reload_byte = -1; /* every input starts from the base configuration */
    CHECK(nt_server_reload(srv) == 0);
    struct nt_conn *clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        clients[i] = open_client(i);

    bool reads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        reads[i] = true;
    size_t pos = 0;
    while (pos < size) {
        uint8_t op = data[pos++];
        int who = (op & 3) | ((op & 0x20) ? WS_FROM : 0);
        struct nt_conn *c = clients[who];
        reads[who] = (op & 0x10) == 0;
        switch ((op >> 2) & 3) {
        case 0:
        case 1: {
            size_t n = pos < size ? data[pos++] : 0;
            if (n > size - pos)
                n = size - pos;
            const char *in = (const char *)data + pos;
            if (c->state != NT_CONN_OPEN)
                ;
            else if (c->ws != NULL && (op & 0x40))
                nt_conn_read(c, in, n);
            else if (c->ws != NULL)
                send_message(c, in, n, who == WS_FROM + 2);
            else
                nt_conn_input(c, in, n);
            pos += n;
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
            } else if (pos < size) {
                /* The slot is open: a reload (SIGHUP) between two reads, with the next byte's
                 * max_line and history, so lines pending in the framers and history rings
                 * change size under the clients (OPERATIONS.md "Reloading"). */
                reload_byte = data[pos++];
                CHECK(nt_server_reload(srv) == 0);
                CHECK(cfg.max_line == 1 + (uint64_t)reload_byte);
            }
            break;
        }
        /* Clients that read take what they were sent; the others let it pile up. */
        for (int i = 0; i < CLIENTS; i++) {
            if (reads[i] || clients[i]->state != NT_CONN_OPEN)
                drain(clients[i], i);
        }
    }

    for (int i = 0; i < CLIENTS; i++)
        drain(clients[i], i);
    for (struct nt_list *node = srv->net.conns.next; node != &srv->net.conns; node = node->next) {
        struct nt_conn *c = NT_CONTAINER_OF(node, struct nt_conn, all_link);
        struct nt_msg *msg;
        while ((msg = nt_conn_take_queued(c)) != NULL) /* slots closed and reused: checked then */
            nt_msg_unref(msg);
        nt_conn_close(c, "error");
    }
    /* The close callbacks free every conn; nothing is flushed, since no conn is left dirty. */
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(srv->net.n_conns == 0 && srv->chat.hub.n_members == 0 && srv->chat.hub.n_rooms == 0);
    CHECK(srv->net.queued_bytes == 0);
    return 0;
}
