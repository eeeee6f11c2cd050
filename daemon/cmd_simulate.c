/* cmd_simulate.c - gaitctl simulate [OPTIONS] OUT.csv: writes a simulated session as gait CSV v1
 * (../shared/CONTRACT.md) and, with --truth, the simulator's ground truth.
 *
 * Samples are quantised as a pod would (dsp_si_to_raw at the configured ranges, then back with
 * dsp_raw_to_si): values clip at full scale and sit on the pod's LSB grid. Each foot's timestamps
 * are the true time plus that pod's clock offset (--clock-offset); rows are merged in time order,
 * ties L before R. The truth file stays on the true clock and names the offsets in a comment.
 * Model: daemon/SIMULATOR.md. Exit 0 ok, 1 I/O failure, 2 bad usage.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dsp.h"
#include "gaitctl.h"
#include "gcsv.h"
#include "sim.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: gaitctl simulate [OPTIONS] OUT.csv\n"
               "  --rate HZ             sampling rate of both pods (default 500)\n"
               "  --duration S          length of a plain running session (default 600)\n"
               "  --plan PLAN           segments, e.g. stand:5,walk:60,run:300@180,walk:30\n"
               "  --seed N              random seed (default 1)\n"
               "  --cadence SPM         running cadence, steps/min (default 170)\n"
               "  --speed MPS           running speed (default 3.3)\n"
               "  --contact S           nominal running contact time (default 0.25)\n"
               "  --contact-scale L,R   per-foot contact time multipliers (default 1,1)\n"
               "  --pushoff-scale L,R   per-foot push-off multipliers (default 1,1)\n"
               "  --impact-scale L,R    per-foot impact multipliers (default 1,1)\n"
               "  --pronation L,R       pronation excursion per foot, deg (default 8,8)\n"
               "  --fatigue X           relative change per 10 min: contact +X, cadence -X/2\n"
               "  --jitter X            relative stride-to-stride variation (default 0.015)\n"
               "  --clock-offset L,R    offsets added to each pod's timestamps, s\n"
               "  --athlete NAME        athlete name written in the header comments\n"
               "  --truth TRUTH.csv     also write foot,activity,t_ic,t_to,t_next_ic,\n"
               "                        stride_length_m per stride\n");
}

static int parse_num(const char *s, double *v)
{
    char *e;
    errno = 0;
    *v = strtod(s, &e);
    return e != s && *e == '\0' && errno == 0 && isfinite(*v) ? 0 : -1;
}

static int parse_pair(const char *s, double v[2])
{
    char buf[128];
    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    char *comma = strchr(buf, ',');
    if (!comma)
        return -1;
    *comma = '\0';
    return parse_num(buf, &v[0]) || parse_num(comma + 1, &v[1]) ? -1 : 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* A FIFO of one foot's rows, so that rows of both feet can be merged in time order when the
 * pods' clock offsets differ. */
typedef struct rowq {
    gcsv_row_t *v;
    size_t cap, head, n;
} rowq_t;

static int emit(FILE *out, const gcsv_row_t *r)
{
    char line[256];
    int n = gcsv_format_row(r, line, sizeof line);
    if (n < 0)
        return -1;
    return fwrite(line, 1, (size_t)n, out) == (size_t)n ? 0 : -1;
}

/* Writes rows from both queues in time order (ties L first) while both hold rows, or all of them
 * when flush is set. */
static int merge_out(FILE *out, rowq_t q[2], int flush)
{
    while (q[0].n || q[1].n) {
        int pick;
        if (!q[0].n || !q[1].n) {
            if (!flush)
                return 0;
            pick = q[0].n ? 0 : 1;
        } else {
            /* compare at the written precision (us) so that equal printed times keep L first */
            pick = llround(q[1].v[q[1].head].t * 1e6) < llround(q[0].v[q[0].head].t * 1e6) ? 1 : 0;
        }
        if (emit(out, &q[pick].v[q[pick].head]))
            return -1;
        q[pick].head = (q[pick].head + 1) % q[pick].cap;
        q[pick].n--;
    }
    return 0;
}

static int write_truth(FILE *tf, sim_t *s)
{
    sim_truth_t tr;
    while (sim_pop_truth(s, &tr))
        if (fprintf(tf, "%c,%s,%.6f,%.6f,%.6f,%.4f\n", tr.foot == DSP_LEFT ? 'L' : 'R',
                    tr.activity == SIM_RUN ? "run" : "walk", tr.t_ic, tr.t_to, tr.t_next_ic,
                    tr.stride_length_m) < 0)
            return -1;
    return 0;
}

int cmd_simulate(int argc, char **argv)
{
    sim_config_t c;
    sim_config_default(&c);
    const char *out_path = NULL, *truth_path = NULL, *plan = NULL, *athlete = "sim";
    int have_duration = 0;
    char err[256];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (out_path) {
                fprintf(stderr, "gaitctl simulate: more than one output file\n");
                return 2;
            }
            out_path = a;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "gaitctl simulate: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        double x, p[2];
        int bad = 0;
        if (!strcmp(a, "--rate"))
            bad = parse_num(v, &x) || x < 50 || x > 2000 || (c.rate_hz = x, 0);
        else if (!strcmp(a, "--duration"))
            bad = parse_num(v, &x) || x <= 0 || (c.duration_s = x, have_duration = 1, 0);
        else if (!strcmp(a, "--plan"))
            plan = v;
        else if (!strcmp(a, "--seed")) {
            char *e;
            errno = 0;
            unsigned long long n = strtoull(v, &e, 0);
            bad = e == v || *e || errno || v[0] == '-';
            c.seed = n;
        } else if (!strcmp(a, "--cadence"))
            bad = parse_num(v, &x) || x < 40 || x > 260 || (c.cadence_spm = x, 0);
        else if (!strcmp(a, "--speed"))
            bad = parse_num(v, &x) || x <= 0 || x > 12 || (c.speed_mps = x, 0);
        else if (!strcmp(a, "--contact"))
            bad = parse_num(v, &x) || x < 0.08 || x > 1.0 || (c.contact_s = x, 0);
        else if (!strcmp(a, "--fatigue"))
            bad = parse_num(v, &x) || x < -0.5 || x > 0.5 || (c.fatigue_per_10min = x, 0);
        else if (!strcmp(a, "--jitter"))
            bad = parse_num(v, &x) || x < 0 || x > 0.2 || (c.stride_jitter = x, 0);
        else if (!strcmp(a, "--athlete"))
            athlete = v;
        else if (!strcmp(a, "--truth"))
            truth_path = v;
        else if (!strcmp(a, "--contact-scale"))
            bad = parse_pair(v, p) || p[0] <= 0.2 || p[1] <= 0.2 || p[0] >= 3 || p[1] >= 3 ||
                  (c.contact_scale[0] = p[0], c.contact_scale[1] = p[1], 0);
        else if (!strcmp(a, "--pushoff-scale"))
            bad = parse_pair(v, p) || p[0] <= 0.1 || p[1] <= 0.1 || p[0] >= 3 || p[1] >= 3 ||
                  (c.pushoff_scale[0] = p[0], c.pushoff_scale[1] = p[1], 0);
        else if (!strcmp(a, "--impact-scale"))
            bad = parse_pair(v, p) || p[0] < 0 || p[1] < 0 || p[0] >= 10 || p[1] >= 10 ||
                  (c.impact_scale[0] = p[0], c.impact_scale[1] = p[1], 0);
        else if (!strcmp(a, "--pronation"))
            bad = parse_pair(v, p) || fabs(p[0]) > 30 || fabs(p[1]) > 30 ||
                  (c.pronation_deg[0] = p[0], c.pronation_deg[1] = p[1], 0);
        else if (!strcmp(a, "--clock-offset"))
            bad = parse_pair(v, p) || fabs(p[0]) > 60 || fabs(p[1]) > 60 ||
                  (c.clock_offset_s[0] = p[0], c.clock_offset_s[1] = p[1], 0);
        else {
            fprintf(stderr, "gaitctl simulate: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "gaitctl simulate: bad value for %s: '%s'\n", a, v);
            return 2;
        }
    }
    if (!out_path) {
        usage(stderr);
        return 2;
    }
    if (ends_with(out_path, ".gaitrec")) {
        fprintf(stderr,
                "gaitctl simulate: %s: writing .gaitrec is not supported yet; write a .csv "
                "and use 'gaitctl convert'\n",
                out_path);
        return 2;
    }
    if (plan) {
        if (have_duration) {
            fprintf(stderr, "gaitctl simulate: --duration and --plan exclude each other (the "
                            "plan gives the length)\n");
            return 2;
        }
        if (sim_parse_plan(&c, plan, err, sizeof err)) {
            fprintf(stderr, "gaitctl simulate: --plan: %s\n", err);
            return 2;
        }
    }
    sim_t *s = sim_new(&c);
    if (!s) {
        fprintf(stderr, "gaitctl simulate: invalid configuration\n");
        return 2;
    }

    int rc = 1;
    FILE *out = NULL, *tf = NULL;
    rowq_t q[2] = {{0}, {0}};
    out = fopen(out_path, "w");
    if (!out) {
        fprintf(stderr, "gaitctl simulate: %s: %s\n", out_path, strerror(errno));
        goto done;
    }
    if (truth_path) {
        tf = fopen(truth_path, "w");
        if (!tf) {
            fprintf(stderr, "gaitctl simulate: %s: %s\n", truth_path, strerror(errno));
            goto done;
        }
    }
    size_t lag = (size_t)ceil(fabs(c.clock_offset_s[0] - c.clock_offset_s[1]) * c.rate_hz) + 4;
    for (int f = 0; f < 2; f++) {
        q[f].cap = lag;
        q[f].v = malloc(lag * sizeof *q[f].v);
        if (!q[f].v) {
            fprintf(stderr, "gaitctl simulate: out of memory\n");
            goto done;
        }
    }

    char plan_buf[SIM_MAX_SEGMENTS * 24] = "";
    if (plan)
        snprintf(plan_buf, sizeof plan_buf, "%s", plan);
    else
        snprintf(plan_buf, sizeof plan_buf, "run:%g", c.duration_s);
    fprintf(out, "# gaitd simulated session (gaitctl simulate; model: daemon/SIMULATOR.md)\n");
    fprintf(out, "# athlete: %s\n", athlete);
    fprintf(
        out, "# config: seed=%llu rate_hz=%g plan=%s cadence_spm=%g speed_mps=%g contact_s=%g\n",
        (unsigned long long)c.seed, c.rate_hz, plan_buf, c.cadence_spm, c.speed_mps, c.contact_s);
    fprintf(out,
            "# config: contact_scale=%g,%g pushoff_scale=%g,%g impact_scale=%g,%g "
            "pronation_deg=%g,%g fatigue_per_10min=%g stride_jitter=%g\n",
            c.contact_scale[0], c.contact_scale[1], c.pushoff_scale[0], c.pushoff_scale[1],
            c.impact_scale[0], c.impact_scale[1], c.pronation_deg[0], c.pronation_deg[1],
            c.fatigue_per_10min, c.stride_jitter);
    fprintf(out,
            "# config: acc_noise=%g gyr_noise=%g acc_range_g=%u gyr_range_dps=%u "
            "clock_offset_s=%g,%g\n",
            c.acc_noise, c.gyr_noise, (unsigned)c.acc_range_g, (unsigned)c.gyr_range_dps,
            c.clock_offset_s[0], c.clock_offset_s[1]);
    fprintf(out, "%s\n", GCSV_HEADER);
    if (tf) {
        fprintf(tf, "# gaitd simulator ground truth; times on the true clock; the CSV's pod "
                    "timestamps = true + clock_offset_s\n");
        fprintf(tf, "# clock_offset_s: %.6f,%.6f\n", c.clock_offset_s[0], c.clock_offset_s[1]);
        fprintf(tf, "foot,activity,t_ic,t_to,t_next_ic,stride_length_m\n");
    }

    dsp_sample_t smp[2];
    while (sim_next(s, smp)) {
        for (int f = 0; f < 2; f++) {
            int16_t raw[6];
            dsp_sample_t pod;
            dsp_si_to_raw(&smp[f], c.acc_range_g, c.gyr_range_dps, NULL, raw);
            dsp_raw_to_si(raw, c.acc_range_g, c.gyr_range_dps, NULL, &pod);
            gcsv_row_t *r = &q[f].v[(q[f].head + q[f].n) % q[f].cap];
            r->t = smp[f].t + c.clock_offset_s[f];
            r->foot = f == DSP_LEFT ? 'L' : 'R';
            for (int k = 0; k < 3; k++) {
                r->acc[k] = pod.acc[k];
                r->gyr[k] = pod.gyr[k];
            }
            q[f].n++;
        }
        /* emits while both feet have rows: the later foot's queue holds at most
         * |offset_L - offset_R| * rate + 1 rows, below cap */
        if (merge_out(out, q, 0))
            goto io_err;
        if (tf && write_truth(tf, s))
            goto io_err;
    }
    if (merge_out(out, q, 1) || (tf && write_truth(tf, s)))
        goto io_err;
    if (fclose(out)) {
        out = NULL;
        goto io_err;
    }
    out = NULL;
    if (tf) {
        int e = fclose(tf);
        tf = NULL;
        if (e) {
            fprintf(stderr, "gaitctl simulate: %s: %s\n", truth_path, strerror(errno));
            goto done;
        }
    }
    rc = 0;
    goto done;
io_err:
    fprintf(stderr, "gaitctl simulate: write failed: %s\n", strerror(errno));
done:
    if (out)
        fclose(out);
    if (tf)
        fclose(tf);
    free(q[0].v);
    free(q[1].v);
    sim_free(&s);
    return rc;
}
