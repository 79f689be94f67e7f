/* SPDX-License-Identifier: MIT */
/* tls.c - OpenSSL client sessions over memory BIOs, for the workers and the control client. */
#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* The most one BIO_write or SSL_write call is given (their lengths are ints). */
#define CHUNK_MAX (1 << 30)

/* Appends OpenSSL's queued errors of this thread to out at o, "; " between two (emptying the
 * queue). Returns the new end. */
static size_t drain_errors(char *out, size_t size, size_t o)
{
    size_t first = o;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        if (o + 3 >= size)
            continue;
        if (o > first) {
            out[o++] = ';';
            out[o++] = ' ';
        }
        ERR_error_string_n(e, out + o, size - o);
        o += strlen(out + o);
    }
    return o;
}

SSL_CTX *nt_tls_ctx_new(const char *ca_file, bool release_buffers, char *err, size_t size)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        size_t o = (size_t)snprintf(err, size, "SSL_CTX_new: ");
        drain_errors(err, size, o < size ? o : size - 1);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* A server may close without close_notify (many do): that is its close, not an attack
     * on a truncated stream, since every frame we count is checked on its own. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (release_buffers)
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (ca_file == NULL) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        size_t o = (size_t)snprintf(err, size, "--tls-ca %s: ", ca_file);
        drain_errors(err, size, o < size ? o : size - 1);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

void nt_tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

SSL *nt_tls_new(SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL)
        return NULL;
    BIO *rbio = BIO_new(BIO_s_mem());
    BIO *wbio = BIO_new(BIO_s_mem());
    if (rbio == NULL || wbio == NULL) {
        BIO_free(rbio);
        BIO_free(wbio);
        SSL_free(ssl);
        return NULL;
    }
    /* An empty read BIO means "not yet" (retry), not EOF, until nt_tls_eof. */
    BIO_set_mem_eof_return(rbio, -1);
    SSL_set_bio(ssl, rbio, wbio); /* ssl owns both now */
    SSL_set_connect_state(ssl);
    return ssl;
}

void nt_tls_free(SSL *ssl)
{
    SSL_free(ssl);
}

int nt_tls_feed(SSL *ssl, const char *p, size_t len)
{
    BIO *rbio = SSL_get_rbio(ssl);
    while (len > 0) {
        int n = BIO_write(rbio, p, len > CHUNK_MAX ? CHUNK_MAX : (int)len);
        if (n <= 0) {
            ERR_clear_error();
            return -ENOMEM; /* a memory BIO only refuses when it cannot grow */
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void nt_tls_eof(SSL *ssl)
{
    BIO_set_mem_eof_return(SSL_get_rbio(ssl), 0);
}

static enum nt_tls_status status(SSL *ssl, int rc)
{
    switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: /* a memory BIO takes every write: only for completeness */
        return NT_TLS_WANT;
    case SSL_ERROR_ZERO_RETURN:
        return NT_TLS_EOF;
    default:
        return NT_TLS_ERROR;
    }
}

enum nt_tls_status nt_tls_handshake(SSL *ssl)
{
    if (SSL_is_init_finished(ssl))
        return NT_TLS_OK;
    int rc = SSL_do_handshake(ssl);
    return rc == 1 ? NT_TLS_OK : status(ssl, rc);
}

enum nt_tls_status nt_tls_read(SSL *ssl, char *dst, size_t cap, size_t *got)
{
    size_t total = 0;
    /* One SSL_read returns at most one record (16 KiB): fill dst from as many as there are,
     * so the caller parses big batches, as it does with plain reads. */
    while (total < cap) {
        size_t n = 0;
        int rc = SSL_read_ex(ssl, dst + total, cap - total, &n);
        if (rc != 1) {
            *got = total;
            return status(ssl, rc);
        }
        total += n;
    }
    *got = total;
    return NT_TLS_OK;
}

int nt_tls_write(SSL *ssl, const char *p, size_t len)
{
    while (len > 0) {
        size_t n = 0;
        /* Without SSL_MODE_ENABLE_PARTIAL_WRITE a write is all or nothing, and a memory BIO
         * takes everything, so this loops only for lengths beyond CHUNK_MAX. */
        if (SSL_write_ex(ssl, p, len > CHUNK_MAX ? CHUNK_MAX : len, &n) != 1)
            return -EPROTO;
        p += n;
        len -= n;
    }
    return 0;
}

size_t nt_tls_out(SSL *ssl, const char **p)
{
    char *data = NULL;
    long len = BIO_get_mem_data(SSL_get_wbio(ssl), &data);
    *p = data;
    return len > 0 ? (size_t)len : 0;
}

void nt_tls_out_done(SSL *ssl, size_t n)
{
    /* A memory BIO has no "skip": read the sent bytes into scratch space. */
    char scratch[16384];
    BIO *wbio = SSL_get_wbio(ssl);
    while (n > 0) {
        int k = BIO_read(wbio, scratch, n > sizeof(scratch) ? (int)sizeof(scratch) : (int)n);
        if (k <= 0)
            break;
        n -= (size_t)k;
    }
}

void nt_tls_why(SSL *ssl, bool handshake, char *out, size_t size)
{
    out[0] = '\0';
    size_t o = drain_errors(out, size, 0);
    if (o == 0)
        o = (size_t)snprintf(out, size, "no reason given by OpenSSL");
    /* Without --tls-ca the chain is still checked and the result kept, but it is ignored. */
    bool verifying = ssl != NULL && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER);
    long v = verifying ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (o + 2 >= size)
        return;
    if (v != X509_V_OK)
        snprintf(out + o, size - o, "; certificate: %s", X509_verify_cert_error_string(v));
    else if (handshake)
        snprintf(out + o, size - o, " (is the server listening with TLS?)");
}

void nt_tls_describe(SSL *ssl, char *out, size_t size)
{
    snprintf(out, size, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}
