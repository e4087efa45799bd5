/*
 * diff.h - the fewest SCIM PATCH operations that turn a current Genesys user into
 * the desired one.
 *
 * Only attributes present in `desired` are compared: an attribute the profile does
 * not map is never touched. For the attributes it maps, the profile is the owner:
 *  - simple values (userName, displayName, title, externalId, active, enterprise
 *    department, employeeNumber, dateHire, division): `replace` when different,
 *    `remove` when the desired value is null or "";
 *  - typed multi-valued entries (emails, phoneNumbers) are compared per `type`, so a
 *    change of the mobile number never disturbs the work number:
 *    `replace` of `phoneNumbers[type eq "mobile"].value`, `add` of a missing type,
 *    `remove` of `phoneNumbers[type eq "mobile"]`;
 *  - sets (roles, routingSkills, routingLanguages) are compared ignoring order and
 *    replaced whole when they differ;
 *  - manager is compared by its `value` (a Genesys user id);
 *  - genesys externalIds are only ever added to (the x-pc:scimv2:v1 entry is
 *    immutable and other authorities belong to others).
 * Paths of create-only attributes are skipped. The result is deterministic.
 */
#ifndef GCS_PLAN_DIFF_H
#define GCS_PLAN_DIFF_H

#include <jansson.h>

#include "core/buf.h"
#include "core/scim.h"

/*
 * Computes the difference. On success *ops_out is a JSON array of SCIM PATCH
 * operations ({op, path, value}) and *changes_out (optional) a JSON array of
 * {"attribute", "old", "new"} for people to read; both empty when nothing differs.
 * An attribute is labelled by its path ("title", "urn:…:User:department",
 * "roles"), a typed entry by its type ("phoneNumbers[mobile]", "emails[work]"),
 * a genesys externalIds entry by its authority ("externalIds[gcscim]"). Plans
 * keep these, and undo (engine/undo.c) reads them back into a user: a new
 * label needs its reading there too.
 * `skip_paths` (optional) is a JSON array of attribute names not to compare
 * (create-only attributes, e.g. "password" or "urn:…:User:employeeNumber").
 */
int gcs_diff_user(json_t **ops_out, json_t **changes_out, const json_t *desired,
                  const json_t *current, const json_t *skip_paths);

/*
 * A create's `changes` as text, without a tree: the elements of what
 * gcs_diff_user(&ops, &changes, desired, {}, NULL) gives, each written as the
 * plan writes it (jansson's JSON_INDENT(0): ", " and ": "), separated by ", ",
 * appended to out without the enclosing brackets; *count says how many.
 * `desired` is the desired user as jansson's compact dump wrote it (URNs
 * whole). 1 done; 0 when the text needs the tree after all (a member name,
 * type or authority with an escape, a label longer than the diff's): nothing
 * is appended then; or the buffer's error. tests/unit/test_create_text.c holds
 * it to gcs_diff_user over generated users.
 */
int gcs_diff_create_changes_text(gcs_buf *out, size_t *count, const char *desired);

/* A PatchOp message around an array of operations (borrowed; referenced). */
json_t *gcs_diff_patch_body(json_t *ops);

#endif
