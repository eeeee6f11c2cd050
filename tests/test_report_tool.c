/* test_report_tool.c - runs `gaitctl report` (cmd_report.c) as its own program, so the report
 * tests do not depend on gaitctl's command table. Usage as `gaitctl report`. */
#include "report.h"

int main(int argc, char **argv)
{
    return cmd_report(argc, argv);
}
