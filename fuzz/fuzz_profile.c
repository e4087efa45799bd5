/* Fuzzes mapping profiles: libyaml into a tree with lines, then the compiler.
 * The first byte picks JSON (j) or YAML (anything else) so that both paths are reached; a profile
 * that loads is also checked against the names of one fixed row and run over it. */
#include "mapping/map.h"
#include "mapping/profile.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *name = data[0] == 'j' ? "fuzz.json" : "fuzz.yaml";
    gcs_profile *p;
    if (gcs_profile_load_mem(&p, name, (const char *)data + 1, size - 1) != 0)
        return 0;
    static const gcs_row_field fields[] = {
        {"email", "Ann.Lee@Example.com", 1}, {"id", "E1", 2},        {"first", "Ann", 3},
        {"last", "Lee", 4},                  {"status", "active", 5}, {"phone", "020 7946 0000", 6},
        {"date", "03/15/2021", 7},           {"list", "a;b:2;c", 8},
    };
    gcs_row row = {"fuzz.csv", 2, 1, sizeof fields / sizeof *fields, fields};
    /* The check against a source's names (suggestions, templates, scope). */
    const char *names[sizeof fields / sizeof *fields];
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        names[i] = fields[i].name;
    gcs_profile_check_fields(p, "fuzz.csv", names, sizeof names / sizeof *names);
    for (size_t i = 0; i < gcs_profile_privileged_role_count(p); i++) {
        if (!gcs_profile_privileged_role_at(p, i)[0])
            __builtin_trap();
    }
    gcs_map_user u;
    gcs_map_row(&u, p, &row, NULL);
    gcs_map_user_release(&u);
    gcs_profile_free(p);
    return 0;
}
