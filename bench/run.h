/* SPDX-License-Identifier: MIT */
/* run.h - one benchmark run: set up, drive the phases, sample the server, gather the figures. */
#ifndef NT_BENCH_RUN_H
#define NT_BENCH_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "bench.h"
#include "hist.h"
#include "options.h"

#define NT_MAX_SECONDS 3600

/* Every figure of a run. Counts are over the whole run unless they say "window". */
struct nt_result {
    bool completed; /* false: error holds why */
    char error[512];

    uint32_t receivers, senders, stalled, workers, sources;
    double setup_s; /* connect + handshake + join of every connection */

    /* the measured window */
    double window_s;
    uint64_t deliveries;     /* to the active receivers, in the window */
    double deliveries_per_s; /* deliveries / window_s */
    uint64_t msgs;           /* messages sent in the window */
    double msgs_per_s;
    struct nt_hist hist; /* receive time - (scheduled) send time, active receivers, window */

    /* the whole run */
    uint64_t sent;                /* messages sent */
    uint64_t total_deliveries;    /* to every receiver that was never stalled */
    uint64_t expected_deliveries; /* sent * active receivers */
    struct nt_counters active;    /* receivers that never stalled */
    struct nt_counters stalled_k; /* the stalled ones (stalled mode) */
    uint64_t senders_closed;
    uint32_t active_left;  /* natter: leave notices for active receivers; IRC: QUIT, KICK */
    uint32_t senders_left; /* natter: leave notices for senders; IRC: QUIT, KICK */
    uint64_t sender_lines; /* natter, IRC: lines the senders got from each other */
    uint64_t pub_replies, pub_min_receivers; /* Redis */
    uint64_t server_errors;
    char server_error[160];
    char tls_info[64]; /* --tls: "TLSv1.3 TLS_AES_256_GCM_SHA384" as negotiated */
    uint64_t ws_pings; /* --ws: pings the server sent the workers' connections (answered) */

    /* Per --port, in the order given (the receivers' layout: receiver i on ports[i % n_ports]):
     * what its connections were and got. senders and sent are the senders on it, 0 with
     * --sender-port, whose ports are in sender_ports. */
    uint32_t n_ports;
    struct nt_port_result {
        uint64_t port;
        uint32_t receivers, senders;
        uint64_t sent;              /* messages its senders sent */
        uint64_t deliveries;        /* to its active receivers, the whole run */
        uint64_t window_deliveries; /* the same, in the window */
        double deliveries_per_s;    /* window_deliveries / window_s */
        struct nt_hist hist;        /* its active receivers' latencies, window */
    } ports[NT_LIST_MAX];
    uint32_t n_sender_ports;
    struct nt_sender_port_result {
        uint64_t port;
        uint32_t senders;
        uint64_t sent;
    } sender_ports[NT_LIST_MAX];

    /* server and self sampling: server_* and rss_* are the sums over every --server-pid;
     * servers[] each one's (cpu over the window, joins mode: the storm) */
    uint32_t n_servers;
    struct nt_server_result {
        uint64_t pid;
        uint64_t cpu_us;
        double cpu_pct;
        uint64_t rss_kib;
    } servers[NT_LIST_MAX];
    bool has_server;
    uint64_t server_cpu_us; /* window */
    double server_cpu_pct;  /* of one core */
    double server_cpu_us_per_delivery;
    uint64_t rss_kib;     /* at the end of the window */
    uint64_t self_cpu_us; /* window, every thread of natter-bench */
    double self_cpu_pct;
    double self_cpu_us_per_delivery;

    /* stalled mode */
    double baseline_per_s;
    uint32_t n_seconds;
    double per_second[NT_MAX_SECONDS + 1]; /* deliveries/s to the active receivers */
    double min_ratio, median_ratio;        /* per-second rates / baseline */
    uint32_t stalled_cut;                  /* stalled receivers the server disconnected */
    uint32_t stalled_left;                 /* natter: their leave notices */
    double cut_after_s;                    /* first sign of a cut after the stall began; <0 none */
    const char *cut_seen_by;               /* "leave notice", "PUBLISH count", "EOF", "" */

    /* joins mode: setup_s is the storm; server_cpu_us, _pct, rss_kib, rss_per_conn_kib,
     * self_cpu_us, _pct are over it too */
    double joins_per_s;
    double server_cpu_us_per_join;

    /* connections mode */
    uint64_t rss_before_kib;
    double rss_per_conn_kib;
    uint64_t bcast_received;
    double bcast_s; /* from the send until the last receiver had it */
};

/* Runs the benchmark opts describes and fills res. Returns 0 when the run completed (res
 * then says whether the checks passed), -1 when it could not (res->error says why). Always
 * returns within the hard deadline: setup timeout + warmup + duration + drain limit. */
int nt_run(const struct nt_options *opts, struct nt_result *res);

/* True when res shows loss, duplicates, reordering or corruption where the mode allows none. */
bool nt_result_failed(const struct nt_options *opts, const struct nt_result *res);

#endif
