/* SPDX-License-Identifier: MIT */
/* redis_server.h - for unit tests: a redis-server of the test's own (fork/exec on a free loopback
 * port and a unix socket in a fresh directory, no persistence, killed by its pid), and a loop that
 * runs until a condition holds. Static functions: include it in one test file each. Define
 * TEST_SECONDS (the SIGALRM bound of a test) before including it. */
#ifndef NT_TEST_REDIS_SERVER_H
#define NT_TEST_REDIS_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "lib/util.h"

/* --- the test's own redis-server ------------------------------------------------------------ */

struct server {
    pid_t pid;
    int port;
    char dir[64];   /* a fresh directory: the unix socket and the log */
    char sock[128]; /* the unix socket */
};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Whether a redis-server answers PING on 127.0.0.1:port. */
static bool answers(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = false;
    char buf[16];
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && write(fd, "PING\r\n", 6) == 6) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 500) == 1 && read(fd, buf, sizeof(buf)) >= 7)
            ok = memcmp(buf, "+PONG\r\n", 7) == 0;
    }
    close(fd);
    return ok;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void server_start(struct server *s)
{
    if (s->dir[0] == '\0') {
        snprintf(s->dir, sizeof(s->dir), "/tmp/natter-test-redis-XXXXXX");
        assert_non_null(mkdtemp(s->dir));
        snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
    }
    for (int attempt = 0; attempt < 5; attempt++) {
        /* The port is free now; another process may take it before redis-server binds it: then
         * redis-server exits and we try another. */
        /* A restarted server keeps its port (clients reconnect to it). */
        int port = s->port != 0 && attempt == 0 ? s->port : free_port();
        char port_text[16], log_path[128];
        snprintf(port_text, sizeof(port_text), "%d", port);
        snprintf(log_path, sizeof(log_path), "%s/redis.log", s->dir);
        int exec_pipe[2]; /* the child's exec error, if any; closed by a successful exec */
        assert_int_equal(pipe(exec_pipe), 0);
        assert_int_not_equal(fcntl(exec_pipe[1], F_SETFD, FD_CLOEXEC), -1);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(exec_pipe[0]);
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a crashed test */
            int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (log >= 0) {
                dup2(log, 1);
                dup2(log, 2);
            }
            execlp("redis-server", "redis-server", "--port", port_text, "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--unixsocket", s->sock, "--unixsocketperm",
                   "700", "--dir", s->dir, "--daemonize", "no", (char *)NULL);
            int err = errno;
            ssize_t n = write(exec_pipe[1], &err, sizeof(err));
            (void)n;
            _exit(127);
        }
        close(exec_pipe[1]);
        int err = 0;
        ssize_t n = read(exec_pipe[0], &err, sizeof(err));
        close(exec_pipe[0]);
        if (n == (ssize_t)sizeof(err)) {
            waitpid(pid, NULL, 0);
            fail_msg("cannot run redis-server: %s (scripts/install-deps.sh test installs it)",
                     strerror(err));
        }
        uint64_t until = now_ms() + 5000;
        bool exited = false;
        while (now_ms() < until) {
            if (answers(port)) {
                s->pid = pid;
                s->port = port;
                return;
            }
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                exited = true;
                break;
            }
            nanosleep(&(struct timespec){.tv_nsec = 10000000L}, NULL);
        }
        if (!exited) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    fail_msg("redis-server did not start; its log is %s/redis.log", s->dir);
}

/* Kills the server (SIGKILL, by pid) and waits for it: its sockets are closed on return. */
static void server_kill(struct server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static void server_remove(struct server *s)
{
    server_kill(s);
    if (s->dir[0] == '\0')
        return;
    char path[160];
    unlink(s->sock);
    snprintf(path, sizeof(path), "%s/redis.log", s->dir);
    unlink(path);
    rmdir(s->dir);
    s->dir[0] = '\0';
}

/* --- the loop ------------------------------------------------------------------------------- */

struct env {
    uv_loop_t loop;
    uv_timer_t tick; /* bounds each uv_run(UV_RUN_ONCE) of RUN_UNTIL */
    struct server srv;
};

static int env_setup(void **state)
{
    struct env *e = nt_xcalloc(1, sizeof(*e));
    if (uv_loop_init(&e->loop) != 0)
        return -1;
    uv_timer_init(&e->loop, &e->tick);
    alarm(TEST_SECONDS);
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    struct env *e = *state;
    alarm(0);
    server_remove(&e->srv);
    free(e);
    return 0;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs e's loop until cond holds, failing the test after ms. */
#define RUN_UNTIL(e, cond, ms)                                                                     \
    do {                                                                                           \
        uint64_t until_ = now_ms() + (ms);                                                         \
        uv_timer_start(&(e)->tick, on_tick, 5, 5);                                                 \
        while (!(cond) && now_ms() < until_)                                                       \
            uv_run(&(e)->loop, UV_RUN_ONCE);                                                       \
        uv_timer_stop(&(e)->tick);                                                                 \
        if (!(cond))                                                                               \
            fail_msg("timed out waiting for %s", #cond);                                           \
    } while (0)

/* Runs e's loop for ms. */
static void run_for(struct env *e, uint64_t ms)
{
    uint64_t until = now_ms() + ms;
    uv_timer_start(&e->tick, on_tick, 5, 5);
    while (now_ms() < until)
        uv_run(&e->loop, UV_RUN_ONCE);
    uv_timer_stop(&e->tick);
}

/* Closes the tick timer, runs the loop out (every nt_redis must be closed) and closes it. */
static void finish_loop(struct env *e)
{
    uv_close((uv_handle_t *)&e->tick, NULL);
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    assert_int_equal(uv_ip4_addr("127.0.0.1", port, &a), 0);
    return a;
}

#endif
