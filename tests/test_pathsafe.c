/* test_pathsafe.c - daemon/pathsafe.c: client paths confined to the data directory (real files,
 * directories and symbolic links in a temporary directory). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pathsafe.h"

static char base[PATH_MAX], root[PATH_MAX + 16], outside[PATH_MAX + 16];

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof base, "/tmp/gaitd-pathsafe-XXXXXX");
    if (!mkdtemp(base))
        return -1;
    char rb[PATH_MAX];
    if (!realpath(base, rb))
        return -1;
    snprintf(root, sizeof root, "%s/data", rb);
    snprintf(outside, sizeof outside, "%s/secret", rb);
    char p[PATH_MAX * 2];
    if (mkdir(root, 0700) || mkdir(outside, 0700))
        return -1;
    snprintf(p, sizeof p, "%s/sub", root);
    if (mkdir(p, 0700))
        return -1;
    snprintf(p, sizeof p, "%s/run.gaitrec", root);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    fclose(f);
    snprintf(p, sizeof p, "%s/out", root); /* a link leading out of the data directory */
    if (symlink(outside, p))
        return -1;
    snprintf(p, sizeof p, "%s/dangling", root); /* a link to a missing place outside */
    if (symlink("/nonexistent/gaitd-elsewhere", p))
        return -1;
    snprintf(p, sizeof p, "%s/in", root); /* a link staying inside */
    return symlink("sub", p);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

static void ok(const char *arg, const char *want_rel)
{
    char out[PATH_MAX], err[256] = "", want[PATH_MAX * 2];
    int rc = pathsafe_resolve(root, arg, out, sizeof out, err, sizeof err);
    if (rc != 0)
        fail_msg("'%s' refused: %s", arg, err);
    snprintf(want, sizeof want, "%s%s%s", root, *want_rel ? "/" : "", want_rel);
    assert_string_equal(out, want);
}

static void refused(const char *arg, const char *in_message)
{
    char out[PATH_MAX], err[256] = "";
    if (pathsafe_resolve(root, arg, out, sizeof out, err, sizeof err) == 0)
        fail_msg("'%s' accepted as %s", arg, out);
    assert_non_null(strstr(err, in_message));
}

static void test_inside(void **state)
{
    (void)state;
    ok("run.gaitrec", "run.gaitrec");
    ok("new.gaitrec", "new.gaitrec"); /* need not exist */
    ok("sub/x/y.gaitrec", "sub/x/y.gaitrec");
    ok("./sub//x", "sub/x");
    ok("in/x", "sub/x"); /* a link inside is resolved */
    ok("sub", "sub");
    char abs[PATH_MAX * 2];
    snprintf(abs, sizeof abs, "%s/run.gaitrec", root);
    ok(abs, "run.gaitrec"); /* absolute, inside */
}

static void test_outside(void **state)
{
    (void)state;
    refused("../secret", "'..'");
    refused("sub/../../secret", "'..'");
    refused("..", "'..'");
    refused("/etc/passwd", "outside the data directory");
    refused(outside, "outside the data directory");
    refused("out/x", "outside the data directory"); /* symlink out */
    refused("out", "outside the data directory");
    refused("dangling/x", "symbolic link");
    refused("dangling", "symbolic link");
    refused("", "1 to");
    char err[256];
    char out[PATH_MAX];
    assert_int_equal(pathsafe_resolve("/nonexistent/gaitd", "a", out, sizeof out, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "/nonexistent/gaitd"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inside),
        cmocka_unit_test(test_outside),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
