/* SPDX-License-Identifier: MIT */
/* redis.h - one Redis connection on the loop: RESP2 commands answered in order, and pub/sub. */
#ifndef NT_REDIS_H
#define NT_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <hiredis/hiredis.h>

/*
 * natter's own client over a uv_tcp_t (or a uv_pipe_t for a unix socket) and its own timer, using
 * only hiredis 0.14's reply parser (redisReader) and command formatter (redisFormatCommandArgv):
 * 0.14's async context and libuv adapter lose connect errors, have no timeouts, misroute PING
 * while subscribed and resolve names with a blocking getaddrinfo (shared/DEPENDENCIES.md §4).
 *
 * Replies are matched to commands in the order the commands were given (RESP2 answers in order).
 * A connection that SUBSCRIBEs or PSUBSCRIBEs is in subscribed mode until its last channel and
 * pattern are gone: pub/sub pushes ("message", "pmessage") then go to on_message, and Redis
 * refuses every command but (P)(UN)SUBSCRIBE, PING, QUIT and RESET with an error reply (which
 * still goes, in order, to that command's callback). A PING while subscribed is answered with the
 * array ["pong", ARG] (ARG "" without one), not +PONG. So a node publishes on one connection and
 * subscribes on another.
 *
 * Nothing here reconnects: one struct nt_redis is one connection, connected at most once. After
 * on_disconnect (or a failed on_connect) its owner closes it and makes a new one. Nor does a
 * command time out: an owner that needs to know the link works (a heartbeat) keeps its own timer
 * and closes r. libuv writes with write(), so the process ignores SIGPIPE (main.c does).
 */

/* A reply's unparsed bytes may not grow past this (a bulk string longer than it closes the
 * connection with UV_EMSGSIZE): Redis is a peer, and natter caps what a peer can grow. */
#define NT_REDIS_MAX_REPLY ((size_t)64 * 1024 * 1024)

struct nt_redis;

/*
 * A command's answer. reply (hiredis's, borrowed: freed when the callback returns) is the reply,
 * or NULL when the connection went down or was closed first. A (P)(UN)SUBSCRIBE's callback runs
 * once per confirmation (one per channel or pattern, or one when an UNSUBSCRIBE without
 * arguments finds nothing to drop) and, if the connection goes down before the last, once more
 * with NULL; an error reply to it is its only answer. May issue commands on r, and may close r
 * (the callbacks of commands still waiting then get NULL, later, from the close).
 */
typedef void (*nt_redis_reply_fn)(struct nt_redis *r, const struct redisReply *reply, void *arg);

/* What r tells its owner. Any of them may be NULL. Each may call any function on r, including
 * nt_redis_close(). */
struct nt_redis_callbacks {
    /* The connect finished: status 0, or a libuv error (UV_ECONNREFUSED, UV_ENOENT for a missing
     * unix socket, UV_ETIMEDOUT when the connect timeout passed...). Once per connect, never
     * after nt_redis_close(). After an error r can only be closed. */
    void (*on_connect)(struct nt_redis *r, int status);
    /* The connection went down after on_connect(0): UV_EOF (the server closed it, as after
     * QUIT), a socket error, UV_EPROTO (bytes that are not RESP2, or a reply nobody asked for:
     * nt_redis_error() says which), or UV_EMSGSIZE (a reply over the cap). Every command still
     * waiting has had its callback with NULL, in order, just before. Once, and never after
     * nt_redis_close(). r can only be closed now. */
    void (*on_disconnect)(struct nt_redis *r, int status);
    /* A pub/sub push while subscribed: a "message" on channel, or a "pmessage" of a PSUBSCRIBE
     * pattern (channel is then the channel it was published on). Both binary-safe, borrowed
     * for the call. */
    void (*on_message)(struct nt_redis *r, const char *channel, size_t channel_len,
                       const char *payload, size_t payload_len);
};

/*
 * A new connection object on loop, not connected. cb (borrowed, must outlive r) and ctx (the
 * owner's, see nt_redis_ctx()) are kept. max_queue caps the bytes of commands waiting to be
 * written (nt_redis_command). Never returns NULL (aborts on out-of-memory). Free it with
 * nt_redis_close(); until then it holds a (stopped) timer handle on loop.
 */
struct nt_redis *nt_redis_new(uv_loop_t *loop, const struct nt_redis_callbacks *cb, void *ctx,
                              size_t max_queue);

/* The ctx given to nt_redis_new(). */
void *nt_redis_ctx(const struct nt_redis *r);

/*
 * Connects r to addr (borrowed; AF_INET or AF_INET6, a numeric address: resolving a name is the
 * caller's, with uv_getaddrinfo) with TCP_NODELAY. timeout_ms bounds the connect (0: none but
 * the kernel's). Returns 0, and on_connect follows (from the loop, never from inside this call);
 * or UV_EALREADY (r was connected or tried before), UV_EINVAL (not an IPv4 or IPv6 address), or
 * libuv's error, and no callback follows: r can only be closed.
 */
int nt_redis_connect_tcp(struct nt_redis *r, const struct sockaddr *addr, uint64_t timeout_ms);

/*
 * Connects r to the unix socket at path (borrowed, copied by the kernel). As
 * nt_redis_connect_tcp(), and UV_ENAMETOOLONG for a path that does not fit a sockaddr_un (libuv
 * 1.44 would cut it short silently), UV_EINVAL for "". A missing socket is on_connect(UV_ENOENT),
 * one with a full backlog on_connect(UV_EAGAIN).
 */
int nt_redis_connect_unix(struct nt_redis *r, const char *path, uint64_t timeout_ms);

/*
 * Sends the command argv[0..argc) (lens[i] bytes each, binary-safe; both borrowed for the call)
 * and queues fn(r, reply, arg) for its answer; fn may be NULL. The bytes go out before the loop
 * polls again, with every command given meanwhile (one uv_try_write for a burst, so Redis reads
 * them together), the rest in one uv_write at a time. Returns 0, and fn
 * will be called (at least once, from the loop: never from inside this call); or, with nothing
 * sent or queued and fn never called:
 *   UV_EINVAL    argc < 1, argv or lens NULL, or a (P)SUBSCRIBE without a channel or pattern;
 *   UV_ENOTCONN  r is not connected (not yet, not any more, or closing);
 *   UV_ENOTSUP   a command that would break the order of replies or is not RESP2: SSUBSCRIBE,
 *                SUNSUBSCRIBE, MONITOR, SYNC, PSYNC, CLIENT REPLY, HELLO with a version other
 *                than 2, and (P)(UN)SUBSCRIBE or RESET after a MULTI whose EXEC or DISCARD was
 *                not sent yet (Redis would subscribe inside EXEC's reply);
 *   UV_ENOBUFS   the bytes waiting to be written (nt_redis_pending()) and this command's would
 *                go past max_queue: the caller counts what it drops.
 * A write error found here is reported later, from the loop, as on_disconnect (0 is returned,
 * and fn gets NULL). Never closes r or runs a callback itself.
 */
int nt_redis_command(struct nt_redis *r, int argc, const char **argv, const size_t *lens,
                     nt_redis_reply_fn fn, void *arg);

/* The bytes of commands given and not yet written to the socket (queued, or in the one write
 * libuv holds). */
size_t nt_redis_pending(const struct nt_redis *r);

/* Whether on_connect(0) came and neither on_disconnect nor nt_redis_close() did. */
bool nt_redis_is_connected(const struct nt_redis *r);

/* Whether the replies read so far leave r subscribed to a channel or a pattern. */
bool nt_redis_is_subscribed(const struct nt_redis *r);

/* Why r went down with UV_EPROTO or UV_EMSGSIZE (hiredis's parser error, or natter's), for the
 * log; "" otherwise. Owned by r. */
const char *nt_redis_error(const struct nt_redis *r);

/* Changes the cap on one reply's unparsed bytes (NT_REDIS_MAX_REPLY by default; at least 1). */
void nt_redis_set_max_reply(struct nt_redis *r, size_t bytes);

/*
 * Closes r, asynchronously: no on_connect, on_disconnect or on_message comes any more, and
 * nothing more is written. The callbacks of commands still waiting get NULL, in order, from the
 * loop (never from inside this call), then r is freed. Idempotent, and safe from any callback of
 * r (on_connect, on_disconnect, on_message, a reply callback); r must not be used afterwards
 * except by those callbacks while they run (nt_redis_command then returns UV_ENOTCONN).
 */
void nt_redis_close(struct nt_redis *r);

#endif
