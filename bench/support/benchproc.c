#include "benchproc.h"

#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/time.h"

const char *gcs_bench_emulator_path(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("GCSCIM_EMULATOR");
    if (env && *env)
        return env;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return "gcscim-emulator";
    self[n] = '\0';
    snprintf(path, sizeof path, "%s/../gcscim-emulator", dirname(self));
    return path;
}

pid_t gcs_bench_emulator_start(const char *dir, const char *const *args, char *api_url,
                               size_t api_sz)
{
    char ready[PATH_MAX], log[PATH_MAX];
    snprintf(ready, sizeof ready, "%s/ready.json", dir);
    snprintf(log, sizeof log, "%s/emulator.log", dir);
    const char *program = gcs_bench_emulator_path();
    const char *argv[32];
    size_t n = 0;
    argv[n++] = program;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--ready-file";
    argv[n++] = ready;
    for (size_t i = 0; args && args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(program, (char *const *)argv);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    /* A large seed (a million users) takes minutes to load on a busy machine. */
    int64_t deadline = gcs_time_mono_ms() + 600000;
    while (gcs_time_mono_ms() < deadline) {
        json_t *r = json_load_file(ready, 0, NULL);
        const char *api = json_string_value(json_object_get(r, "api_url"));
        if (api) {
            snprintf(api_url, api_sz, "%s", api);
            json_decref(r);
            return pid;
        }
        json_decref(r);
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        gcs_time_sleep_ms(20);
    }
    gcs_bench_emulator_stop(pid);
    return -1;
}

void gcs_bench_emulator_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

int64_t gcs_bench_cpu_us(pid_t pid)
{
    char path[64], text[1024];
    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/stat");
    else
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *p = strrchr(text, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (int64_t)((ut + st) * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}
