/* SPDX-License-Identifier: MIT */
/* fuzz_config.c - libFuzzer harness for config.c: --listen addresses, the command line, and
 * config files. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "fuzz.h"

/*
 * Input: byte 0 picks the mode, the rest is the text.
 *   bit 1 set (and even): the text is a config file (OPERATIONS.md "Config file"), read through
 *         nt_config_parse(--config FILE): the same checks as the command line, and every error
 *         line is a whole "natter: FILE:LINE: ..." one (or the file's own read error); what the
 *         file gave is freed by nt_config_fini() (LSan).
 *   else (0 mod 4): one HOST:PORT string for nt_config_parse_listen(). On success the host is a
 * numeric address of its family that fits, the port is 0-65535, and formatting it back and parsing
 * again gives the same address. On failure there is a reason. odd:  a command line, split at NUL
 * bytes into argv[1..] (each its own exact-size heap copy, so ASan sees reads past an argument),
 * for nt_config_parse(). On success nothing was written to err and every field is within the range
 * of its option (docs/OPERATIONS.md); on failure at least one line was written, each a whole
 * "natter: ..." line (unless an argument itself holds a newline).
 */

#define MAX_ARGS 64
#define DAY_MS   (86400ULL * 1000ULL)

static void check_addr(const struct nt_listen_addr *a)
{
    size_t hlen = strnlen(a->host, sizeof(a->host));
    CHECK(hlen > 0 && hlen < sizeof(a->host));
    unsigned char buf[16];
    CHECK(inet_pton(a->is_ipv6 ? AF_INET6 : AF_INET, a->host, buf) == 1);
    CHECK(a->port >= 0 && a->port <= 65535);
}

static void fuzz_listen(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    CHECK(s != NULL);
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    struct nt_listen_addr a;
    const char *why = NULL;
    if (nt_config_parse_listen(s, &a, &why) == 0) {
        check_addr(&a);
        char again[128];
        snprintf(again, sizeof(again), a.is_ipv6 ? "[%s]:%d" : "%s:%d", a.host, a.port);
        struct nt_listen_addr b;
        CHECK(nt_config_parse_listen(again, &b, &why) == 0);
        CHECK(strcmp(a.host, b.host) == 0 && a.port == b.port && a.is_ipv6 == b.is_ipv6);
    } else {
        CHECK(why != NULL && why[0] != '\0');
    }
    free(s);
}

static void check_config(const struct nt_config *c)
{
    CHECK(c->n_listen >= 1 && c->n_listen <= NT_MAX_LISTEN);
    for (size_t i = 0; i < c->n_listen; i++)
        check_addr(&c->listen[i]);
    CHECK(c->idle_timeout_ms <= 365 * DAY_MS);
    CHECK(c->name_timeout_ms <= 365 * DAY_MS);
    CHECK(c->max_clients == 0 || (c->max_clients >= 1 && c->max_clients <= 10000000));
    CHECK(c->max_line >= 1 && c->max_line <= 1048576);
    CHECK(c->max_output >= 1024 && c->max_output <= 1073741824);
    CHECK(c->sndbuf <= 67108864);
    CHECK(c->log_level >= NT_LOG_ERROR && c->log_level <= NT_LOG_DEBUG);
    CHECK(c->history <= 10000);
    CHECK(c->rate <= 1000000 && c->burst <= 1000000);
    CHECK(c->max_per_ip <= 10000000);
    CHECK(c->oper_password_file == NULL || c->oper_password_file[0] != '\0');
}

static void fuzz_argv(const uint8_t *data, size_t size)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    bool has_lf = false;
    argv[argc++] = strdup("natter");
    for (size_t off = 0; off <= size && argc < MAX_ARGS;) {
        const uint8_t *nul = memchr(data + off, '\0', size - off);
        size_t len = nul ? (size_t)(nul - (data + off)) : size - off;
        char *arg = malloc(len + 1);
        CHECK(arg != NULL);
        if (len > 0)
            memcpy(arg, data + off, len);
        arg[len] = '\0';
        has_lf = has_lf || memchr(arg, '\n', len) != NULL;
        argv[argc++] = arg;
        off += len + 1;
    }
    argv[argc] = NULL;

    char *errbuf = NULL;
    size_t errlen = 0;
    FILE *err = open_memstream(&errbuf, &errlen);
    CHECK(err != NULL);
    struct nt_config c;
    nt_config_defaults(&c);
    int rc = nt_config_parse(&c, argc, argv, err);
    CHECK(fclose(err) == 0);
    CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        CHECK(errlen == 0);
        check_config(&c);
    } else {
        CHECK(errlen > 0 && errbuf[errlen - 1] == '\n');
        CHECK(strncmp(errbuf, "natter: ", 8) == 0);
        /* Without a newline inside an argument, every line is a whole "natter: ..." one. */
        for (char *line = errbuf; !has_lf && line < errbuf + errlen;) {
            CHECK(strncmp(line, "natter: ", 8) == 0);
            line = strchr(line, '\n') + 1;
        }
    }
    free(errbuf);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
}

/* nt_config_change_fn: every change names an option and two different values. */
static void on_change(void *ctx, const char *name, const char *from, const char *to,
                      bool needs_restart)
{
    size_t *restarts = ctx;
    CHECK(name[0] != '\0' && from[0] != '\0' && to[0] != '\0' && strcmp(from, to) != 0);
    CHECK(!needs_restart || strcmp(name, "echo") == 0 || strcmp(name, "state-dir") == 0);
    *restarts += needs_restart;
}

/* A reload from the defaults to c (OPERATIONS.md "Reloading"): after it, c runs what needs a
 * restart as before, so a second look finds no such change; c against itself finds none. */
static void check_diff(struct nt_config *c)
{
    struct nt_config defaults;
    nt_config_defaults(&defaults);
    size_t restarts = 0;
    size_t n = nt_config_diff(c, &defaults, on_change, &restarts);
    CHECK(restarts <= n);
    restarts = 0;
    nt_config_diff(c, &defaults, on_change, &restarts);
    CHECK(restarts == 0);
    CHECK(c->echo == defaults.echo && c->state_dir == NULL);
    CHECK(nt_config_diff(c, c, on_change, &restarts) == 0);
}

static void fuzz_file(const uint8_t *data, size_t size)
{
    static char path[64];
    if (path[0] == '\0')
        snprintf(path, sizeof(path), "/tmp/natter-fuzz-config-%d.conf", (int)getpid());
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, size, f) == size);
    CHECK(fclose(f) == 0);
    char name[] = "natter", opt[] = "--config";
    char *argv[] = {name, opt, path, NULL};
    char *errbuf = NULL;
    size_t errlen = 0;
    FILE *err = open_memstream(&errbuf, &errlen);
    CHECK(err != NULL);
    struct nt_config c;
    nt_config_defaults(&c);
    int rc = nt_config_parse(&c, 3, argv, err);
    CHECK(fclose(err) == 0);
    if (rc == 0) {
        CHECK(errlen == 0);
        check_config(&c);
        check_diff(&c);
    } else {
        CHECK(errlen > 0 && errbuf[errlen - 1] == '\n');
        char prefix[96];
        int pn = snprintf(prefix, sizeof(prefix), "natter: %s:", path);
        for (char *line = errbuf; line < errbuf + errlen;) {
            /* every error names the file and line, but the cross-option check after it */
            CHECK(strncmp(line, prefix, (size_t)pn) == 0 ||
                  strncmp(line, "natter: --listen tls://", 23) == 0);
            line = strchr(line, '\n') + 1;
        }
    }
    nt_config_fini(&c);
    free(errbuf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        fuzz_argv(data + 1, size - 1);
    else if (data[0] & 2)
        fuzz_file(data + 1, size - 1);
    else
        fuzz_listen(data + 1, size - 1);
    return 0;
}
