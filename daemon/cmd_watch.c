/* cmd_watch.c - gaitctl watch (stub, being written). */
#include <stdio.h>
#include "gaitctl.h"

int cmd_watch(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "gaitctl %s: not implemented yet\n", argv[0]);
    return 2;
}
