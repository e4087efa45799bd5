/* A wrong-way include for tests/layering.sh to reject (ctest layering.rejects). */
#include "engine/apply.h"
#include <sqlite3.h>
static void f(void) { gcs_http__job_start(0); }
void gcs_thing_init(char **p);
void gcs_thing_init(char **p)
{
    *p = malloc(1);
}
