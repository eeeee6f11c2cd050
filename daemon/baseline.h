/* baseline.h - an athlete's personal focus baseline from the session catalog.
 *
 * Each past session of the athlete that is not running and whose summary_json carries
 * "focus_metrics" (stored by gaitd and `gaitctl report`) adds one sample per metric to a
 * focus_baseline_t (dsp_focus.h). The focus rules use it once [baseline] sessions (5 in the
 * shipped rules) are there, population ranges before; the evidence names the reference used.
 * Shared by gaitd (live and synced sessions) and `gaitctl report --db`.
 */
#ifndef GAITD_BASELINE_H
#define GAITD_BASELINE_H
#include <stdint.h>
#include "catalog.h"
#include "dsp_focus.h"

/* Adds athlete's past sessions (only ids below before_id when before_id > 0) to b (which the
 * caller initialised with focus_baseline_init). Returns the number of sessions added (>= 0), or a
 * negative catalog_err (message: catalog_errmsg(c)). */
int baseline_from_catalog(catalog_t *c, const char *athlete, int64_t before_id,
                          focus_baseline_t *b);

#endif
