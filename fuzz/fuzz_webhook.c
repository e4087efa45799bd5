/* Fuzzes Standard Webhooks verification: the input is split at NUL bytes into
 * a secret, webhook-id, webhook-timestamp, webhook-signature and a body. Any
 * header a sender controls must be refused or accepted cleanly, and what
 * gcs_webhook_sign produced must always verify. */
#include "core/error.h"
#include "service/webhook.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *part[5] = {"", "", "", "", ""};
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < 5; i++) {
        if (i == size || text[i] == '\0') {
            part[n++] = text + start;
            start = i + 1;
        }
    }
    const char *body = part[4];
    size_t body_len = body >= text + size ? 0 : size - (size_t)(body - text);

    gcs_webhook_secret s;
    if (gcs_webhook_secret_parse(&s, part[0]) != 0)
        gcs_webhook_secret_parse(&s, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    (void)gcs_webhook_verify(&s, 1, part[1], part[2], part[3], body, body_len, 1614265330, 300);

    char sig[GCS_WEBHOOK_SIGNATURE_MAX];
    if (gcs_webhook_sign(sig, &s, part[1], 1614265330, body, body_len) == 0 &&
        gcs_webhook_verify(&s, 1, part[1], "1614265330", sig, body, body_len, 1614265330, 300) !=
            GCS_WEBHOOK_VALID)
        abort(); /* what we sign, we accept */
    gcs_webhook_secret_wipe(&s);
    gcs_error_clear();
    free(text);
    return 0;
}
