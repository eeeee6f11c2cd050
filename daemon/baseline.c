/* baseline.c - an athlete's focus baseline from the catalog (see baseline.h). */
#include "baseline.h"
#include <jansson.h>
#include "report.h"

typedef struct base_ctx {
    focus_baseline_t *b;
    int64_t before_id;
    int n;
} base_ctx_t;

/* Adds a past session's stored focus metrics (summary_json "focus_metrics") to the baseline. */
static int base_cb(const catalog_session_t *row, void *user)
{
    base_ctx_t *c = user;
    if ((c->before_id > 0 && row->id >= c->before_id) || !row->sum.summary_json)
        return 0;
    json_t *o = json_loads(row->sum.summary_json, 0, NULL);
    focus_metrics_t m;
    if (o && report_metrics_from_json(o, &m) > 0) {
        focus_baseline_add(c->b, &m);
        c->n++;
    }
    json_decref(o);
    return 0;
}

int baseline_from_catalog(catalog_t *c, const char *athlete, int64_t before_id, focus_baseline_t *b)
{
    base_ctx_t bc = {b, before_id, 0};
    int rc = catalog_history(c, athlete, base_cb, &bc);
    if (rc != CATALOG_OK && rc != CATALOG_ERR_STOPPED)
        return rc;
    return bc.n;
}
