/**
 * The services the `pipeline` tool launches. Each service is its own app with its own `main`, as
 * deployed; the tool loads it by path (apps do not import each other).
 */
import * as path from 'node:path';

export interface ServiceEntry {
  name: string;
  description: string;
  load(): { main(argv: string[]): Promise<number> };
}

function entry(name: string, description: string): ServiceEntry {
  return {
    name,
    description,
    load: () => require(path.join(__dirname, '..', '..', name, 'src', 'main')) as { main(argv: string[]): Promise<number> },
  };
}

export const services: ServiceEntry[] = [
  entry('producer', 'Send a CSV file to the event hub, one event per record.'),
  entry('capture', 'Capture the event hub into Avro files in the lake (Event Hubs Capture format and layout).'),
  entry('bronze', 'Reference new capture files in bronze manifests, batch by batch, and announce them on the bus.'),
  entry('silver', 'Turn bronze batches into the silver Delta table (typed, with event_time, in gold shards) and the quarantine table.'),
  entry('gold', 'Aggregate silver over event-time windows with a watermark, one actor per shard: gold and late tables, serving store.'),
  entry('serving-api', 'Serve window aggregates, late rows and pipeline status over REST, with an OpenAPI document at /docs.'),
];

export function service(name: string): ServiceEntry {
  const found = services.find((s) => s.name === name);
  if (!found) throw new Error(`unknown service ${name}`);
  return found;
}
