/**
 * The few Avro binary primitives the container framing needs (zig-zag varint longs, length-prefixed
 * bytes). Arithmetic, not bit operators, so values up to 2^53 stay exact.
 */

/** `Obj` followed by version byte 1. */
export const OCF_MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);

/** A varint long never needs more than 10 bytes. */
export const MAX_VARINT_BYTES = 10;

export function encodeLong(value: number): Buffer {
  if (!Number.isSafeInteger(value)) throw new RangeError(`Cannot encode ${value} as an Avro long: not a safe integer.`);
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  const bytes: number[] = [];
  while (zigzag >= 0x80) {
    bytes.push(zigzag % 0x80 | 0x80);
    zigzag = Math.floor(zigzag / 0x80);
  }
  bytes.push(zigzag);
  return Buffer.from(bytes);
}

export function encodeBytes(value: Buffer): Buffer {
  return Buffer.concat([encodeLong(value.length), value]);
}

export type DecodedLong =
  | { kind: 'value'; value: number; length: number }
  /** The buffer ended before the varint did. */
  | { kind: 'incomplete' }
  /** Longer than 10 bytes or beyond 2^53: not a long the framing can hold. */
  | { kind: 'invalid' };

export function decodeLong(buffer: Buffer): DecodedLong {
  let zigzag = 0;
  let scale = 1;
  for (let i = 0; i < buffer.length && i < MAX_VARINT_BYTES; i++) {
    const byte = buffer[i];
    zigzag += (byte & 0x7f) * scale;
    if (zigzag > Number.MAX_SAFE_INTEGER) return { kind: 'invalid' };
    if ((byte & 0x80) === 0) {
      const value = zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
      return { kind: 'value', value, length: i + 1 };
    }
    scale *= 0x80;
  }
  return buffer.length >= MAX_VARINT_BYTES ? { kind: 'invalid' } : { kind: 'incomplete' };
}
