/** Every item of an async iterable, in order. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** The bytes of every object in a lake under `prefix` (default: all of it), as base64 by path. */
export async function lakeBytes(lake: { list(prefix: string): AsyncIterable<{ path: string }>; read(path: string): Promise<Buffer> }, prefix = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const entry of lake.list(prefix)) out.set(entry.path, (await lake.read(entry.path)).toString('base64'));
  return out;
}
