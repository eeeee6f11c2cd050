/* cmd_convert.c - gaitctl convert (stub, being written). */
#include <stdio.h>
#include "gaitctl.h"

int cmd_convert(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "gaitctl %s: not implemented yet\n", argv[0]);
    return 2;
}
