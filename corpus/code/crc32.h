/*
 * crc32.h - CRC-32 checksums (the IEEE 802.3 variant used by zip, gzip and PNG).
 *
 * A cyclic redundancy check detects accidental changes to data, such as bit
 * flips on a disk or a truncated download. It is NOT a cryptographic hash:
 * it is easy to forge data with a chosen CRC, so never use it to detect
 * deliberate tampering.
 *
 * Usage, all at once:
 *
 *     uint32_t crc = crc32_compute(buf, len);
 *
 * or incrementally, for data that arrives in pieces:
 *
 *     uint32_t crc = crc32_init();
 *     while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
 *         crc = crc32_update(crc, buf, n);
 *     crc = crc32_final(crc);
 *
 * The standard check value: the CRC-32 of the ASCII string "123456789" is
 * 0xCBF43926.
 */
#ifndef CRC32_H
#define CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starting value for an incremental computation. */
uint32_t crc32_init(void);

/* Feeds `len` bytes at `data` into a running CRC and returns the new state. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);

/* Turns the running state into the final checksum. */
uint32_t crc32_final(uint32_t crc);

/* Convenience wrapper: init, update and final in one call. */
uint32_t crc32_compute(const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* CRC32_H */
