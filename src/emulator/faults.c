/* Injected faults and latency. Every draw comes from PRNGs seeded with
 * --fault-seed, and each request draws the same number of values whatever the
 * outcome, so that a seed gives the same sequence of faults for the same
 * sequence of requests. */
#include "emulator/internal.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

static const struct {
    emu_fault fault;
    unsigned bit;
    int status;
    const char *code;
    const char *message;
} kinds[] = {
    {EMU_FAULT_500, GCS_EMU_FAULT_500, 500, "internal.server.error", "The server encountered an internal error."},
    {EMU_FAULT_502, GCS_EMU_FAULT_502, 502, "bad.gateway", "Bad gateway."},
    {EMU_FAULT_503, GCS_EMU_FAULT_503, 503, "service.unavailable", "Service unavailable."},
    {EMU_FAULT_504, GCS_EMU_FAULT_504, 504, "gateway.timeout", "The request timed out."},
    {EMU_FAULT_DROP, GCS_EMU_FAULT_DROP, 0, "drop", ""},
};
#define NKINDS (sizeof kinds / sizeof *kinds)

emu_fault_plan gcs_emu_fault_draw(gcs_emu *emu)
{
    emu_fault_plan plan = {EMU_FAULT_NONE, false};
    double rate = emu->config.fault_rate;
    unsigned enabled = emu->config.fault_kinds ? emu->config.fault_kinds : GCS_EMU_FAULT_ALL;
    if (rate <= 0)
        return plan;
    double u = gcs_emu_rand_unit(&emu->rng_faults);
    uint64_t pick = gcs_emu_rand(&emu->rng_faults);
    uint64_t coin = gcs_emu_rand(&emu->rng_faults);
    if (u >= rate)
        return plan;
    size_t n = 0, choice[NKINDS];
    for (size_t i = 0; i < NKINDS; i++)
        if (enabled & kinds[i].bit)
            choice[n++] = i;
    if (n == 0)
        return plan;
    size_t k = choice[pick % n];
    plan.fault = kinds[k].fault;
    /* A gateway timeout comes after the work was done; a dropped connection may
     * come before or after: the client cannot know, which is the point. */
    if (plan.fault == EMU_FAULT_504)
        plan.after = true;
    else if (plan.fault == EMU_FAULT_DROP)
        plan.after = coin & 1;
    return plan;
}

void gcs_emu_fault_apply(emu_req *r, emu_fault fault)
{
    for (size_t i = 0; i < NKINDS; i++) {
        if (kinds[i].fault != fault)
            continue;
        r->emu->stats.faults[i]++;
        gcs_http_response_release(r->resp);
        gcs_http_response_init(r->resp);
        if (fault == EMU_FAULT_DROP) {
            r->resp->drop = true;
            return;
        }
        gcs_emu_genesys_error(r, kinds[i].status, kinds[i].code, "%s", kinds[i].message);
        return;
    }
}

int gcs_emu_latency_draw(gcs_emu *emu)
{
    int ms = emu->config.latency_ms;
    if (ms <= 0 && emu->config.latency_jitter_ms <= 0)
        return 0;
    if (emu->config.latency_jitter_ms > 0)
        ms += (int)(gcs_emu_rand(&emu->rng_latency) % (uint64_t)(emu->config.latency_jitter_ms + 1));
    return ms;
}

int gcs_emu_fault_kinds_parse(unsigned *out, const json_t *list)
{
    unsigned bits = 0;
    size_t i;
    const json_t *v;
    if (!json_is_array(list))
        return gcs_error_set(GCS_EINVALID, "fault_kinds must be an array");
    json_array_foreach(list, i, v) {
        char name[16] = "";
        if (json_is_integer(v))
            snprintf(name, sizeof name, "%lld", (long long)json_integer_value(v));
        else if (json_is_string(v))
            snprintf(name, sizeof name, "%s", json_string_value(v));
        size_t k;
        for (k = 0; k < NKINDS; k++) {
            char st[16];
            snprintf(st, sizeof st, "%d", kinds[k].status);
            if (strcmp(name, kinds[k].status ? st : kinds[k].code) == 0)
                break;
        }
        if (k == NKINDS)
            return gcs_error_set(GCS_EINVALID, "unknown fault kind '%s' (500, 502, 503, 504, drop)", name);
        bits |= kinds[k].bit;
    }
    *out = bits;
    return 0;
}
