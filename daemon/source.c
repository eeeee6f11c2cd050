/* source.c - helpers shared by the sources (see source.h). */
#include "source.h"
#include <math.h>

double source_due_s(int64_t elapsed_us, double speed)
{
    if (speed <= 0.0)
        return INFINITY;
    return (double)elapsed_us * 1e-6 * speed;
}
