/* A wrong-way include for tests/layering.sh to reject (ctest layering.rejects). */
#include "engine/apply.h"
#include <sqlite3.h>
static void f(void) { gcs_http__job_start(0); }
