/* SPDX-License-Identifier: MIT */
/* tls.c - the TLS transport: OpenSSL 3 between two memory BIOs, over any lower transport. */
#include "net/tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "lib/util.h"

/* Plaintext in one TLS record (RFC 8446 §5.1): try_write gathers this much per SSL_write, so
 * many short messages make one record, not one each. */
#define RECORD_SIZE 16384
/* Ciphertext handed to the lower transport per try_write of a flush. */
#define FLUSH_CHUNK (64 * 1024)
/* A drained memory BIO keeps the largest size it ever had (BIO_s_mem never shrinks); past this
 * it is replaced by an empty one, so an idle connection does not keep its busiest moment (an
 * idle connection costs about 7 KiB then). Chat lines stay under it and cost no allocation. */
#define BIO_KEEP 1024

/* Reads, writes and flushes run synchronously on the loop's thread, one at a time; nothing
 * stays in these between calls. */
static _Thread_local char plain_buf[RECORD_SIZE]; /* SSL_read's output, passed up */
static _Thread_local char stage_buf[RECORD_SIZE]; /* try_write gathers an iovec here */
static _Thread_local char flush_buf[FLUSH_CHUNK]; /* ciphertext on its way to the lower */

struct nt_tls_ctx {
    SSL_CTX *ssl_ctx; /* ref: each SSL holds its own */
};

/* A lower write in flight and the ciphertext it carries (owned by it until its callback). */
struct tls_wreq {
    uv_write_t req; /* req.data: the struct tls */
    size_t len;
    char data[];
};

struct tls {
    struct nt_transport base;
    struct nt_transport *lower; /* borrowed; outlives us */
    SSL *ssl;                   /* owned; owns rbio and wbio */
    BIO *rbio;                  /* ciphertext from the peer, not yet decrypted */
    BIO *wbio;                  /* ciphertext for the peer, not yet handed to lower */
    /* At most one lower write in flight (libuv 1.44 completes one write request per wake-up);
     * while it is, new ciphertext waits in wbio. Owned until its callback, else NULL. */
    struct tls_wreq *wreq;
    /* For a lower without write(): the ciphertext its try_write did not take. Owned or NULL. */
    char *held;
    size_t held_len, held_off;
    int write_error;        /* a lower write failed: try_write returns it from then on */
    bool is_established;    /* the handshake is done */
    bool is_failed;         /* a handshake or record failed: UV_EPROTO from now on */
    bool is_reading;        /* the user's read_start(), not undone by its read_stop() */
    bool is_lower_reading;  /* we started the lower's reading */
    bool is_delivering;     /* inside process(): a read_start() does not nest */
    bool has_ended;         /* a negative nread went up; no on_read follows */
    bool wants_writable;    /* a try_write took less than offered: on_writable is owed */
    bool is_shutdown;       /* shutdown() was asked: close_notify is out or queued */
    bool is_lower_shutdown; /* the lower's shutdown was asked */
    char error[192];        /* why it failed, "" if it did not */
};

static struct tls *tls_of(struct nt_transport *t)
{
    return NT_CONTAINER_OF(t, struct tls, base);
}

static const struct tls *tls_of_const(const struct nt_transport *t)
{
    return NT_CONTAINER_OF_CONST(t, struct tls, base);
}

/* --- errors -------------------------------------------------------------------------------- */

/* Writes OpenSSL's reason for the oldest error queued into buf ("wrong version number"), or
 * fallback when none is, and clears the queue. */
static void openssl_reason(char *buf, size_t size, const char *fallback)
{
    unsigned long e = ERR_get_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
    if (reason != NULL)
        snprintf(buf, size, "%s", reason);
    else if (e != 0)
        ERR_error_string_n(e, buf, size);
    else
        snprintf(buf, size, "%s", fallback);
    ERR_clear_error();
}

/* --- the context --------------------------------------------------------------------------- */

/* Keys are read without a passphrase: OpenSSL's default would prompt on the terminal. Marks
 * *asked (a bool, if not NULL): the key is encrypted. */
static int no_passphrase(char *buf, int size, int rwflag, void *asked)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    if (asked != NULL)
        *(bool *)asked = true;
    return -1;
}

/* Whether file can be opened and read; if not, says why in err for option opt. fopen() of a
 * directory succeeds, its first read does not. */
static bool can_read(const char *opt, const char *file, char *err, size_t err_size)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        snprintf(err, err_size, "%s %s: cannot read: %s", opt, file, strerror(errno));
        return false;
    }
    errno = 0;
    bool ok = getc(f) != EOF || !ferror(f);
    int saved = errno;
    fclose(f);
    if (!ok)
        snprintf(err, err_size, "%s %s: cannot read: %s", opt, file, strerror(saved));
    return ok;
}

/* Reads the PEM private key in key_file, or says why not in err. Returns it (the caller's). */
static EVP_PKEY *read_key(const char *key_file, char *err, size_t err_size)
{
    BIO *bio = BIO_new_file(key_file, "r");
    if (bio == NULL) {
        char why[128];
        openssl_reason(why, sizeof(why), "cannot open");
        snprintf(err, err_size, "--tls-key %s: cannot read: %s", key_file, why);
        return NULL;
    }
    bool asked = false;
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &asked);
    BIO_free(bio);
    if (pkey != NULL)
        return pkey;
    unsigned long e = ERR_peek_error();
    char why[128];
    openssl_reason(why, sizeof(why), "unknown error");
    if (asked)
        snprintf(err, err_size, "--tls-key %s: encrypted with a passphrase (natter takes none)",
                 key_file);
    else if (ERR_GET_LIB(e) == ERR_LIB_OSSL_DECODER && ERR_GET_REASON(e) == ERR_R_UNSUPPORTED)
        /* OpenSSL 3's decoders found no key they know: nothing more useful to say. */
        snprintf(err, err_size, "--tls-key %s: not a PEM private key", key_file);
    else
        snprintf(err, err_size, "--tls-key %s: not a PEM private key (%s)", key_file, why);
    return NULL;
}

/* Loads cert_file and key_file into ssl_ctx. Returns 0, or -1 with the reason in err. */
static int load(SSL_CTX *ssl_ctx, const char *cert_file, const char *key_file, char *err,
                size_t err_size)
{
    char why[128];
    if (!can_read("--tls-cert", cert_file, err, err_size))
        return -1;
    if (SSL_CTX_use_certificate_chain_file(ssl_ctx, cert_file) != 1) {
        openssl_reason(why, sizeof(why), "unknown error");
        snprintf(err, err_size, "--tls-cert %s: not a PEM certificate (%s)", cert_file, why);
        return -1;
    }
    if (!can_read("--tls-key", key_file, err, err_size))
        return -1;
    EVP_PKEY *pkey = read_key(key_file, err, err_size);
    if (pkey == NULL)
        return -1;
    /* OpenSSL 3 already compares a key with a certificate of its type here. */
    int ok = SSL_CTX_use_PrivateKey(ssl_ctx, pkey);
    EVP_PKEY_free(pkey);
    if (ok != 1) {
        unsigned long e = ERR_peek_error();
        openssl_reason(why, sizeof(why), "unknown error");
        if (ERR_GET_LIB(e) == ERR_LIB_X509 && (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
                                               ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH))
            snprintf(err, err_size, "--tls-key %s: does not match the certificate in %s", key_file,
                     cert_file);
        else
            snprintf(err, err_size, "--tls-key %s: cannot be used (%s)", key_file, why);
        return -1;
    }
    /* A key of another type than the certificate's (RSA for an EC certificate) gets here. */
    if (SSL_CTX_check_private_key(ssl_ctx) != 1) {
        ERR_clear_error();
        snprintf(err, err_size, "--tls-key %s: does not match the certificate in %s", key_file,
                 cert_file);
        return -1;
    }
    return 0;
}

struct nt_tls_ctx *nt_tls_ctx_new(const char *cert_file, const char *key_file, char *err,
                                  size_t err_size)
{
    ERR_clear_error();
    SSL_CTX *ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (ssl_ctx == NULL) {
        char why[128];
        openssl_reason(why, sizeof(why), "unknown error");
        snprintf(err, err_size, "TLS: cannot make a context (%s)", why);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION);
    /* A peer closing without close_notify is a plain EOF: nc-like clients do it all the time,
     * and a cut-off last line without its newline is discarded anyway. */
    SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ssl_ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_default_passwd_cb(ssl_ctx, no_passphrase);
    /* Resumption works with tickets (stateless); the internal cache would keep up to 20480
     * TLS 1.2 sessions in memory. */
    SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
    if (load(ssl_ctx, cert_file, key_file, err, err_size) != 0) {
        SSL_CTX_free(ssl_ctx);
        ERR_clear_error();
        return NULL;
    }
    struct nt_tls_ctx *ctx = nt_xmalloc(sizeof(*ctx));
    ctx->ssl_ctx = ssl_ctx;
    return ctx;
}

void nt_tls_ctx_free(struct nt_tls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

/* --- output -------------------------------------------------------------------------------- */

/* Ciphertext we hold: in wbio, in our lower write until its callback, or held for the lower. */
static size_t backlog(const struct tls *tls)
{
    return BIO_ctrl_pending(tls->wbio) + (tls->wreq != NULL ? tls->wreq->len : 0) +
           (tls->held_len - tls->held_off);
}

static BIO *new_mem_bio(void)
{
    BIO *bio = BIO_new(BIO_s_mem());
    NT_ASSERT(bio != NULL); /* out of memory */
    return bio;
}

/* Whether a drained memory BIO grew past BIO_KEEP (so is worth replacing). */
static bool is_oversized(BIO *bio)
{
    if (BIO_ctrl_pending(bio) > 0)
        return false;
    BUF_MEM *mem = NULL;
    BIO_get_mem_ptr(bio, &mem);
    return mem != NULL && mem->max > BIO_KEEP;
}

/* Gives back the memory of a drained wbio that grew for a burst (SSL_set0_wbio frees the old). */
static void trim_wbio(struct tls *tls)
{
    if (is_oversized(tls->wbio)) {
        tls->wbio = new_mem_bio();
        SSL_set0_wbio(tls->ssl, tls->wbio);
    }
}

static void trim_rbio(struct tls *tls)
{
    if (is_oversized(tls->rbio)) {
        tls->rbio = new_mem_bio();
        SSL_set0_rbio(tls->ssl, tls->rbio);
    }
}

static void on_lower_write(uv_write_t *req, int status);

/*
 * Keeps what the lower's try_write did not take: the head_len bytes at head, then the rest of
 * wbio, in one owned buffer: a lower write, or held for a lower without write().
 */
static void keep(struct tls *tls, const char *head, size_t head_len)
{
    size_t rest = BIO_ctrl_pending(tls->wbio);
    size_t len = head_len + rest;
    char *data;
    struct tls_wreq *w = NULL;
    if (tls->lower->ops->write != NULL) {
        w = nt_xmalloc(sizeof(*w) + len);
        w->len = len;
        data = w->data;
    } else {
        data = nt_xmalloc(len);
    }
    memcpy(data, head, head_len);
    NT_ASSERT(rest <= INT_MAX);
    int got = rest > 0 ? BIO_read(tls->wbio, data + head_len, (int)rest) : 0;
    NT_ASSERT(got == (int)rest);
    trim_wbio(tls);
    if (w == NULL) {
        tls->held = data;
        tls->held_len = len;
        tls->held_off = 0;
        return;
    }
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    w->req.data = tls;
    int rc = tls->lower->ops->write(tls->lower, &w->req, &buf, 1, on_lower_write);
    if (rc != 0) {
        free(w);
        tls->write_error = rc;
        return;
    }
    tls->wreq = w;
}

/*
 * Hands the ciphertext in wbio to the lower: its try_write first, then what it did not take in
 * one owned lower write (or held). Does nothing while a lower write is in flight or bytes are
 * held: the write's callback or the lower's on_writable flushes again, in order. Never calls up.
 */
static void flush(struct tls *tls)
{
    if (tls->wreq != NULL || tls->held != NULL || tls->write_error != 0)
        return;
    while (BIO_ctrl_pending(tls->wbio) > 0) {
        int n = BIO_read(tls->wbio, flush_buf, sizeof(flush_buf));
        NT_ASSERT(n > 0);
        uv_buf_t buf = uv_buf_init(flush_buf, (unsigned)n);
        int rc = tls->lower->ops->try_write(tls->lower, &buf, 1);
        if (rc == n)
            continue;
        if (rc < 0 && rc != UV_EAGAIN) {
            tls->write_error = rc;
            return;
        }
        size_t taken = rc > 0 ? (size_t)rc : 0;
        keep(tls, flush_buf + taken, (size_t)n - taken);
        return;
    }
    trim_wbio(tls);
}

/* Asks for the lower's shutdown once close_notify and everything before it left our hands (a
 * lower write in flight is fine: the lower shuts down after it). Returns 0 or its error. */
static int shutdown_lower(struct tls *tls)
{
    if (!tls->is_shutdown || tls->is_lower_shutdown || tls->held != NULL ||
        BIO_ctrl_pending(tls->wbio) > 0)
        return 0;
    tls->is_lower_shutdown = true;
    return tls->lower->ops->shutdown(tls->lower);
}

/* Pays the on_writable owed once the backlog went under the mark (or a write failed, so that
 * the next try_write reports it). */
static void notify_writable(struct tls *tls)
{
    if (!tls->wants_writable || !tls->is_established)
        return;
    if (tls->write_error == 0 && backlog(tls) >= NT_TLS_MAX_BACKLOG)
        return;
    tls->wants_writable = false;
    tls->base.up->on_writable(&tls->base);
}

/* The lower took output: flush what waited, then the deferred shutdown, then the user. */
static void drained(struct tls *tls)
{
    flush(tls);
    if (tls->write_error == 0) {
        int rc = shutdown_lower(tls);
        if (rc != 0)
            tls->base.up->on_shutdown(&tls->base, rc);
    }
    notify_writable(tls);
}

/* A write error makes the deferred lower shutdown impossible: report it as the shutdown's. */
static void fail_shutdown(struct tls *tls)
{
    if (tls->is_shutdown && !tls->is_lower_shutdown) {
        tls->is_lower_shutdown = true;
        tls->base.up->on_shutdown(&tls->base, tls->write_error);
    }
}

static void on_lower_write(uv_write_t *req, int status)
{
    struct tls *tls = req->data;
    struct tls_wreq *w = NT_CONTAINER_OF(req, struct tls_wreq, req);
    NT_ASSERT(tls->wreq == w);
    tls->wreq = NULL;
    free(w);
    if (status == UV_ECANCELED)
        return; /* the stream is closing: nt_tls_free follows its close callback */
    if (status < 0) {
        if (tls->write_error == 0)
            tls->write_error = status;
        fail_shutdown(tls);
        notify_writable(tls);
        return;
    }
    drained(tls);
}

/* The lower (one without write()) can take more: our held bytes go first. */
static void on_lower_writable(struct nt_transport *lower)
{
    struct tls *tls = lower->up_ctx;
    if (tls->held != NULL && tls->write_error == 0) {
        uv_buf_t buf =
            uv_buf_init(tls->held + tls->held_off, (unsigned)(tls->held_len - tls->held_off));
        int rc = lower->ops->try_write(lower, &buf, 1);
        if (rc > 0)
            tls->held_off += (size_t)rc;
        else if (rc != UV_EAGAIN)
            tls->write_error = rc;
        if (tls->held_off == tls->held_len || tls->write_error != 0) {
            free(tls->held);
            tls->held = NULL;
            tls->held_len = tls->held_off = 0;
        }
    }
    if (tls->write_error != 0) {
        fail_shutdown(tls);
        notify_writable(tls);
        return;
    }
    if (tls->held == NULL)
        drained(tls);
}

/* --- input --------------------------------------------------------------------------------- */

/* Passes status (< 0) up: the last on_read. */
static void end(struct tls *tls, ssize_t status)
{
    tls->has_ended = true;
    tls->base.up->on_read(&tls->base, status, NULL);
}

/* A handshake or record failed (err from SSL_get_error): keeps the reason and sends the alert
 * OpenSSL wrote. try_write refuses from now on. */
static void set_failed(struct tls *tls, int err)
{
    char fallback[32];
    snprintf(fallback, sizeof(fallback), "SSL error %d", err);
    openssl_reason(tls->error, sizeof(tls->error), fallback);
    tls->is_failed = true;
    flush(tls);
}

/* The same on input: the user gets on_read(UV_EPROTO), the last. */
static void fail(struct tls *tls, int err)
{
    set_failed(tls, err);
    end(tls, UV_EPROTO);
}

/* Runs the handshake; returns whether it is done. Then output offered before may go. */
static bool handshake(struct tls *tls)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(tls->ssl);
    int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(tls->ssl, rc);
    if (rc == 1 || err == SSL_ERROR_WANT_READ) {
        flush(tls); /* the server's flight; after it, TLS 1.3 session tickets */
        if (rc != 1)
            return false;
        tls->is_established = true;
        tls->wants_writable = false;
        tls->base.up->on_writable(&tls->base);
        return true;
    }
    if (err == SSL_ERROR_ZERO_RETURN)
        end(tls, UV_EOF); /* close_notify before the handshake was done */
    else
        fail(tls, err);
    return false;
}

/*
 * Handshakes, then decrypts what rbio holds and passes it up while the user reads. A read_stop()
 * from a callback stops the loop: the rest stays in the SSL and rbio for the next read_start().
 */
static void process(struct tls *tls)
{
    tls->is_delivering = true;
    if (tls->is_established || handshake(tls)) {
        while (tls->is_reading && !tls->has_ended) {
            ERR_clear_error();
            int n = SSL_read(tls->ssl, plain_buf, sizeof(plain_buf));
            int err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(tls->ssl, n);
            /* A read may write: alerts (a refused renegotiation, a fatal error). */
            flush(tls);
            if (n > 0)
                tls->base.up->on_read(&tls->base, n, plain_buf);
            else if (err == SSL_ERROR_WANT_READ)
                break;
            else if (err == SSL_ERROR_ZERO_RETURN)
                end(tls, UV_EOF); /* close_notify */
            else
                fail(tls, err);
        }
    }
    tls->is_delivering = false;
    trim_rbio(tls);
}

static void on_lower_read(struct nt_transport *lower, ssize_t nread, const char *data)
{
    struct tls *tls = lower->up_ctx;
    if (tls->has_ended)
        return;
    if (tls->is_failed) {
        end(tls, UV_EPROTO); /* a write failed the connection (the reason is kept) */
        return;
    }
    if (nread < 0) {
        /* UV_EOF without close_notify is a normal end (SSL_OP_IGNORE_UNEXPECTED_EOF's view);
         * lower errors pass as they are. */
        end(tls, nread);
        return;
    }
    NT_ASSERT(nread <= INT_MAX);
    /* A memory BIO takes everything (it grows). */
    int put = BIO_write(tls->rbio, data, (int)nread);
    NT_ASSERT(put == (int)nread);
    process(tls);
}

static void on_lower_shutdown(struct nt_transport *lower, int status)
{
    struct tls *tls = lower->up_ctx;
    tls->base.up->on_shutdown(&tls->base, status);
}

static const struct nt_transport_up lower_up = {
    .on_read = on_lower_read,
    .on_writable = on_lower_writable,
    .on_shutdown = on_lower_shutdown,
};

/* --- the transport's operations ------------------------------------------------------------ */

static int tls_read_start(struct nt_transport *t)
{
    struct tls *tls = tls_of(t);
    tls->is_reading = true;
    if (tls->has_ended)
        return 0;
    /* Input that waited since a read_stop() goes first, synchronously (transport.h). From
     * inside process() its loop simply goes on. */
    if (!tls->is_delivering && (SSL_has_pending(tls->ssl) || BIO_ctrl_pending(tls->rbio) > 0)) {
        process(tls);
        if (!tls->is_reading || tls->has_ended)
            return 0;
    }
    if (tls->is_lower_reading)
        return 0;
    int rc = tls->lower->ops->read_start(tls->lower);
    if (rc == 0)
        tls->is_lower_reading = true;
    return rc;
}

static void tls_read_stop(struct nt_transport *t)
{
    struct tls *tls = tls_of(t);
    tls->is_reading = false;
    if (tls->is_lower_reading) {
        tls->is_lower_reading = false;
        tls->lower->ops->read_stop(tls->lower);
    }
}

/* The next at most RECORD_SIZE plaintext bytes of bufs, from offset off of bufs[i]: a pointer
 * into that buffer when it has that much or is the last, else a copy of several into stage_buf. */
static const char *next_record(const uv_buf_t *bufs, unsigned n, unsigned i, size_t off,
                               size_t *len)
{
    size_t left = bufs[i].len - off;
    if (left >= RECORD_SIZE || i + 1 == n) {
        *len = left < RECORD_SIZE ? left : RECORD_SIZE;
        return bufs[i].base + off;
    }
    size_t got = 0;
    while (i < n && got < RECORD_SIZE) {
        size_t take = bufs[i].len - off;
        if (take > RECORD_SIZE - got)
            take = RECORD_SIZE - got;
        memcpy(stage_buf + got, bufs[i].base + off, take);
        got += take;
        i++;
        off = 0;
    }
    *len = got;
    return stage_buf;
}

static int tls_try_write(struct nt_transport *t, const uv_buf_t *bufs, unsigned n)
{
    struct tls *tls = tls_of(t);
    if (tls->write_error != 0)
        return tls->write_error;
    if (tls->is_failed)
        return UV_EPROTO;
    if (tls->is_shutdown)
        return UV_EPIPE;
    if (!tls->is_established) {
        tls->wants_writable = true; /* paid by the handshake */
        return UV_EAGAIN;
    }
    size_t taken = 0;
    unsigned i = 0;
    size_t off = 0;
    for (;;) {
        while (i < n && off == bufs[i].len) {
            i++;
            off = 0;
        }
        if (i == n || backlog(tls) >= NT_TLS_MAX_BACKLOG || tls->write_error != 0)
            break;
        size_t len;
        const char *p = next_record(bufs, n, i, off, &len);
        ERR_clear_error();
        int w = SSL_write(tls->ssl, p, (int)len);
        if (w <= 0) {
            /* A memory BIO never blocks a write, so this is a broken connection. The caller
             * learns it from our return, not from an on_read inside its write. */
            set_failed(tls, SSL_get_error(tls->ssl, w));
            break;
        }
        taken += (size_t)w;
        /* Move past the w bytes written. */
        for (size_t adv = (size_t)w; adv > 0;) {
            size_t step = bufs[i].len - off < adv ? bufs[i].len - off : adv;
            off += step;
            adv -= step;
            if (off == bufs[i].len) {
                i++;
                off = 0;
            }
        }
        flush(tls); /* record by record, so a kernel that takes everything keeps us going */
    }
    /* What was taken cannot reach the peer now: the caller had better close at once. */
    if (tls->write_error != 0)
        return tls->write_error;
    if (tls->is_failed)
        return UV_EPROTO;
    if (taken == 0) {
        tls->wants_writable = true;
        return UV_EAGAIN;
    }
    while (i < n && off == bufs[i].len) {
        i++;
        off = 0;
    }
    if (i < n)
        tls->wants_writable = true;
    NT_ASSERT(taken <= INT_MAX);
    return (int)taken;
}

static int tls_shutdown(struct nt_transport *t)
{
    struct tls *tls = tls_of(t);
    if (tls->is_shutdown)
        return UV_EALREADY;
    tls->is_shutdown = true;
    if (tls->write_error != 0)
        return tls->write_error;
    if (tls->is_established && !tls->is_failed) {
        /* Queues close_notify (returns 0: the peer's comes later, as UV_EOF). */
        ERR_clear_error();
        (void)SSL_shutdown(tls->ssl);
        ERR_clear_error();
        flush(tls);
        if (tls->write_error != 0)
            return tls->write_error;
    }
    return shutdown_lower(tls);
}

static size_t tls_pending(const struct nt_transport *t)
{
    const struct tls *tls = tls_of_const(t);
    /* Our lower write's unsent bytes are in the lower's own count. */
    return BIO_ctrl_pending(tls->wbio) + (tls->held_len - tls->held_off) +
           tls->lower->ops->pending(tls->lower);
}

static const struct nt_transport_ops tls_ops = {
    .read_start = tls_read_start,
    .read_stop = tls_read_stop,
    .try_write = tls_try_write,
    .write = NULL, /* TLS copies: callers use try_write and on_writable */
    .shutdown = tls_shutdown,
    .pending = tls_pending,
};

/* --- life ---------------------------------------------------------------------------------- */

struct nt_transport *nt_tls_new(struct nt_tls_ctx *ctx, struct nt_transport *lower)
{
    struct tls *tls = nt_xcalloc(1, sizeof(*tls));
    tls->base.ops = &tls_ops;
    tls->base.name = "tls";
    tls->lower = lower;
    tls->ssl = SSL_new(ctx->ssl_ctx);
    NT_ASSERT(tls->ssl != NULL); /* out of memory */
    SSL_set_accept_state(tls->ssl);
    tls->rbio = new_mem_bio();
    tls->wbio = new_mem_bio();
    SSL_set_bio(tls->ssl, tls->rbio, tls->wbio);
    lower->up = &lower_up;
    lower->up_ctx = tls;
    return &tls->base;
}

void nt_tls_free(struct nt_transport *t)
{
    if (t == NULL)
        return;
    struct tls *tls = tls_of(t);
    /* The lower stream closed first, so every lower write callback ran. */
    NT_ASSERT(tls->wreq == NULL);
    SSL_free(tls->ssl);
    free(tls->held);
    free(tls);
}

bool nt_tls_is_established(const struct nt_transport *t)
{
    return tls_of_const(t)->is_established;
}

const char *nt_tls_error(const struct nt_transport *t)
{
    return tls_of_const(t)->error;
}

const char *nt_tls_describe(const struct nt_transport *t, char *buf, size_t size)
{
    const struct tls *tls = tls_of_const(t);
    if (size == 0)
        return "";
    if (!tls->is_established) {
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf, size, "%s %s", SSL_get_version(tls->ssl), SSL_get_cipher_name(tls->ssl));
    return buf;
}
