/**
 * Emitting events onto the bus from Nest code: `client.emit('silver.batch', manifest)`.
 *
 * The pattern becomes the message `subject` (what `BusTransport` routes on) and the data its body;
 * `route` picks the queue, the session and the message id from them. Request-response (`send`) is
 * not offered: the services never call each other (DESIGN), they meet in the lake and on the bus.
 */
import { trace } from '@opentelemetry/api';
import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import type { Bus, OutgoingMessage } from '@pipeline/ports';
import { traceHeaders } from '@pipeline/telemetry';

export interface BusRoute {
  queue: string;
  /** Required for session queues. */
  sessionId?: string;
  /** A deterministic id lets Service Bus drop a duplicate send. */
  messageId?: string;
}

export interface BusClientOptions {
  bus: Bus;
  route: (pattern: string, data: unknown) => BusRoute;
}

export class BusClient extends ClientProxy {
  constructor(private readonly options: BusClientOptions) {
    super();
    if (typeof options?.route !== 'function') throw new Error('BusClient needs a route(pattern, data) function that names the queue of each event.');
  }

  /** The bus needs no connection of its own; it is opened by whoever passes it in. */
  async connect(): Promise<void> {
    return undefined;
  }

  /** The bus belongs to the caller, who closes it. */
  close(): void {
    return undefined;
  }

  unwrap<T>(): T {
    return this.options.bus as T;
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const pattern = this.normalizePattern(packet.pattern);
    const route = this.options.route(pattern, packet.data);
    if (typeof route?.queue !== 'string' || route.queue === '') {
      throw new Error(`BusClient route gave no queue for pattern ${JSON.stringify(pattern)}; return { queue, sessionId?, messageId? }.`);
    }
    const message: OutgoingMessage = { subject: pattern, body: packet.data ?? null };
    if (route.sessionId !== undefined) message.sessionId = route.sessionId;
    if (route.messageId !== undefined) message.messageId = route.messageId;
    const span = trace.getActiveSpan();
    // Stamps the sender's span so the handler's span links to it (DESIGN invariant 10).
    if (span) message.applicationProperties = { ...traceHeaders(span) };
    await this.options.bus.send(route.queue, [message]);
    return undefined as T;
  }

  protected publish(packet: ReadPacket, _callback: (packet: WritePacket) => void): () => void {
    throw new Error(
      `BusClient does not support request-response (send(${JSON.stringify(packet.pattern)}, …)): the bus carries events. Use emit(pattern, data), and handle it with @EventPattern.`,
    );
  }
}
