/* SPDX-License-Identifier: MIT */
/* options.h - natter-bench's command line: one option table drives parsing, checks and --help. */
#ifndef NT_BENCH_OPTIONS_H
#define NT_BENCH_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* NT_PROTO_WS: a plain WebSocket broadcast server (bench/ws/broadcast.js): the first message
 * is the name, then "NAME: TEXT" to every other client; always over WebSocket. */
enum nt_proto { NT_PROTO_NATTER, NT_PROTO_REDIS, NT_PROTO_NATS, NT_PROTO_IRC, NT_PROTO_WS };
enum nt_mode {
    NT_MODE_THROUGHPUT,
    NT_MODE_LATENCY,
    NT_MODE_CONNECTIONS,
    NT_MODE_STALLED,
    NT_MODE_JOINS
};

/* IRC: a payload fits one 512-byte line with the sender's prefix and the channel. */
#define NT_IRC_PAYLOAD_MAX 400
#define NT_IRC_CHANNEL_MAX 49

/* The most values a repeatable option (--port, --sender-port, --server-pid) takes. */
#define NT_LIST_MAX 16

/* The values of a repeatable option, in the order given. */
struct nt_list_u64 {
    uint32_t n;
    uint64_t v[NT_LIST_MAX];
};

struct nt_options {
    enum nt_proto proto;
    enum nt_mode mode;
    char host[64];
    /* --port, repeatable: receiver i connects to ports.v[i % ports.n], and so does sender j
     * (ports.v[j % ports.n]) unless --sender-port is given; the control client (natter's
     * marker, the broadcaster) to ports.v[0]. The parse leaves at least one (the protocol's
     * usual port). port is ports.v[0]. */
    struct nt_list_u64 ports;
    uint64_t port;
    struct nt_list_u64 sender_ports; /* --sender-port: sender j on v[j % n]; n = 0: ports */
    uint64_t receivers;              /* 0 = the mode's default: 100, joins mode 2000 */
    uint64_t senders;
    uint64_t window;
    uint64_t size;
    double duration;
    double warmup;
    double rate;
    uint64_t stalled;
    uint64_t stalled_rcvbuf;
    /* --server-pid, repeatable: every process sampled; the server figures are their sum.
     * server_pid is server_pids.v[0], 0 = no server sampling. */
    struct nt_list_u64 server_pids;
    uint64_t server_pid;
    uint64_t workers;
    uint64_t sources; /* 0 = automatic */
    uint64_t connect_burst;
    double setup_timeout; /* 0 = automatic */
    double settle;        /* connections mode: wait before sampling RSS */
    char channel[64];     /* Redis channel, NATS subject, IRC channel without its '#' */
    bool tls;             /* every connection speaks TLS */
    char tls_ca[4096];    /* "": no certificate check; else verify against these PEM certs */
    bool ws;              /* WebSocket (RFC 6455) over the connection: --ws, or --proto ws */
    char ws_path[256];    /* the upgrade request's target */
    char ws_protocol[64]; /* Sec-WebSocket-Protocol asked for; "" = none (set by the parse) */
    bool json;
    bool quiet;
};

/* Names for output: "natter", "throughput", ... */
const char *nt_proto_name(enum nt_proto p);
const char *nt_mode_name(enum nt_mode m);

/* Writes "HOST:P1,P2 (senders on P3)", the ports of opts, to out (NUL-terminated, cut to
 * size). */
void nt_options_ports(const struct nt_options *opts, char *out, size_t size);

/*
 * Parses argv into opts (defaults first). Returns 0 to run; 1 when --help was printed to out
 * (exit 0); -1 on a usage error, every problem reported on err (exit 2).
 */
int nt_options_parse(struct nt_options *opts, int argc, char **argv, FILE *out, FILE *err);

#endif
