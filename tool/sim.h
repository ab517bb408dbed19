/*
 * emofs sim: simulates a large network running the real libdht code on a
 * virtual clock (libdht's simulator shell) and reports what it measured.
 */
#ifndef EMOFS_SIM_H
#define EMOFS_SIM_H

/* Runs `emofs sim` with argv[0] == "sim". Prints the summary on stdout,
 * errors on stderr. @return the process exit code (0 ok, 2 usage error,
 * 1 other failure). */
int emofs_sim_main(int argc, char **argv);

#endif /* EMOFS_SIM_H */
