/* Fuzzes the plan file reader (apply reads plans people may have edited) and
 * the same reader on a plan in memory (undo reads the plans kept in the store). */
#include "plan/plan.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-plan", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        gcs_plan plan;
        if (gcs_plan_read(&plan, path) == 0) {
            gcs_plan_options o;
            gcs_plan_options_init(&o);
            gcs_plan_check_approval(&plan, &o);
            FILE *devnull = fopen("/dev/null", "w");
            gcs_plan_render_text(&plan, devnull, false);
            fclose(devnull);
            gcs_plan_release(&plan);
        }
    }
    close(fd);
    gcs_plan kept;
    if (gcs_plan_parse(&kept, (const char *)data, size, "fuzz") == 0)
        gcs_plan_release(&kept);
    return 0;
}
