// Data types the chip knows. Codes are part of the binary encoding and the core's decoder;
// the AssemblyScript constants are generated from this file (src/isa/generate.ts).

export const DTYPES = [
  { name: 'int8', code: 0, bytes: 1, float: false, min: -128, max: 127 },
  { name: 'int16', code: 1, bytes: 2, float: false, min: -32768, max: 32767 },
  { name: 'int32', code: 2, bytes: 4, float: false, min: -2147483648, max: 2147483647 },
  { name: 'fp16', code: 3, bytes: 2, float: true, min: -65504, max: 65504 },
  { name: 'bf16', code: 4, bytes: 2, float: true, min: -3.3895313892515355e38, max: 3.3895313892515355e38 },
  { name: 'fp32', code: 5, bytes: 4, float: true, min: -3.4028234663852886e38, max: 3.4028234663852886e38 },
] as const;

export type DtypeName = (typeof DTYPES)[number]['name'];
export type Dtype = (typeof DTYPES)[number];

export const DTYPE_NAMES: readonly DtypeName[] = DTYPES.map((d) => d.name);

export function dtypeByName(name: string): Dtype | undefined {
  return DTYPES.find((d) => d.name === name);
}

export function dtypeByCode(code: number): Dtype | undefined {
  return DTYPES.find((d) => d.code === code);
}
