/* SPDX-License-Identifier: MIT */
/* server.h - wiring: listeners -> transports -> doors -> the chat core; signals; shutdown. */
#ifndef NT_SERVER_H
#define NT_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "chat/chat.h"
#include "door/irc.h"
#include "door/line.h"
#include "lib/config.h"
#include "lib/names.h"
#include "net/net.h"

#define NT_SHUTDOWN_FLUSH_MS 5000
#define NT_TRIM_INTERVAL_MS  2000
#define NT_LOG_RETRY_MS      10 /* how often waiting log lines are offered to stderr again */
/* Descriptors that are not conns: stdio, listeners, the loop's epoll, signal and reserve fds. */
#define NT_FD_MARGIN 16

struct nt_tls_ctx;
struct nt_server;

/* One bound address and what it speaks. */
struct nt_listener {
    uv_tcp_t tcp;                    /* embedded; tcp.data is the listener */
    struct nt_server *srv;           /* borrowed */
    const struct nt_listen_addr *la; /* borrowed from the config */
};

struct nt_server {
    uv_loop_t *loop;             /* borrowed */
    const struct nt_config *cfg; /* borrowed */
    struct nt_net net;
    struct nt_chat chat;
    struct nt_line_door line;
    struct nt_irc_door irc;
    struct nt_tls_ctx *tls_ctx; /* owned, NULL without tls:// listeners */
    struct nt_listener listeners[NT_MAX_LISTEN];
    size_t n_listeners;
    uv_signal_t sig_int, sig_term, sig_hup;
    uv_timer_t shutdown_timer;
    uv_timer_t trim_timer;     /* gives freed heap pages back to the system (server.c) */
    uv_timer_t log_timer;      /* writes the log buffer while stderr's reader is behind (log.h) */
    uv_timer_t watchdog_timer; /* systemd's watchdog (WATCHDOG_USEC): WATCHDOG=1 at half of it */
    struct nt_names ip_counts; /* address -> owned counter, for --max-per-ip */
    uint64_t n_clients;        /* conns counted against max_clients */
    uint64_t max_clients;
    uint64_t fd_limit; /* RLIMIT_NOFILE in force */
    uint64_t last_accept_warning_ms;
    char bans_path[4200]; /* --state-dir's ban list, or "" */
    bool is_shutting_down;
};

/*
 * Checks what only opening it can tell of cfg (natter --check-config): the TLS certificate and
 * key, when a listener needs them. Prints every problem on err. Returns 0 or -1. Binds nothing.
 */
int nt_server_check_config(const struct nt_config *cfg, FILE *err);

/*
 * Initialises srv on loop with cfg (borrowed; must outlive srv), a client cap and the open-file
 * limit in force; loads the TLS certificate and key when a listener needs them. Returns 0, a
 * libuv error, or UV_EINVAL after logging why the certificate or key cannot be used (a
 * configuration error: exit 2). Nothing listens yet.
 */
int nt_server_init(struct nt_server *srv, uv_loop_t *loop, const struct nt_config *cfg,
                   uint64_t max_clients, uint64_t fd_limit);

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

/* Re-reads the TLS certificate and key (SIGHUP): new connections get them, open ones keep
 * theirs; on failure the old ones stay and the reason is logged. Returns 0 or -1. */
int nt_server_reload(struct nt_server *srv);

/* Connections counted from ip against --max-per-ip. */
uint64_t nt_server_ip_count(const struct nt_server *srv, const char *ip);

#endif
