/* SPDX-License-Identifier: MIT */
/* config.h - struct nt_config, defaults, the option table, parsing and validation. Pure. */
#ifndef NT_CONFIG_H
#define NT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "redis_url.h"

#define NT_MAX_LISTEN         16
#define NT_DEFAULT_LISTEN     "127.0.0.1:8888"
#define NT_DEFAULT_LISTEN_IRC "irc://127.0.0.1:6667"  /* beside it, unless --echo */
#define NT_DEFAULT_LISTEN_WEB "http://127.0.0.1:8080" /* and the web door, unless --echo */
#define NT_MAX_WEB_ORIGINS    16
#define NT_WEB_ORIGIN_MAX     256 /* bytes of one --web-origin, its NUL included */
#define NT_MAX_METRICS_ALLOW  32
#define NT_NODE_NAME_MAX      64 /* bytes of --node-name (NT_WIRE_MAX_NODE) */
#define NT_NODE_NAME_CHARS    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

/* What a listener speaks: a door's protocol over a transport (docs/OPERATIONS.md, --listen). */
enum nt_scheme {
    NT_SCHEME_TCP,  /* tcp:// (the default): the line chat (or echo) in plaintext */
    NT_SCHEME_TLS,  /* tls://: the same over TLS */
    NT_SCHEME_IRC,  /* irc://: the IRC door (PROTOCOL.md §8) */
    NT_SCHEME_IRCS, /* ircs://: the IRC door over TLS */
    NT_SCHEME_HTTP, /* http://: the web door (PROTOCOL.md §9): the browser client, WebSocket,
                       /metrics */
    NT_SCHEME_HTTPS /* https://: the web door over TLS */
};

/* An address block of --metrics-allow: a.b.c.d/N or IPV6/N. */
struct nt_cidr {
    bool is_ipv6;
    unsigned char addr[16]; /* network byte order; 4 bytes used for IPv4 */
    unsigned prefix;        /* bits that must match: 0..32 or 0..128 */
};

/* One address to listen on, as given ("127.0.0.1:8888", "tls://[::1]:0"), split into its
 * scheme, host and port. */
struct nt_listen_addr {
    enum nt_scheme scheme;
    char host[64]; /* numeric IPv4 or IPv6 address, without brackets */
    int port;      /* 0 picks a free port */
    bool is_ipv6;
};

struct nt_config {
    struct nt_listen_addr listen[NT_MAX_LISTEN];
    size_t n_listen;
    bool listen_is_default; /* no --listen was given: the defaults, which depend on echo */
    bool echo;
    uint64_t idle_timeout_ms; /* 0 = off */
    uint64_t name_timeout_ms; /* 0 = off */
    uint64_t max_clients;     /* 0 = derive from the open-file limit at start-up */
    uint64_t max_line;
    uint64_t max_output;
    uint64_t max_output_total; /* bytes all backlogs may hold together */
    uint64_t stall_timeout_ms; /* cut a reader that took nothing this long; 0 = off */
    uint64_t sndbuf;           /* 0 = the kernel's default */
    enum nt_log_level log_level;
    bool log_messages;
    uint64_t history;               /* chat lines kept per room; 0 = none */
    uint64_t rate;                  /* lines per second per client; 0 = no flood control */
    uint64_t burst;                 /* lines a client may send at once; 0 = no flood control */
    uint64_t max_per_ip;            /* connections per address; 0 = no limit */
    bool no_loopback_exempt;        /* apply max_per_ip to loopback addresses too */
    const char *oper_password_file; /* borrowed from argv or owned; NULL = no operators */
    char oper_password[256];        /* read by nt_config_load(); empty = no operators */
    const char *state_dir;          /* borrowed from argv or owned; NULL = nothing kept */
    const char *tls_cert_file;      /* borrowed from argv or owned; PEM chain */
    const char *tls_key_file;       /* borrowed from argv or owned; PEM key */
    const char *config_file;        /* borrowed from argv; NULL = none */
    /* Browser origins a WebSocket may come from besides the page's own ("https://chat.example"),
     * lower case, without a default port. */
    char web_origin[NT_MAX_WEB_ORIGINS][NT_WEB_ORIGIN_MAX];
    size_t n_web_origin;
    struct nt_cidr metrics_allow[NT_MAX_METRICS_ALLOW]; /* who may GET /metrics */
    size_t n_metrics_allow;    /* none given: loopback (127.0.0.0/8, ::1/128) */
    const char *redis_url;     /* borrowed from argv or owned; NULL = a single node (--redis) */
    struct nt_redis_url redis; /* redis_url, parsed */
    const char *node_name;     /* borrowed from argv or owned; NULL = HOST-PID (--node-name) */
    uint64_t redis_queue;      /* bytes waiting for Redis before events are dropped */
    bool check_config;         /* -n: check and exit */
    char **owned;              /* owned copies of the strings a config file gave (paths) */
    size_t n_owned;
    bool show_help;
    bool show_version;
    bool show_help_markdown; /* hidden: regenerates the table in docs/OPERATIONS.md */
    bool show_help_man;      /* hidden: regenerates the OPTIONS of man/natter.1 */
};

/* Fills c with the defaults (docs/OPERATIONS.md). */
void nt_config_defaults(struct nt_config *c);

/*
 * Parses argv[1..argc) into c, which must hold the defaults: first the file of --config FILE, if
 * given (OPERATIONS.md "Config file": its errors say "FILE:LINE: --name: why"), then the command
 * line, which overrides it (its --listen addresses replace the file's). Every error is reported,
 * one line each, on err ("natter: --max-line: must be a whole number from 1 to 1048576, got '0'").
 * Returns 0, or -1 when there was at least one error (c is then partly updated and must not be
 * used).
 */
int nt_config_parse(struct nt_config *c, int argc, char *const argv[], FILE *err);

/* A config file's line holds at most NT_CONFIG_LINE_MAX - 2 bytes without its line end. */
#define NT_CONFIG_LINE_MAX 4096

/* Frees what c owns (the strings a config file gave). */
void nt_config_fini(struct nt_config *c);

/*
 * Loads what the options point to (the operator password file: its first line, without trailing
 * whitespace; it must not be empty). Reports errors on err like nt_config_parse(). Returns 0 or -1.
 */
int nt_config_load(struct nt_config *c, FILE *err);

/* Parses "[SCHEME://]HOST:PORT" or "[SCHEME://][HOST6]:PORT" with a numeric host into *out
 * (SCHEME: tcp, tls, irc or ircs; tcp when none is given). Returns 0, or -1 with a reason in why (a
 * static string). */
int nt_config_parse_listen(const char *s, struct nt_listen_addr *out, const char **why);

/* Whether the IPv4 or IPv6 address ip (text, as a conn shows it; an IPv4-mapped IPv6 address
 * counts as its IPv4 address) is inside one of the n blocks. */
bool nt_config_cidr_match(const struct nt_cidr *blocks, size_t n, const char *ip);

/* Normalizes an origin ("HTTP://Example.org:80" -> "http://example.org") into out (cap bytes).
 * Returns 0, or -1 when s is not scheme://host[:port] with scheme http or https. */
int nt_config_origin_normalize(const char *s, size_t len, char *out, size_t cap);

/* The scheme's name as written in --listen: "tcp", "tls", "irc", "ircs", "http", "https". */
const char *nt_config_scheme_name(enum nt_scheme scheme);

/* Whether scheme is over TLS: tls://, ircs://, https://. */
bool nt_config_scheme_is_tls(enum nt_scheme scheme);

/* Whether any listener of c needs TLS (and so --tls-cert and --tls-key). */
bool nt_config_has_tls(const struct nt_config *c);

/* Whether a and b are the same listener (scheme, address and port as written). */
bool nt_config_listen_equal(const struct nt_listen_addr *a, const struct nt_listen_addr *b);

/* a as "SCHEME://HOST:PORT" ("irc://127.0.0.1:6667", "tls://[::1]:0"). */
void nt_config_format_listen(const struct nt_listen_addr *la, char *out, size_t cap);

/* One option that differs (a reload): its name, both values as a person writes them ("4096",
 * "0.5", "yes", "info", "none"), and whether a running server cannot take it. */
typedef void (*nt_config_change_fn)(void *ctx, const char *name, const char *from, const char *to,
                                    bool needs_restart);

/*
 * Calls fn for every option whose value in next differs from cur, in the table's order, except
 * --listen (the caller compares the addresses) and those that mean something to one command line
 * only (--config, --check-config, --help, --version). An option that needs a restart (--echo,
 * --state-dir) gets cur's value back in next, and default listeners (none given) become those of
 * that echo: next then describes what runs. Returns the number of calls.
 */
size_t nt_config_diff(struct nt_config *next, const struct nt_config *cur, nt_config_change_fn fn,
                      void *ctx);

/* Writes the --help text, generated from the option table, to out. */
void nt_config_usage(FILE *out);

/* Writes the options as a markdown table (for docs/OPERATIONS.md) to out. */
void nt_config_markdown(FILE *out);

/* Writes the options as the body of the OPTIONS section of natter(1) (man/natter.1), in roff:
 * one .TP paragraph per option, its text escaped, to out. */
void nt_config_man(FILE *out);

#endif
