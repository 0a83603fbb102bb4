/*
 * Approval: request a review, wait up to three days for the reviewer's signal,
 * then proceed - or escalate when nobody answered in time.
 *
 * While it waits the execution is parked: its last snapshot is all that
 * exists of it, on no host, costing nothing. The wait is one call:
 * td_signal_wait_for(name, timeout) - a durable timer and a signal together.
 *
 *   tardigrade run approval.wasm --id a1 --input doc-7 -a guest/examples/activities.py &
 *   tardigrade signal a1 approve --data alice      (or: --data no)
 *
 * Input: the document id (default "doc-1").
 */
#include <stdio.h>
#include <string.h>

#include "tardigrade.h"

#define THREE_DAYS_MS (3LL * 24 * 60 * 60 * 1000)

int run(void) {
    char doc[64] = "doc-1";
    size_t len = td_input(doc, sizeof doc - 1);
    if (len > 0) doc[len < sizeof doc - 1 ? len : sizeof doc - 1] = 0;

    char ticket[64] = {0}, decision[64] = {0}, done[96] = {0}, out[256];
    if (td_call("review.request", doc, strlen(doc), ticket, sizeof ticket - 1) < 0) return 1;
    printf("review %s requested for %s; waiting up to 3 days\n", ticket, doc);

    int64_t n = td_signal_wait_for("approve", THREE_DAYS_MS, decision, sizeof decision - 1);
    int k;
    if (n == TD_ERR_TIMEOUT) {
        td_call("review.escalate", ticket, strlen(ticket), done, sizeof done - 1);
        k = snprintf(out, sizeof out, "{\"doc\":\"%s\",\"status\":\"escalated\",\"ticket\":\"%s\"}\n", doc, ticket);
    } else if (n == TD_ERR_CANCELLED) {
        k = snprintf(out, sizeof out, "{\"doc\":\"%s\",\"status\":\"withdrawn\"}\n", doc);
    } else if (strcmp(decision, "no") == 0) {
        k = snprintf(out, sizeof out, "{\"doc\":\"%s\",\"status\":\"rejected\"}\n", doc);
    } else {
        char note[160];
        snprintf(note, sizeof note, "%s approved by %s", doc, decision);
        td_call("notify.send", note, strlen(note), done, sizeof done - 1);
        k = snprintf(out, sizeof out, "{\"doc\":\"%s\",\"status\":\"approved\",\"by\":\"%s\"}\n", doc, decision);
    }
    td_output(out, (size_t)k);
    return 0;
}
