#include "tool/sim.h"

#include <stdio.h>

int emofs_sim_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "emofs sim: not built yet\n");
    return 1;
}
