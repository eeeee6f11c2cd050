/* gaitd - the gait daemon (stub, being written). */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "gaitd: not implemented yet\n");
    return 2;
}
