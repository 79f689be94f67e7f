/* SPDX-License-Identifier: MIT */
/* server.h - wiring: listeners -> transports -> doors -> the chat core; signals; shutdown. */
#ifndef NT_SERVER_H
#define NT_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "chat/chat.h"
#include "door/cluster.h"
#include "door/irc.h"
#include "door/line.h"
#include "door/web.h"
#include "lib/config.h"
#include "lib/names.h"
#include "net/net.h"

#define NT_SHUTDOWN_FLUSH_MS 5000
#define NT_TRIM_INTERVAL_MS  2000
#define NT_LOG_RETRY_MS      10 /* how often waiting log lines are offered to stderr again */
/* Descriptors that are not conns: stdio, listeners, the loop's epoll, signal and reserve fds. */
#define NT_FD_MARGIN 16
/* Descriptors kept back from the clients the open-file limit allows (--max-clients' default):
 * listeners, the loop's epoll and signal pipes, logs, and libuv's reserve descriptor for EMFILE. */
#define NT_FD_RESERVE 32

struct nt_tls_ctx;
struct nt_server;

/* One bound address and what it speaks; freed by its close callback. */
struct nt_listener {
    uv_tcp_t tcp;          /* embedded; tcp.data is the listener */
    struct nt_server *srv; /* borrowed */
    struct nt_listen_addr la;
    char name[112]; /* as bound, the way the log shows it: "127.0.0.1:8888", "irc://[::1]:6667" */
};

/* Reads the configuration again for a reload (SIGHUP): fills next, which holds the defaults, from
 * the same --config file and command line as at start-up, and loads what it points to. Writes
 * every error on err, one line each. Returns 0 or -1. */
typedef int (*nt_server_read_config_fn)(struct nt_config *next, FILE *err, void *arg);

struct nt_server {
    uv_loop_t *loop;                      /* borrowed */
    struct nt_config *cfg;                /* borrowed; a reload replaces its contents */
    nt_server_read_config_fn read_config; /* set before the first reload (main.c's) */
    void *read_config_arg;
    struct nt_net net;
    struct nt_chat chat;
    struct nt_line_door line;
    struct nt_irc_door irc;
    struct nt_web_door web;
    struct nt_tls_ctx *tls_ctx;                   /* owned, NULL without tls:// listeners */
    struct nt_listener *listeners[NT_MAX_LISTEN]; /* owned until closing */
    size_t n_listeners;
    uv_signal_t sig_int, sig_term, sig_hup;
    uv_timer_t shutdown_timer;
    uv_timer_t trim_timer;     /* gives freed heap pages back to the system (server.c) */
    uv_timer_t log_timer;      /* writes the log buffer while stderr's reader is behind (log.h) */
    uv_timer_t watchdog_timer; /* systemd's watchdog (WATCHDOG_USEC): WATCHDOG=1 at half of it */
    struct nt_names ip_counts; /* address -> owned counter, for --max-per-ip */
    uint64_t n_clients;        /* conns counted against max_clients */
    uint64_t max_clients;      /* --max-clients, or what fd_limit allows when not given */
    uint64_t fd_limit;         /* RLIMIT_NOFILE in force */
    uint64_t last_accept_warning_ms;
    char bans_path[4200]; /* --state-dir's ban list, or "" */
    bool is_shutting_down;
    struct nt_cluster *cluster;           /* owned (closed by shutdown), NULL without --redis */
    char node_name[NT_NODE_NAME_MAX + 1]; /* --node-name, or HOST-PID */
};

/*
 * Checks what only opening it can tell of cfg (natter --check-config): the TLS certificate and
 * key, when a listener needs them. Prints every problem on err. Returns 0 or -1. Binds nothing.
 */
int nt_server_check_config(const struct nt_config *cfg, FILE *err);

/*
 * Initialises srv on loop with cfg (borrowed; must outlive srv; a reload rewrites it) and the
 * open-file limit in force; loads the TLS certificate and key when a listener needs them.
 * Returns 0, a libuv error, or UV_EINVAL after logging why the certificate or key cannot be used
 * (a configuration error: exit 2). Nothing listens yet.
 */
int nt_server_init(struct nt_server *srv, uv_loop_t *loop, struct nt_config *cfg,
                   uint64_t fd_limit);

/*
 * Binds and listens on every configured address and logs each as "listening on HOST:PORT"
 * (plain TCP) or "listening on SCHEME://HOST:PORT". Returns 0, or a libuv error after logging
 * "cannot listen on ADDR: REASON"; then call nt_server_stop() and run the loop.
 */
int nt_server_start(struct nt_server *srv);

/* Begins the graceful shutdown (PROTOCOL.md §4.5); the loop ends when every handle is closed. */
void nt_server_shutdown(struct nt_server *srv);

/* Closes every handle of srv at once (no goodbye); for a failed start. */
void nt_server_stop(struct nt_server *srv);

/* Frees what srv owns; call after uv_run() returned. */
void nt_server_fini(struct nt_server *srv);

/*
 * Reloads (SIGHUP; docs/OPERATIONS.md "Reloading"): reads the configuration again (read_config),
 * checks all of it, opens the new listeners, and only if all of that worked applies it: timeouts,
 * limits, flood control, history, log level, the operator password, the TLS certificate and key
 * (new connections get them, open ones keep theirs), listeners gone are closed (their clients
 * stay). Logs every change ("reload: max-line 4096 -> 100"), every error, and what needs a
 * restart. With any error nothing changes. Returns 0 or -1.
 */
int nt_server_reload(struct nt_server *srv);

/* Connections counted from ip against --max-per-ip. */
uint64_t nt_server_ip_count(const struct nt_server *srv, const char *ip);

#endif
