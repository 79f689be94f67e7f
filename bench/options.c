/* SPDX-License-Identifier: MIT */
/* options.c - natter-bench's option table, parsing, range checks and --help. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

/* OPT_LIST: a whole number like OPT_COUNT, repeatable: each use appends to a struct nt_list_u64. */
enum opt_type { OPT_PROTO, OPT_MODE, OPT_STRING, OPT_COUNT, OPT_LIST, OPT_SECONDS, OPT_FLAG };

struct opt {
    const char *name;
    enum opt_type type;
    size_t offset;
    double min, max;
    const char *metavar;
    const char *def;
    const char *help;
};

#define FIELD(f)      offsetof(struct nt_options, f), 0
#define RANGE(lo, hi) lo, hi

static const struct opt table[] = {
    {"proto", OPT_PROTO, FIELD(proto), 0, "natter|redis|nats|irc|ws", "natter",
     "protocol: natter lines, Redis pub/sub (RESP), NATS, IRC (NICK/USER, JOIN, PRIVMSG), a "
     "WebSocket broadcast server (name, then NAME: TEXT; implies --ws)"},
    {"host", OPT_STRING, FIELD(host), 0, "IPV4", "127.0.0.1", "server address"},
    {"port", OPT_LIST, offsetof(struct nt_options, ports), RANGE(1, 65535), "PORT",
     "8888/6379/4222/6667/8080",
     "server port (default: the protocol's usual one); repeatable, up to 16 (the nodes of a "
     "cluster): with N ports receiver i connects to the (i mod N)-th and sender j to the "
     "(j mod N)-th, counting from 0 in the order given; the marker and broadcast client to the "
     "first"},
    {"sender-port", OPT_LIST, offsetof(struct nt_options, sender_ports), RANGE(1, 65535), "PORT",
     "--port's",
     "senders connect here instead (repeatable, up to 16: sender j to the (j mod M)-th of M); "
     "receivers and the marker stay on --port"},
    {"mode", OPT_MODE, FIELD(mode), 0, "MODE", "throughput",
     "throughput, latency, connections, stalled or joins"},
    {"receivers", OPT_COUNT, offsetof(struct nt_options, receivers), RANGE(1, 100000), "R",
     "100; joins: 2000",
     "receiving connections (connections mode: idle clients; joins mode: the joiners)"},
    {"connections", OPT_COUNT, offsetof(struct nt_options, receivers), RANGE(1, 100000), "N", "",
     "same as --receivers"},
    {"senders", OPT_COUNT, offsetof(struct nt_options, senders), RANGE(0, 1000), "S", "4",
     "sending connections (not used in connections and joins mode)"},
    {"window", OPT_COUNT, offsetof(struct nt_options, window), RANGE(1, 4096), "W", "16",
     "messages a sender may have not yet received by every receiver (throughput, stalled)"},
    {"size", OPT_COUNT, offsetof(struct nt_options, size), RANGE(NT_PAYLOAD_MIN, NT_PAYLOAD_MAX),
     "BYTES", "64", "payload size"},
    {"duration", OPT_SECONDS, offsetof(struct nt_options, duration), RANGE(0.1, 3600), "SECONDS",
     "5", "measured window"},
    {"warmup", OPT_SECONDS, offsetof(struct nt_options, warmup), RANGE(0, 600), "SECONDS", "1",
     "load before the measured window (stalled mode: the reference rate)"},
    {"rate", OPT_SECONDS, offsetof(struct nt_options, rate), RANGE(1, 10000000), "MSGS_PER_S",
     "1000", "latency mode: messages per second offered, split over the senders"},
    {"stalled", OPT_COUNT, offsetof(struct nt_options, stalled), RANGE(1, 100000), "K", "1",
     "stalled mode: receivers that stop reading after the warmup"},
    {"stalled-rcvbuf", OPT_COUNT, offsetof(struct nt_options, stalled_rcvbuf), RANGE(1024, 1 << 24),
     "BYTES", "4096", "stalled mode: SO_RCVBUF of the stalled receivers"},
    {"server-pid", OPT_LIST, offsetof(struct nt_options, server_pids), RANGE(1, 1 << 30), "PID", "",
     "sample this process's CPU time and RSS (/proc/PID); repeatable, up to 16 (a cluster's "
     "nodes and Redis): the server figures are the sum, each process's are reported too"},
    {"workers", OPT_COUNT, offsetof(struct nt_options, workers), RANGE(1, 64), "N", "1",
     "I/O threads; connections are spread over them"},
    {"sources", OPT_COUNT, offsetof(struct nt_options, sources), RANGE(1, 250), "N", "auto",
     "source addresses 127.0.0.2..N+1 (auto: one per 25,000 connections; 127.0.0.1 if one)"},
    {"connect-burst", OPT_COUNT, offsetof(struct nt_options, connect_burst), RANGE(1, 4096), "N",
     "256",
     "connections waiting for the server's first answer at once; keep it below the "
     "server's listen backlog (asyncio: 100)"},
    {"setup-timeout", OPT_SECONDS, offsetof(struct nt_options, setup_timeout), RANGE(1, 3600),
     "SECONDS", "auto", "limit on connecting and joining (auto: 20 + 5 ms per connection)"},
    {"settle", OPT_SECONDS, offsetof(struct nt_options, settle), RANGE(0, 600), "SECONDS", "3",
     "connections mode: idle time before the RSS sample (Redis frees idle clients' buffers "
     "after 2 s)"},
    {"channel", OPT_STRING, FIELD(channel), 0, "NAME", "natter-bench",
     "Redis channel / NATS subject / IRC channel (without the #)"},
    {"tls", OPT_FLAG, offsetof(struct nt_options, tls), 0, 0, NULL, "off",
     "every connection speaks TLS (natter, redis, irc); no certificate check without --tls-ca"},
    {"tls-ca", OPT_STRING, offsetof(struct nt_options, tls_ca), RANGE(0, 4096), "FILE", "",
     "with --tls: verify the server's certificate chain against these PEM CA certificates"},
    {"ws", OPT_FLAG, offsetof(struct nt_options, ws), 0, 0, NULL, "off",
     "every connection is a WebSocket (RFC 6455, GET --ws-path; natter, irc; wss with --tls): "
     "each line one text message"},
    {"ws-path", OPT_STRING, offsetof(struct nt_options, ws_path), RANGE(0, 256), "PATH", "/ws",
     "with --ws: the upgrade request's path"},
    {"ws-protocol", OPT_STRING, offsetof(struct nt_options, ws_protocol), RANGE(0, 64), "NAME",
     "auto",
     "with --ws: the subprotocol asked for, or none (auto: natter.line for natter, "
     "text.ircv3.net for irc, none for ws)"},
    {"json", OPT_FLAG, offsetof(struct nt_options, json), 0, 0, NULL, "off",
     "also print one JSON line with every figure"},
    {"quiet", OPT_FLAG, offsetof(struct nt_options, quiet), 0, 0, NULL, "off",
     "no progress lines on stderr"},
};

const char *nt_proto_name(enum nt_proto p)
{
    static const char *const names[] = {"natter", "redis", "nats", "irc", "ws"};
    return names[p];
}

const char *nt_mode_name(enum nt_mode m)
{
    static const char *const names[] = {"throughput", "latency", "connections", "stalled", "joins"};
    return names[m];
}

void nt_options_ports(const struct nt_options *o, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "%s:", o->host);
    for (uint32_t i = 0; i < o->ports.n && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%s%llu", i ? "," : "",
                              (unsigned long long)o->ports.v[i]);
    if (o->sender_ports.n && n < size)
        n += (size_t)snprintf(out + n, size - n, " (senders on ");
    for (uint32_t i = 0; i < o->sender_ports.n && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%s%llu", i ? "," : "",
                              (unsigned long long)o->sender_ports.v[i]);
    if (o->sender_ports.n && n < size)
        snprintf(out + n, size - n, ")");
}

static void defaults(struct nt_options *o)
{
    memset(o, 0, sizeof(*o));
    o->proto = NT_PROTO_NATTER;
    o->mode = NT_MODE_THROUGHPUT;
    snprintf(o->host, sizeof(o->host), "127.0.0.1");
    o->receivers = 0; /* the mode's default, once the mode is known */
    o->senders = 4;
    o->window = 16;
    o->size = 64;
    o->duration = 5;
    o->warmup = 1;
    o->rate = 1000;
    o->stalled = 1;
    o->stalled_rcvbuf = 4096;
    o->workers = 1;
    o->settle = 3;
    o->connect_burst = 256;
    snprintf(o->channel, sizeof(o->channel), "natter-bench");
    snprintf(o->ws_path, sizeof(o->ws_path), "/ws");
}

static void help(FILE *out)
{
    fprintf(out, "usage: natter-bench [options]\n"
                 "Load generator for natter, Redis pub/sub, NATS, IRC and WebSocket servers:\n"
                 "every delivery is counted and checked for loss, duplicates, reordering and\n"
                 "corruption.\n\n");
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const struct opt *o = &table[i];
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        fprintf(out, "  %-34s %s", left, o->help);
        if (o->def[0])
            fprintf(out, " [%s]", o->def);
        fputc('\n', out);
    }
    fprintf(out, "  %-34s %s\n\n", "-h, --help", "print this help and exit");
    fprintf(out, "Exit status: 0 success; 1 loss, duplicates, reordering or corruption where\n"
                 "none is allowed, or the run could not complete; 2 usage error.\n");
}

static bool parse_count(const char *s, uint64_t *v)
{
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *v = x;
    return true;
}

static bool parse_double(const char *s, double *v)
{
    if ((*s < '0' || *s > '9') && *s != '.')
        return false;
    errno = 0;
    char *end;
    double x = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(x))
        return false;
    *v = x;
    return true;
}

/* Applies one option; returns false (after reporting) on a bad value. */
static bool apply(struct nt_options *opts, const struct opt *o, const char *val, FILE *err)
{
    char *base = (char *)opts;
    switch (o->type) {
    case OPT_PROTO: {
        enum nt_proto *p = (enum nt_proto *)(void *)(base + o->offset);
        for (int i = 0; i <= NT_PROTO_WS; i++) {
            if (strcmp(val, nt_proto_name((enum nt_proto)i)) == 0) {
                *p = (enum nt_proto)i;
                return true;
            }
        }
        fprintf(err, "natter-bench: --proto: '%s' is not natter, redis, nats, irc or ws\n", val);
        return false;
    }
    case OPT_MODE: {
        enum nt_mode *m = (enum nt_mode *)(void *)(base + o->offset);
        for (int i = 0; i <= NT_MODE_JOINS; i++) {
            if (strcmp(val, nt_mode_name((enum nt_mode)i)) == 0) {
                *m = (enum nt_mode)i;
                return true;
            }
        }
        fprintf(err,
                "natter-bench: --mode: '%s' is not throughput, latency, connections, "
                "stalled or joins\n",
                val);
        return false;
    }
    case OPT_STRING: {
        /* A string's max is its field's size; 0 means the usual 64. */
        char *s = base + o->offset;
        size_t n = strlen(val), cap = o->max > 0 ? (size_t)o->max : 64;
        if (n == 0 || n >= cap) {
            fprintf(err, "natter-bench: --%s: must be 1 to %zu characters\n", o->name, cap - 1);
            return false;
        }
        memcpy(s, val, n + 1);
        return true;
    }
    case OPT_COUNT: {
        uint64_t v;
        if (!parse_count(val, &v) || (double)v < o->min || (double)v > o->max) {
            fprintf(err, "natter-bench: --%s: '%s' is not a whole number from %.0f to %.0f\n",
                    o->name, val, o->min, o->max);
            return false;
        }
        memcpy(base + o->offset, &v, sizeof(v));
        return true;
    }
    case OPT_LIST: {
        struct nt_list_u64 *l = (struct nt_list_u64 *)(void *)(base + o->offset);
        uint64_t v;
        if (!parse_count(val, &v) || (double)v < o->min || (double)v > o->max) {
            fprintf(err, "natter-bench: --%s: '%s' is not a whole number from %.0f to %.0f\n",
                    o->name, val, o->min, o->max);
            return false;
        }
        if (l->n == NT_LIST_MAX) {
            fprintf(err, "natter-bench: --%s: at most %d times\n", o->name, NT_LIST_MAX);
            return false;
        }
        l->v[l->n++] = v;
        return true;
    }
    case OPT_SECONDS: {
        double v;
        if (!parse_double(val, &v) || v < o->min || v > o->max) {
            fprintf(err, "natter-bench: --%s: '%s' is not a number from %g to %g\n", o->name, val,
                    o->min, o->max);
            return false;
        }
        memcpy(base + o->offset, &v, sizeof(v));
        return true;
    }
    case OPT_FLAG: {
        bool t = true;
        memcpy(base + o->offset, &t, sizeof(t));
        return true;
    }
    }
    return false;
}

int nt_options_parse(struct nt_options *opts, int argc, char **argv, FILE *out, FILE *err)
{
    defaults(opts);
    bool ok = true;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            help(out);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(err, "natter-bench: unexpected argument '%s'\n", arg);
            ok = false;
            continue;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = NULL;
        for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
            if (strlen(table[k].name) == name_len && strncmp(table[k].name, name, name_len) == 0)
                o = &table[k];
        }
        if (o == NULL) {
            fprintf(err, "natter-bench: unknown option '%s' (see --help)\n", arg);
            ok = false;
            continue;
        }
        const char *val = NULL;
        if (o->type == OPT_FLAG) {
            if (eq) {
                fprintf(err, "natter-bench: --%s takes no value\n", o->name);
                ok = false;
                continue;
            }
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            fprintf(err, "natter-bench: --%s needs a value (%s)\n", o->name, o->metavar);
            ok = false;
            continue;
        }
        if (!apply(opts, o, val, err))
            ok = false;
    }
    if (opts->receivers == 0)
        opts->receivers = opts->mode == NT_MODE_JOINS ? 2000 : 100;
    bool idle = opts->mode == NT_MODE_CONNECTIONS || opts->mode == NT_MODE_JOINS;
    if (ok && !idle && opts->senders == 0) {
        fprintf(err, "natter-bench: --senders must be at least 1 in %s mode\n",
                nt_mode_name(opts->mode));
        ok = false;
    }
    if (ok && opts->mode == NT_MODE_STALLED && opts->stalled >= opts->receivers) {
        fprintf(err, "natter-bench: --stalled must be less than --receivers\n");
        ok = false;
    }
    if (ok && opts->receivers * (opts->senders && !idle ? opts->senders : 1) > 10000000) {
        /* Every receiver tracks every sender's sequence: 16 bytes each. */
        fprintf(err, "natter-bench: --receivers times --senders must not exceed 10,000,000\n");
        ok = false;
    }
    if (ok && opts->workers > opts->receivers) {
        fprintf(err, "natter-bench: --workers must not exceed --receivers\n");
        ok = false;
    }
    if (ok && opts->proto == NT_PROTO_NATS && strpbrk(opts->channel, " \t\r\n*>") != NULL) {
        fprintf(err, "natter-bench: --channel: a NATS subject without spaces or wildcards\n");
        ok = false;
    }
    if (ok && strpbrk(opts->channel, " \t\r\n") != NULL) {
        fprintf(err, "natter-bench: --channel: no whitespace\n");
        ok = false;
    }
    if (ok && opts->tls && opts->proto == NT_PROTO_NATS) {
        fprintf(err, "natter-bench: --tls is not supported with --proto nats\n");
        ok = false;
    }
    if (ok && opts->proto == NT_PROTO_IRC && opts->size > NT_IRC_PAYLOAD_MAX) {
        /* The server prefixes ":NICK!USER@HOST PRIVMSG #CHANNEL :" within its 512 bytes. */
        fprintf(err, "natter-bench: --size: at most %d with --proto irc (one IRC line)\n",
                NT_IRC_PAYLOAD_MAX);
        ok = false;
    }
    if (ok && opts->proto == NT_PROTO_IRC &&
        (strlen(opts->channel) > NT_IRC_CHANNEL_MAX || strpbrk(opts->channel, ",:\a") != NULL)) {
        fprintf(err,
                "natter-bench: --channel: an IRC channel name of at most %d characters, "
                "without ',', ':' or BEL (the '#' is added)\n",
                NT_IRC_CHANNEL_MAX);
        ok = false;
    }
    if (ok && opts->tls_ca[0] && !opts->tls) {
        fprintf(err, "natter-bench: --tls-ca needs --tls\n");
        ok = false;
    }
    if (ok && opts->tls_ca[0]) {
        FILE *f = fopen(opts->tls_ca, "r");
        if (f == NULL) {
            fprintf(err, "natter-bench: --tls-ca %s: %s\n", opts->tls_ca, strerror(errno));
            ok = false;
        } else {
            fclose(f);
        }
    }
    if (opts->proto == NT_PROTO_WS)
        opts->ws = true;
    if (ok && opts->ws && (opts->proto == NT_PROTO_REDIS || opts->proto == NT_PROTO_NATS)) {
        fprintf(err, "natter-bench: --ws is for --proto natter, irc or ws\n");
        ok = false;
    }
    if (ok && !opts->ws && (strcmp(opts->ws_path, "/ws") != 0 || opts->ws_protocol[0])) {
        fprintf(err, "natter-bench: --ws-path and --ws-protocol need --ws\n");
        ok = false;
    }
    if (ok && (opts->ws_path[0] != '/' || strpbrk(opts->ws_path, " \t\r\n") != NULL)) {
        fprintf(err, "natter-bench: --ws-path: a path that starts with / and has no whitespace\n");
        ok = false;
    }
    if (ok && opts->ws) {
        /* RFC 6455 §4.1: a subprotocol is a token (RFC 7230 tchar). */
        const char *p = opts->ws_protocol;
        if (p[0] == '\0')
            snprintf(opts->ws_protocol, sizeof(opts->ws_protocol), "%s",
                     opts->proto == NT_PROTO_NATTER ? "natter.line"
                     : opts->proto == NT_PROTO_IRC  ? "text.ircv3.net"
                                                    : "");
        else if (strcmp(p, "none") == 0)
            opts->ws_protocol[0] = '\0';
        else if (strspn(p, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(p)) {
            fprintf(err, "natter-bench: --ws-protocol: a token (letters, digits, !#$%%&'*+-.^_`|~)"
                         " or none\n");
            ok = false;
        }
    }
    if (ok && opts->sender_ports.n > 0 && idle) {
        fprintf(err, "natter-bench: --sender-port: there are no senders in %s mode\n",
                nt_mode_name(opts->mode));
        ok = false;
    }
    if (ok && opts->ports.n == 0)
        opts->ports.v[opts->ports.n++] = opts->proto == NT_PROTO_REDIS  ? 6379
                                         : opts->proto == NT_PROTO_NATS ? 4222
                                         : opts->proto == NT_PROTO_IRC  ? 6667
                                         : opts->proto == NT_PROTO_WS   ? 8080
                                                                        : 8888;
    opts->port = opts->ports.v[0];
    opts->server_pid = opts->server_pids.n ? opts->server_pids.v[0] : 0;
    return ok ? 0 : -1;
}
