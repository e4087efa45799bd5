#include "gcstest.h"

#include "core/error.h"
#include "genesys/session.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/time.h"

const char *gcs_test_cli_path(void)
{
    const char *p = getenv("GCSCIM_BIN");
    return p && *p ? p : GCS_TEST_BIN_DIR "/gcscim";
}

const char *gcs_test_emulator_path(void)
{
    const char *p = getenv("GCSCIM_EMULATOR");
    return p && *p ? p : GCS_TEST_BIN_DIR "/gcscim-emulator";
}

char *gcs_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/gcscim-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    char *copy = strdup(d);
    assert_non_null(copy); /* the allocation-failure run fails this one too */
    return copy;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void gcs_test_tmpdir_remove(char *dir)
{
    if (!dir)
        return;
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

char *gcs_test_write_file(const char *dir, const char *name, const char *text)
{
    assert_non_null(text); /* a text that could not be made (an allocation failed) */
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    assert_non_null(path);
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

void gcs_test_run_release(gcs_test_run *r)
{
    gcs_buf_release(&r->out);
    gcs_buf_release(&r->err);
}

static void drain(int fd, gcs_buf *b, int *open_flag)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n > 0)
        assert_int_equal(gcs_buf_put(b, chunk, (size_t)n), 0);
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        *open_flag = 0;
}

int gcs_test_run_program(gcs_test_run *r, const char *const *argv, const char *const *env,
                         const char *stdin_text, int timeout_ms)
{
    int out_pipe[2], err_pipe[2], in_pipe[2];
    gcs_buf_init(&r->out, 0);
    gcs_buf_init(&r->err, 0);
    r->exit_code = -1;
    if (pipe(out_pipe) || pipe(err_pipe) || pipe(in_pipe))
        return -1;

    pid_t pid = fork();
    if (pid == 0) {
        dup2(in_pipe[0], 0);
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        close(in_pipe[1]);
        close(out_pipe[0]);
        close(err_pipe[0]);
        char *envp[64];
        size_t n = 0;
        static char path_env[1024], home_env[512], tmp_env[512];
        snprintf(path_env, sizeof path_env, "PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
        snprintf(home_env, sizeof home_env, "HOME=%s", getenv("HOME") ? getenv("HOME") : "/tmp");
        snprintf(tmp_env, sizeof tmp_env, "TMPDIR=%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        envp[n++] = path_env;
        envp[n++] = home_env;
        envp[n++] = tmp_env;
        for (size_t i = 0; env && env[i] && n < 63; i++)
            envp[n++] = (char *)env[i];
        envp[n] = NULL;
        execve(argv[0], (char *const *)argv, envp);
        _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (stdin_text) {
        ssize_t unused = write(in_pipe[1], stdin_text, strlen(stdin_text));
        (void)unused;
    }
    close(in_pipe[1]);

    int out_open = 1, err_open = 1;
    int64_t deadline = gcs_time_mono_ms() + timeout_ms;
    while (out_open || err_open) {
        int64_t left = deadline - gcs_time_mono_ms();
        if (left <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
        int rc = poll(fds, 2, (int)left);
        if (rc < 0 && errno != EINTR)
            break;
        if (out_open && (fds[0].revents & (POLLIN | POLLHUP)))
            drain(out_pipe[0], &r->out, &out_open);
        if (err_open && (fds[1].revents & (POLLIN | POLLHUP)))
            drain(err_pipe[0], &r->err, &err_open);
    }
    close(out_pipe[0]);
    close(err_pipe[0]);
    int status;
    waitpid(pid, &status, 0);
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return 0;
}

void gcs_test_server_start(gcs_test_server *s, const char *program, const char *const *args,
                           int timeout_ms)
{
    memset(s, 0, sizeof *s);
    s->dir = gcs_test_tmpdir();
    char ready[512];
    snprintf(ready, sizeof ready, "%s/ready.json", s->dir);
    snprintf(s->log_path, sizeof s->log_path, "%s/server.log", s->dir);

    const char *argv[64];
    size_t n = 0;
    argv[n++] = program;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--ready-file";
    argv[n++] = ready;
    for (size_t i = 0; args && args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(program, (char *const *)argv);
        _exit(127);
    }
    assert_true(pid > 0);
    s->pid = pid;

    int64_t deadline = gcs_time_mono_ms() + timeout_ms;
    while (gcs_time_mono_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            fail_msg("server %s exited before it was ready; see %s", program, s->log_path);
        }
        json_error_t jerr;
        json_t *j = json_load_file(ready, 0, &jerr);
        if (j) {
            const char *api = json_string_value(json_object_get(j, "api_url"));
            const char *login = json_string_value(json_object_get(j, "login_url"));
            s->port = (int)json_integer_value(json_object_get(j, "port"));
            snprintf(s->api_url, sizeof s->api_url, "%s", api ? api : "");
            snprintf(s->login_url, sizeof s->login_url, "%s", login ? login : s->api_url);
            json_decref(j);
            if (s->port > 0)
                return;
        }
        gcs_time_sleep_ms(10);
    }
    gcs_test_server_stop(s);
    fail_msg("server %s not ready within %d ms", program, timeout_ms);
}

int gcs_test_server_stop(gcs_test_server *s)
{
    int result = -1;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int64_t deadline = gcs_time_mono_ms() + 5000;
        int status;
        for (;;) {
            pid_t w = waitpid(s->pid, &status, WNOHANG);
            if (w == s->pid) {
                result = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                break;
            }
            if (gcs_time_mono_ms() > deadline) {
                kill(s->pid, SIGKILL);
                waitpid(s->pid, &status, 0);
                break;
            }
            gcs_time_sleep_ms(10);
        }
        s->pid = 0;
    }
    gcs_test_tmpdir_remove(s->dir);
    s->dir = NULL;
    return result;
}

static void on_deadline(int sig)
{
    (void)sig;
    static const char msg[] = "test deadline passed: aborting\n";
    ssize_t unused = write(2, msg, sizeof msg - 1);
    (void)unused;
    abort();
}

void gcs_test_deadline(unsigned seconds)
{
    /* valgrind runs code tens of times slower (scripts/valgrind sets 5) */
    const char *scale = getenv("GCS_TEST_DEADLINE_SCALE");
    unsigned long k = scale ? strtoul(scale, NULL, 10) : 1;
    signal(SIGALRM, on_deadline);
    alarm(seconds * (unsigned)(k >= 1 && k <= 100 ? k : 1));
}

void gcs_test_emulator_start_seeded(gcs_test_server *emu, const char *dir, const char *seed,
                                    const char *const *more_args)
{
    const char *args[32];
    size_t n = 0;
    char *seed_path = gcs_test_write_file(dir, "org.json", seed);
    args[n++] = "--seed";
    args[n++] = seed_path;
    args[n++] = "--rate-limit";
    args[n++] = "0";
    for (size_t i = 0; more_args && more_args[i]; i++) {
        if (n + 1 >= sizeof args / sizeof *args)
            fail_msg("gcs_test_emulator_start_seeded: too many arguments");
        args[n++] = more_args[i];
    }
    args[n] = NULL;
    gcs_test_server_start(emu, gcs_test_emulator_path(), args, 10000);
    free(seed_path);
}

void gcs_test_config_for_emulator(gcs_config *cfg, const char *api_url)
{
    gcs_config_from_env(cfg, NULL);
    gcs_config_set(cfg, GCS_CFG_API_URL, api_url, GCS_CFG_FROM_FLAG, "test");
    gcs_config_set(cfg, GCS_CFG_CLIENT_ID, "gcscim-emulator", GCS_CFG_FROM_FLAG, "test");
    gcs_config_set(cfg, GCS_CFG_CLIENT_SECRET, "gcscim-emulator-secret", GCS_CFG_FROM_FLAG,
                   "test");
}

void gcs_test_open_session_and_store(gcs_genesys_session **session, gcs_store **store,
                                     const gcs_config *cfg, const char *dir)
{
    if (gcs_genesys_session_open(session, cfg, NULL) != 0)
        fail_msg("session: %s", gcs_error_last());
    char url[700];
    snprintf(url, sizeof url, "sqlite:%s/gcscim.db", dir);
    if (gcs_store_open(store, url) != 0)
        fail_msg("store: %s", gcs_error_last());
}
