/*
 * Money transfer with compensation (a saga): debit the source account, credit
 * the target; when the credit fails for good (say the target account is closed,
 * a non-retryable error) or the execution is cancelled, refund the source.
 *
 * Cancellation pattern: `tardigrade cancel ID` makes the next td_call return
 * TD_ERR_CANCELLED instead of running its activity. Calls made after that run
 * normally, so the workflow can compensate; the execution then ends as
 * `cancelled`.
 *
 * Input: "FROM TO AMOUNT" (default "alice bob 100"); an account named "closed"
 * rejects credits. Activities: guest/examples/activities.py.
 */
#include <stdio.h>
#include <string.h>

#include "tardigrade.h"

int run(void) {
    char input[128] = "alice bob 100";
    size_t len = td_input(input, sizeof input - 1);
    if (len > 0) input[len < sizeof input - 1 ? len : sizeof input - 1] = 0;

    char from[32], to[32];
    long amount = 0;
    if (sscanf(input, "%31s %31s %ld", from, to, &amount) != 3 || amount <= 0) {
        char msg[] = "bad input: want \"FROM TO AMOUNT\"\n";
        td_output(msg, sizeof msg - 1);
        return 2;
    }

    char request[96], debit[96] = {0}, credit[96] = {0}, refund[96] = {0}, out[384];
    snprintf(request, sizeof request, "%s %ld", from, amount);
    int64_t n = td_call("bank.debit", request, strlen(request), debit, sizeof debit - 1);
    if (n < 0) {
        int k = snprintf(out, sizeof out, "{\"status\":\"debit failed\",\"error\":\"%s\"}\n", debit);
        td_output(out, (size_t)k);
        return 1;
    }

    snprintf(request, sizeof request, "%s %ld", to, amount);
    n = td_call("bank.credit", request, strlen(request), credit, sizeof credit - 1);
    if (n < 0) {
        /* Compensate: the money goes back to where it came from. */
        const char *why = n == TD_ERR_CANCELLED ? "cancelled" : credit;
        snprintf(request, sizeof request, "%s %ld", from, amount);
        td_call("bank.refund", request, strlen(request), refund, sizeof refund - 1);
        int k = snprintf(out, sizeof out,
                         "{\"status\":\"compensated\",\"reason\":\"%s\",\"debit\":\"%s\",\"refund\":\"%s\"}\n",
                         why, debit, refund);
        td_output(out, (size_t)k);
        return n == TD_ERR_CANCELLED ? 0 : 1;
    }

    int k = snprintf(out, sizeof out, "{\"status\":\"transferred\",\"debit\":\"%s\",\"credit\":\"%s\"}\n",
                     debit, credit);
    td_output(out, (size_t)k);
    return 0;
}
