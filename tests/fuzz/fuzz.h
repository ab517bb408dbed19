/*
 * The entry point every fuzz target defines (libFuzzer's), declared once so
 * that the targets and the corpus replayer (replay_main.c) agree on it.
 */
#ifndef DHT_FUZZ_H
#define DHT_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Runs one input; aborts on a bug. @return 0 (libFuzzer reserves others). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* DHT_FUZZ_H */
