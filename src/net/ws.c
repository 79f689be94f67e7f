/* SPDX-License-Identifier: MIT */
/* ws.c - the WebSocket transport: frames decoded from the lower stream, control frames answered. */
#include "net/ws.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct ws {
    struct nt_transport base;
    struct nt_transport *lower; /* borrowed */
    struct nt_ws_reader reader;
    enum nt_ws_opcode opcode;
    bool is_close_queued; /* our Close is queued: nothing is framed after it */
    unsigned error;       /* the close code we failed the connection with, or 0 */
};

/* One decoding buffer for every WebSocket (reads are handled synchronously, so no two are live
 * at once); it grows to the largest read seen (a lower read is at most 64 KiB of TCP, or a TLS
 * read's plaintext). Reachable until exit. */
static char *scratch;
static size_t scratch_size;

static struct ws *ws_of(struct nt_transport *t)
{
    return NT_CONTAINER_OF(t, struct ws, base);
}

static const struct ws *ws_of_const(const struct nt_transport *t)
{
    return (const struct ws *)(const void *)((const char *)t - offsetof(struct ws, base));
}

/* Queues a control frame after what the user queued (up->on_reply keeps the order). */
static void reply(struct ws *ws, enum nt_ws_opcode opcode, const unsigned char *payload, size_t len)
{
    unsigned char frame[NT_WS_SERVER_HEADER + NT_WS_MAX_CONTROL];
    size_t h = nt_ws_header(opcode, true, len, frame);
    memcpy(frame + h, payload, len);
    ws->base.up->on_reply(&ws->base, (const char *)frame, h + len, false);
}

static void queue_close(struct ws *ws, unsigned code)
{
    if (ws->is_close_queued)
        return;
    ws->is_close_queued = true;
    unsigned char frame[4];
    size_t n = nt_ws_close_frame(code, frame);
    ws->base.up->on_reply(&ws->base, (const char *)frame, n, true);
}

static void on_lower_read(struct nt_transport *lower, ssize_t nread, const char *data)
{
    struct ws *ws = lower->up_ctx;
    if (nread < 0 || ws->error != 0 || ws->reader.close_code != 0) {
        if (nread < 0)
            ws->base.up->on_read(&ws->base, nread, data);
        return; /* after a Close or a failure, input only waits for the end of the stream */
    }
    if ((size_t)nread + 1 > scratch_size) {
        scratch_size = (size_t)nread + 1;
        scratch = nt_xrealloc(scratch, scratch_size);
    }
    size_t at = 0, out_len = 0;
    int ev = NT_WS_EV_NONE;
    while (at < (size_t)nread) {
        size_t used;
        ev = nt_ws_read(&ws->reader, data + at, (size_t)nread - at, &used, scratch, &out_len);
        at += used;
        if (ev == NT_WS_EV_PING)
            reply(ws, NT_WS_PONG, ws->reader.ctl, ws->reader.ctl_len);
        else if (ev != NT_WS_EV_NONE && ev != NT_WS_EV_PONG)
            break;
    }
    /* One read up with all the data: a door that pauses (flood control) keeps the rest of it. */
    if (out_len > 0)
        ws->base.up->on_read(&ws->base, (ssize_t)out_len, scratch);
    if (ev == NT_WS_EV_CLOSE) {
        /* §5.5.1: echo the code (none for none), then the stream ends like a TCP FIN. */
        queue_close(ws, ws->reader.close_code == 1005 ? 0 : ws->reader.close_code);
        ws->base.up->on_read(&ws->base, UV_EOF, NULL);
    } else if (ev >= NT_WS_CLOSE_NORMAL) {
        ws->error = (unsigned)ev;
        queue_close(ws, ws->error);
        ws->base.up->on_read(&ws->base, UV_EOF, NULL);
    }
}

static void on_lower_writable(struct nt_transport *lower)
{
    struct ws *ws = lower->up_ctx;
    ws->base.up->on_writable(&ws->base);
}

static void on_lower_shutdown(struct nt_transport *lower, int status)
{
    struct ws *ws = lower->up_ctx;
    ws->base.up->on_shutdown(&ws->base, status);
}

static const struct nt_transport_up lower_up = {
    .on_read = on_lower_read,
    .on_writable = on_lower_writable,
    .on_shutdown = on_lower_shutdown,
};

/* --- the transport: everything but reading passes through ------------------------------- */

static int ws_read_start(struct nt_transport *t)
{
    struct ws *ws = ws_of(t);
    return ws->lower->ops->read_start(ws->lower);
}

static void ws_read_stop(struct nt_transport *t)
{
    struct ws *ws = ws_of(t);
    ws->lower->ops->read_stop(ws->lower);
}

static int ws_try_write(struct nt_transport *t, const uv_buf_t *bufs, unsigned n)
{
    struct ws *ws = ws_of(t);
    return ws->lower->ops->try_write(ws->lower, bufs, n);
}

static int ws_write(struct nt_transport *t, uv_write_t *req, const uv_buf_t *bufs, unsigned n,
                    uv_write_cb cb)
{
    struct ws *ws = ws_of(t);
    return ws->lower->ops->write(ws->lower, req, bufs, n, cb);
}

static int ws_shutdown(struct nt_transport *t)
{
    struct ws *ws = ws_of(t);
    return ws->lower->ops->shutdown(ws->lower);
}

static size_t ws_pending(const struct nt_transport *t)
{
    const struct ws *ws = ws_of_const(t);
    return ws->lower->ops->pending(ws->lower);
}

/* Two tables: write() exists exactly when the lower's does (TCP zero-copy; TLS copies). */
static const struct nt_transport_ops ws_ops = {
    .read_start = ws_read_start,
    .read_stop = ws_read_stop,
    .try_write = ws_try_write,
    .write = ws_write,
    .shutdown = ws_shutdown,
    .pending = ws_pending,
};

static const struct nt_transport_ops ws_ops_copying = {
    .read_start = ws_read_start,
    .read_stop = ws_read_stop,
    .try_write = ws_try_write,
    .write = NULL,
    .shutdown = ws_shutdown,
    .pending = ws_pending,
};

struct nt_transport *nt_ws_new(struct nt_transport *lower, enum nt_ws_opcode opcode)
{
    struct ws *ws = nt_xcalloc(1, sizeof(*ws));
    ws->base.ops = lower->ops->write != NULL ? &ws_ops : &ws_ops_copying;
    ws->base.name = "ws";
    ws->lower = lower;
    ws->opcode = opcode;
    nt_ws_reader_init(&ws->reader, NT_WS_MAX_PAYLOAD);
    lower->up = &lower_up;
    lower->up_ctx = ws;
    return &ws->base;
}

void nt_ws_free(struct nt_transport *t)
{
    if (t != NULL)
        free(ws_of(t));
}

enum nt_ws_opcode nt_ws_opcode(const struct nt_transport *t)
{
    return ws_of_const(t)->opcode;
}

struct nt_msg *nt_ws_frame(struct nt_transport *t, const char *data, size_t n)
{
    struct ws *ws = ws_of(t);
    if (ws->is_close_queued)
        return nt_msg_new(0);
    return nt_ws_frame_lines(ws->opcode, data, n);
}

struct nt_msg *nt_ws_goodbye(struct nt_transport *t, const char *data, size_t n, const char *reason)
{
    struct ws *ws = ws_of(t);
    if (ws->is_close_queued)
        return NULL;
    ws->is_close_queued = true;
    struct nt_msg *frames = nt_ws_frame_lines(ws->opcode, data, n);
    /* §7.4.1: going away at shutdown; a policy's (1008) for a reader cut off (§4.3); else
     * normal. */
    unsigned code = NT_WS_CLOSE_NORMAL;
    if (strcmp(reason, "shutdown") == 0)
        code = NT_WS_CLOSE_GOING_AWAY;
    else if (strcmp(reason, "slow") == 0 || strcmp(reason, "stalled") == 0 ||
             strcmp(reason, "memory") == 0)
        code = NT_WS_CLOSE_POLICY;
    unsigned char close[4];
    size_t c = nt_ws_close_frame(code, close);
    const char *parts[] = {frames->data, (const char *)close};
    const size_t lens[] = {frames->len, c};
    struct nt_msg *msg = nt_msg_concat(parts, lens, 2);
    nt_msg_unref(frames);
    return msg;
}

const char *nt_ws_error(const struct nt_transport *t)
{
    switch (ws_of_const(t)->error) {
    case 0:
        return NULL;
    case NT_WS_CLOSE_BAD_DATA:
        return "1007 text message not UTF-8";
    case NT_WS_CLOSE_TOO_BIG:
        return "1009 frame over 1 MiB";
    default:
        return "1002 protocol error";
    }
}
