/**
 * Writing Thrift's compact protocol, the encoding of Parquet page headers and footers, by hand:
 * the encoder writes each struct field by field, in ascending field id (compact field headers
 * carry the id as a delta from the previous field), so there is no generic object walk per page.
 */
import type { ByteSink } from './byte-sink';

const BOOLEAN_TRUE = 1;
const BOOLEAN_FALSE = 2;
const I32 = 5;
const I64 = 6;
const BINARY = 8;
const LIST = 9;
const STRUCT = 12;

export const ThriftType = { I32, BINARY, STRUCT } as const;

export class ThriftWriter {
  private lastField = 0;
  private readonly outer: number[] = [];

  constructor(readonly out: ByteSink) {}

  i32(field: number, value: number): void {
    this.header(field, I32);
    this.out.varint(zigzag(value));
  }

  /** An i64 field; values are safe integers (sizes, offsets, counts). */
  i64(field: number, value: number): void {
    this.header(field, I64);
    this.out.varint(zigzag(value));
  }

  bool(field: number, value: boolean): void {
    this.header(field, value ? BOOLEAN_TRUE : BOOLEAN_FALSE);
  }

  binary(field: number, value: Uint8Array): void {
    this.header(field, BINARY);
    this.out.varint(value.length);
    this.out.bytes(value);
  }

  string(field: number, value: string): void {
    this.binary(field, Buffer.from(value, 'utf8'));
  }

  beginStruct(field: number): void {
    this.header(field, STRUCT);
    this.enter();
  }

  /** Ends a struct begun by `beginStruct` or `beginListStruct`, or the top-level one. */
  endStruct(): void {
    this.out.byte(0);
    this.lastField = this.outer.pop() ?? 0;
  }

  beginList(field: number, elementType: number, size: number): void {
    this.header(field, LIST);
    if (size < 15) this.out.byte((size << 4) | elementType);
    else {
      this.out.byte(0xf0 | elementType);
      this.out.varint(size);
    }
  }

  /** A struct element of a list (no field header). */
  beginListStruct(): void {
    this.enter();
  }

  listI32(value: number): void {
    this.out.varint(zigzag(value));
  }

  listString(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    this.out.varint(bytes.length);
    this.out.bytes(bytes);
  }

  private enter(): void {
    this.outer.push(this.lastField);
    this.lastField = 0;
  }

  private header(field: number, type: number): void {
    const delta = field - this.lastField;
    if (delta > 0 && delta <= 15) this.out.byte((delta << 4) | type);
    else {
      this.out.byte(type);
      this.out.varint(zigzag(field));
    }
    this.lastField = field;
  }
}

/** Zigzag of a safe integer (0, -1, 1, -2 → 0, 1, 2, 3), in arithmetic rather than 32-bit shifts. */
function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}
