/*
 * scim.h - the SCIM 2.0 schema and message URNs (RFC 7643, RFC 7644) and
 * Genesys Cloud's user extension: spelt once, here, for the mapping, the
 * diff, the directory and the emulator alike.
 */
#ifndef GCS_CORE_SCIM_H
#define GCS_CORE_SCIM_H

/* Resource schemas: the user's core, enterprise and Genesys parts, groups. */
#define GCS_SCIM_CORE_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define GCS_SCIM_ENTERPRISE_USER "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define GCS_SCIM_GENESYS_USER "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"
#define GCS_SCIM_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"

/* Discovery schemas (RFC 7644 section 4). */
#define GCS_SCIM_SERVICE_PROVIDER_CONFIG "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
#define GCS_SCIM_RESOURCE_TYPE "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
#define GCS_SCIM_SCHEMA "urn:ietf:params:scim:schemas:core:2.0:Schema"

/* Messages. */
#define GCS_SCIM_LIST_RESPONSE "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define GCS_SCIM_PATCHOP "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define GCS_SCIM_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"

#endif
