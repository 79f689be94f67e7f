/* SPDX-License-Identifier: MIT */
/* tls.h - TLS 1.2/1.3 (OpenSSL 3, memory BIOs) stacked on a lower transport. */
#ifndef NT_TLS_H
#define NT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "net/transport.h"

/* Ciphertext a TLS transport holds for its lower (not yet taken, or in its one lower write)
 * before its try_write takes no more plaintext; on_writable follows when it drains below. */
#define NT_TLS_MAX_BACKLOG ((size_t)64 * 1024)

/* The server's certificate and key: one SSL_CTX, refcounted by OpenSSL for open connections. */
struct nt_tls_ctx;

/*
 * Loads the PEM certificate chain cert_file and the PEM private key key_file into a new context
 * (TLS 1.2 and 1.3 only, OpenSSL's default ciphers, no renegotiation, SSL_MODE_RELEASE_BUFFERS).
 * Returns it, or NULL with one line in err (err_size bytes) naming the file and what is wrong:
 * missing or unreadable, not a PEM certificate/key, or a key that does not match the certificate.
 */
struct nt_tls_ctx *nt_tls_ctx_new(const char *cert_file, const char *key_file, char *err,
                                  size_t err_size);

/* Frees ctx; connections made from it keep what they need. */
void nt_tls_ctx_free(struct nt_tls_ctx *ctx);

/*
 * A server-side TLS transport over lower (borrowed; it must outlive the TLS transport): makes
 * itself lower's user (lower->up, lower->up_ctx). The handshake starts with the first bytes
 * read; output written before it is done waits (try_write returns UV_EAGAIN, on_writable
 * follows). A failed handshake or a broken record reaches the user as on_read(UV_EPROTO), with
 * the reason in nt_tls_error(). A peer that closes without close_notify is a plain UV_EOF.
 * Returns the transport, to be freed with nt_tls_free() after the lower stream has closed.
 */
struct nt_transport *nt_tls_new(struct nt_tls_ctx *ctx, struct nt_transport *lower);

/* Frees t (from nt_tls_new()). Call it after the lower stream closed, so that every lower write
 * callback ran. */
void nt_tls_free(struct nt_transport *t);

/* Whether t's handshake is done. */
bool nt_tls_is_established(const struct nt_transport *t);

/* Why t failed (OpenSSL's reason), or "" if it did not. Static or owned by t. */
const char *nt_tls_error(const struct nt_transport *t);

/* The version and cipher t agreed ("TLSv1.3 TLS_AES_256_GCM_SHA384"), for the log; "" before. */
const char *nt_tls_describe(const struct nt_transport *t, char *buf, size_t size);

#endif
