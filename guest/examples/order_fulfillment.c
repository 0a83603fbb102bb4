/*
 * Order fulfillment, the classic durable-execution example: reserve inventory,
 * charge the card, buy a shipping label, email the customer, complete the order.
 * Each step is an activity; a crash between any two resumes at the next one,
 * and no committed step ever runs twice.
 *
 * Input: the order id (default "order-1001"). Activities: guest/examples/activities.py.
 */
#include <stdio.h>
#include <string.h>

#include "tardigrade.h"

#define FIELD 96

/* One activity call; on failure, log why and return the error code. */
static int64_t step(const char *activity, const char *in, char out[FIELD]) {
    memset(out, 0, FIELD);
    int64_t n = td_call(activity, in, strlen(in), out, FIELD - 1);
    if (n < 0) {
        printf("%s failed (%lld): %s\n", activity, (long long)n, out);
    } else {
        printf("%s -> %s\n", activity, out);
    }
    return n;
}

int run(void) {
    char order[FIELD] = "order-1001";
    size_t len = td_input(order, sizeof order - 1);
    if (len > 0) order[len < sizeof order - 1 ? len : sizeof order - 1] = 0;

    char reservation[FIELD], payment[FIELD], label[FIELD], email[FIELD], done[FIELD];
    char request[2 * FIELD + 8];

    if (step("inventory.reserve", order, reservation) < 0) return 1;

    snprintf(request, sizeof request, "%s:%s", order, reservation);
    if (step("payments.charge", request, payment) < 0) {
        /* Compensation: give the stock back before failing the order. */
        step("inventory.release", reservation, done);
        return 1;
    }

    if (step("shipping.label", order, label) < 0) return 1;

    snprintf(request, sizeof request, "%s:%s", order, label);
    if (step("email.send", request, email) < 0) return 1;

    if (step("orders.complete", order, done) < 0) return 1;

    char summary[6 * FIELD + 128];
    int n = snprintf(summary, sizeof summary,
                     "{\"order\":\"%s\",\"reservation\":\"%s\",\"payment\":\"%s\","
                     "\"label\":\"%s\",\"email\":\"%s\",\"status\":\"%s\"}\n",
                     order, reservation, payment, label, email, done);
    td_output(summary, (size_t)n);
    return 0;
}
