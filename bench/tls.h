/* SPDX-License-Identifier: MIT */
/* tls.h - TLS client sessions over memory BIOs (--tls): the socket I/O stays the caller's. */
#ifndef NT_BENCH_TLS_H
#define NT_BENCH_TLS_H

#include <stdbool.h>
#include <stddef.h>

/* OpenSSL's own structs (SSL_CTX, SSL), so that this header needs none of OpenSSL's. */
struct ssl_ctx_st;
struct ssl_st;

/* What a step of a session came to. */
enum nt_tls_status {
    NT_TLS_OK,    /* done (handshake), or dst is full (read: call again) */
    NT_TLS_WANT,  /* needs more ciphertext from the server: feed it and call again */
    NT_TLS_EOF,   /* the server closed the session (close_notify, or TCP EOF after nt_tls_eof) */
    NT_TLS_ERROR, /* a TLS failure: nt_tls_why says which */
};

/*
 * Makes the client context every session of a run shares: TLS 1.2 or later,
 * SSL_OP_IGNORE_UNEXPECTED_EOF (a server that closes without close_notify has closed, not
 * failed). ca_file NULL: no certificate check (self-signed test certificates); else the
 * server's chain must verify against the PEM certificates in ca_file (its name is not checked:
 * the run talks to an IPv4 address). release_buffers: sessions free their record buffers while
 * idle (connections mode, thousands of sessions). Returns the context, or NULL with the reason
 * in err.
 */
struct ssl_ctx_st *nt_tls_ctx_new(const char *ca_file, bool release_buffers, char *err,
                                  size_t size);

/* Frees ctx (NULL is fine). Sessions made from it hold their own reference. */
void nt_tls_ctx_free(struct ssl_ctx_st *ctx);

/*
 * A client session on ctx whose ciphertext goes through two memory BIOs (SSL_set_bio with
 * BIO_s_mem): nt_tls_feed gives it what the socket read, nt_tls_out shows what it wants sent.
 * Nothing is sent until nt_tls_handshake is called. Returns NULL when out of memory.
 */
struct ssl_st *nt_tls_new(struct ssl_ctx_st *ctx);

/* Frees ssl and its BIOs (NULL is fine). Sends nothing: the socket is closed anyway. */
void nt_tls_free(struct ssl_st *ssl);

/* Hands len bytes of ciphertext read from the socket to ssl (copied). Returns 0, or -ENOMEM. */
int nt_tls_feed(struct ssl_st *ssl, const char *p, size_t len);

/* The socket reached EOF: once what was fed is used up, reads return NT_TLS_EOF. */
void nt_tls_eof(struct ssl_st *ssl);

/* Advances the client handshake with what was fed. NT_TLS_OK once it is complete (then also
 * when called again). Whatever it returns, it may have queued ciphertext: see nt_tls_out. */
enum nt_tls_status nt_tls_handshake(struct ssl_st *ssl);

/*
 * Decrypts what was fed into dst, up to cap bytes, record after record; *got says how many.
 * NT_TLS_OK: dst is full and more may be there (call again); NT_TLS_WANT: everything fed is
 * used up; NT_TLS_EOF, NT_TLS_ERROR: the session is over (the *got bytes before it count).
 */
enum nt_tls_status nt_tls_read(struct ssl_st *ssl, char *dst, size_t cap, size_t *got);

/* Encrypts len plaintext bytes (after the handshake) into the outgoing BIO; they leave with
 * nt_tls_out. Returns 0, or -EPROTO (nt_tls_why says why). */
int nt_tls_write(struct ssl_st *ssl, const char *p, size_t len);

/* The ciphertext waiting to be sent: returns its length, *p its start (valid until the next
 * call on ssl). */
size_t nt_tls_out(struct ssl_st *ssl, const char **p);

/* Drops the first n bytes of what nt_tls_out showed (the socket took them). */
void nt_tls_out_done(struct ssl_st *ssl, size_t n);

/*
 * Why the last step of ssl (NULL: of the context) failed, for a person: OpenSSL's error queue
 * of this thread (emptied), then the verify result when the certificate did not verify, or for
 * a failed handshake a hint that the server may not speak TLS. Writes a string to out.
 */
void nt_tls_why(struct ssl_st *ssl, bool handshake, char *out, size_t size);

/* The negotiated protocol and cipher, "TLSv1.3 TLS_AES_256_GCM_SHA384", as a string in out. */
void nt_tls_describe(struct ssl_st *ssl, char *out, size_t size);

#endif
