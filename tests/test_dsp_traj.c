/* test_dsp_traj.c - strapdown integration with ZUPT (dsp_traj.c): known answers on synthetic IMU
 * signals made from an exact motion (orientation R = Rz(psi) Ry(theta) M, M the pod's mounting,
 * level-frame acceleration a): specific force R^T (a + g z), body rate M^T (Ry^T psi' z + theta' y).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dsp_traj.h"

#define G0 9.80665
#define D2R (M_PI / 180.0)
#define MAXN 4096

typedef struct motion {
    double T;            /* s, moving part (rest before and after) */
    double ax_amp;       /* forward acceleration amplitude (m/s^2): a = A sin(2 pi u), u = t / T */
    double ay_amp;       /* sideways, same profile */
    double theta_amp;    /* pitch excursion (rad): theta = Th sin^2(pi u) (back to 0) */
    double psi_total;    /* heading change (rad): psi = Psi (u - sin(2 pi u) / (2 pi)) */
    double mount_pitch, mount_roll; /* pod on the foot (rad) */
    double gyr_bias_dps; /* added to every gyro axis */
} motion_t;

static void mat_mul(const double a[3][3], const double b[3][3], double o[3][3])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            o[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
}

static void mat_tvec(const double m[3][3], const double v[3], double o[3])
{
    for (int i = 0; i < 3; i++)
        o[i] = m[0][i] * v[0] + m[1][i] * v[1] + m[2][i] * v[2];
}

static void rot_y(double t, double m[3][3])
{
    double c = cos(t), s = sin(t);
    double r[3][3] = {{c, 0, s}, {0, 1, 0}, {-s, 0, c}};
    memcpy(m, r, sizeof r);
}

static void rot_z(double t, double m[3][3])
{
    double c = cos(t), s = sin(t);
    double r[3][3] = {{c, -s, 0}, {s, c, 0}, {0, 0, 1}};
    memcpy(m, r, sizeof r);
}

static void rot_x(double t, double m[3][3])
{
    double c = cos(t), s = sin(t);
    double r[3][3] = {{1, 0, 0}, {0, c, -s}, {0, s, c}};
    memcpy(m, r, sizeof r);
}

/* Samples of the motion: rest_s of rest, T of motion, rest_s of rest, at rate. Returns n and the
 * start / end still points (the middle of each rest), and the mean specific force of the first
 * rest window (what the still-window mean gives). */
static size_t synth(const motion_t *mo, double rate, double rest_s, dsp_ev_sample_t *r,
                    size_t *i0, size_t *i1, double f0[3])
{
    size_t n = (size_t)((2.0 * rest_s + mo->T) * rate) + 1;
    assert_true(n <= MAXN);
    double M[3][3], Rx[3][3], Ry0[3][3];
    rot_y(mo->mount_pitch, Ry0);
    rot_x(mo->mount_roll, Rx);
    mat_mul(Ry0, Rx, M);
    f0[0] = f0[1] = f0[2] = 0.0;
    for (size_t k = 0; k < n; k++) {
        double t = k / rate - rest_s, u = t / mo->T;
        double th = 0, thd = 0, ps = 0, psd = 0, a[3] = {0, 0, 0};
        if (u > 0.0 && u < 1.0) {
            double s2 = sin(2.0 * M_PI * u);
            a[0] = mo->ax_amp * s2;
            a[1] = mo->ay_amp * s2;
            th = mo->theta_amp * sin(M_PI * u) * sin(M_PI * u);
            thd = mo->theta_amp * M_PI / mo->T * s2;
            ps = mo->psi_total * (u - s2 / (2.0 * M_PI));
            psd = mo->psi_total / mo->T * (1.0 - cos(2.0 * M_PI * u));
        } else if (u >= 1.0) {
            ps = mo->psi_total;
        }
        double Rz[3][3], Ry[3][3], RzRy[3][3], R[3][3];
        rot_z(ps, Rz);
        rot_y(th, Ry);
        mat_mul(Rz, Ry, RzRy);
        mat_mul(RzRy, M, R);
        double fn[3] = {a[0], a[1], a[2] + G0}, fb[3];
        mat_tvec(R, fn, fb);
        double wz[3] = {0, 0, psd}, w1[3], wb[3];
        mat_tvec(Ry, wz, w1);
        w1[1] += thd;
        mat_tvec(M, w1, wb);
        r[k].t = k / rate;
        for (int i = 0; i < 3; i++) {
            r[k].acc[i] = (float)fb[i];
            r[k].gyr[i] = (float)(wb[i] / D2R + mo->gyr_bias_dps);
        }
    }
    size_t rest_n = (size_t)(rest_s * rate);
    *i0 = rest_n / 2;
    *i1 = n - 1 - rest_n / 2;
    for (size_t k = 0; k < rest_n / 2; k++)
        for (int i = 0; i < 3; i++)
            f0[i] += r[k].acc[i] / (double)(rest_n / 2);
    return n;
}

/* exact displacement of a = A sin(2 pi t / T) from rest: A T^2 / (2 pi) */
static double disp(double A, double T)
{
    return A * T * T / (2.0 * M_PI);
}

static dsp_ev_sample_t buf[MAXN];

static dsp_traj_t run(const motion_t *mo, double rate)
{
    size_t i0, i1;
    double f0[3];
    synth(mo, rate, 0.1, buf, &i0, &i1, f0);
    dsp_traj_t tr;
    /* the ring: the array itself, started mid-way to exercise the wrap */
    static dsp_ev_sample_t ring[MAXN];
    size_t n = i1 - i0 + 1, cap = n + 7, s0 = n / 2;
    for (size_t k = 0; k < n; k++)
        ring[(s0 + k) % cap] = buf[i0 + k];
    assert_int_equal(dsp_traj_run(ring, cap, s0, n, f0, rate, dsp_traj_block(rate), &tr), 0);
    if (getenv("TRAJ_VERBOSE")) /* the figures, for METRICS.md */
        fprintf(stderr, "rate %6.1f T %.2f A %.0f,%.0f th %.0f psi %.0f mount %.0f,%.0f bias %.1f:"
                " length %.5f m (exact %.5f) turn %.4f deg v_res %.4f m/s clearance %.4f m\n",
                rate, mo->T, mo->ax_amp, mo->ay_amp, mo->theta_amp / D2R, mo->psi_total / D2R,
                mo->mount_pitch / D2R, mo->mount_roll / D2R, mo->gyr_bias_dps, tr.length_m,
                disp(hypot(mo->ax_amp, mo->ay_amp), mo->T), tr.turn_deg, tr.v_res_mps,
                tr.clearance_m);
    return tr;
}

static void test_rest(void **state)
{
    (void)state;
    motion_t mo = {.T = 0.5};
    dsp_traj_t tr = run(&mo, 500.0);
    assert_true(tr.length_m < 1e-4);
    assert_true(fabs(tr.turn_deg) < 1e-3);
    assert_true(tr.v_res_mps < 1e-4);
    assert_true(fabs(tr.clearance_m) < 1e-4);
    assert_true(fabs(tr.span_s - 0.6) < 1e-9); /* 0.05 + 0.5 + 0.05 s */
}

static void test_translation(void **state)
{
    (void)state;
    const double rates[] = {100.0, 204.8, 500.0, 1000.0};
    for (size_t i = 0; i < 4; i++) {
        motion_t mo = {.T = 0.5, .ax_amp = 40.0};
        dsp_traj_t tr = run(&mo, rates[i]);
        double L = disp(40.0, 0.5); /* 1.59 m */
        assert_true(fabs(tr.length_m - L) < 0.01 * L);
        assert_true(fabs(tr.turn_deg) < 1e-3);
        /* sideways too: the horizontal displacement's norm */
        motion_t m2 = {.T = 0.5, .ax_amp = 30.0, .ay_amp = 40.0};
        tr = run(&m2, rates[i]);
        assert_true(fabs(tr.length_m - disp(50.0, 0.5)) < 0.01 * disp(50.0, 0.5));
    }
}

/* a swing-like pitch excursion of 70 deg (peak rate 440 deg/s) while translating: the rotation
 * must be integrated exactly, or gravity leaks into the horizontal */
static void test_pitch_swing(void **state)
{
    (void)state;
    const double rates[] = {100.0, 500.0, 1000.0};
    for (size_t i = 0; i < 3; i++) {
        motion_t mo = {.T = 0.5, .ax_amp = 40.0, .theta_amp = 70.0 * D2R};
        dsp_traj_t tr = run(&mo, rates[i]);
        double L = disp(40.0, 0.5);
        assert_true(fabs(tr.length_m - L) < 0.01 * L);
        assert_true(fabs(tr.turn_deg) < 0.1);
        assert_true(tr.v_res_mps < 0.05);
    }
}

static void test_heading_change(void **state)
{
    (void)state;
    const double turns[] = {30.0, -45.0, 90.0, 170.0};
    for (size_t i = 0; i < 4; i++) {
        motion_t mo = {.T = 0.4, .psi_total = turns[i] * D2R};
        dsp_traj_t tr = run(&mo, 500.0);
        assert_true(fabs(tr.turn_deg - turns[i]) < 0.05);
        assert_true(tr.length_m < 1e-3);
    }
    /* a fast pivot: 90 deg in 0.15 s (peak 1200 deg/s), with a pitch excursion and a tilted
     * pod: the heading change is still exact */
    motion_t mo = {.T = 0.15, .psi_total = 90.0 * D2R, .theta_amp = 30.0 * D2R,
                   .mount_pitch = 15.0 * D2R, .mount_roll = 15.0 * D2R};
    dsp_traj_t tr = run(&mo, 500.0);
    assert_true(fabs(tr.turn_deg - 90.0) < 0.5);
}

static void test_tilted_mount(void **state)
{
    (void)state;
    motion_t flat = {.T = 0.5, .ax_amp = 40.0, .theta_amp = 60.0 * D2R};
    motion_t tilt = flat;
    tilt.mount_pitch = 15.0 * D2R;
    tilt.mount_roll = 15.0 * D2R;
    dsp_traj_t a = run(&flat, 500.0), b = run(&tilt, 500.0);
    double L = disp(40.0, 0.5);
    assert_true(fabs(b.length_m - L) < 0.01 * L);
    assert_true(fabs(b.length_m - a.length_m) < 0.002 * L);
    /* the mounting twists the heading reference of the pod's x axis, not its change */
    assert_true(fabs(b.turn_deg) < 0.5);
}

/* 2 deg/s of gyro bias on every axis over a 0.6 s span: the tilt error grows to 1.2 deg, the
 * gravity it leaks is mostly linear in time and removed by the ZUPT; heading drifts 1.2 deg */
static void test_gyro_bias(void **state)
{
    (void)state;
    motion_t mo = {.T = 0.5, .ax_amp = 40.0, .theta_amp = 60.0 * D2R, .gyr_bias_dps = 2.0};
    dsp_traj_t tr = run(&mo, 500.0);
    double L = disp(40.0, 0.5);
    assert_true(fabs(tr.length_m - L) < 0.02 * L);
    assert_true(fabs(tr.turn_deg) < 2.0);
}

static void test_bad_args(void **state)
{
    (void)state;
    dsp_traj_t tr;
    double f0[3] = {0, 0, G0}, zero[3] = {0, 0, 0}, down[3] = {0, 0, -G0};
    memset(buf, 0, sizeof buf);
    assert_int_equal(dsp_traj_run(buf, MAXN, 0, 1, f0, 500.0, 5, &tr), -1);
    assert_true(isnan(tr.length_m) && isnan(tr.turn_deg));
    assert_int_equal(dsp_traj_run(buf, MAXN, 0, 10, f0, 500.0, 0, &tr), -1);
    assert_int_equal(dsp_traj_run(buf, MAXN, 0, 10, zero, 500.0, 5, &tr), -1);
    assert_int_equal(dsp_traj_run(buf, MAXN, 0, 10, down, 500.0, 5, &tr), -1);
    assert_int_equal(dsp_traj_block(500.0), 10);
    assert_int_equal(dsp_traj_block(204.8), 4);
    assert_int_equal(dsp_traj_block(30.0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rest),          cmocka_unit_test(test_translation),
        cmocka_unit_test(test_pitch_swing),   cmocka_unit_test(test_heading_change),
        cmocka_unit_test(test_tilted_mount),  cmocka_unit_test(test_gyro_bias),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
