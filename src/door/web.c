/* SPDX-License-Identifier: MIT */
/* web.c - the web door: HTTP requests, the bundled client, the WebSocket handshake, /metrics. */
#include "door/web.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/http.h"
#include "lib/log.h"
#include "lib/ws.h"

/* PROTOCOL.md §9.2: the page, its scripts and styles only from natter itself; nothing inline. */
#define CSP                                                                                        \
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "             \
    "script-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

struct session {
    struct nt_web_door *door;
    struct nt_conn *conn; /* borrowed: it owns the session and frees it in on_closed */
    unsigned requests;    /* answered on this connection */
    size_t len;           /* bytes of buf held: a head coming, or pipelined requests */
    char buf[NT_HTTP_MAX_HEAD];
};

/* A growing response. */
struct out {
    char *p; /* owned */
    size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void outf(struct out *o, const char *fmt, ...)
{
    if (o->p == NULL) {
        o->cap = 1024;
        o->p = nt_xmalloc(o->cap);
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 misses the va_start */
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        NT_ASSERT(n >= 0);
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap = o->cap * 2 + (size_t)n + 256;
        o->p = nt_xrealloc(o->p, o->cap);
    }
}

static struct session *session_of(struct nt_conn *c)
{
    return c->ctx;
}

uint64_t nt_web_head_ms(uint64_t name_timeout_ms)
{
    return name_timeout_ms > 0 && name_timeout_ms < NT_WEB_HEAD_MS ? name_timeout_ms
                                                                   : NT_WEB_HEAD_MS;
}

/* --- responses ---------------------------------------------------------------------------- */

/* The status line, Server and Date (RFC 9110 §6.6.1): every answer starts so. */
static void status_line(struct out *o, int status)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    outf(o, "HTTP/1.1 %d %s\r\nServer: natter/" NT_VERSION "\r\nDate: %s\r\n", status,
         nt_http_reason(status), date);
}

/* The status line and the headers every response with a body has; extra is more header lines
 * (each with CR LF) or "". */
static void head(struct out *o, int status, const char *type, size_t length, bool keep,
                 const char *extra)
{
    status_line(o, status);
    outf(o,
         "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n"
         "X-Content-Type-Options: nosniff\r\nContent-Security-Policy: " CSP "\r\n%s\r\n",
         type, length, keep ? "keep-alive" : "close", extra);
}

/* Queues o's bytes, then body (a shared reference, or NULL), and frees o. A reader that this
 * takes over --max-output is cut off as too slow (PROTOCOL.md §4.3), like any other: the
 * connection ends. */
static void send_out(struct session *s, struct out *o, struct nt_msg *body)
{
    int rc = nt_conn_send_bytes(s->conn, o->p, o->len);
    if (rc == 0 && body != NULL)
        rc = nt_conn_send(s->conn, body);
    free(o->p);
    if (rc == UV_ENOBUFS)
        nt_conn_goodbye(s->conn, NULL, "slow");
}

/* A short text answer (errors, /healthz). HEAD gets the headers alone. */
static void respond_text(struct session *s, int status, const char *text, bool is_head, bool keep,
                         const char *extra)
{
    struct out o = {0};
    head(&o, status, "text/plain; charset=utf-8", strlen(text) + 1, keep, extra);
    if (!is_head)
        outf(&o, "%s\n", text);
    send_out(s, &o, NULL);
}

/* A request the parser refused: its status, and the connection ends (PROTOCOL.md §9.1). */
static void fail(struct session *s, int status)
{
    const char *text;
    switch (status) {
    case 405:
        text = "Only GET and HEAD are served here.";
        break;
    case 414:
        text = "The request line is longer than 4096 bytes.";
        break;
    case 431:
        text = "The request head is over 8192 bytes or 64 header lines.";
        break;
    case 505:
        text = "Only HTTP/1.1 and HTTP/1.0 are served here.";
        break;
    default:
        text = "Malformed request.";
        break;
    }
    NT_DEBUG("conn=%llu peer=%s http: refused %d", (unsigned long long)s->conn->id, s->conn->peer,
             status);
    respond_text(s, status, text, false, false, status == 405 ? "Allow: GET, HEAD\r\n" : "");
    s->door->requests++;
    nt_conn_goodbye(s->conn, NULL, "http");
}

/* --- /metrics ------------------------------------------------------------------------------ */

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (f != NULL) {
        if (fscanf(f, "%llu %llu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    uint64_t n = 0;
    if (d == NULL)
        return 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n > 0 ? n - 1 : 0; /* not the directory's own descriptor */
}

static void metric(struct out *o, const char *name, const char *type, const char *help)
{
    outf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct out *o, const char *name, const char *type, const char *help, uint64_t v)
{
    metric(o, name, type, help);
    outf(o, "%s %llu\n", name, (unsigned long long)v);
}

/* The Prometheus text format (version 0.0.4) of what the server counts (PROTOCOL.md §9.4). */
/* The link to the other nodes (--redis; OPERATIONS.md, "Metrics"). */
static void cluster_metrics(struct out *o, const struct nt_cluster_stats *cs)
{
    one(o, "natter_cluster_linked", "gauge", "1 while the link to the other nodes works.",
        cs->is_up);
    one(o, "natter_cluster_nodes", "gauge", "Other nodes heard from.", cs->peers);
    one(o, "natter_cluster_remote_users", "gauge", "Users of other nodes.", cs->ghosts);
    one(o, "natter_cluster_events_published_total", "counter",
        "This node's messages handed to Redis.", cs->published);
    one(o, "natter_cluster_events_received_total", "counter", "Other nodes' events applied here.",
        cs->received);
    one(o, "natter_cluster_dropped_total", "counter",
        "This node's messages not sent: the link was down or --redis-queue full.", cs->dropped);
    one(o, "natter_cluster_missing_total", "counter",
        "Other nodes' messages that never came (gaps).", cs->missing);
    one(o, "natter_cluster_outages_total", "counter", "Times the link went down.", cs->outages);
    one(o, "natter_cluster_name_claims_total", "counter", "Names asked of Redis.", cs->claims);
    one(o, "natter_cluster_name_clashes_total", "counter",
        "Names two nodes held at once, settled by the earlier claim.", cs->clashes);
}

static void metrics_text(const struct nt_web_door *door, struct out *o)
{
    const struct nt_net *net = door->net;
    const struct nt_net_stats *st = &net->stats;
    /* Clients by door: a WebSocket is "ws" whatever it speaks; "http" has not upgraded. */
    uint64_t line = 0, irc = 0, ws = 0, http = 0;
    for (const struct nt_list *l = net->conns.next; l != &net->conns; l = l->next) {
        const struct nt_conn *c =
            (const struct nt_conn *)(const void *)((const char *)l -
                                                   offsetof(struct nt_conn, all_link));
        if (c->state != NT_CONN_OPEN)
            continue;
        if (c->ws != NULL)
            ws++;
        else if (strcmp(c->h->name, "line") == 0)
            line++;
        else if (strcmp(c->h->name, "irc") == 0)
            irc++;
        else if (strcmp(c->h->name, "http") == 0)
            http++;
    }
    metric(o, "natter_clients", "gauge", "Open connections by door.");
    outf(o,
         "natter_clients{door=\"line\"} %llu\nnatter_clients{door=\"irc\"} %llu\n"
         "natter_clients{door=\"ws\"} %llu\nnatter_clients{door=\"http\"} %llu\n",
         (unsigned long long)line, (unsigned long long)irc, (unsigned long long)ws,
         (unsigned long long)http);
    struct nt_cluster_stats cs = {0};
    if (door->cluster != NULL)
        nt_cluster_stats(door->cluster, &cs);
    one(o, "natter_named_clients", "gauge",
        "Users in the chat (with a name) on this node, every door.",
        door->chat->names.count - cs.ghosts);
    one(o, "natter_rooms", "gauge", "Rooms that exist (with at least one member).",
        door->chat->hub.n_rooms);
    one(o, "natter_connections_accepted_total", "counter", "Connections accepted.", st->accepted);
    metric(o, "natter_connections_refused_total", "counter",
           "Connections refused at the door, by reason.");
    outf(o,
         "natter_connections_refused_total{reason=\"banned\"} %llu\n"
         "natter_connections_refused_total{reason=\"per_ip\"} %llu\n"
         "natter_connections_refused_total{reason=\"full\"} %llu\n",
         (unsigned long long)st->refused_banned, (unsigned long long)st->refused_per_ip,
         (unsigned long long)st->refused_full);
    one(o, "natter_lines_received_total", "counter",
        "Chat lines and actions received from users (not commands).", door->chat->lines_received);
    one(o, "natter_deliveries_total", "counter", "Events handed to a recipient.",
        door->chat->hub.deliveries);
    one(o, "natter_events_encoded_total", "counter",
        "Byte forms built for events (one per event per format in use).", nt_event_encodings());
    one(o, "natter_written_bytes_total", "counter", "Bytes handed to the sockets.",
        st->bytes_written);
    metric(o, "natter_slow_consumers_total", "counter",
           "Readers cut off: over --max-output, stalled, or the largest backlog past "
           "--max-output-total.");
    outf(o,
         "natter_slow_consumers_total{reason=\"output\"} %llu\n"
         "natter_slow_consumers_total{reason=\"stalled\"} %llu\n"
         "natter_slow_consumers_total{reason=\"memory\"} %llu\n",
         (unsigned long long)st->cut_slow, (unsigned long long)st->cut_stalled,
         (unsigned long long)st->cut_memory);
    one(o, "natter_flood_pauses_total", "counter", "Times flood control paused a client's input.",
        st->flood_pauses);
    one(o, "natter_tls_handshake_failures_total", "counter",
        "TLS connections that failed (handshake or record errors).", st->tls_failures);
    one(o, "natter_http_requests_total", "counter", "HTTP requests answered.", door->requests);
    one(o, "natter_websocket_upgrades_total", "counter", "WebSocket connections opened.",
        door->upgrades);
    if (door->cluster != NULL)
        cluster_metrics(o, &cs);
    uint64_t now = nt_wall_ms();
    one(o, "natter_uptime_seconds", "gauge", "Seconds since the server started.",
        (now - door->start_ms) / 1000);
    metric(o, "natter_build_info", "gauge", "The version of natter running.");
    outf(o, "natter_build_info{version=\"" NT_VERSION "\"} 1\n");
    one(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss_bytes());
    one(o, "process_open_fds", "gauge", "Open file descriptors.", open_fds());
    metric(o, "process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch in seconds.");
    outf(o, "process_start_time_seconds %llu.%03llu\n", (unsigned long long)(door->start_ms / 1000),
         (unsigned long long)(door->start_ms % 1000));
}

static void serve_metrics(struct session *s, bool is_head, bool keep)
{
    struct nt_conn *c = s->conn;
    if (!nt_config_cidr_match(s->door->cfg->metrics_allow, s->door->cfg->n_metrics_allow, c->ip)) {
        NT_INFO("conn=%llu peer=%s http: /metrics refused (not in --metrics-allow)",
                (unsigned long long)c->id, c->peer);
        respond_text(s, 403, "Forbidden: this address is not in --metrics-allow.", is_head, keep,
                     "");
        return;
    }
    struct out body = {0};
    metrics_text(s->door, &body);
    struct out o = {0};
    head(&o, 200, "text/plain; version=0.0.4; charset=utf-8", body.len, keep,
         "Cache-Control: no-store\r\n");
    if (!is_head)
        outf(&o, "%.*s", (int)body.len, body.p);
    free(body.p);
    send_out(s, &o, NULL);
}

/* --- the WebSocket handshake (RFC 6455 §4.2) -------------------------------------------- */

static void sha1(const void *data, size_t n, unsigned char digest[20])
{
    unsigned int len = 20;
    NT_ASSERT(EVP_Digest(data, n, digest, &len, EVP_sha1(), NULL) == 1);
}

/* Whether the Origin of req may open a WebSocket: the page's own origin (this listener's scheme
 * and the request's Host), or one of --web-origin. */
static bool origin_ok(const struct session *s, const struct nt_http_field *origin,
                      const struct nt_http_request *req)
{
    char got[NT_WEB_ORIGIN_MAX], own[NT_WEB_ORIGIN_MAX + 8], own_norm[NT_WEB_ORIGIN_MAX];
    if (nt_config_origin_normalize(origin->value, origin->value_len, got, sizeof(got)) != 0)
        return false; /* "null", or anything that is not an http(s) origin */
    if (req->host != NULL) {
        snprintf(own, sizeof(own), "%s://%.*s", nt_conn_is_tls(s->conn) ? "https" : "http",
                 (int)req->host_len, req->host);
        if (nt_config_origin_normalize(own, strlen(own), own_norm, sizeof(own_norm)) == 0 &&
            strcmp(got, own_norm) == 0)
            return true;
    }
    const struct nt_config *cfg = s->door->cfg;
    for (size_t i = 0; i < cfg->n_web_origin; i++) {
        if (strcmp(got, cfg->web_origin[i]) == 0)
            return true;
    }
    return false;
}

enum subprotocol { SUB_NONE, SUB_LINE, SUB_IRC_TEXT, SUB_IRC_BINARY };

static const char *const sub_names[] = {"", "natter.line", "text.ircv3.net", "binary.ircv3.net"};

/* The first subprotocol the client offers that natter speaks, in the client's order; none of
 * them (or none offered) is IRC without a name (PROTOCOL.md §9.3). */
static enum subprotocol pick_subprotocol(const struct nt_http_request *req)
{
    for (size_t i = 0; i < req->n_fields; i++) {
        const struct nt_http_field *f = &req->fields[i];
        if (f->name_len != 22 || strncasecmp(f->name, "Sec-WebSocket-Protocol", 22) != 0)
            continue;
        size_t at = 0;
        while (at < f->value_len) {
            size_t start = at;
            while (at < f->value_len && f->value[at] != ',')
                at++;
            size_t stop = at++;
            while (start < stop && (f->value[start] == ' ' || f->value[start] == '\t'))
                start++;
            while (stop > start && (f->value[stop - 1] == ' ' || f->value[stop - 1] == '\t'))
                stop--;
            for (int p = SUB_LINE; p <= SUB_IRC_BINARY; p++) {
                if (stop - start == strlen(sub_names[p]) &&
                    memcmp(f->value + start, sub_names[p], stop - start) == 0)
                    return (enum subprotocol)p;
            }
        }
    }
    return SUB_NONE;
}

static bool field_is(const struct nt_http_field *f, const char *value)
{
    return f != NULL && f->value_len == strlen(value) && memcmp(f->value, value, f->value_len) == 0;
}

/*
 * GET /ws: checks the handshake, answers 101 and hands the conn to the door of its subprotocol.
 * has_more: bytes came after the head (a client must wait for the 101, §4.1). Returns whether
 * the session goes on as HTTP (false: it ended or became a WebSocket; s is then gone).
 */
static bool upgrade(struct session *s, const struct nt_http_request *req, bool is_head, bool keep,
                    bool has_more)
{
    struct nt_conn *c = s->conn;
    const struct nt_http_field *upgrade_f = nt_http_field(req, "Upgrade");
    const struct nt_http_field *conn_f = nt_http_field(req, "Connection");
    const struct nt_http_field *key = nt_http_field(req, "Sec-WebSocket-Key");
    const struct nt_http_field *origin = nt_http_field(req, "Origin");
    if (upgrade_f == NULL ||
        !nt_http_has_token(upgrade_f->value, upgrade_f->value_len, "websocket") || conn_f == NULL ||
        !nt_http_has_token(conn_f->value, conn_f->value_len, "upgrade")) {
        respond_text(s, 426,
                     "This is natter's WebSocket endpoint: connect with a WebSocket client.",
                     is_head, keep, "Upgrade: websocket\r\n");
        if (!keep)
            nt_conn_goodbye(c, NULL, "http");
        return keep;
    }
    const char *why = NULL;
    int status = 400;
    if (is_head || req->minor != 1) {
        why = "A WebSocket handshake is a GET in HTTP/1.1.";
    } else if (!field_is(nt_http_field(req, "Sec-WebSocket-Version"), "13")) {
        /* RFC 6455 §4.4 names the version; RFC 9110 §15.5.22 wants the Upgrade. */
        status = 426;
        why = "Only WebSocket version 13 (RFC 6455) is spoken here.";
    } else if (key == NULL || !nt_ws_key_ok(key->value, key->value_len)) {
        why = "Sec-WebSocket-Key must be 16 bytes in base64.";
    } else if (origin != NULL && !origin_ok(s, origin, req)) {
        status = 403;
        why = "This page's origin may not open a WebSocket here (see --web-origin).";
    } else if (has_more) {
        why = "Data came before the handshake's answer.";
    }
    if (why != NULL) {
        NT_INFO("conn=%llu peer=%s websocket: refused %d: %s", (unsigned long long)c->id, c->peer,
                status, why);
        respond_text(s, status, why, false, false,
                     status == 426 ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" : "");
        nt_conn_goodbye(c, NULL, "http");
        return false;
    }
    enum subprotocol sub = pick_subprotocol(req);
    char accept[29];
    nt_ws_accept(key->value, key->value_len, sha1, accept);
    struct out o = {0};
    /* No Date: a 1xx need not have one (RFC 9110 §6.6.1). */
    outf(&o,
         "HTTP/1.1 101 Switching Protocols\r\nServer: natter/" NT_VERSION "\r\n"
         "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
         accept);
    if (sub != SUB_NONE)
        outf(&o, "Sec-WebSocket-Protocol: %s\r\n", sub_names[sub]);
    outf(&o, "\r\n");
    send_out(s, &o, NULL);
    struct nt_web_door *door = s->door;
    door->upgrades++;
    NT_INFO("conn=%llu peer=%s websocket: %s", (unsigned long long)c->id, c->peer,
            sub == SUB_LINE   ? "natter.line"
            : sub == SUB_NONE ? "IRC (no subprotocol)"
                              : sub_names[sub]);
    /* The conn becomes a WebSocket and the session is done: the next door takes it. */
    free(s);
    nt_conn_upgrade_ws(c, sub == SUB_IRC_BINARY ? NT_WS_BINARY : NT_WS_TEXT);
    if (sub == SUB_LINE)
        nt_line_door_open(door->line, c);
    else
        nt_irc_door_open(door->irc, c);
    return false;
}

/* --- requests -------------------------------------------------------------------------------- */

/* The path of req's target: origin-form up to '?', or that of an absolute-form URI. */
static void target_path(const struct nt_http_request *req, const char **path, size_t *len)
{
    const char *t = req->target;
    size_t n = req->target_len;
    if (n > 0 && t[0] != '/') { /* http://host/path */
        const char *p = memchr(t, ':', n);
        size_t skip = p ? (size_t)(p - t) + 3 : n;
        const char *slash = skip < n ? memchr(t + skip, '/', n - skip) : NULL;
        if (slash == NULL) {
            *path = "/";
            *len = 1;
            return;
        }
        n -= (size_t)(slash - t);
        t = slash;
    }
    const char *q = memchr(t, '?', n);
    *path = t;
    *len = q ? (size_t)(q - t) : n;
}

static bool path_is(const char *path, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(path, want, len) == 0;
}

/* Whether the client keeps the connection (RFC 9112 §9.3): HTTP/1.1 unless "close", 1.0 only
 * with "keep-alive". */
static bool wants_keep_alive(const struct nt_http_request *req)
{
    const struct nt_http_field *f = nt_http_field(req, "Connection");
    if (req->minor == 0)
        return f != NULL && nt_http_has_token(f->value, f->value_len, "keep-alive");
    return f == NULL || !nt_http_has_token(f->value, f->value_len, "close");
}

/* Whether an If-None-Match value names etag (RFC 9110 §13.1.2): "*", or a list of entity tags
 * compared weakly (a W/ prefix is ignored). */
static bool etag_matches(const char *v, size_t n, const char *etag)
{
    size_t etag_len = strlen(etag);
    size_t at = 0;
    while (at < n) {
        size_t start = at;
        while (at < n && v[at] != ',')
            at++;
        size_t stop = at++;
        while (start < stop && (v[start] == ' ' || v[start] == '\t'))
            start++;
        while (stop > start && (v[stop - 1] == ' ' || v[stop - 1] == '\t'))
            stop--;
        if (stop - start == 1 && v[start] == '*')
            return true;
        if (stop - start > 2 && v[start] == 'W' && v[start + 1] == '/')
            start += 2;
        if (stop - start == etag_len && memcmp(v + start, etag, etag_len) == 0)
            return true;
    }
    return false;
}

static void serve_asset(struct session *s, const struct nt_http_request *req, size_t i,
                        bool is_head, bool keep)
{
    const struct nt_web_door *door = s->door;
    const struct nt_http_field *inm = nt_http_field(req, "If-None-Match");
    char extra[128];
    snprintf(extra, sizeof(extra), "Cache-Control: no-cache\r\nETag: %s\r\n", door->etags[i]);
    struct out o = {0};
    if (inm != NULL && etag_matches(inm->value, inm->value_len, door->etags[i])) {
        /* 304 has no body: its length is left out (RFC 9110 §15.4.5). */
        status_line(&o, 304);
        outf(&o, "Connection: %s\r\n%s\r\n", keep ? "keep-alive" : "close", extra);
        send_out(s, &o, NULL);
        return;
    }
    head(&o, 200, nt_web_assets[i].type, nt_web_assets[i].len, keep, extra);
    send_out(s, &o, is_head ? NULL : door->bodies[i]);
}

/*
 * Answers the request at the start of s->buf. Returns whether the session goes on reading
 * requests (false: the connection ends, or it became a WebSocket and s is gone).
 */
static bool serve(struct session *s, const struct nt_http_request *req, bool has_more)
{
    struct nt_web_door *door = s->door;
    bool is_head = req->method == NT_HTTP_HEAD;
    s->requests++;
    door->requests++;
    bool keep = wants_keep_alive(req) && s->requests < NT_WEB_MAX_REQUESTS;
    const char *path;
    size_t len;
    target_path(req, &path, &len);
    NT_DEBUG("conn=%llu peer=%s http: %s %.*s", (unsigned long long)s->conn->id, s->conn->peer,
             is_head ? "HEAD" : "GET", (int)len, path);
    if (path_is(path, len, "/ws"))
        return upgrade(s, req, is_head, keep, has_more);
    if (path_is(path, len, "/metrics")) {
        serve_metrics(s, is_head, keep);
    } else if (path_is(path, len, "/healthz")) {
        respond_text(s, 200, "ok", is_head, keep, "Cache-Control: no-store\r\n");
    } else {
        if (path_is(path, len, "/"))
            path = "/index.html", len = 11;
        size_t i = 0;
        while (i < door->n_assets && !path_is(path, len, nt_web_assets[i].path))
            i++;
        if (i < door->n_assets)
            serve_asset(s, req, i, is_head, keep);
        else
            respond_text(s, 404, "Not found.", is_head, keep, "");
    }
    if (s->conn->state != NT_CONN_OPEN)
        return false; /* cut off as too slow */
    if (!keep) {
        nt_conn_goodbye(s->conn, NULL, "http");
        return false;
    }
    return true;
}

static size_t on_data(struct nt_conn *c, const char *data, size_t len)
{
    struct session *s = session_of(c);
    size_t took = 0;
    while (c->state == NT_CONN_OPEN) {
        size_t n = len - took;
        if (n > sizeof(s->buf) - s->len)
            n = sizeof(s->buf) - s->len;
        memcpy(s->buf + s->len, data + took, n);
        s->len += n;
        took += n;
        if (s->len == 0)
            break;
        struct nt_http_request req;
        int status = nt_http_parse(s->buf, s->len, &req);
        if (status == 0 && s->len == sizeof(s->buf))
            status = 431; /* the parser would need more than a head may have */
        if (status == 0)
            break;
        if (status != 200) {
            fail(s, status);
            break;
        }
        bool has_more = s->len > req.head_len || took < len;
        size_t head_len = req.head_len;
        if (!serve(s, &req, has_more))
            break; /* s may be gone */
        memmove(s->buf, s->buf + head_len, s->len - head_len);
        s->len -= head_len;
        /* The next head gets the whole time again (and a slow one no more than that). */
        nt_conn_set_deadline(c, NT_TIMEOUT_HTTP);
    }
    return len;
}

static void on_eof(struct nt_conn *c)
{
    nt_conn_goodbye(c, NULL, "closed");
}

static void on_end(struct nt_conn *c, const char *reason)
{
    NT_DEBUG("conn=%llu peer=%s http: closed: %s", (unsigned long long)c->id, c->peer, reason);
}

static void on_timeout(struct nt_conn *c, enum nt_timeout_kind kind)
{
    (void)kind; /* a head that did not come whole in time, or no next request (§9.1) */
    nt_conn_goodbye(c, NULL, "timeout");
}

static void on_closed(struct nt_conn *c)
{
    free(session_of(c));
}

/* An HTTP connection's goodbye (shutdown, too slow, stalled) is its end alone: no chat line. */
static size_t goodbye(struct nt_conn *c, const char *text, const char *reason, char *out,
                      size_t cap)
{
    (void)c;
    (void)text;
    (void)reason;
    (void)out;
    (void)cap;
    return 0;
}

static const struct nt_conn_handler handler = {
    .name = "http",
    .on_data = on_data,
    .on_eof = on_eof,
    .on_end = on_end,
    .on_timeout = on_timeout,
    .on_closed = on_closed,
    .goodbye = goodbye,
};

/* --- the door ---------------------------------------------------------------------------- */

/* FNV-1a, 64 bits: an ETag that changes when the file does. */
static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void nt_web_door_init(struct nt_web_door *door, struct nt_chat *chat, struct nt_net *net,
                      struct nt_line_door *line, struct nt_irc_door *irc,
                      const struct nt_config *cfg)
{
    memset(door, 0, sizeof(*door));
    door->cfg = cfg;
    door->chat = chat;
    door->net = net;
    door->line = line;
    door->irc = irc;
    door->start_ms = nt_wall_ms();
    while (nt_web_assets[door->n_assets].path != NULL)
        door->n_assets++;
    size_t n = door->n_assets ? door->n_assets : 1;
    door->bodies = nt_xcalloc(n, sizeof(struct nt_msg *));
    door->etags = nt_xcalloc(n, NT_WEB_ETAG_SIZE);
    for (size_t i = 0; i < door->n_assets; i++) {
        const struct nt_web_asset *a = &nt_web_assets[i];
        door->bodies[i] = nt_msg_new(a->len);
        memcpy(door->bodies[i]->data, a->data, a->len);
        snprintf(door->etags[i], sizeof(door->etags[i]), "\"%016llx\"",
                 (unsigned long long)fnv1a(a->data, a->len));
    }
}

void nt_web_door_fini(struct nt_web_door *door)
{
    for (size_t i = 0; i < door->n_assets; i++)
        nt_msg_unref(door->bodies[i]);
    free(door->bodies);
    free(door->etags);
    door->bodies = NULL;
    door->etags = NULL;
}

void nt_web_door_open(struct nt_web_door *door, struct nt_conn *c)
{
    struct session *s = nt_xmalloc(sizeof(*s));
    s->door = door;
    s->conn = c;
    s->requests = 0;
    s->len = 0;
    nt_conn_set_handler(c, &handler, s);
    nt_conn_set_deadline(c, NT_TIMEOUT_HTTP);
}

void nt_web_door_refuse(struct nt_web_door *door, struct nt_conn *c, int status, const char *text)
{
    nt_web_door_open(door, c);
    struct session *s = session_of(c);
    door->requests++;
    respond_text(s, status, text, false, false, status == 503 ? "Retry-After: 10\r\n" : "");
    nt_conn_goodbye(c, NULL, "refused");
}
