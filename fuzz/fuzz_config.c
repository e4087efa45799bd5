/* Fuzzes the config file reader (JSON through jansson, then our key checks). */
#include "core/config.h"
#include "core/error.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-config", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    gcs_config cfg;
    if (gcs_config_from_env(&cfg, no_env) == 0)
        gcs_config_load_file(&cfg, path, no_env);
    gcs_config_release(&cfg);
    close(fd);
    return 0;
}
