/* half.h — IEEE f16 and bfloat16 <-> f32 conversion (round to nearest even). */
#ifndef MS_HALF_H
#define MS_HALF_H

#include <stddef.h>
#include <stdint.h>

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t b);
uint16_t f32_to_bf16(float f);
/* Bulk versions over little-endian 2-byte elements (src may be unaligned). */
void f16_to_f32_n(const uint8_t *src, float *dst, size_t n);
void bf16_to_f32_n(const uint8_t *src, float *dst, size_t n);

#endif
