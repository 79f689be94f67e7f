/* SPDX-License-Identifier: MIT */
/* main.c - argv -> config -> server; exit code. Nothing else. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <uv.h>

#include <openssl/opensslv.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "server.h"

#ifndef NT_VERSION
#define NT_VERSION "0.0.0"
#endif

/* Raises the soft open-file limit to the hard one; returns the limit now in force. */
static uint64_t raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (uint64_t)rl.rlim_cur;
}

/* natter --check-config: everything that can be checked without binding; exit 0 or 2. */
static int check_config(struct nt_config *cfg, int parsed)
{
    int bad = parsed != 0;
    if (nt_config_load(cfg, stderr) != 0)
        bad = 1;
    if (nt_server_check_config(cfg, stderr) != 0) /* every error, of every kind */
        bad = 1;
    if (bad) {
        fprintf(stderr, "natter: the configuration has errors; nothing was started\n");
        return 2;
    }
    printf("natter: the configuration is valid%s%s%s; %zu listener%s:",
           cfg->config_file ? " (" : "", cfg->config_file ? cfg->config_file : "",
           cfg->config_file ? ")" : "", cfg->n_listen, cfg->n_listen == 1 ? "" : "s");
    for (size_t i = 0; i < cfg->n_listen; i++) {
        char addr[96];
        nt_config_format_listen(&cfg->listen[i], addr, sizeof(addr));
        printf(" %s", addr);
    }
    printf("\n");
    return 0;
}

/* The command line, kept for reloads: they read the --config file and the flags again. */
struct args {
    int argc;
    char **argv;
};

/* nt_server_read_config_fn: what main() did at start-up, once more. */
static int read_config(struct nt_config *next, FILE *err, void *arg)
{
    const struct args *a = arg;
    if (nt_config_parse(next, a->argc, a->argv, err) != 0)
        return -1;
    return nt_config_load(next, err);
}

static int run(struct nt_config *cfg, struct args args);

int main(int argc, char **argv)
{
    struct nt_config cfg;
    nt_config_defaults(&cfg);
    int parsed = nt_config_parse(&cfg, argc, argv, stderr);
    int rc;
    if (cfg.check_config && !cfg.show_help && !cfg.show_version)
        rc = check_config(&cfg, parsed);
    else if (parsed != 0) {
        fprintf(stderr, "natter: see 'natter --help'\n");
        rc = 2;
    } else {
        rc = run(&cfg, (struct args){argc, argv});
    }
    nt_config_fini(&cfg);
    return rc;
}

static int run(struct nt_config *cfg, struct args args)
{
    if (cfg->show_help) {
        nt_config_usage(stdout);
        return 0;
    }
    if (cfg->show_help_markdown) {
        nt_config_markdown(stdout);
        return 0;
    }
    if (cfg->show_help_man) {
        nt_config_man(stdout);
        return 0;
    }
    if (cfg->show_version) {
        printf("natter %s (libuv %s, %s)\n", NT_VERSION, uv_version_string(), OPENSSL_VERSION_TEXT);
        return 0;
    }
    if (nt_config_load(cfg, stderr) != 0)
        return 2;
    nt_log_threshold = cfg->log_level;
    /* libuv writes with plain write(): a peer's reset must be an error, not a signal. */
    signal(SIGPIPE, SIG_IGN);

    uint64_t nofile = raise_nofile();

    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc != 0) {
        NT_ERROR("cannot start the event loop: %s", uv_strerror(rc));
        return 1;
    }
    struct nt_server *srv = nt_xcalloc(1, sizeof(*srv));
    int exit_code = 0;
    srv->read_config = read_config;
    srv->read_config_arg = &args;
    rc = nt_server_init(srv, &loop, cfg, nofile);
    if (rc == UV_EINVAL) {
        exit_code = 2; /* the certificate or key cannot be used: logged, a configuration error */
        nt_server_stop(srv);
    } else if (rc != 0) {
        NT_ERROR("cannot start: %s", uv_strerror(rc));
        exit_code = 1;
        nt_server_stop(srv);
    } else {
        NT_INFO("natter %s starting: %s mode, max-clients %llu", NT_VERSION,
                cfg->echo ? "echo" : "chat", (unsigned long long)srv->max_clients);
        if (nt_server_start(srv) != 0) {
            exit_code = 1;
            nt_server_stop(srv);
        }
    }
    rc = uv_run(&loop, UV_RUN_DEFAULT);
    if (rc != 0 && exit_code == 0) {
        NT_ERROR("event loop ended with handles still active");
        exit_code = 1;
    }
    nt_server_fini(srv);
    free(srv);
    nt_log_flush(); /* one last try, without waiting: nobody may be reading */
    rc = uv_loop_close(&loop);
    if (rc != 0) {
        NT_ERROR("event loop did not close cleanly: %s", uv_strerror(rc));
        exit_code = 1;
    }
    return exit_code;
}
