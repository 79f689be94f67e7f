/* SPDX-License-Identifier: MIT */
/* server.h - the uv_loop, listeners, signals, the conn list; start / drain / stop. */
#ifndef NT_SERVER_H
#define NT_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "hub.h"
#include "msg.h"
#include "names.h"
#include "timeouts.h"
#include "util.h"

#define NT_READ_BUF_SIZE (64 * 1024)
/* A flush copies a conn's queued messages into one buffer when they fit in this much. */
#define NT_FLAT_SIZE         (16 * 1024)
#define NT_LINGER_MS         2000
#define NT_SHUTDOWN_FLUSH_MS 5000
#define NT_MAX_NAME_ATTEMPTS 5
#define NT_TRIM_INTERVAL_MS  2000
/* Descriptors that are not conns: stdio, listeners, the loop's epoll, signal and reserve fds. */
#define NT_FD_MARGIN 16

struct nt_conn;

struct nt_server {
    uv_loop_t *loop;             /* borrowed */
    const struct nt_config *cfg; /* borrowed */
    uv_tcp_t listeners[NT_MAX_LISTEN];
    size_t n_listeners;
    uv_signal_t sig_int, sig_term;
    uv_check_t flush_check; /* flushes dirty conns once per loop iteration */
    uv_idle_t flush_idle;   /* active while conns are dirty, so the poll does not block */
    uv_timer_t shutdown_timer;
    uv_timer_t trim_timer; /* gives freed heap pages back to the system (server.c) */
    struct nt_timeouts timeouts;
    struct nt_hub hub;
    struct nt_names names;     /* name -> struct nt_conn (borrowed) */
    struct nt_names ip_counts; /* address -> owned counter, for --max-per-ip */
    char **bans;               /* owned addresses refused until restart (/ban) */
    size_t n_bans;
    struct nt_list conns; /* every open conn, by all_link */
    struct nt_list dirty; /* conns with output to flush, by dirty_link */
    uint64_t n_conns;     /* open conns, refused ones included */
    uint64_t n_clients;   /* conns counted against max_clients */
    uint64_t max_clients;
    uint64_t fd_limit; /* RLIMIT_NOFILE in force */
    uint64_t next_conn_id;
    uint64_t last_accept_warning_ms;
    bool is_shutting_down;
    struct nt_msg *prompt; /* owned ref: "Enter your name: ", shared by every newcomer */
    char *scratch;         /* owned: NT_TEXT_SANITIZED_MAX(max_line) bytes for sanitizing */
    char read_buf[NT_READ_BUF_SIZE]; /* one read buffer for every conn: reads are handled
                                        synchronously, so no two are live at once */
    char flat[NT_FLAT_SIZE]; /* one write staging buffer: a flush copies short messages here */
};

/*
 * Initialises srv on loop with cfg (borrowed; must outlive srv), a client cap and the open-file
 * limit in force. Returns 0 or a libuv error. Nothing listens yet.
 */
int nt_server_init(struct nt_server *srv, uv_loop_t *loop, const struct nt_config *cfg,
                   uint64_t max_clients, uint64_t fd_limit);

/*
 * Binds and listens on every configured address and logs each as "listening on HOST:PORT".
 * Returns 0, or a libuv error after logging "cannot listen on ADDR: REASON"; then call
 * nt_server_stop() and run the loop so the handles close.
 */
int nt_server_start(struct nt_server *srv);

/* Begins the graceful shutdown (PROTOCOL.md §4.5); the loop ends when every handle is closed. */
void nt_server_shutdown(struct nt_server *srv);

/* Closes every handle of srv at once (no goodbye); for a failed start. */
void nt_server_stop(struct nt_server *srv);

/* Frees what srv owns; call after uv_run() returned. */
void nt_server_fini(struct nt_server *srv);

/* Schedules c's output for this iteration's flush. O(1). */
void nt_server_mark_dirty(struct nt_server *srv, struct nt_conn *c);

/* Called by a conn's close callback, after it left every list. */
void nt_server_conn_closed(struct nt_server *srv);

/* Connections counted from ip against --max-per-ip. */
uint64_t nt_server_ip_count(const struct nt_server *srv, const char *ip);

/* Gives back one connection counted from ip (a conn with is_ip_counted, when it closes). */
void nt_server_ip_release(struct nt_server *srv, const char *ip);

/* Whether ip is refused (/ban). */
bool nt_server_is_banned(const struct nt_server *srv, const char *ip);

/* Refuses ip from now on; returns false if it already was. */
bool nt_server_ban(struct nt_server *srv, const char *ip);

/* Lifts the ban of ip; returns false if there was none. */
bool nt_server_unban(struct nt_server *srv, const char *ip);

#endif
