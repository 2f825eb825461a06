/*
 * crc32.c - table-driven CRC-32 (reflected polynomial 0xEDB88320).
 *
 * The CRC treats the input as the coefficients of a huge polynomial over GF(2)
 * and computes the remainder after division by the generator polynomial
 * x^32 + x^26 + x^23 + ... + x + 1. Processing one bit at a time is slow, so we
 * precompute the effect of every possible byte in a 256-entry table and then
 * handle a whole byte per step.
 *
 * Build the self-test with:  cc -DCRC32_SELFTEST -O2 -o crc32 crc32.c
 * Then checksum files with:  ./crc32 FILE...
 */
#include "crc32.h"

#define CRC32_POLY 0xEDB88320u /* 0x04C11DB7 with its bits reversed */

static uint32_t table[256];
static int table_ready = 0;

/* Fills the lookup table. Cheap (256 * 8 steps), done once on first use.
 * Not thread-safe on the very first call; call crc32_init() early in
 * multithreaded programs. */
static void build_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ CRC32_POLY : c >> 1;
        table[i] = c;
    }
    table_ready = 1;
}

uint32_t crc32_init(void)
{
    if (!table_ready)
        build_table();
    return 0xFFFFFFFFu; /* all ones, so leading zero bytes still change the CRC */
}

uint32_t crc32_update(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (!table_ready)
        build_table();
    while (len--)
        crc = table[(crc ^ *p++) & 0xFFu] ^ (crc >> 8);
    return crc;
}

uint32_t crc32_final(uint32_t crc)
{
    return crc ^ 0xFFFFFFFFu; /* final inversion, as the standard requires */
}

uint32_t crc32_compute(const void *data, size_t len)
{
    return crc32_final(crc32_update(crc32_init(), data, len));
}

#ifdef CRC32_SELFTEST
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *check = "123456789";
    uint32_t got = crc32_compute(check, strlen(check));
    if (got != 0xCBF43926u) {
        fprintf(stderr, "self-test failed: got %08X\n", (unsigned)got);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        FILE *fp = fopen(argv[i], "rb");
        if (!fp) {
            perror(argv[i]);
            continue;
        }
        unsigned char buf[65536];
        size_t n;
        uint32_t crc = crc32_init();
        while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
            crc = crc32_update(crc, buf, n);
        fclose(fp);
        printf("%08x  %s\n", (unsigned)crc32_final(crc), argv[i]);
    }
    return 0;
}
#endif
