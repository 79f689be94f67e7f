/* SPDX-License-Identifier: MIT */
/* test_tls.c - unit tests for tls.c: an in-memory OpenSSL client over a fake lower transport. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "lib/util.h"
#include "net/tls.h"

/* No sockets and no loop: the lower transport is a fake that records what it is given, and the
 * peer is an OpenSSL client on memory BIOs. The test moves the bytes between them (pump). */

/* --- growable byte buffers ----------------------------------------------------------------- */

struct bytes {
    char *data; /* owned */
    size_t len, cap;
};

static void bytes_add(struct bytes *b, const char *data, size_t len)
{
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->data = nt_xrealloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void bytes_free(struct bytes *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* --- the fake lower transport -------------------------------------------------------------- */

struct fake {
    struct nt_transport base;
    struct bytes wire; /* everything that reached the peer, in order */
    size_t wire_read;  /* how much of it the client has read */
    size_t take;       /* try_write takes at most this much per call */
    /* The one write it holds until complete_write(); libuv never calls back synchronously. */
    uv_write_t *req;
    uv_write_cb cb;
    struct bytes req_bytes;
    int write_rc; /* write() fails with this when not 0 */
    unsigned writes;
    unsigned shutdowns;
    size_t wire_at_shutdown; /* wire bytes plus the held write's when shutdown came */
    bool is_reading;
    unsigned read_starts, read_stops;
};

static struct fake *fake_of(struct nt_transport *t)
{
    return NT_CONTAINER_OF(t, struct fake, base);
}

static int fake_read_start(struct nt_transport *t)
{
    struct fake *f = fake_of(t);
    f->is_reading = true;
    f->read_starts++;
    return 0;
}

static void fake_read_stop(struct nt_transport *t)
{
    struct fake *f = fake_of(t);
    f->is_reading = false;
    f->read_stops++;
}

static int fake_try_write(struct nt_transport *t, const uv_buf_t *bufs, unsigned n)
{
    struct fake *f = fake_of(t);
    if (f->req != NULL)
        return UV_EAGAIN; /* as uv_try_write with a write queued */
    size_t taken = 0;
    for (unsigned i = 0; i < n && taken < f->take; i++) {
        size_t len = bufs[i].len < f->take - taken ? bufs[i].len : f->take - taken;
        bytes_add(&f->wire, bufs[i].base, len);
        taken += len;
    }
    return taken == 0 ? UV_EAGAIN : (int)taken;
}

static int fake_write(struct nt_transport *t, uv_write_t *req, const uv_buf_t *bufs, unsigned n,
                      uv_write_cb cb)
{
    struct fake *f = fake_of(t);
    assert_null(f->req); /* TLS keeps one lower write in flight at most */
    if (f->write_rc != 0)
        return f->write_rc;
    for (unsigned i = 0; i < n; i++)
        bytes_add(&f->req_bytes, bufs[i].base, bufs[i].len);
    f->req = req;
    f->cb = cb;
    f->writes++;
    return 0;
}

static int fake_shutdown(struct nt_transport *t)
{
    struct fake *f = fake_of(t);
    f->shutdowns++;
    f->wire_at_shutdown = f->wire.len + f->req_bytes.len;
    return 0;
}

static size_t fake_pending(const struct nt_transport *t)
{
    const struct fake *f = NT_CONTAINER_OF_CONST(t, struct fake, base);
    return f->req_bytes.len;
}

static const struct nt_transport_ops fake_ops = {
    .read_start = fake_read_start,
    .read_stop = fake_read_stop,
    .try_write = fake_try_write,
    .write = fake_write,
    .shutdown = fake_shutdown,
    .pending = fake_pending,
};

/* A lower that copies, as TLS itself does: no write(), on_writable instead. */
static const struct nt_transport_ops fake_copying_ops = {
    .read_start = fake_read_start,
    .read_stop = fake_read_stop,
    .try_write = fake_try_write,
    .write = NULL,
    .shutdown = fake_shutdown,
    .pending = fake_pending,
};

static int fake_try_write_fails(struct nt_transport *t, const uv_buf_t *bufs, unsigned n)
{
    (void)t;
    (void)bufs;
    (void)n;
    return UV_EPIPE;
}

/* A lower whose socket broke. */
static const struct nt_transport_ops fake_failing_ops = {
    .read_start = fake_read_start,
    .read_stop = fake_read_stop,
    .try_write = fake_try_write_fails,
    .write = fake_write,
    .shutdown = fake_shutdown,
    .pending = fake_pending,
};

/* Finishes the held write with status: its bytes reach the wire when status is 0. */
static void complete_write(struct fake *f, int status)
{
    assert_non_null(f->req);
    uv_write_t *req = f->req;
    uv_write_cb cb = f->cb;
    if (status == 0)
        bytes_add(&f->wire, f->req_bytes.data, f->req_bytes.len);
    f->req_bytes.len = 0;
    f->req = NULL;
    cb(req, status); /* may write again */
}

/* Input from the peer, as the lower's read callback would pass it. */
static void fake_input(struct fake *f, ssize_t nread, const char *data)
{
    f->base.up->on_read(&f->base, nread, data);
}

/* --- the user above the TLS transport (a conn's part) -------------------------------------- */

struct user {
    struct bytes got;
    unsigned reads;     /* on_read calls with data */
    ssize_t status;     /* the negative nread, 0 while none came */
    unsigned after_end; /* calls after the negative one: must stay 0 */
    unsigned writables; /* on_writable calls */
    unsigned shutdowns; /* on_shutdown calls */
    int shutdown_status;
    bool stop_in_read;    /* read_stop() from on_read */
    bool restart_in_read; /* read_stop() then read_start() from on_read */
};

static void user_on_read(struct nt_transport *t, ssize_t nread, const char *data)
{
    struct user *u = t->up_ctx;
    if (u->status != 0) {
        u->after_end++;
        return;
    }
    if (nread < 0) {
        assert_null(data);
        u->status = nread;
        return;
    }
    assert_true(nread > 0);
    u->reads++;
    bytes_add(&u->got, data, (size_t)nread);
    if (u->stop_in_read || u->restart_in_read)
        t->ops->read_stop(t);
    if (u->restart_in_read)
        assert_int_equal(t->ops->read_start(t), 0);
}

static void user_on_writable(struct nt_transport *t)
{
    struct user *u = t->up_ctx;
    u->writables++;
}

static void user_on_shutdown(struct nt_transport *t, int status)
{
    struct user *u = t->up_ctx;
    u->shutdowns++;
    u->shutdown_status = status;
}

static const struct nt_transport_up user_up = {
    .on_read = user_on_read,
    .on_writable = user_on_writable,
    .on_shutdown = user_on_shutdown,
};

/* --- the certificate, made once for all tests ---------------------------------------------- */

static char dir[64];
static char cert_file[128], key_file[128], other_key_file[128], rsa_key_file[128];
static char garbage_file[128], encrypted_key_file[128], missing_file[128];
static struct nt_tls_ctx *server_ctx;

static void write_key(const char *path, EVP_PKEY *key, const EVP_CIPHER *cipher)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    static const unsigned char pass[] = "secret";
    assert_int_equal(PEM_write_PrivateKey(f, key, cipher, cipher != NULL ? pass : NULL,
                                          cipher != NULL ? 6 : 0, NULL, NULL),
                     1);
    fclose(f);
}

/* A throwaway self-signed certificate for key, valid for an hour. */
static void write_cert(const char *path, EVP_PKEY *key)
{
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_tls.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(cert_file, sizeof(cert_file), "%s/cert.pem", dir);
    snprintf(key_file, sizeof(key_file), "%s/key.pem", dir);
    snprintf(other_key_file, sizeof(other_key_file), "%s/other-key.pem", dir);
    snprintf(rsa_key_file, sizeof(rsa_key_file), "%s/rsa-key.pem", dir);
    snprintf(garbage_file, sizeof(garbage_file), "%s/garbage.pem", dir);
    snprintf(encrypted_key_file, sizeof(encrypted_key_file), "%s/encrypted-key.pem", dir);
    snprintf(missing_file, sizeof(missing_file), "%s/missing.pem", dir);

    EVP_PKEY *key = EVP_EC_gen("P-256");
    EVP_PKEY *other = EVP_EC_gen("P-256");
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    if (key == NULL || other == NULL || rsa == NULL)
        return -1;
    write_key(key_file, key, NULL);
    write_key(other_key_file, other, NULL);
    write_key(rsa_key_file, rsa, NULL);
    write_key(encrypted_key_file, key, EVP_aes_128_cbc());
    write_cert(cert_file, key);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    EVP_PKEY_free(rsa);
    FILE *f = fopen(garbage_file, "w");
    if (f == NULL)
        return -1;
    fputs("this is not a certificate\n", f);
    fclose(f);

    char err[256];
    server_ctx = nt_tls_ctx_new(cert_file, key_file, err, sizeof(err));
    if (server_ctx == NULL) {
        fprintf(stderr, "nt_tls_ctx_new: %s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    nt_tls_ctx_free(server_ctx);
    const char *files[] = {cert_file,    key_file,     other_key_file,
                           rsa_key_file, garbage_file, encrypted_key_file};
    for (size_t i = 0; i < NT_ARRAY_LEN(files); i++)
        unlink(files[i]);
    return rmdir(dir) == 0 ? 0 : -1;
}

/* --- the client and the pump --------------------------------------------------------------- */

struct client {
    SSL_CTX *ctx; /* owned */
    SSL *ssl;     /* owned; owns the BIOs */
    BIO *rbio, *wbio;
    struct bytes got; /* plaintext from the server */
    bool got_close_notify;
    int error; /* SSL_get_error of a failure, 0 if none */
};

struct env {
    struct fake lower;
    struct nt_transport *tls;
    struct user user;
    struct client client;
};

static void client_init(struct client *c, int max_version)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(c->ctx);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    if (max_version != 0) {
        SSL_CTX_set_min_proto_version(c->ctx, 0);
        SSL_CTX_set_max_proto_version(c->ctx, max_version);
        SSL_CTX_set_security_level(c->ctx, 0); /* lets it offer the old protocols */
    }
    c->ssl = SSL_new(c->ctx);
    assert_non_null(c->ssl);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_connect_state(c->ssl);
}

static void client_fini(struct client *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    bytes_free(&c->got);
}

/* Runs the client's handshake and reads what it can. */
static void client_step(struct client *c)
{
    if (c->error != 0 || c->got_close_notify)
        return;
    if (!SSL_is_init_finished(c->ssl)) {
        int rc = SSL_do_handshake(c->ssl);
        if (rc != 1) {
            int err = SSL_get_error(c->ssl, rc);
            if (err != SSL_ERROR_WANT_READ)
                c->error = err;
            ERR_clear_error();
            return;
        }
    }
    char buf[16384];
    for (;;) {
        int n = SSL_read(c->ssl, buf, sizeof(buf));
        if (n > 0) {
            bytes_add(&c->got, buf, (size_t)n);
            continue;
        }
        int err = SSL_get_error(c->ssl, n);
        if (err == SSL_ERROR_ZERO_RETURN)
            c->got_close_notify = true;
        else if (err != SSL_ERROR_WANT_READ)
            c->error = err;
        ERR_clear_error();
        return;
    }
}

static void client_write(struct client *c, const char *s)
{
    assert_int_equal(SSL_write(c->ssl, s, (int)strlen(s)), (int)strlen(s));
}

/* Moves bytes both ways until nothing moves: the wire to the client, the client's output to the
 * TLS transport while the fake lower reads (else it waits, as in the kernel). */
static void pump(struct env *e)
{
    for (int round = 0; round < 10000; round++) {
        bool moved = false;
        struct fake *f = &e->lower;
        if (f->wire_read < f->wire.len) {
            size_t n = f->wire.len - f->wire_read;
            assert_int_equal(BIO_write(e->client.rbio, f->wire.data + f->wire_read, (int)n),
                             (int)n);
            f->wire_read = f->wire.len;
            moved = true;
        }
        client_step(&e->client);
        size_t n = BIO_ctrl_pending(e->client.wbio);
        if (n > 0 && f->is_reading) {
            char *buf = nt_xmalloc(n);
            assert_int_equal(BIO_read(e->client.wbio, buf, (int)n), (int)n);
            fake_input(f, (ssize_t)n, buf);
            free(buf);
            moved = true;
        }
        if (!moved)
            return;
    }
    fail_msg("pump: still moving after 10000 rounds");
}

static void env_init_with(struct env *e, const struct nt_transport_ops *lower_ops,
                          int client_max_version)
{
    memset(e, 0, sizeof(*e));
    e->lower.base.ops = lower_ops;
    e->lower.base.name = "fake";
    e->lower.take = SIZE_MAX;
    e->tls = nt_tls_new(server_ctx, &e->lower.base);
    assert_non_null(e->tls);
    assert_non_null(e->lower.base.up_ctx);
    e->tls->up = &user_up;
    e->tls->up_ctx = &e->user;
    assert_int_equal(e->tls->ops->read_start(e->tls), 0);
    assert_true(e->lower.is_reading);
    client_init(&e->client, client_max_version);
}

static int env_setup(void **state)
{
    struct env *e = nt_xmalloc(sizeof(*e));
    env_init_with(e, &fake_ops, 0);
    *state = e;
    return 0;
}

static int env_setup_copying(void **state)
{
    struct env *e = nt_xmalloc(sizeof(*e));
    env_init_with(e, &fake_copying_ops, 0);
    *state = e;
    return 0;
}

static int env_setup_tls12(void **state)
{
    struct env *e = nt_xmalloc(sizeof(*e));
    env_init_with(e, &fake_ops, TLS1_2_VERSION);
    *state = e;
    return 0;
}

static int env_setup_tls11(void **state)
{
    struct env *e = nt_xmalloc(sizeof(*e));
    env_init_with(e, &fake_ops, TLS1_1_VERSION);
    *state = e;
    return 0;
}

/* As the conn's close does: libuv cancels the lower write, then the TLS transport is freed. */
static int env_teardown(void **state)
{
    struct env *e = *state;
    if (e->lower.req != NULL)
        complete_write(&e->lower, UV_ECANCELED);
    nt_tls_free(e->tls);
    client_fini(&e->client);
    bytes_free(&e->lower.wire);
    bytes_free(&e->lower.req_bytes);
    bytes_free(&e->user.got);
    assert_int_equal(e->user.after_end, 0);
    free(e);
    return 0;
}

static void establish(struct env *e)
{
    pump(e);
    assert_true(SSL_is_init_finished(e->client.ssl));
    assert_true(nt_tls_is_established(e->tls));
}

/* uv_buf_t has a mutable base; try_write only reads it. */
static uv_buf_t const_buf(const char *data, size_t len)
{
    union {
        const char *c;
        char *m;
    } u = {.c = data};
    return uv_buf_init(u.m, (unsigned)len);
}

/* try_write of one string. */
static int write_str(struct env *e, const char *s)
{
    uv_buf_t buf = const_buf(s, strlen(s));
    return e->tls->ops->try_write(e->tls, &buf, 1);
}

/* Offers len bytes at data as bufs of piece bytes each (at most 1024 of them). */
static int offer(struct env *e, const char *data, size_t len, size_t piece)
{
    uv_buf_t bufs[1024];
    unsigned n = 0;
    for (size_t off = 0; off < len && n < NT_ARRAY_LEN(bufs); off += piece)
        bufs[n++] = const_buf(data + off, len - off < piece ? len - off : piece);
    return e->tls->ops->try_write(e->tls, bufs, n);
}

static char *pattern(size_t len)
{
    char *p = nt_xmalloc(len);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)('a' + (i * 7 + i / 251) % 26);
    return p;
}

/* --- tests: the handshake ------------------------------------------------------------------ */

static void test_handshake(void **state)
{
    struct env *e = *state;
    assert_false(nt_tls_is_established(e->tls));
    char desc[96];
    assert_string_equal(nt_tls_describe(e->tls, desc, sizeof(desc)), "");
    establish(e);
    assert_int_equal(e->user.writables, 1); /* the handshake's on_writable, once */
    assert_string_equal(nt_tls_error(e->tls), "");
    assert_string_equal(nt_tls_describe(e->tls, desc, sizeof(desc)),
                        "TLSv1.3 TLS_AES_256_GCM_SHA384");
    assert_int_equal(e->user.status, 0);
    assert_int_equal(e->user.reads, 0);
    assert_int_equal(e->client.error, 0);
    /* Everything went out: the server's flight and its session tickets. */
    assert_int_equal(e->tls->ops->pending(e->tls), 0);
}

static void test_handshake_tls12(void **state)
{
    struct env *e = *state;
    establish(e);
    char desc[96];
    nt_tls_describe(e->tls, desc, sizeof(desc));
    assert_memory_equal(desc, "TLSv1.2 ", 8);
    assert_int_equal(write_str(e, "over 1.2\n"), 9);
    client_write(&e->client, "up 1.2\n");
    pump(e);
    assert_int_equal(e->client.got.len, 9);
    assert_memory_equal(e->client.got.data, "over 1.2\n", 9);
    assert_int_equal(e->user.got.len, 7);
    assert_memory_equal(e->user.got.data, "up 1.2\n", 7);
}

static void test_old_protocol_refused(void **state)
{
    struct env *e = *state;
    pump(e);
    assert_false(nt_tls_is_established(e->tls));
    assert_int_equal(e->user.status, UV_EPROTO);
    assert_string_not_equal(nt_tls_error(e->tls), "");
    assert_true(e->lower.wire.len > 0); /* the alert */
    assert_int_not_equal(e->client.error, 0);
}

/* Resumption with the ticket of an earlier connection (the server keeps no session cache). */
static void resume(int max_version)
{
    struct env *e = nt_xmalloc(sizeof(*e));
    env_init_with(e, &fake_ops, max_version);
    establish(e);
    SSL_SESSION *session = SSL_get1_session(e->client.ssl);
    assert_non_null(session);
    assert_true(SSL_SESSION_is_resumable(session));
    /* A session closed without close_notify is not resumed (SSL_free forgets it). */
    SSL_shutdown(e->client.ssl);
    void *s = e;
    env_teardown(&s);

    e = nt_xmalloc(sizeof(*e));
    env_init_with(e, &fake_ops, max_version);
    assert_int_equal(SSL_set_session(e->client.ssl, session), 1);
    SSL_SESSION_free(session);
    establish(e);
    assert_true(SSL_session_reused(e->client.ssl));
    s = e;
    env_teardown(&s);
}

static void test_resumption(void **state)
{
    (void)state;
    resume(0);
    resume(TLS1_2_VERSION);
}

static void test_describe_small_buffer(void **state)
{
    struct env *e = *state;
    establish(e);
    char desc[7];
    assert_string_equal(nt_tls_describe(e->tls, desc, sizeof(desc)), "TLSv1.");
}

/* --- tests: data both ways ----------------------------------------------------------------- */

static void test_server_output_in_order(void **state)
{
    struct env *e = *state;
    establish(e);
    uv_buf_t bufs[] = {
        const_buf("Alice: hi\n", 10),
        const_buf("", 0),
        const_buf("Bob: hello\n", 11),
        const_buf("*** Carol has joined the chat ***\n", 34),
    };
    assert_int_equal(e->tls->ops->try_write(e->tls, bufs, 4), 55);
    assert_int_equal(e->user.writables, 1); /* no on_writable owed */
    pump(e);
    assert_int_equal(e->client.got.len, 55);
    assert_memory_equal(e->client.got.data,
                        "Alice: hi\nBob: hello\n*** Carol has joined the chat ***\n", 55);
}

static void test_small_bufs_make_one_record(void **state)
{
    struct env *e = *state;
    establish(e);
    size_t before = e->lower.wire.len;
    char line[10] = "message!\n";
    uv_buf_t bufs[100];
    for (size_t i = 0; i < NT_ARRAY_LEN(bufs); i++)
        bufs[i] = uv_buf_init(line, 9);
    assert_int_equal(e->tls->ops->try_write(e->tls, bufs, 100), 900);
    /* One TLS 1.3 record: 5 bytes of header, 900 + 1 content type, 16 of tag. */
    assert_int_equal(e->lower.wire.len - before, 900 + 22);
    pump(e);
    assert_int_equal(e->client.got.len, 900);
}

static void test_large_write(void **state)
{
    struct env *e = *state;
    establish(e);
    size_t len = (size_t)200 * 1024;
    char *data = pattern(len);
    /* The lower takes everything, so the backlog never builds: one call takes it all. */
    assert_int_equal(offer(e, data, len, len), (int)len);
    pump(e);
    assert_int_equal(e->client.got.len, len);
    assert_memory_equal(e->client.got.data, data, len);
    free(data);
}

static void test_client_input(void **state)
{
    struct env *e = *state;
    establish(e);
    client_write(&e->client, "hello\n");
    client_write(&e->client, "/join #rust\n");
    pump(e);
    assert_int_equal(e->user.got.len, 18);
    assert_memory_equal(e->user.got.data, "hello\n/join #rust\n", 18);
    assert_int_equal(e->user.status, 0);
}

static void test_input_with_the_handshake(void **state)
{
    struct env *e = *state;
    /* The client's Finished and its first data arrive in one read. */
    pump(e);
    assert_true(nt_tls_is_established(e->tls));
    assert_int_equal(e->user.reads, 0);
    client_write(&e->client, "Alice\n");
    pump(e);
    assert_int_equal(e->user.got.len, 6);
}

static void test_output_waits_for_handshake(void **state)
{
    struct env *e = *state;
    assert_int_equal(write_str(e, "Welcome!\n"), UV_EAGAIN);
    assert_int_equal(e->user.writables, 0);
    assert_int_equal(e->lower.wire.len, 0); /* nothing before the client's hello */
    pump(e);
    assert_true(nt_tls_is_established(e->tls));
    assert_int_equal(e->user.writables, 1);
    assert_int_equal(write_str(e, "Welcome!\n"), 9);
    pump(e);
    assert_int_equal(e->client.got.len, 9);
    assert_memory_equal(e->client.got.data, "Welcome!\n", 9);
}

static void test_read_stop_holds_the_rest(void **state)
{
    struct env *e = *state;
    establish(e);
    e->user.stop_in_read = true;
    client_write(&e->client, "one\n");
    client_write(&e->client, "two\n");
    client_write(&e->client, "three\n");
    pump(e);
    assert_int_equal(e->user.reads, 1);
    assert_int_equal(e->user.got.len, 4);
    assert_memory_equal(e->user.got.data, "one\n", 4);
    assert_false(e->lower.is_reading);
    assert_int_equal(e->lower.read_stops, 1);

    /* read_start delivers what waited before it returns, then reads from the lower again. */
    e->user.stop_in_read = false;
    assert_int_equal(e->tls->ops->read_start(e->tls), 0);
    assert_int_equal(e->user.got.len, 14);
    assert_memory_equal(e->user.got.data, "one\ntwo\nthree\n", 14);
    assert_true(e->lower.is_reading);

    client_write(&e->client, "four\n");
    pump(e);
    assert_int_equal(e->user.got.len, 19);
}

static void test_read_start_with_nothing_waiting(void **state)
{
    struct env *e = *state;
    establish(e);
    e->tls->ops->read_stop(e->tls);
    assert_false(e->lower.is_reading);
    unsigned starts = e->lower.read_starts;
    assert_int_equal(e->tls->ops->read_start(e->tls), 0);
    assert_true(e->lower.is_reading);
    assert_int_equal(e->lower.read_starts, starts + 1);
    assert_int_equal(e->user.reads, 0);
}

static void test_restart_inside_on_read(void **state)
{
    struct env *e = *state;
    establish(e);
    e->user.restart_in_read = true;
    client_write(&e->client, "one\n");
    client_write(&e->client, "two\n");
    pump(e);
    assert_int_equal(e->user.got.len, 8);
    assert_true(e->lower.is_reading);
}

static void test_eof_held_behind_read_stop(void **state)
{
    struct env *e = *state;
    establish(e);
    e->user.stop_in_read = true;
    client_write(&e->client, "bye\n");
    assert_int_equal(SSL_shutdown(e->client.ssl), 0);
    pump(e);
    assert_int_equal(e->user.got.len, 4);
    assert_int_equal(e->user.status, 0); /* the close_notify waits behind the stop */
    e->user.stop_in_read = false;
    assert_int_equal(e->tls->ops->read_start(e->tls), 0);
    assert_int_equal(e->user.status, UV_EOF);
}

static void test_key_update(void **state)
{
    struct env *e = *state;
    establish(e);
    assert_int_equal(SSL_key_update(e->client.ssl, SSL_KEY_UPDATE_REQUESTED), 1);
    client_write(&e->client, "after the update\n");
    pump(e);
    assert_int_equal(e->user.got.len, 17);
    /* OpenSSL 3.0 sends the requested KeyUpdate ahead of the server's next record. */
    assert_int_equal(write_str(e, "reply\n"), 6);
    pump(e);
    assert_int_equal(e->client.error, 0);
    assert_int_equal(e->client.got.len, 6);
}

static void test_renegotiation_refused_on_read(void **state)
{
    struct env *e = *state;
    establish(e);
    assert_int_equal(SSL_renegotiate(e->client.ssl), 1);
    assert_true(SSL_do_handshake(e->client.ssl) <= 0); /* its hello goes out */
    ERR_clear_error();
    size_t before = e->lower.wire.len;
    size_t n = BIO_ctrl_pending(e->client.wbio);
    char buf[4096];
    assert_true(n > 0 && n <= sizeof(buf));
    assert_int_equal(BIO_read(e->client.wbio, buf, (int)n), (int)n);
    fake_input(&e->lower, (ssize_t)n, buf);
    /* The server answered on the read, with no write of its user: a no_renegotiation alert. */
    assert_true(e->lower.wire.len > before);
    assert_int_equal(e->user.status, 0);
    /* The client gives up with a fatal alert, which ends the connection. */
    pump(e);
    assert_int_not_equal(e->client.error, 0);
    assert_int_equal(e->user.status, UV_EPROTO);
    print_message("renegotiation: %s\n", nt_tls_error(e->tls));
}

/* --- tests: failures and the end of the stream --------------------------------------------- */

static void test_plaintext_http_fails(void **state)
{
    struct env *e = *state;
    const char *get = "GET / HTTP/1.1\r\n\r\n";
    fake_input(&e->lower, (ssize_t)strlen(get), get);
    assert_int_equal(e->user.status, UV_EPROTO);
    assert_false(nt_tls_is_established(e->tls));
    assert_string_equal(nt_tls_error(e->tls), "http request");
    /* Nothing more goes up, and nothing can be written. */
    fake_input(&e->lower, (ssize_t)strlen(get), get);
    fake_input(&e->lower, UV_EOF, NULL);
    assert_int_equal(e->user.after_end, 0);
    assert_int_equal(write_str(e, "x"), UV_EPROTO);
    assert_int_equal(e->tls->ops->read_start(e->tls), 0);
}

static void test_garbage_fails(void **state)
{
    struct env *e = *state;
    char junk[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(junk); i++) {
        x = x * 1103515245 + 12345;
        junk[i] = (char)(x >> 16);
    }
    junk[0] = 0x16; /* a handshake record, so the parse gets past the first byte */
    fake_input(&e->lower, (ssize_t)sizeof(junk), junk);
    assert_int_equal(e->user.status, UV_EPROTO);
    assert_string_not_equal(nt_tls_error(e->tls), "");
    print_message("garbage: %s\n", nt_tls_error(e->tls));
}

static void test_broken_record_after_handshake(void **state)
{
    struct env *e = *state;
    establish(e);
    /* An application-data record whose tag cannot verify. */
    char rec[5 + 40] = {0x17, 0x03, 0x03, 0x00, 40};
    memset(rec + 5, 'x', 40);
    fake_input(&e->lower, (ssize_t)sizeof(rec), rec);
    assert_int_equal(e->user.status, UV_EPROTO);
    assert_true(nt_tls_is_established(e->tls));
    assert_string_not_equal(nt_tls_error(e->tls), "");
    print_message("broken record: %s\n", nt_tls_error(e->tls));
    assert_int_equal(write_str(e, "x"), UV_EPROTO);
}

static void test_close_notify_is_eof(void **state)
{
    struct env *e = *state;
    establish(e);
    client_write(&e->client, "last words\n");
    assert_int_equal(SSL_shutdown(e->client.ssl), 0);
    pump(e);
    assert_int_equal(e->user.got.len, 11);
    assert_int_equal(e->user.status, UV_EOF);
    assert_string_equal(nt_tls_error(e->tls), "");
    fake_input(&e->lower, UV_EOF, NULL);
    assert_int_equal(e->user.after_end, 0);
}

static void test_eof_without_close_notify(void **state)
{
    struct env *e = *state;
    establish(e);
    client_write(&e->client, "no newline at the end");
    pump(e);
    fake_input(&e->lower, UV_EOF, NULL);
    assert_int_equal(e->user.got.len, 21);
    assert_int_equal(e->user.status, UV_EOF);
    assert_string_equal(nt_tls_error(e->tls), "");
}

static void test_eof_during_handshake(void **state)
{
    struct env *e = *state;
    fake_input(&e->lower, UV_EOF, NULL);
    assert_int_equal(e->user.status, UV_EOF);
}

static void test_lower_error_passes_up(void **state)
{
    struct env *e = *state;
    establish(e);
    fake_input(&e->lower, UV_ECONNRESET, NULL);
    assert_int_equal(e->user.status, UV_ECONNRESET);
    fake_input(&e->lower, 3, "abc");
    assert_int_equal(e->user.after_end, 0);
}

/* --- tests: back-pressure and the lower's writes ------------------------------------------- */

static void test_backlog_mark(void **state)
{
    struct env *e = *state;
    establish(e);
    e->lower.take = 0; /* a kernel that takes nothing: all goes to the (held) lower write */
    size_t total = (size_t)256 * 1024;
    char *data = pattern(total);

    int rc = offer(e, data, total, 1024);
    assert_true(rc > 0);
    size_t taken = (size_t)rc;
    assert_true(taken < total);
    assert_true(taken <= NT_TLS_MAX_BACKLOG + 16384);
    assert_int_equal(e->lower.writes, 1);
    assert_true(e->tls->ops->pending(e->tls) >= NT_TLS_MAX_BACKLOG);
    assert_true(e->tls->ops->pending(e->tls) < NT_TLS_MAX_BACKLOG + 17000);
    /* At the mark it takes nothing, and owes an on_writable. */
    assert_int_equal(offer(e, data + taken, total - taken, 1024), UV_EAGAIN);
    unsigned writables = e->user.writables;

    /* The lower write completes: the rest of the backlog is the next write, and the user may go
     * on, over and over, until everything is taken. */
    while (taken < total) {
        assert_non_null(e->lower.req);
        complete_write(&e->lower, 0);
        assert_int_equal(e->user.writables, writables + 1);
        writables = e->user.writables;
        rc = offer(e, data + taken, total - taken, 1024);
        assert_true(rc > 0);
        taken += (size_t)rc;
    }
    while (e->lower.req != NULL)
        complete_write(&e->lower, 0);
    assert_int_equal(e->tls->ops->pending(e->tls), 0);
    pump(e);
    assert_int_equal(e->client.got.len, total);
    assert_memory_equal(e->client.got.data, data, total);
    free(data);
}

static void test_partial_lower_try_write(void **state)
{
    struct env *e = *state;
    establish(e);
    e->lower.take = 100; /* the kernel takes a little; the rest goes to one lower write */
    size_t len = 5000;
    char *data = pattern(len);
    assert_int_equal(offer(e, data, len, 500), (int)len);
    assert_int_equal(e->lower.writes, 1);
    assert_int_equal(e->tls->ops->pending(e->tls), e->lower.req_bytes.len);
    complete_write(&e->lower, 0);
    pump(e);
    assert_int_equal(e->client.got.len, len);
    assert_memory_equal(e->client.got.data, data, len);
    free(data);
}

static void test_write_error_is_reported(void **state)
{
    struct env *e = *state;
    establish(e);
    e->lower.take = 0;
    size_t total = (size_t)128 * 1024;
    char *data = pattern(total);
    int rc = offer(e, data, total, 4096);
    assert_true(rc > 0 && (size_t)rc < total);
    assert_int_equal(offer(e, data + rc, total - (size_t)rc, 4096), UV_EAGAIN);
    unsigned writables = e->user.writables;
    complete_write(&e->lower, UV_ECONNRESET);
    /* The waiting user hears of it, and its next try_write fails with the lower's error. */
    assert_int_equal(e->user.writables, writables + 1);
    assert_int_equal(offer(e, data + rc, total - (size_t)rc, 4096), UV_ECONNRESET);
    assert_int_equal(write_str(e, "x"), UV_ECONNRESET);
    assert_null(e->lower.req); /* nothing written after the error */
    free(data);
}

static void test_write_fails_at_once(void **state)
{
    struct env *e = *state;
    establish(e);
    e->lower.take = 10;
    e->lower.write_rc = UV_EBADF; /* as uv_write on a closed stream */
    assert_int_equal(write_str(e, "lost on the way\n"), UV_EBADF);
    assert_int_equal(write_str(e, "x"), UV_EBADF);
    assert_int_equal(e->lower.writes, 0);
}

static void test_lower_try_write_error(void **state)
{
    struct env *e = *state;
    establish(e);
    e->lower.take = 0;
    e->lower.write_rc = 0;
    /* A try_write error other than EAGAIN: nothing more is written. */
    e->lower.base.ops = &fake_failing_ops;
    assert_int_equal(write_str(e, "x"), UV_EPIPE);
    assert_null(e->lower.req);
    e->lower.base.ops = &fake_ops;
}

static void test_canceled_write(void **state)
{
    struct env *e = *state;
    establish(e);
    e->lower.take = 0;
    assert_int_equal(write_str(e, "held\n"), 5);
    assert_non_null(e->lower.req);
    unsigned writables = e->user.writables;
    /* The owner closed the stream: only the buffer goes; no call up. */
    complete_write(&e->lower, UV_ECANCELED);
    assert_int_equal(e->user.writables, writables);
    assert_null(e->lower.req);
}

static void test_copying_lower(void **state)
{
    struct env *e = *state;
    establish(e);
    e->lower.take = 1000;
    size_t len = (size_t)40 * 1024;
    char *data = pattern(len);
    int rc = offer(e, data, len, 2048);
    assert_int_equal(rc, (int)len); /* under the mark: all is taken, the ciphertext is held */
    assert_int_equal(e->lower.wire.len - e->lower.wire_read, 1000);
    size_t pending = e->tls->ops->pending(e->tls);
    assert_true(pending > len - 1000);
    /* The lower drains a little at each on_writable; ours fires once everything left. */
    unsigned writables = e->user.writables;
    for (int i = 0; i < 1000 && e->tls->ops->pending(e->tls) > 0; i++)
        e->lower.base.up->on_writable(&e->lower.base);
    assert_int_equal(e->tls->ops->pending(e->tls), 0);
    assert_int_equal(e->user.writables, writables); /* it had taken all: none owed */
    pump(e);
    assert_int_equal(e->client.got.len, len);
    assert_memory_equal(e->client.got.data, data, len);
    free(data);
}

static void test_copying_lower_backlog(void **state)
{
    struct env *e = *state;
    establish(e);
    e->lower.take = 0;
    size_t total = (size_t)200 * 1024;
    char *data = pattern(total);
    size_t taken = 0;
    int rc = offer(e, data, total, 1024);
    assert_true(rc > 0 && (size_t)rc < total);
    taken = (size_t)rc;
    assert_int_equal(offer(e, data + taken, total - taken, 1024), UV_EAGAIN);
    e->lower.take = 4096;
    unsigned writables = e->user.writables;
    for (int i = 0; i < 100000 && taken < total; i++) {
        e->lower.base.up->on_writable(&e->lower.base);
        if (e->user.writables != writables) {
            writables = e->user.writables;
            rc = offer(e, data + taken, total - taken, 1024);
            assert_true(rc > 0);
            taken += (size_t)rc;
        }
    }
    assert_int_equal(taken, total);
    for (int i = 0; i < 1000 && e->tls->ops->pending(e->tls) > 0; i++)
        e->lower.base.up->on_writable(&e->lower.base);
    pump(e);
    assert_int_equal(e->client.got.len, total);
    assert_memory_equal(e->client.got.data, data, total);
    free(data);
}

/* --- tests: shutdown ----------------------------------------------------------------------- */

static void test_shutdown_sends_close_notify(void **state)
{
    struct env *e = *state;
    establish(e);
    assert_int_equal(write_str(e, "Goodbye.\n"), 9);
    assert_int_equal(e->tls->ops->shutdown(e->tls), 0);
    assert_int_equal(e->lower.shutdowns, 1);
    assert_int_equal(e->tls->ops->shutdown(e->tls), UV_EALREADY);
    assert_int_equal(write_str(e, "more"), UV_EPIPE);
    pump(e);
    assert_int_equal(e->client.got.len, 9);
    assert_true(e->client.got_close_notify);
    /* The lower's shutdown completes: reported up as it is. */
    e->lower.base.up->on_shutdown(&e->lower.base, 0);
    assert_int_equal(e->user.shutdowns, 1);
    assert_int_equal(e->user.shutdown_status, 0);
    /* The peer answers with its close_notify: EOF. */
    assert_int_equal(SSL_shutdown(e->client.ssl), 1);
    pump(e);
    assert_int_equal(e->user.status, UV_EOF);
}

static void test_shutdown_waits_for_output(void **state)
{
    struct env *e = *state;
    establish(e);
    e->lower.take = 0;
    size_t len = (size_t)40 * 1024;
    char *data = pattern(len);
    assert_int_equal(offer(e, data, len, len), (int)len);
    assert_non_null(e->lower.req); /* the first record; the rest waits in the write BIO */
    assert_int_equal(e->tls->ops->shutdown(e->tls), 0);
    assert_int_equal(e->lower.shutdowns, 0); /* the close_notify is not out of our hands yet */
    while (e->lower.req != NULL && e->lower.shutdowns == 0)
        complete_write(&e->lower, 0);
    assert_int_equal(e->lower.shutdowns, 1);
    /* The FIN follows every byte: the last write was queued before the shutdown. */
    size_t sent = e->lower.wire.len + e->lower.req_bytes.len;
    assert_int_equal(e->lower.wire_at_shutdown, sent);
    while (e->lower.req != NULL)
        complete_write(&e->lower, 0);
    pump(e);
    assert_int_equal(e->client.got.len, len);
    assert_true(e->client.got_close_notify);
    free(data);
}

static void test_shutdown_before_handshake(void **state)
{
    struct env *e = *state;
    assert_int_equal(e->tls->ops->shutdown(e->tls), 0);
    assert_int_equal(e->lower.shutdowns, 1);
    assert_int_equal(e->lower.wire.len, 0);
}

static void test_shutdown_write_error(void **state)
{
    struct env *e = *state;
    establish(e);
    e->lower.take = 0;
    assert_int_equal(write_str(e, "held\n"), 5);
    assert_int_equal(e->tls->ops->shutdown(e->tls), 0);
    assert_int_equal(e->lower.shutdowns, 0);
    complete_write(&e->lower, UV_EPIPE);
    /* The deferred shutdown cannot happen: the user hears it failed. */
    assert_int_equal(e->lower.shutdowns, 0);
    assert_int_equal(e->user.shutdowns, 1);
    assert_int_equal(e->user.shutdown_status, UV_EPIPE);
}

/* --- tests: the context -------------------------------------------------------------------- */

static void expect_ctx_error(const char *cert, const char *key, const char *want)
{
    char err[512] = "";
    struct nt_tls_ctx *ctx = nt_tls_ctx_new(cert, key, err, sizeof(err));
    assert_null(ctx);
    print_message("%s\n", err);
    assert_non_null(strstr(err, want));
    assert_int_equal(ERR_peek_error(), 0); /* the queue is left clear */
}

static void test_ctx_errors(void **state)
{
    (void)state;
    char want[512];

    snprintf(want, sizeof(want), "--tls-cert %s: cannot read: No such file or directory",
             missing_file);
    expect_ctx_error(missing_file, key_file, want);

    snprintf(want, sizeof(want), "--tls-key %s: cannot read: No such file or directory",
             missing_file);
    expect_ctx_error(cert_file, missing_file, want);

    snprintf(want, sizeof(want), "--tls-cert %s: cannot read: Is a directory", dir);
    expect_ctx_error(dir, key_file, want);

    snprintf(want, sizeof(want), "--tls-cert %s: not a PEM certificate (", garbage_file);
    expect_ctx_error(garbage_file, key_file, want);
    /* A key where the certificate belongs. */
    snprintf(want, sizeof(want), "--tls-cert %s: not a PEM certificate (", key_file);
    expect_ctx_error(key_file, key_file, want);

    snprintf(want, sizeof(want), "--tls-key %s: not a PEM private key", garbage_file);
    expect_ctx_error(cert_file, garbage_file, want);
    snprintf(want, sizeof(want), "--tls-key %s: not a PEM private key", cert_file);
    expect_ctx_error(cert_file, cert_file, want);

    snprintf(want, sizeof(want), "--tls-key %s: encrypted with a passphrase", encrypted_key_file);
    expect_ctx_error(cert_file, encrypted_key_file, want);

    snprintf(want, sizeof(want), "--tls-key %s: does not match the certificate in %s",
             other_key_file, cert_file);
    expect_ctx_error(cert_file, other_key_file, want);
    snprintf(want, sizeof(want), "--tls-key %s: does not match the certificate in %s", rsa_key_file,
             cert_file);
    expect_ctx_error(cert_file, rsa_key_file, want);
}

static void test_ctx_error_truncates(void **state)
{
    (void)state;
    char err[16];
    memset(err, 'x', sizeof(err));
    assert_null(nt_tls_ctx_new(missing_file, key_file, err, sizeof(err)));
    assert_int_equal(strlen(err), sizeof(err) - 1);
}

static void test_ctx_free_keeps_connections(void **state)
{
    (void)state;
    char err[256];
    struct nt_tls_ctx *ctx = nt_tls_ctx_new(cert_file, key_file, err, sizeof(err));
    assert_non_null(ctx);
    struct env *e = nt_xmalloc(sizeof(*e));
    struct nt_tls_ctx *saved = server_ctx;
    server_ctx = ctx;
    env_init_with(e, &fake_ops, 0);
    server_ctx = saved;
    nt_tls_ctx_free(ctx); /* a reload replaced it; the open connection goes on */
    establish(e);
    client_write(&e->client, "still here\n");
    pump(e);
    assert_int_equal(e->user.got.len, 11);
    void *s = e;
    env_teardown(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_handshake_tls12, env_setup_tls12, env_teardown),
        cmocka_unit_test_setup_teardown(test_old_protocol_refused, env_setup_tls11, env_teardown),
        cmocka_unit_test(test_resumption),
        cmocka_unit_test_setup_teardown(test_describe_small_buffer, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_server_output_in_order, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_small_bufs_make_one_record, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_large_write, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_client_input, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_input_with_the_handshake, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_output_waits_for_handshake, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_read_stop_holds_the_rest, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_read_start_with_nothing_waiting, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_restart_inside_on_read, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_eof_held_behind_read_stop, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_key_update, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_renegotiation_refused_on_read, env_setup_tls12,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_plaintext_http_fails, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_fails, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_broken_record_after_handshake, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_close_notify_is_eof, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_eof_without_close_notify, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_eof_during_handshake, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_lower_error_passes_up, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_backlog_mark, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_partial_lower_try_write, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_write_error_is_reported, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_write_fails_at_once, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_lower_try_write_error, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_canceled_write, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_copying_lower, env_setup_copying, env_teardown),
        cmocka_unit_test_setup_teardown(test_copying_lower_backlog, env_setup_copying,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_sends_close_notify, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_waits_for_output, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_before_handshake, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_write_error, env_setup, env_teardown),
        cmocka_unit_test(test_ctx_errors),
        cmocka_unit_test(test_ctx_error_truncates),
        cmocka_unit_test(test_ctx_free_keeps_connections),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
